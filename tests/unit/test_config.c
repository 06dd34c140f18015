/* Config loading: defaults, every kind of problem reported as FILE:LINE, all of
 * them at once (an @include'd file's by its own name), and relative paths
 * (@include names too) resolved next to the file. */
#include "check.h"
#include "server/config.h"
#include "server/passwd.h"
#include "acme/b64url.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/wharf-config-XXXXXX";

/* A whole sha512-crypt hash (of "pw"), as `wharf passwd --sha512` prints one. */
#define PW_HASH "$6$v9.uAgvmVFPA/PpM$ivvZRCYYSiMHNBi0PJ7PkMvHosgQT0efMYL3araxiFhLmg/B4EqVXF42Nm676p0gr2qmPoAVg7ciOpEGCAzUd1"


static wf_config_t *load_text(const char *text, wf_buf_t *errors)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	wf_buf_reset(errors);
	wf_config_t *cfg = wf_config_load(path, errors);
	wf_buf_append(errors, "", 1);
	return cfg;
}

#define GOOD_TAIL                                                                                   \
	"certificates = ( { name = \"main\"; domains = [\"Example.COM\", \"*.example.com\"]; } );\n" \
	"services = ( { type = \"https\"; port = 8443; certificates = [\"main\"]; } );\n"            \
	"users = ( { name = \"u\"; password = \"" PW_HASH "\"; home = \"home\"; } );\n"

static void test_good(void)
{
	wf_buf_t e;
	wf_buf_init(&e, 1 << 16);
	wf_config_t *cfg = load_text(GOOD_TAIL, &e);
	CHECK(cfg != NULL);
	if (!cfg) {
		fprintf(stderr, "%s", e.data);
		return;
	}
	char want[300];
	snprintf(want, sizeof(want), "%s/state", dir);
	CHECK_EQ_STR(cfg->state_dir, want);
	snprintf(want, sizeof(want), "%s/home", dir);
	CHECK_EQ_STR(cfg->users[0].home, want);
	CHECK_EQ_INT(cfg->users[0].perms, WF_PERM_READ); /* default: read only */
	CHECK_EQ_STR(cfg->services[0].address, "*");
	CHECK_EQ_INT(cfg->limits.max_header_bytes, 16384);
	CHECK_EQ_INT(cfg->limits.max_upload_bytes, 64LL << 30);
	CHECK(cfg->tls.session_tickets);
	CHECK_EQ_STR(cfg->certificates[0].domains[0], "example.com"); /* lowercased */
	CHECK(wf_config_cert(cfg, "main") != NULL);
	CHECK(wf_config_user(cfg, (wf_slice_t){ "u", 1 }) != NULL);
	wf_config_unref(cfg);

	cfg = load_text("limits = { max_upload_bytes = \"10M\"; idle_timeout = 5; };\n" GOOD_TAIL, &e);
	CHECK(cfg && cfg->limits.max_upload_bytes == 10 << 20 && cfg->limits.idle_timeout == 5);
	wf_config_unref(cfg);
	/* libconfig keeps 32 bits of a literal without an L suffix, silently:
	 * the number written is taken, however it is written. */
	static const struct {
		const char *text;
		int64_t want;
	} sizes[] = {
		{ "limits = { max_upload_bytes = 4294968320; };\n", 4294968320LL },
		{ "limits = { max_upload_bytes = 4294967296; };\n", 4294967296LL },
		{ "limits = { max_upload_bytes = 4294968320L; };\n", 4294968320LL },
		{ "limits = { max_upload_bytes = 0x100000000; };\n", 4294967296LL },
		{ "limits = { max_upload_bytes = \"4G\"; };\n", 4LL << 30 },
		{ "limits = { max_upload_bytes: 2147483648 };\n", 2147483648LL },
		{ "limits = { max_header_bytes = 2048; max_upload_bytes\n  =\n  8589934592; };\n", 8589934592LL },
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char text[1000];
		snprintf(text, sizeof(text), "%s" GOOD_TAIL, sizes[i].text);
		cfg = load_text(text, &e);
		CHECK(cfg != NULL);
		if (!cfg)
			fprintf(stderr, "%s", e.data);
		else if (cfg->limits.max_upload_bytes != sizes[i].want)
			fprintf(stderr, "%s: %lld\n", sizes[i].text, (long long)cfg->limits.max_upload_bytes);
		CHECK(cfg && cfg->limits.max_upload_bytes == sizes[i].want);
		wf_config_unref(cfg);
	}
	/* A line of any length before the setting counts as one line. */
	size_t pad = 9000;
	char *big = malloc(pad + 1000);
	CHECK(big != NULL);
	if (big) {
		big[0] = '#';
		memset(big + 1, 'x', pad);
		snprintf(big + 1 + pad, 999, "\nlimits = { max_upload_bytes = 4294968320; };\n%s", GOOD_TAIL);
		cfg = load_text(big, &e);
		CHECK(cfg && cfg->limits.max_upload_bytes == 4294968320LL);
		wf_config_unref(cfg);
		free(big);
	}
	wf_buf_fini(&e);
}

static void expect_error(const char *text, const char *fragment)
{
	wf_buf_t e;
	wf_buf_init(&e, 1 << 16);
	wf_config_t *cfg = load_text(text, &e);
	CHECK(cfg == NULL);
	if (!strstr(e.data, fragment)) {
		fprintf(stderr, "expected \"%s\" in:\n%s\n", fragment, e.data);
		CHECK(0);
	} else {
		CHECK(1);
	}
	wf_config_unref(cfg);
	wf_buf_fini(&e);
}

/* A config that loads: returned (to unref), or NULL after a failed check
 * and its problems printed. */
static wf_config_t *expect_load(const char *text)
{
	wf_buf_t e;
	wf_buf_init(&e, 1 << 16);
	wf_config_t *cfg = load_text(text, &e);
	CHECK(cfg != NULL);
	if (!cfg)
		fprintf(stderr, "%s", e.data);
	wf_buf_fini(&e);
	return cfg;
}

