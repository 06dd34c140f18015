/* The account folder of a CA (acme/account_dir.c): one name per directory
 * URL, safe as a file name; and the folder an earlier version named after
 * the host alone, taken over by the first CA on that host. */
#include "check.h"
#include "acme/account_dir.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *name_of(const char *url)
{
	static char out[ACME_ACCOUNT_DIR_NAME_MAX];
	if (acme_account_dir_name(url, out, sizeof(out)) != WF_OK)
		snprintf(out, sizeof(out), "(error)");
	return out;
}

static bool safe(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n < ACME_ACCOUNT_DIR_NAME_MAX && !strchr(name, '/') && name[0] != '.' && name[0] != '-' &&
	       strcmp(name, "..") != 0;
}

static void test_names(void)
{
	/* Readable, then 16 hex digits of SHA-256("https://HOST[:PORT]/PATH[?QUERY]"). */
	CHECK_EQ_STR(name_of("https://acme-v02.api.letsencrypt.org/directory"),
		     "acme-v02.api.letsencrypt.org_directory-5e76d31517ecd664");
	/* step-ca: two provisioners on one host are two CAs, two folders. */
	CHECK_EQ_STR(name_of("https://ca.example/acme/prov1/directory"),
		     "ca.example_acme_prov1_directory-9b166ff6a0e7b701");
	CHECK_EQ_STR(name_of("https://ca.example/acme/prov2/directory"),
		     "ca.example_acme_prov2_directory-cd1f0e93ca7c8670");
	/* One directory however written: host case, the default port, a user
	 * name, a fragment. */
	CHECK_EQ_STR(name_of("https://CA.Example:443/acme/prov1/directory#x"),
		     "ca.example_acme_prov1_directory-9b166ff6a0e7b701");
	CHECK_EQ_STR(name_of("https://user:pw@ca.example/acme/prov1/directory"),
		     "ca.example_acme_prov1_directory-9b166ff6a0e7b701");
	CHECK_EQ_STR(name_of("https://ca.example"), "ca.example-4e83ef33fb01a176");
	CHECK_EQ_STR(name_of("https://ca.example/"), "ca.example-4e83ef33fb01a176");
	/* Another port is another CA; leading zeros change nothing. */
	CHECK_EQ_STR(name_of("https://ca.example:8443/acme/prov1/directory"),
		     "ca.example_8443_acme_prov1_directory-c7417c2a078c687a");
	CHECK_EQ_STR(name_of("https://ca.example:08443/acme/prov1/directory"),
		     "ca.example_8443_acme_prov1_directory-c7417c2a078c687a");
	CHECK_EQ_STR(name_of("https://ca.example:80/d"), "ca.example_80_d-b975d5f740b409ee");
	CHECK_EQ_STR(name_of("http://ca.example:80/d"), "ca.example_d-929d8eb0728a10da");
	/* The query is part of the URL: Pebble answers /dir?ca=one and /dir?ca=two. */
	CHECK_EQ_STR(name_of("https://127.0.0.1:14000/dir"), "127.0.0.1_14000_dir-6d8ba56d5d58fae0");
	CHECK_EQ_STR(name_of("https://127.0.0.1:14000/dir?ca=one"), "127.0.0.1_14000_dir_ca_one-8873233a0329b88f");
	CHECK_EQ_STR(name_of("https://127.0.0.1:14000/dir?ca=two"), "127.0.0.1_14000_dir_ca_two-18c24eacb81b9e81");
	CHECK_EQ_STR(name_of("https://[::1]:14000/dir"), "_1_14000_dir-95429408ccdaad5f");
	/* Readable alike, told apart by the hash. */
	CHECK_EQ_STR(name_of("https://ca.example/acme_prov1/directory"),
		     "ca.example_acme_prov1_directory-76ee523b44876c2b");
	/* Whatever comes in, a safe name comes out. */
	CHECK_EQ_STR(name_of("https://.."), "_.-67eb26e8fb70c681");
	CHECK_EQ_STR(name_of("https://../dir"), "_._dir-b0853be9affaf2a4");
	CHECK_EQ_STR(name_of(""), "ca-6f701f8513bd06ce");
	CHECK_EQ_STR(name_of("https://"), "ca-9e1c766935cd68d5");
	CHECK_EQ_STR(name_of("https://-x/"), "_x-07a955bcae125d87");
	static const char *const odd[] = { "https://a/../../etc", "https://a/%2e%2e/", "https://[::1",
					   "https://a:b:c/d", "https://@/", "https://a\n/b", "https://a/\xff\x01" };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		CHECK(safe(name_of(odd[i])));
	char longurl[5000];
	memset(longurl, 'a', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	memcpy(longurl, "https://", 8);
	CHECK(safe(name_of(longurl)));
	CHECK_EQ_INT(strlen(name_of(longurl)), 100 + 1 + 16);
	char small[ACME_ACCOUNT_DIR_NAME_MAX - 1];
	CHECK_EQ_INT(acme_account_dir_name("https://ca.example/", small, sizeof(small)), WF_ERR);
}

static void test_legacy_names(void)
{
	char out[256];
	acme_account_dir_legacy_name("https://127.0.0.1:14000/dir", out, sizeof(out));
	CHECK_EQ_STR(out, "127.0.0.1_14000");
	acme_account_dir_legacy_name("https://ca.example/acme/prov1/directory", out, sizeof(out));
	CHECK_EQ_STR(out, "ca.example");
	acme_account_dir_legacy_name("https://[::1]:14000/dir", out, sizeof(out));
	CHECK_EQ_STR(out, "___1__14000");
}

static bool exists(const char *dir, const char *name)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_takeover(void)
{
	char state[] = "/tmp/wharf-account-dir-XXXXXX";
	CHECK(mkdtemp(state) != NULL);
	char acme[256], legacy[512], out[1024], want[1024];
	snprintf(acme, sizeof(acme), "%s/acme", state);
	mkdir(acme, 0700);
	/* An earlier version's folder for the host both provisioners are on. */
	snprintf(legacy, sizeof(legacy), "%s/ca.example", acme);
	mkdir(legacy, 0700);
	put(legacy, "account.key", "the old key\n");
	put(acme, "thumbprint", "x\n");
	wf_acme_ca_cfg_t cas[4] = { { .url = "https://other.example/dir" },
				    { .url = "https://ca.example/acme/prov1/directory" },
				    { .url = "https://ca.example/acme/prov2/directory" },
				    { .url = "https://../dir" } };
	wf_config_t cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.state_dir = state;
	cfg.acme.cas = cas;
	cfg.acme.ncas = 4;

	/* The second on that host gets a folder of its own, whenever it comes;
	 * the old one is the first's. */
	CHECK_EQ_INT(acme_account_dir_path(&cfg, &cas[2], out, sizeof(out)), WF_OK);
	snprintf(want, sizeof(want), "%s/%s", acme, name_of(cas[2].url));
	CHECK_EQ_STR(out, want);
	CHECK(exists(acme, "ca.example/account.key"));
	/* The first takes it over under its new name, key and all. */
	CHECK_EQ_INT(acme_account_dir_path(&cfg, &cas[1], out, sizeof(out)), WF_OK);
	snprintf(want, sizeof(want), "%s/%s", acme, name_of(cas[1].url));
	CHECK_EQ_STR(out, want);
	CHECK(!exists(acme, "ca.example"));
	CHECK(exists(want, "account.key"));
	/* Again: nothing more to do. */
	CHECK_EQ_INT(acme_account_dir_path(&cfg, &cas[1], out, sizeof(out)), WF_OK);
	CHECK_EQ_STR(out, want);
	CHECK(exists(want, "account.key"));
	/* An old folder back beside the new one (a downgrade and back) stays
	 * where it is: the new one is used. */
	mkdir(legacy, 0700);
	put(legacy, "account.key", "a key the older version made\n");
	CHECK_EQ_INT(acme_account_dir_path(&cfg, &cas[1], out, sizeof(out)), WF_OK);
	CHECK_EQ_STR(out, want);
	CHECK(exists(acme, "ca.example/account.key"));
	/* A host named ".." names the state folder, no account folder: never moved. */
	CHECK_EQ_INT(acme_account_dir_path(&cfg, &cas[3], out, sizeof(out)), WF_OK);
	snprintf(want, sizeof(want), "%s/%s", acme, name_of(cas[3].url));
	CHECK_EQ_STR(out, want);
	CHECK(exists(state, "acme/thumbprint"));
	/* An old name that is no folder holds no account. */
	put(acme, "other.example", "not a folder\n");
	CHECK_EQ_INT(acme_account_dir_path(&cfg, &cas[0], out, sizeof(out)), WF_OK);
	snprintf(want, sizeof(want), "%s/%s", acme, name_of(cas[0].url));
	CHECK_EQ_STR(out, want);
	CHECK(exists(acme, "other.example"));
	/* Too small a buffer: no path. */
	CHECK_EQ_INT(acme_account_dir_path(&cfg, &cas[0], out, 20), WF_ERR);

	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	test_names();
	test_legacy_names();
	test_takeover();
	return check_report();
}
