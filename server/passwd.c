/* Password hashing for the config: see passwd.h. */
#include "passwd.h"
#include "base.h"

#include <crypt.h>
#include <stdbool.h>
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

/* The methods the config takes, as passwd.h lists them. */
static const struct {
	const char *prefix;
	size_t hash_len; /* characters of the encoded hash at the end */
} methods[] = { { "$y$", 43 }, { "$gy$", 43 }, { "$6$", 86 }, { "$5$", 43 }, { "$2b$", 31 } };

#define ACCEPTED "yescrypt ($y$), sha512-crypt ($6$), gost-yescrypt ($gy$), sha256-crypt ($5$) or bcrypt ($2b$)"
#define WHOLE "password must be a whole crypt(3) hash ($y$... or $6$...), as `wharf passwd` prints it: no password " \
	      "would match this one"

/* Methods crypt(3) knows that the config does not take, by name. */
static const struct {
	const char *prefix, *name;
} refused[] = { { "$1$", "$1$ (md5-crypt)" },	   { "$2a$", "$2a$ (bcrypt)" },
		{ "$2x$", "$2x$ (bcrypt)" },	   { "$2y$", "$2y$ (bcrypt)" },
		{ "$3$", "$3$ (NT-hash)" },	   { "$sha1$", "$sha1$ (sha1-crypt)" },
		{ "$md5", "$md5 (sun-md5-crypt)" }, { "_", "_ (bsdi-crypt)" } };

const char *wf_passwd_hash_problem(const char *hash, char *buf, size_t cap)
{
	static const char alphabet[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t n = strlen(hash);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t plen = strlen(methods[i].prefix);
		if (strncmp(hash, methods[i].prefix, plen) != 0)
			continue;
		size_t tail;
		if (methods[i].prefix[1] == '2') {
			/* bcrypt: $2b$NN$ then 22 characters of salt and 31 of hash, no '$' between */
			if (n != 60)
				return WHOLE;
			tail = n - methods[i].hash_len;
		} else {
			const char *last = strrchr(hash, '$');
			if ((size_t)(last - hash) < plen) /* no setting after the prefix */
				return WHOLE;
			tail = (size_t)(last - hash) + 1;
		}
		if (n - tail != methods[i].hash_len || strspn(hash + tail, alphabet) != methods[i].hash_len)
			return WHOLE;
		int salt = crypt_checksalt(hash);
		return salt == CRYPT_SALT_OK || salt == CRYPT_SALT_METHOD_LEGACY ? NULL : WHOLE;
	}
	/* A method crypt(3) knows but the config does not take: say so,
	 * rather than blame the hash's length. */
	const char *name = NULL;
	for (size_t i = 0; !name && i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strncmp(hash, refused[i].prefix, strlen(refused[i].prefix)) == 0)
			name = refused[i].name;
	if (!name && n == 13 && strspn(hash, alphabet) == 13)
		name = "DES crypt";
	if (!name)
		return WHOLE;
	snprintf(buf, cap, "password hash method %s is not accepted: use " ACCEPTED ", as `wharf passwd` prints it",
		 name);
	return buf;
}

bool wf_passwd_hash_usable(const char *hash)
{
	char why[300];
	return wf_passwd_hash_problem(hash, why, sizeof(why)) == NULL;
}

#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)
#define MAX_TEXT TEXT(WF_PASSWD_MAX)
_Static_assert(WF_PASSWD_MAX == CRYPT_MAX_PASSPHRASE_SIZE - 1, "the longest password crypt(3) takes");

/* One line of standard input into buf (cap WF_PASSWD_MAX + 2), without its
 * end (LF or CRLF). WF_OK; WF_DECLINED when nothing came (end of input);
 * WF_ERR with *why when the line is longer than WF_PASSWD_MAX bytes or holds
 * a NUL (crypt would see a shorter password than was typed): the rest of the
 * line is read and thrown away, never taken for the next line. */
static int read_line(const char *prompt, char *buf, size_t cap, int tty, const char **why)
{
	struct termios old, noecho;
	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(0, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSANOW, &noecho);
	}
	size_t n = 0;
	int c, rc = WF_OK;
	bool any = false, nul = false, overflow = false;
	*why = NULL;
	while ((c = getchar()) != EOF && c != '\n') {
		any = true;
		if (c == '\0')
			nul = true;
		else if (n + 1 >= cap)
			overflow = true;
		else
			buf[n++] = (char)c;
	}
	if (tty) {
		tcsetattr(0, TCSANOW, &old);
		fprintf(stderr, "\n");
	}
	if (!overflow && n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (nul)
		*why = "it holds a NUL byte";
	else if (overflow || n > WF_PASSWD_MAX)
		*why = "it is longer than " MAX_TEXT " bytes, the longest crypt(3) takes";
	if (*why)
		rc = WF_ERR;
	else if (!any && c == EOF)
		rc = WF_DECLINED;
	return rc;
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
	int tty = isatty(0), status = 1;
	char a[WF_PASSWD_MAX + 2], b[WF_PASSWD_MAX + 2], hash[256]; /* room for a CR */
	const char *why = NULL;
	b[0] = '\0';
	int rc = read_line("Password: ", a, sizeof(a), tty, &why);
	if (rc == WF_DECLINED) {
		fprintf(stderr, "wharf passwd: no password given\n");
		goto out;
	}
	if (rc != WF_OK) {
		fprintf(stderr, "wharf passwd: password refused: %s\n", why);
		goto out;
	}
	if (tty && (read_line("Again: ", b, sizeof(b), tty, &why) != WF_OK || strcmp(a, b) != 0)) {
		fprintf(stderr, "wharf passwd: the passwords differ\n");
		goto out;
	}
	if (!a[0]) {
		fprintf(stderr, "wharf passwd: an empty password is not allowed\n");
		goto out;
	}
	if (wf_passwd_hash(a, sha512, hash, sizeof(hash)) != WF_OK) {
		fprintf(stderr, "wharf passwd: crypt failed\n");
		goto out;
	}
	printf("%s\n", hash);
	status = 0;
out:
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	return status;
}
