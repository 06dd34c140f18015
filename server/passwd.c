/* Password hashing for the config: see passwd.h. */
#include "passwd.h"
#include "base.h"

#include <crypt.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

int wf_passwd_hash(const char *password, int sha512, char *out, size_t cap)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (!crypt_gensalt_rn(sha512 ? "$6$" : "$y$", 0, NULL, 0, salt, sizeof(salt)))
		return WF_ERR;
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *h = crypt_r(password, salt, &cd);
	if (!h || h[0] == '*' || strlen(h) + 1 > cap)
		return WF_ERR;
	memcpy(out, h, strlen(h) + 1);
	return WF_OK;
}

static int read_line(const char *prompt, char *buf, size_t cap, int tty)
{
	struct termios old, noecho;
	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(0, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSANOW, &noecho);
	}
	char *r = fgets(buf, (int)cap, stdin);
	if (tty) {
		tcsetattr(0, TCSANOW, &old);
		fprintf(stderr, "\n");
	}
	if (!r)
		return WF_ERR;
	buf[strcspn(buf, "\r\n")] = '\0';
	return WF_OK;
}

int wf_passwd_main(int argc, char **argv)
{
	int sha512 = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--sha512") == 0) {
			sha512 = 1;
		} else {
			fprintf(stderr, "usage: wharf passwd [--sha512]  (reads the password from standard input)\n");
			return 2;
		}
	}
	int tty = isatty(0);
	char a[512], b[512], hash[256];
	if (read_line("Password: ", a, sizeof(a), tty) != WF_OK) {
		fprintf(stderr, "wharf passwd: no password given\n");
		return 1;
	}
	if (tty && (read_line("Again: ", b, sizeof(b), tty) != WF_OK || strcmp(a, b) != 0)) {
		fprintf(stderr, "wharf passwd: the passwords differ\n");
		return 1;
	}
	if (!a[0]) {
		fprintf(stderr, "wharf passwd: an empty password is not allowed\n");
		return 1;
	}
	if (wf_passwd_hash(a, sha512, hash, sizeof(hash)) != WF_OK) {
		fprintf(stderr, "wharf passwd: crypt failed\n");
		return 1;
	}
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	printf("%s\n", hash);
	return 0;
}
