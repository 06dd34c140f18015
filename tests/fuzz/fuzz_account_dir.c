/* Fuzz target: a CA's directory URL to its account folder's name
 * (acme_account_dir_name). Whatever the config holds, the name is one safe
 * file name under STATE/acme: not empty, no '/' or control byte, not "." or
 * "..", not hidden, no leading '-', within ACME_ACCOUNT_DIR_NAME_MAX; and it
 * is the same for the URL with its host in upper case. */
#include "acme/account_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *name)
{
	fprintf(stderr, "fuzz_account_dir: invariant broken: %s: \"%s\"\n", what, name);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1);
	if (!url)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0'; /* a config string ends at its first NUL */
	char name[ACME_ACCOUNT_DIR_NAME_MAX], again[ACME_ACCOUNT_DIR_NAME_MAX];
	memset(name, 'X', sizeof(name));
	if (acme_account_dir_name(url, name, sizeof(name)) != WF_OK)
		fail("no name", "");
	if (!memchr(name, '\0', sizeof(name)))
		fail("not NUL-terminated", "");
	size_t n = strlen(name);
	if (n == 0 || name[0] == '.' || name[0] == '-')
		fail("empty, hidden, dot or option-like", name);
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x20 || (unsigned char)name[i] >= 0x7f)
			fail("a byte no plain file name has", name);
	/* The host's case is no part of the CA's identity. */
	char *sep = strstr(url, "://");
	char *host = sep ? sep + 3 : url;
	for (char *p = host; *p && !strchr("/?#@:", *p); p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (!strchr(host, '@') && acme_account_dir_name(url, again, sizeof(again)) == WF_OK && strcmp(name, again) != 0)
		fail("another name for the host in upper case", again);
	free(url);
	return 0;
}