static void test_errors(void)
{
	expect_error("bogus = 1;\n" GOOD_TAIL, "t.conf:1: unknown key 'bogus'");
	expect_error(GOOD_TAIL "limits = { idle_timout = 3; };\n", "t.conf:4: unknown key 'limits.idle_timout'");
	expect_error("workers = \"two\";\n" GOOD_TAIL, "t.conf:1: 'workers' must be an integer");
	expect_error("workers = 9999;\n" GOOD_TAIL, "'workers' is 9999, must be between 0 and 256");
	expect_error("allow_root = 1;\n" GOOD_TAIL, "'allow_root' must be true or false");
	/* 4294967301 was 5 to libconfig: the number written is judged. */
	expect_error("limits = { idle_timeout = 4294967301; };\n" GOOD_TAIL,
		     "t.conf:1: 'limits.idle_timeout' is 4294967301, must be between 1 and 86400");
	expect_error("limits = { max_header_bytes = 4294968320; };\n" GOOD_TAIL,
		     "t.conf:1: 'limits.max_header_bytes' is 4294968320 bytes, must be between 1024 and 1048576");
	/* Ports of services written on one line: each its own. */
	expect_error("certificates = ( { name = \"m\"; domains = [\"a.test\"]; } );\n"
		     "services = ( { type = \"https\"; port = 8443; certificates = [\"m\"]; }, "
		     "{ type = \"https\"; port = 4294967739; certificates = [\"m\"]; } );\n",
		     "t.conf:2: 'services[1].port' is 4294967739, must be between 1 and 65535");
	/* Unless their low 32 bits agree: which is which cannot be told. */
	expect_error("certificates = ( { name = \"m\"; domains = [\"a.test\"]; } );\n"
		     "services = ( { type = \"https\"; port = 8443; certificates = [\"m\"]; }, "
		     "{ type = \"https\"; port = 4294975739; certificates = [\"m\"]; } );\n",
		     "t.conf:2: 'services[1].port': cannot tell its number from another of that name");
	expect_error("limits = { max_upload_bytes = 99999999999999999999; };\n" GOOD_TAIL,
		     "t.conf:1: 'limits.max_upload_bytes' is past what 64 bits hold");
	expect_error("limits = { max_upload_bytes = \"10Q\"; };\n" GOOD_TAIL, "'limits.max_upload_bytes' is \"10Q\"");
	expect_error("log = { level = \"loud\"; };\n" GOOD_TAIL, "must be one of: error, warn, info, debug");
	expect_error("services = ( { type = \"gopher\"; port = 70; certificates = [\"x\"]; } );\n",
		     "'services[0].type' is \"gopher\"");
	expect_error("services = ( { type = \"https\"; certificates = [\"x\"]; } );\n", "'services[0].port' is required");
	expect_error("certificates = ( { name = \"main\"; domains = [\"a.test\"]; } );\n"
		     "services = ( { type = \"https\"; port = 1; certificates = [\"nope\"]; } );\n",
		     "t.conf:2: service on port 1 names certificate \"nope\"");
	expect_error("certificates = ( { name = \"m\"; domains = [\"bad_name!\"]; } );\n"
		     "services = ( { type = \"https\"; port = 1; certificates = [\"m\"]; } );\n",
		     "\"bad_name!\" is not a valid DNS name");
	expect_error("certificates = ( { name = \"../x\"; domains = [\"a.test\"]; } );\n"
		     "services = ( { type = \"https\"; port = 1; certificates = [\"../x\"]; } );\n",
		     "may hold only letters");
	expect_error("certificates = ( { name = \"..\"; domains = [\"a.test\"]; } );\n"
		     "services = ( { type = \"https\"; port = 1; certificates = [\"..\"]; } );\n",
		     "certificate name \"..\" may hold only letters");
	expect_error("certificates = ( { name = \"abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"; "
		     "domains = [\"a.test\"]; } );\n"
		     "services = ( { type = \"acme-http\"; port = 8080; } );\n",
		     "1 to 64 bytes");
	expect_error("users = ( { name = \"v\"; password = \"plain\"; home = \"home\"; } );\n"
		     "services = ( { type = \"acme-http\"; port = 8080; } );\n",
		     "t.conf:1: user \"v\": password must be a whole crypt(3) hash");
	/* A hash cut short passed and its user could never log in. */
	static const char *const unusable[] = {
		"$y$", "$6$x", "$6$abc$def", "$y$j9T$8q15fZRmcnibXlR.zpwpW.",
		"$y$j9T$8q15fZRmcnibXlR.zpwpW.$c9Uo7Xe7AYiGYDKZK2FKwMkPjw80r54fubm1xOcgKg", /* one short */
		"$2b$05$y2W4OOtYYqhPoIuqrKXgsebc7BeapFfAjB2fOjEzIwtgf6uL7FUX", "$1x$abc$def", "",
	};
	for (size_t i = 0; i < sizeof(unusable) / sizeof(unusable[0]); i++) {
		char text[600];
		snprintf(text, sizeof(text),
			 "users = ( { name = \"v\"; password = \"%s\"; home = \"home\"; } );\n"
			 "services = ( { type = \"acme-http\"; port = 8080; } );\n",
			 unusable[i]);
		expect_error(text, "t.conf:1: user \"v\": password must be a whole crypt(3) hash");
	}
	/* A method crypt(3) knows but the config does not take is named as such, with those it takes. */
	expect_error("users = ( { name = \"v\"; password = \"$1$saltsalt$qjXMvbEw8oaL.CzflDugX/\"; home = \"home\"; } );\n"
		     "services = ( { type = \"acme-http\"; port = 8080; } );\n",
		     "t.conf:1: user \"v\": password hash method $1$ (md5-crypt) is not accepted: use yescrypt ($y$), "
		     "sha512-crypt ($6$), gost-yescrypt ($gy$), sha256-crypt ($5$) or bcrypt ($2b$), as `wharf passwd` prints it");
	expect_error("users = ( { name = \"v\"; password = \"" PW_HASH "\"; home = \"nowhere\"; } );\n"
		     "certificates = ( { name = \"m\"; domains = [\"a.test\"]; } );\n"
		     "services = ( { type = \"https\"; port = 1; certificates = [\"m\"]; } );\n",
		     "t.conf:1: user \"v\": home");
	expect_error("users = ( { name = \"v\"; password = \"" PW_HASH "\"; home = \"home\"; permissions = [\"fly\"]; } );\n",
		     "entries must be among: read, write, delete, mkdir");
	expect_error("services = ( { type = \"https\"; port = 1; certificates = [\"m\"]; }, "
		     "{ type = \"https\"; port = 1; certificates = [\"m\"]; } );\n"
		     "certificates = ( { name = \"m\"; domains = [\"a.test\"]; } );\n",
		     "port 1 is already used");
	/* A wildcard and an address of its family on one port collide at bind:
	 * refused here, not at start as "another process listens there". */
	static const struct {
		const char *a, *b;
		bool collide;
	} pairs[] = {
		{ "0.0.0.0", "127.0.0.1", true }, { "127.0.0.1", "0.0.0.0", true }, { "::", "::1", true },
		{ "::1", "0:0::1", true },         { "*", "::1", true },              { "0.0.0.0", "0.0.0.0", true },
		{ "0.0.0.0", "::1", false },       { "::", "127.0.0.1", false },      { "127.0.0.1", "127.0.0.2", false },
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char text[600];
		snprintf(text, sizeof(text),
			 "services = ( { type = \"acme-http\"; address = \"%s\"; port = 1; },\n"
			 "  { type = \"acme-http\"; address = \"%s\"; port = 1; } );\n",
			 pairs[i].a, pairs[i].b);
		if (pairs[i].collide)
			expect_error(text, "t.conf:2: port 1 is already used by the service at line 1");
		else
			wf_config_unref(expect_load(text));
	}
	expect_error("services = ( { type = \"https\"; address = \"300.1.2.3\"; port = 1; certificates = [\"m\"]; } );\n"
		     "certificates = ( { name = \"m\"; domains = [\"a.test\"]; } );\n",
		     "\"300.1.2.3\" is not an IPv4 or IPv6 address");
	expect_error("workers = 2\nstate_dir = ;\n", "t.conf:2: syntax error");
	/* A required list absent is refused as one given empty: a file without
	 * services (or an empty file) listens nowhere, an acme block without cas
	 * orders nothing. */
	expect_error("services = ();\n", "t.conf:1: 'services' is required: at least 1 entry (up to 64)");
	expect_error("workers = 1;\n", "t.conf: 'services' is required: at least 1 entry (up to 64)");
	expect_error("", "t.conf: 'services' is required: at least 1 entry (up to 64)");
	expect_error("acme = { contact = \"a@example.com\"; };\n" GOOD_TAIL,
		     "t.conf:1: 'acme.cas' is required: at least 1 entry (up to 8)");
	/* Problems name the file as the success line does: absolute. */
	char whole[300];
	snprintf(whole, sizeof(whole), "%s/t.conf:1: 'services' is required", dir);
	expect_error("services = ();\n", whole);
	/* A key of another kind of service is refused, not ignored. */
	static const char *const ftps_only[] = { "active_mode = true", "passive_port_min = 5000",
						 "passive_port_max = 5100", "public_address = \"192.0.2.1\"",
						 "require_tls = false", "require_tls_reuse = false" };
	for (size_t i = 0; i < sizeof(ftps_only) / sizeof(ftps_only[0]); i++) {
		char text[600], want[200];
		snprintf(text, sizeof(text),
			 "certificates = ( { name = \"m\"; domains = [\"a.test\"]; } );\n"
			 "services = (\n  { type = \"ftps\"; port = 2121; certificates = [\"m\"]; %s; },\n"
			 "  { type = \"https\"; port = 8443; certificates = [\"m\"];\n    %s; }\n);\n",
			 ftps_only[i], ftps_only[i]);
		snprintf(want, sizeof(want), "t.conf:5: 'services[1].%.*s' applies to ftps and ftps-implicit services "
			 "only, not https\n", (int)strcspn(ftps_only[i], " "), ftps_only[i]);
		expect_error(text, want);
	}
	expect_error("services = ( { type = \"https\"; port = 8443; certificates = [\"m\"]; https_port = 443; } );\n"
		     "certificates = ( { name = \"m\"; domains = [\"a.test\"]; } );\n",
		     "t.conf:1: 'services[0].https_port' applies to acme-http services only, not https");
	/* Where they apply, they are taken. */
	wf_config_t *scoped = expect_load("certificates = ( { name = \"m\"; domains = [\"a.test\"]; } );\n"
					  "services = ( { type = \"ftps-implicit\"; port = 990; certificates = [\"m\"]; "
					  "require_tls = false; active_mode = true; },\n"
					  "{ type = \"acme-http\"; port = 80; https_port = 8443; } );\n");
	CHECK(scoped && !scoped->services[0].require_tls && scoped->services[0].active_mode &&
	      scoped->services[1].https_port == 8443);
	wf_config_unref(scoped);
	/* Every problem is reported, not only the first. */
	wf_buf_t e;
	wf_buf_init(&e, 1 << 16);
	CHECK(load_text("a = 1;\nb = 2;\nworkers = -1;\n", &e) == NULL);
	CHECK(strstr(e.data, ":1: unknown key 'a'") && strstr(e.data, ":2: unknown key 'b'") &&
	      strstr(e.data, ":3: 'workers'"));
	wf_buf_fini(&e);
}

