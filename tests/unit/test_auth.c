/* The dummy hash an unknown user name is checked against: the configured
 * users' setting (method and cost), with a fresh salt, so that a name that
 * does not exist costs what a wrong password costs. */
#include "check.h"
#include "transfer/auth.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char hashes[8][CRYPT_OUTPUT_SIZE];

/* A real hash with this crypt_gensalt prefix and count. */
static const char *make_hash(int slot, const char *prefix, unsigned long count)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *h = crypt_gensalt_rn(prefix, count, NULL, 0, setting, sizeof(setting)) ?
				crypt_r("some password", setting, &cd) : NULL;
	snprintf(hashes[slot], sizeof(hashes[slot]), "%s", h && h[0] != '*' ? h : "failed");
	return hashes[slot];
}

/* h's setting without the salt: up to the '$' before it (bcrypt: 7 bytes). */
static size_t params_of(const char *h)
{
	if (strncmp(h, "$2b$", 4) == 0)
		return 7;
	const char *last = strrchr(h, '$');
	const char *p = last;
	while (p > h && p[-1] != '$')
		p--;
	return (size_t)(p - h);
}

/* A config as wf_config_load makes one: each with a generation of its own. */
static void config_of(wf_config_t *cfg, wf_user_cfg_t *users, size_t n, const char *const *pw)
{
	static uint64_t generations;
	memset(cfg, 0, sizeof(*cfg));
	cfg->generation = ++generations;
	memset(users, 0, n * sizeof(*users));
	static char names[8][24];
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "u%zu", i);
		users[i].name = names[i];
		users[i].password = (char *)pw[i];
	}
	cfg->users = users;
	cfg->nusers = n;
}

/* The dummy has the setting of h and a salt of its own; crypt takes it. */
static void check_like(const wf_config_t *cfg, const char *h, bool fresh_salt)
{
	char d[CRYPT_OUTPUT_SIZE];
	xfer_auth_dummy(cfg, d);
	size_t p = params_of(h);
	const char *dollar = strchr(d + p, '$'); /* after the salt, only a closing '$' */
	if (strncmp(d, h, p) != 0 || (dollar && dollar[1])) {
		fprintf(stderr, "dummy %s for %s\n", d, h);
		CHECK(!"the dummy has the configured setting");
	}
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *r = crypt_r("a guess", d, &cd);
	CHECK(r && r[0] != '*'); /* a whole check, not a quick failure */
	if (fresh_salt)
		CHECK(strncmp(d, h, p + 4) != 0); /* not the user's salt */
	char again[CRYPT_OUTPUT_SIZE];
	xfer_auth_dummy(cfg, again);
	CHECK_EQ_STR(again, d); /* stable while the config lives: the caches key on it */
}

static void test_same_method_and_cost(void)
{
	wf_config_t cfg;
	wf_user_cfg_t users[3];
	const char *six = make_hash(0, "$6$", 0);
	const char *pw[] = { six };
	config_of(&cfg, users, 1, pw);
	check_like(&cfg, six, true);
	char d[CRYPT_OUTPUT_SIZE];
	xfer_auth_dummy(&cfg, d);
	CHECK(strncmp(d, "$6$", 3) == 0 && strncmp(d, "$6$rounds", 9) != 0);

	/* Costs other than the default keep their parameters. */
	wf_config_t c2;
	const char *rounds = make_hash(1, "$6$", 20000);
	CHECK(strncmp(rounds, "$6$rounds=20000$", 16) == 0);
	const char *pw2[] = { rounds };
	config_of(&c2, users, 1, pw2);
	check_like(&c2, rounds, true);

	wf_config_t c3;
	const char *bcrypt = make_hash(2, "$2b$", 6);
	const char *pw3[] = { bcrypt };
	config_of(&c3, users, 1, pw3);
	check_like(&c3, bcrypt, true);

	wf_config_t c4;
	const char *y3 = make_hash(3, "$y$", 3); /* not wharf passwd's cost 5 */
	const char *pw4[] = { y3 };
	config_of(&c4, users, 1, pw4);
	check_like(&c4, y3, true);
	xfer_auth_dummy(&c4, d);
	CHECK(strncmp(d, y3, params_of(y3)) == 0);

	wf_config_t c5;
	const char *sha256 = make_hash(4, "$5$", 0);
	const char *pw5[] = { sha256 };
	config_of(&c5, users, 1, pw5);
	check_like(&c5, sha256, true);
}