/* What crypt(3) writes is taken, each method the config names. */
static void test_hash_usable(void)
{
	char h[256];
	CHECK(wf_passwd_hash("pw", 0, h, sizeof(h)) == WF_OK && wf_passwd_hash_usable(h));
	CHECK(wf_passwd_hash("pw", 1, h, sizeof(h)) == WF_OK && wf_passwd_hash_usable(h));
	CHECK(wf_passwd_hash_usable(PW_HASH));
	CHECK(wf_passwd_hash_usable("$gy$j9T$m1pDLYxsWR7n33Z5ZJrLO1$Cm5epyrtiEiRylrgxoisgDwygtAk6fC1R9TPe3vd.L5"));
	CHECK(wf_passwd_hash_usable("$5$0SGp.fGEhqOPygAL$rsIiMPWOvBdfrZuYxjamdScUUNeTfYIYoOQ.P9QL9HB"));
	CHECK(wf_passwd_hash_usable("$2b$05$y2W4OOtYYqhPoIuqrKXgsebc7BeapFfAjB2fOjEzIwtgf6uL7FUX."));
	CHECK(wf_passwd_hash_usable("$6$rounds=1000$abc$yxe0KSjmoHd8rpohJgwvF5lnIQ/9t.klcz24a1cca3nWm.PLUmhXgcGgKWCoRFHRHYxX"
				    "j4SVEtjCnCAwaFY0V0"));
	CHECK(!wf_passwd_hash_usable("$6$abc$def"));
	CHECK(!wf_passwd_hash_usable("$y$"));
}

/* Problems past the errors buffer's cap are counted in one last line, and
 * the text always ends in a NUL inside the buffer, whatever the cap: reload
 * splits it with strtok_r, a start prints it. */
static void test_errors_past_the_cap(void)
{
	char path[256], text[64 * 201] = "services = ( { type = \"acme-http\"; port = 8080; } );\n";
	snprintf(path, sizeof(path), "%s/many.conf", dir);
	for (int i = 0; i < 200; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "unknown_key_%04d = 1;\n", i);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	for (size_t cap = 1500; cap < 1800; cap++) {
		wf_buf_t e;
		wf_buf_init(&e, cap);
		CHECK(wf_config_load(path, &e) == NULL);
		size_t n = wf_buf_size(&e);
		CHECK(n < cap && e.data[n] == '\0');
		const char *last = e.data + n;
		while (last > e.data && last[-1] == '\n')
			last--;
		while (last > e.data && last[-1] != '\n')
			last--;
		char want[300];
		int kept = 0;
		for (const char *p = e.data; (p = strstr(p, "unknown key")); p++)
			kept++;
		snprintf(want, sizeof(want), "%s: %d more problems left out\n", path, 200 - kept);
		CHECK(kept > 0 && kept < 200);
		if (strcmp(last, want) != 0) {
			fprintf(stderr, "cap %zu: last line \"%s\", expected \"%s\"\n", cap, last, want);
			CHECK(0);
			wf_buf_fini(&e);
			break;
		}
		wf_buf_fini(&e);
	}
	/* Under the cap nothing is said about it, and the NUL is there too. */
	wf_buf_t e;
	wf_buf_init(&e, 1 << 16);
	CHECK(wf_config_load(path, &e) == NULL);
	CHECK(e.data[wf_buf_size(&e)] == '\0' && strstr(e.data, "left out") == NULL &&
	      strstr(e.data, "unknown_key_0199"));
	wf_buf_fini(&e);
}

/* A home is served to its user: it may not hold the state folder (keys),
 * the config file or a certificate's output_dir, nor lie inside the state
 * folder; compared where the paths lead, not as written. */
#define HOME_TAIL(home)                                                                        \
	"certificates = ( { name = \"m\"; domains = [\"a.test\"]; } );\n"                          \
	"services = ( { type = \"https\"; port = 1; certificates = [\"m\"]; } );\n"                 \
	"users = ( { name = \"v\"; password = \"" PW_HASH "\"; home = \"" home "\"; } );\n"