/* Users that differ: the most common setting, the first user's among equals. */
static void test_most_common_setting(void)
{
	wf_config_t cfg;
	wf_user_cfg_t users[3];
	const char *y = make_hash(5, "$y$", 1), *a = make_hash(6, "$6$", 0), *b = make_hash(7, "$6$", 0);
	const char *pw[] = { y, a, b };
	config_of(&cfg, users, 3, pw);
	check_like(&cfg, a, true);

	wf_config_t tie;
	const char *pw2[] = { a, y };
	config_of(&tie, users, 2, pw2);
	check_like(&tie, a, true);
	const char *pw3[] = { y, a };
	config_of(&tie, users, 2, pw3); /* the same struct, other users: a reload */
	check_like(&tie, y, true);
}

/* A method whose salt carries its cost (scrypt), or an unknown form: the
 * user's own hash is the dummy, which costs the same. No users: yescrypt. */
static void test_fallbacks(void)
{
	wf_config_t cfg;
	wf_user_cfg_t users[1];
	const char *pw[] = { "$7$CU..../....SALTsaltSALTsalt$hash" };
	config_of(&cfg, users, 1, pw);
	char d[CRYPT_OUTPUT_SIZE];
	xfer_auth_dummy(&cfg, d);
	CHECK_EQ_STR(d, pw[0]);
	wf_config_t none;
	config_of(&none, users, 0, pw);
	xfer_auth_dummy(&none, d);
	CHECK(strncmp(d, "$y$", 3) == 0);
}

/* A reload whose new config lands where the freed one was: the struct, its
 * users and the model user's password string all at the same addresses,
 * the hash in that string now another method. The dummy follows the new
 * config, not the old one's cached setting. */
static void test_reused_addresses(void)
{
	wf_config_t cfg;
	wf_user_cfg_t users[1];
	static char pw[CRYPT_OUTPUT_SIZE];
	const char *list[] = { pw };
	char six[CRYPT_OUTPUT_SIZE], y[CRYPT_OUTPUT_SIZE];
	snprintf(six, sizeof(six), "%s", make_hash(0, "$6$", 0));
	snprintf(y, sizeof(y), "%s", make_hash(0, "$y$", 2));
	snprintf(pw, sizeof(pw), "%s", six);
	config_of(&cfg, users, 1, list);
	check_like(&cfg, six, true);
	snprintf(pw, sizeof(pw), "%s", y); /* freed, and loaded again in the same place */
	config_of(&cfg, users, 1, list);
	check_like(&cfg, y, true);
}

/* wf_config_load gives every config a generation of its own. */
static void test_generations(void)
{
	char dir[] = "/tmp/wharf-auth-XXXXXX", path[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	FILE *f = fopen(path, "w");
	fputs("services = ( { type = \"acme-http\"; port = 8080; } );\n", f);
	fclose(f);
	wf_buf_t errors;
	wf_buf_init(&errors, 1 << 16);
	wf_config_t *a = wf_config_load(path, &errors);
	uint64_t first = a ? a->generation : 0;
	wf_config_unref(a);
	wf_config_t *b = wf_config_load(path, &errors);
	CHECK(a && b && first != 0 && b->generation != first);
	if (!a || !b)
		fprintf(stderr, "%.*s", (int)errors.len, errors.data);
	wf_config_unref(b);
	wf_buf_fini(&errors);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_same_method_and_cost();
	test_most_common_setting();
	test_fallbacks();
	test_reused_addresses();
	test_generations();
	return check_report();
}