static void test_home_holds_nothing_of_the_server(void)
{
	char want[600], sub[300];
	expect_error(HOME_TAIL(""), "t.conf:3: user \"v\": home is empty");
	snprintf(want, sizeof(want), "t.conf:3: user \"v\": home %s holds the state folder %s/state: a user could read "
		 "the private keys", dir, dir);
	expect_error(HOME_TAIL("."), want);
	snprintf(want, sizeof(want), "t.conf:3: user \"v\": home %s holds the config file %s/t.conf", dir, dir);
	expect_error(HOME_TAIL("."), want);
	expect_error(HOME_TAIL("home/.."), want);
	/* The state folder need not exist yet. */
	snprintf(want, sizeof(want), "home %s/home holds the state folder %s/home/s/t", dir, dir);
	expect_error("state_dir = \"home/s/t\";\n" HOME_TAIL("home"), want);
	snprintf(sub, sizeof(sub), "%s/state", dir);
	mkdir(sub, 0755);
	snprintf(sub, sizeof(sub), "%s/state/certs", dir);
	mkdir(sub, 0755);
	snprintf(want, sizeof(want), "home %s/state/certs is inside the state folder %s/state", dir, dir);
	expect_error(HOME_TAIL("state/certs"), want);
	/* Through a symlink: link -> home, state_dir = "link/state". */
	snprintf(sub, sizeof(sub), "%s/link", dir);
	CHECK(symlink("home", sub) == 0);
	snprintf(want, sizeof(want), "home %s/home holds the state folder %s/home/state", dir, dir);
	expect_error("state_dir = \"link/state\";\n" HOME_TAIL("home"), want);
	unlink(sub);
	snprintf(want, sizeof(want), "home %s/home holds certificate \"m\"'s output_dir %s/home/out", dir, dir);
	expect_error("certificates = ( { name = \"m\"; domains = [\"a.test\"]; output_dir = \"home/out\"; } );\n"
		     "services = ( { type = \"https\"; port = 1; certificates = [\"m\"]; } );\n"
		     "users = ( { name = \"v\"; password = \"" PW_HASH "\"; home = \"home\"; } );\n",
		     want);
	/* Nor a program the server runs, what it trusts, or its logs: a user
	 * could rewrite them (a hook runs as the run user, which reads keys). */
	snprintf(sub, sizeof(sub), "%s/home/hook.sh", dir);
	FILE *hf = fopen(sub, "w");
	CHECK(hf != NULL);
	if (hf)
		fclose(hf);
	CHECK(chmod(sub, 0755) == 0);
	snprintf(want, sizeof(want), "home %s/home holds the deploy_hook program %s/home/hook.sh: a user could read it, "
		 "or rewrite it", dir, dir);
	expect_error("certificates = ( { name = \"m\"; domains = [\"a.test\"]; deploy_hook = [\"home/hook.sh\"]; } );\n"
		     "services = ( { type = \"https\"; port = 1; certificates = [\"m\"]; } );\n"
		     "users = ( { name = \"v\"; password = \"" PW_HASH "\"; home = \"home\"; } );\n",
		     want);
	unlink(sub);
	snprintf(want, sizeof(want), "home %s/home holds the error log %s/home/wharf.log", dir, dir);
	expect_error("log = { error_log = \"home/wharf.log\"; };\n" HOME_TAIL("home"), want);
	/* The state folder is opened without following a symlink: a link there
	 * passed check, then the start failed on a certificate's folder. */
	snprintf(sub, sizeof(sub), "%s/slink", dir);
	CHECK(symlink("state", sub) == 0);
	snprintf(want, sizeof(want), "t.conf:1: state_dir %s/slink is a symlink to %s/state: name the folder itself", dir,
		 dir);
	expect_error("state_dir = \"slink/\";\n" HOME_TAIL("home"), want);
	unlink(sub);
	snprintf(want, sizeof(want), "t.conf:1: state_dir %s/t.conf is not a folder", dir);
	expect_error("state_dir = \"t.conf\";\n" HOME_TAIL("home"), want);
	/* Beside one another is fine. */
	wf_config_unref(expect_load("certificates = ( { name = \"m\"; domains = [\"a.test\"]; output_dir = \"out\"; } );\n"
				    "services = ( { type = \"https\"; port = 1; certificates = [\"m\"]; } );\n"
				    "users = ( { name = \"v\"; password = \"" PW_HASH "\"; home = \"home\"; } );\n"));
}

/* eab_hmac is read at load by the decoder the ACME client uses, so wharf
 * check and a start refuse a key the first order could not use. The
 * message names the file, line and key, never the (secret) value. */
#define ACME_TAIL                                                                                           \
	"certificates = ( { name = \"main\"; domains = [\"a.test\"]; challenge = \"tls-alpn-01\"; } );\n" \
	"services = ( { type = \"https\"; port = 8443; certificates = [\"main\"]; } );\n"                  \
	"users = ( { name = \"u\"; password = \"" PW_HASH "\"; home = \"home\"; } );\n"

static void test_eab_hmac(void)
{
	static const char *const bad[] = { "not base64url!", "c2VjcmV0+/", "c2VjcmV0LWtleS0xMjN", "A", "c2Vj cmV0" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char mac[ACME_EAB_KEY_MAX];
		CHECK(acme_eab_key_decode(bad[i], mac) < 0);
		char text[600], want[200];
		snprintf(text, sizeof(text),
			 "acme = { contact = \"a@example.com\";\n"
			 "  cas = ( { url = \"https://ca.test/dir\"; eab_kid = \"kid-1\";\n"
			 "            eab_hmac = \"%s\"; } ); };\n" ACME_TAIL,
			 bad[i]);
		snprintf(want, sizeof(want), "t.conf:3: 'acme.cas[0].eab_hmac' is not a base64url key");
		expect_error(text, want);
		wf_buf_t e;
		wf_buf_init(&e, 1 << 16);
		CHECK(load_text(text, &e) == NULL);
		if (strlen(bad[i]) > 4) /* a secret stays out of the output ("A" is in the message itself) */
			CHECK(strstr(e.data, bad[i]) == NULL);
		wf_buf_fini(&e);
	}
	/* A key the CA gave ("secret-key-123" here), with or without padding. */
	static const char *const good[] = { "c2VjcmV0LWtleS0xMjM", "c2VjcmV0LWtleS0xMjM=" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[600];
		snprintf(text, sizeof(text),
			 "acme = { contact = \"a@example.com\";\n"
			 "  cas = ( { url = \"https://ca.test/dir\"; eab_kid = \"kid-1\"; eab_hmac = \"%s\"; } ); };\n"
			 ACME_TAIL,
			 good[i]);
		wf_buf_t e;
		wf_buf_init(&e, 1 << 16);
		wf_config_t *cfg = load_text(text, &e);
		CHECK(cfg != NULL);
		if (!cfg) {
			fprintf(stderr, "%s", e.data);
		} else {
			unsigned char mac[ACME_EAB_KEY_MAX];
			ssize_t n = acme_eab_key_decode(cfg->acme.cas[0].eab_hmac, mac);
			CHECK(n == 14 && memcmp(mac, "secret-key-123", 14) == 0);
			wf_config_unref(cfg);
		}
		wf_buf_fini(&e);
	}
}

/* A contact the CA would refuse (invalidContact, and the order waits up to
 * a day) is refused at load, with the acme block's line. */
static void test_acme_contact(void)
{
	static const char *const bad[] = { "not an email", "admin", "@example.org", "admin@", "a@b@c",
					   "mailto:", "<a@example.org>", "a@example.org, b@example.org", "a\\\"@x.org" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[600];
		snprintf(text, sizeof(text),
			 "\nacme = { contact = \"%s\";\n  cas = ( { url = \"https://ca.test/dir\"; } ); };\n" ACME_TAIL,
			 bad[i]);
		expect_error(text, "t.conf:2: acme.contact: ");
	}
	static const char *const good[] = { "admin@example.org", "mailto:admin@example.org", "" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[600];
		snprintf(text, sizeof(text),
			 "acme = { contact = \"%s\"; cas = ( { url = \"https://ca.test/dir\"; } ); };\n" ACME_TAIL,
			 good[i]);
		wf_config_unref(expect_load(text));
	}
}

/* cluster.controller is joined with /.wharf/cluster/bundle/NAME: a trailing
 * "/" goes, any other path is refused with the file and line. */
static void test_cluster_controller(void)
{
#define FOLLOWER(url) "\ncluster = { role = \"follower\"; secret = \"0123456789abcdef0123456789abcdef\";\n" \
		      "  controller = \"" url "\"; };\n" GOOD_TAIL
	static const char *const strip[][2] = { { FOLLOWER("https://ctl.test:8443"), "https://ctl.test:8443" },
						 { FOLLOWER("https://ctl.test:8443/"), "https://ctl.test:8443" },
						 { FOLLOWER("https://ctl.test//"), "https://ctl.test" } };
	for (size_t i = 0; i < sizeof(strip) / sizeof(strip[0]); i++) {
		wf_config_t *cfg = expect_load(strip[i][0]);
		if (cfg)
			CHECK_EQ_STR(cfg->cluster.controller, strip[i][1]);
		wf_config_unref(cfg);
	}
	expect_error(FOLLOWER("https://ctl.test:8443/wharf"),
		     "t.conf:2: cluster.controller: \"https://ctl.test:8443/wharf\" has a path");
	expect_error(FOLLOWER("https://ctl.test:8443/wharf/"), "t.conf:2: cluster.controller: ");
	expect_error(FOLLOWER("https://ctl.test?x=1"), "t.conf:2: cluster.controller: ");
	expect_error(FOLLOWER("https:///"), "t.conf:2: a follower needs cluster.controller");
	expect_error(FOLLOWER("http://ctl.test"), "t.conf:2: a follower needs cluster.controller");
#undef FOLLOWER
}

/* A hook's program is looked for at load: a name without '/' in PATH, a
 * path with one against the config's folder (and made absolute), each one
 * executable; the message names the key. */
static void test_hooks(void)
{
	char path[300], want[600];
	snprintf(path, sizeof(path), "%s/hook.sh", dir);
	FILE *f = fopen(path, "w");
	fputs("#!/bin/sh\n", f);
	fclose(f);
	chmod(path, 0644);
#define HOOK_ACME(hook) "acme = { event_hook = " hook "; cas = ( { url = \"https://ca.test/dir\"; } ); };\n" ACME_TAIL
	snprintf(want, sizeof(want), "t.conf:1: acme.event_hook: %s/hook.sh is not an executable file", dir);
	expect_error(HOOK_ACME("[\"hook.sh\"]"), "t.conf:1: acme.event_hook: program \"hook.sh\" is not in PATH");
	expect_error(HOOK_ACME("[\"./hook.sh\"]"), want); /* there, but not executable */
	snprintf(want, sizeof(want), "t.conf:1: acme.event_hook: %s/no/such.sh is not an executable file (No such file",
		 dir);
	expect_error(HOOK_ACME("[\"no/such.sh\"]"), want);
	expect_error(HOOK_ACME("[\"\"]"), "acme.event_hook: the program (its first entry) is empty");
	expect_error("acme = { cas = ( { url = \"https://ca.test/dir\"; } ); };\n"
		     "certificates = ( { name = \"main\"; domains = [\"a.test\"]; challenge = \"tls-alpn-01\";\n"
		     "  deploy_hook = [\"no-such-program-here\", \"x\"]; } );\n"
		     "services = ( { type = \"https\"; port = 8443; certificates = [\"main\"]; } );\n",
		     "t.conf:2: certificate \"main\": deploy_hook: program \"no-such-program-here\" is not in PATH");
	expect_error("acme = { dns_hook = [\"no-such-program-here\"]; cas = ( { url = \"https://ca.test/dir\"; } ); };\n"
		     ACME_TAIL,
		     "t.conf:1: acme.dns_hook: program \"no-such-program-here\"");
	chmod(path, 0755);
	static const char *const good[] = { "[\"sh\", \"-c\", \"true\"]", "[\"./hook.sh\"]", "[\"hook.sh\"]" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[600];
		snprintf(text, sizeof(text), HOOK_ACME("%s"), good[i]);
		if (i == 2) { /* a bare name is not looked for next to the config */
			expect_error(text, "program \"hook.sh\" is not in PATH");
			continue;
		}
		wf_config_t *cfg = expect_load(text);
		snprintf(want, sizeof(want), "%s/hook.sh", dir);
		if (cfg) /* a bare name stays: posix_spawnp looks it up when it runs */
			CHECK_EQ_STR(cfg->acme.event_hook[0], i == 0 ? "sh" : want);
		wf_config_unref(cfg);
	}
#undef HOOK_ACME
	unlink(path);
}

/* One rule for certificate names, the config's and `cert batch`'s (which
 * adds its names through wf_config_add_cert). */
static void test_cert_names(void)
{
	CHECK(wf_config_cert_name_ok("main"));
	CHECK(wf_config_cert_name_ok("shop.example_2-b"));
	CHECK(wf_config_cert_name_ok("x..y"));
	CHECK(wf_config_cert_name_ok("abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")); /* 64 */
	CHECK(!wf_config_cert_name_ok("abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")); /* 65 */
	CHECK(!wf_config_cert_name_ok(""));
	CHECK(!wf_config_cert_name_ok("."));
	CHECK(!wf_config_cert_name_ok(".."));
	CHECK(!wf_config_cert_name_ok(".x"));
	CHECK(!wf_config_cert_name_ok("a/b"));
	CHECK(!wf_config_cert_name_ok("a b"));

	wf_buf_t e;
	wf_buf_init(&e, 1 << 16);
	wf_config_t *cfg = load_text(GOOD_TAIL, &e);
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	char *domains[] = { "a.test" }, *hook[] = { NULL };
	size_t n = cfg->ncertificates;
	CHECK_EQ_INT(wf_config_add_cert(cfg, "..", domains, 1, "ec256", "http-01", hook, 0), WF_ERR);
	CHECK_EQ_INT(wf_config_add_cert(cfg, ".", domains, 1, "ec256", "http-01", hook, 0), WF_ERR);
	CHECK_EQ_INT(cfg->ncertificates, n);
	CHECK_EQ_INT(wf_config_add_cert(cfg, "batch1", domains, 1, "ec256", "http-01", hook, 0), WF_OK);
	CHECK_EQ_INT(cfg->ncertificates, n + 1);
	wf_config_unref(cfg);
	wf_buf_fini(&e);
}

static void put_file(const char *rel, const char *text)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* The names a certificate covers, as the CA will certify them: a name it
 * would refuse, or write back otherwise, is said at load, not found out
 * after an order (see also test_batch.c: one rule for both). */
static char *cert_with_domains(const char *domains)
{
	static char text[1200];
	snprintf(text, sizeof(text),
		 "certificates = ( { name = \"m\"; domains = [%s]; } );\n"
		 "services = ( { type = \"https\"; port = 1; certificates = [\"m\"]; } );\n",
		 domains);
	return text;
}

static void test_cert_domains(void)
{
	/* Let's Encrypt certifies ::ffff:127.0.0.1 as 127.0.0.1: not what was asked. */
	expect_error(cert_with_domains("\"::ffff:127.0.0.1\""),
		     "t.conf:1: certificate \"m\": \"::ffff:127.0.0.1\" is an IPv4-mapped IPv6 address: write the "
		     "IPv4 address 127.0.0.1");
	expect_error(cert_with_domains("\"::FFFF:7f00:1\""), "write the IPv4 address 127.0.0.1");
	expect_error(cert_with_domains("\"::192.0.2.1\""),
		     "IPv4-compatible IPv6 address: write the IPv4 address 192.0.2.1");
	/* RFC 1035/1123 labels. */
	expect_error(cert_with_domains("\"-a.test\""), "t.conf:1: certificate \"m\": \"-a.test\" is not a valid DNS "
							"name: a label starts or ends with '-'");
	expect_error(cert_with_domains("\"a-.test\""), "a label starts or ends with '-'");
	expect_error(cert_with_domains("\"*.-a.test\""), "a label starts or ends with '-'");
	char list[600], name[300];
	memset(name, 'a', 64);
	snprintf(name + 64, sizeof(name) - 64, ".test");
	snprintf(list, sizeof(list), "\"%s\"", name);
	expect_error(cert_with_domains(list), "a label is longer than 63 bytes");
	/* 63 a's, then 190 more bytes: 253 in all is the most a name may be. */
	snprintf(name, sizeof(name), "%.63s.%.63s.%.63s.%.61s", list + 2, list + 2, list + 2, list + 2);
	CHECK_EQ_INT(strlen(name), 253);
	snprintf(list, sizeof(list), "\"%s\", \"x-y.a1.test\", \"::1\", \"2001:db8::7\"", name);
	wf_config_unref(expect_load(cert_with_domains(list)));
	snprintf(list, sizeof(list), "\"b%s\"", name);
	expect_error(cert_with_domains(list), "is not a valid DNS name: it is longer than 253 bytes");
	expect_error(cert_with_domains("\"a..test\""), "\"a..test\" is not a valid DNS name or IP address");
	expect_error(cert_with_domains("\"a.test.\""), "\"a.test.\" is not a valid DNS name or IP address");
	/* Names are lower-cased: the same name twice would be certified twice. */
	expect_error(cert_with_domains("\"Wharf.TEST\", \"www.wharf.test\", \"WWW.WHARF.TEST\""),
		     "t.conf:1: certificate \"m\": \"www.wharf.test\" is listed twice (names ignore case)");
	expect_error(cert_with_domains("\"2001:DB8::7\", \"2001:db8:0:0::7\""), "\"2001:db8::7\" is listed twice");
}

/* @include names are read from the config's folder, wherever wharf runs,
 * and a problem in an included file is named by that file and its line. */
static void test_include(void)
{
	char sub[300], want[400];
	snprintf(sub, sizeof(sub), "%s/inc", dir);
	mkdir(sub, 0755);
	char *cwd = getcwd(NULL, 0);
	CHECK(chdir("/") == 0);
	put_file("inc/limits.conf", "limits = {\n  max_upload_bytes = 4294968320;\n};\n");
	wf_config_t *cfg = expect_load("@include \"inc/limits.conf\"\n" GOOD_TAIL);
	CHECK(cfg && cfg->limits.max_upload_bytes == 4294968320LL); /* the literal read again, from there */
	wf_config_unref(cfg);
	put_file("inc/bad.conf", "\n\nlimits = { colour = 1; };\n");
	snprintf(want, sizeof(want), "%s/inc/bad.conf:3: unknown key 'limits.colour'", dir);
	expect_error(GOOD_TAIL "@include \"inc/bad.conf\"\n", want);
	put_file("inc/syntax.conf", "limits = { idle_timeout = ; };\n");
	snprintf(want, sizeof(want), "%s/inc/syntax.conf:1: syntax error", dir);
	expect_error(GOOD_TAIL "@include \"inc/syntax.conf\"\n", want);
	/* An absolute name is taken as it is (libconfig 1.5 would put the
	 * include folder before it), its problems named by its path. */
	char text[600];
	put_file("inc/abs.conf", "limits = { idle_timeout = 7; };\n");
	snprintf(text, sizeof(text), "@include \"%s/inc/abs.conf\"\n%s", dir, GOOD_TAIL);
	cfg = expect_load(text);
	CHECK(cfg && cfg->limits.idle_timeout == 7);
	wf_config_unref(cfg);
	put_file("inc/absbad.conf", "limits = { colour = 1; };\n");
	snprintf(text, sizeof(text), "  @include   \"%s/inc/absbad.conf\"\n%s", dir, GOOD_TAIL);
	snprintf(want, sizeof(want), "%s/inc/absbad.conf:1: unknown key 'limits.colour'", dir);
	expect_error(text, want);
	/* An included file's own relative @include is read from the config's
	 * folder too. */
	put_file("inc/outer.conf", "@include \"inc/abs.conf\"\n");
	cfg = expect_load("@include \"inc/outer.conf\"\n" GOOD_TAIL);
	CHECK(cfg && cfg->limits.idle_timeout == 7);
	wf_config_unref(cfg);
	/* Checks across entries name each entry's own file. */
	put_file("inc/users.conf", "users = (\n  { name = \"v\"; password = \"" PW_HASH "\"; home = \"home\"; },\n"
				   "  { name = \"v\"; password = \"" PW_HASH "\"; home = \"home\"; }\n);\n");
	snprintf(want, sizeof(want), "%s/inc/users.conf:3: user \"v\" is defined twice (first at line 2)", dir);
	expect_error("certificates = ( { name = \"main\"; domains = [\"example.com\"]; } );\n"
		     "services = ( { type = \"https\"; port = 8443; certificates = [\"main\"]; } );\n"
		     "@include \"inc/users.conf\"\n",
		     want);
	put_file("inc/cert.conf", "certificates = ( { name = \"main\"; domains = [\"-bad.example\"]; } );\n");
	snprintf(want, sizeof(want), "%s/inc/cert.conf:1: certificate \"main\":", dir);
	expect_error("@include \"inc/cert.conf\"\n"
		     "services = ( { type = \"https\"; port = 8443; certificates = [\"main\"]; } );\n"
		     "users = ( { name = \"u\"; password = \"" PW_HASH "\"; home = \"home\"; } );\n",
		     want);
	/* The file an @include cannot read is named, with why. */
	snprintf(want, sizeof(want),
		 "t.conf:2: cannot read %s/inc/none.conf, which this @include names: No such file or directory (a "
		 "relative name is taken from %s)\n",
		 dir, dir);
	expect_error("\n@include \"inc/none.conf\"\n" GOOD_TAIL, want);
	/* An included file's own absolute @include is unsupported (libconfig
	 * 1.5): said so, not that the file (which is there) cannot be read. */
	snprintf(text, sizeof(text), "\n@include \"%s/inc/abs.conf\"\n", dir);
	put_file("inc/nested-abs.conf", text);
	snprintf(want, sizeof(want),
		 "%s/inc/nested-abs.conf:2: @include \"%s/inc/abs.conf\": an @include'd file's own @include takes a "
		 "name relative to %s, not an absolute one",
		 dir, dir, dir);
	expect_error(GOOD_TAIL "@include \"inc/nested-abs.conf\"\n", want);
	/* A list left open at the end of an included file: that file's line
	 * where it opens, said once, not a line past the config file's end. */
	put_file("inc/open.conf", "\n# the users\nusers = (\n  { name = \"v\"; password = \"x\"; home = \"home\"; },\n");
	snprintf(want, sizeof(want),
		 "%s/inc/open.conf:3: syntax error: the list, array or group opened on this line is not closed before "
		 "the file ends\n",
		 dir);
	expect_error("services = ( { type = \"acme-http\"; port = 8080; } );\n@include \"inc/open.conf\"\n", want);
	/* Not closed in the config file itself. */
	expect_error("services = ( { type = \"acme-http\"; port = 8080; } );\nworkers = (\n",
		     "t.conf:2: syntax error: the list, array or group opened on this line is not closed before the file ends");
	expect_error("workers = 2\nstate_dir = ;\n", "t.conf:2: syntax error\n");
	if (cwd) {
		CHECK(chdir(cwd) == 0);
		free(cwd);
	}
}

/* The reference names each section by its path in the file: acme.cas[], not acmecas[]. */
static void test_reference(void)
{
	wf_buf_t out;
	wf_buf_init(&out, 1 << 20);
	CHECK(wf_config_reference(&out) == WF_OK);
	wf_buf_append(&out, "", 1);
	CHECK(strstr(out.data, "\n## `acme.cas[]`\n") != NULL);
	CHECK(strstr(out.data, "## `acmecas[]`") == NULL);
	CHECK(strstr(out.data, "\n## `services[]`\n") != NULL);
	/* Each key's range, from the table the check uses. */
	CHECK(strstr(out.data, "\n| `workers` | integer (0 to 256) | `0` |") != NULL);
	CHECK(strstr(out.data, "\n| `header_timeout` | integer (1 to 3600) |") != NULL);
	CHECK(strstr(out.data, "\n| `max_header_bytes` | size (1K to 1M) |") != NULL);
	CHECK(strstr(out.data, "\n| `listing_memory` | size (at least 64K) |") != NULL);
	CHECK(strstr(out.data, "\n| `services` | list (1 to 64 entries) |") != NULL);
	CHECK(strstr(out.data, "\n| `cas` | list (1 to 8 entries) |") != NULL);
	CHECK(strstr(out.data, "\n| `domains` | string array (1 to 100 entries) |") != NULL);
	wf_buf_fini(&out);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	char home[300];
	snprintf(home, sizeof(home), "%s/home", dir);
	mkdir(home, 0755);
	test_good();
	test_errors();
	test_errors_past_the_cap();
	test_hash_usable();
	test_home_holds_nothing_of_the_server();
	test_cert_names();
	test_cert_domains();
	test_eab_hmac();
	test_acme_contact();
	test_hooks();
	test_cluster_controller();
	test_include();
	test_reference();
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return check_report();
}
