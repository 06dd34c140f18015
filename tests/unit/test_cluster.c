/* Cluster requests and answers: the Authorization parser and check, the
 * controller's replay record and its rate-limited log of refusals, sealed
 * bundles and the answers' proofs (acme/cluster.c). */
#include "acme/cluster_guard.h"

#include "check.h"

#include <pthread.h>
#include <stdlib.h>

#define SECRET "s3cret-shared-by-every-node-of-this-cluster"
#define NOW ((int64_t)1700000000)
#define NONCE "0123456789abcdef0123456789abcdef"
#define TARGET "/.wharf/cluster/bundle/main?wait=25"

static acme_cluster_keys_t g_keys;

static wf_slice_t sl(const char *s)
{
	return (wf_slice_t){ s, strlen(s) };
}

static int parse(const char *s, acme_cluster_auth_t *a)
{
	return acme_cluster_auth_parse(sl(s), a);
}

static void test_parse_good(void)
{
	acme_cluster_auth_t a;
	const char *mac = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char v[300];
	snprintf(v, sizeof(v), "Wharf-Cluster t=1700000000, n=%s, mac=%s", NONCE, mac);
	CHECK_EQ_INT(parse(v, &a), WF_OK);
	CHECK_EQ_INT(a.t, NOW);
	CHECK_EQ_STR(a.nonce, NONCE);
	CHECK_EQ_INT(a.mac[0], 0x00);
	CHECK_EQ_INT(a.mac[1], 0x11);
	CHECK_EQ_INT(a.mac[31], 0xff);
	/* Any order, the scheme in any case, spaces around commas, "t=0". */
	snprintf(v, sizeof(v), "  wharf-cluster   mac=%s ,n=%s,t=0  ", mac, NONCE);
	CHECK_EQ_INT(parse(v, &a), WF_OK);
	CHECK_EQ_INT(a.t, 0);
}

static void test_parse_malformed(void)
{
	const char *mac = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char v[400];
	acme_cluster_auth_t a;
	memset(&a, 0x5a, sizeof(a));
	acme_cluster_auth_t before = a;
	static const char *const fmts[] = {
		"Bearer t=1700000000, n=%s, mac=%s",                   /* another scheme */
		"Wharf-Clusterx t=1700000000, n=%s, mac=%s",           /* a longer scheme */
		"Wharf-Cluster,t=1700000000, n=%s, mac=%s",            /* no space after it */
		"Wharf-Cluster t=01700000000, n=%s, mac=%s",           /* leading zero */
		"Wharf-Cluster t=-1700000000, n=%s, mac=%s",           /* sign */
		"Wharf-Cluster t=1700000000x, n=%s, mac=%s",           /* not a number */
		"Wharf-Cluster t=9999999999999999, n=%s, mac=%s",      /* 16 digits */
		"Wharf-Cluster t=, n=%s, mac=%s",                      /* empty */
		"Wharf-Cluster t=1700000000, n=%s0, mac=%s",           /* a long nonce */
		"Wharf-Cluster t=1700000000, n=%.31s, mac=%s",         /* a short one */
		"Wharf-Cluster t=1700000000, n=%s, mac=%.63s",         /* a short mac */
		"Wharf-Cluster t=1700000000, n=%s, mac=%sAA",          /* a long one */
		"Wharf-Cluster t=1700000000, n=%s, mac=%s, x=1",       /* unknown parameter */
		"Wharf-Cluster t=1700000000, t=1700000000, n=%s, mac=%s", /* repeated */
		"Wharf-Cluster t=1700000000, n=%s",                    /* missing mac (mac unused below) */
		"Wharf-Cluster t=1700000000 n=%s, mac=%s",             /* no comma */
		"Wharf-Cluster t=1700000000, n=%s, mac=%s,",           /* trailing comma */
		"Wharf-Cluster t=1700000000, n=\"%s\", mac=%s",        /* quoted */
		"Wharf-Cluster ",                                      /* nothing */
	};
	for (size_t i = 0; i < WF_ARRAY_LEN(fmts); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
		snprintf(v, sizeof(v), fmts[i], NONCE, mac);
#pragma GCC diagnostic pop
		int rc = parse(v, &a);
		if (rc != WF_ERR)
			fprintf(stderr, "accepted: %s\n", v);
		CHECK_EQ_INT(rc, WF_ERR);
	}
	/* Upper-case hex: one spelling per value. */
	snprintf(v, sizeof(v), "Wharf-Cluster t=1, n=%s, mac=%s", "0123456789ABCDEF0123456789ABCDEF", mac);
	CHECK_EQ_INT(parse(v, &a), WF_ERR);
	CHECK_EQ_INT(parse("", &a), WF_ERR);
	/* A NUL inside is just a byte that is not allowed. */
	char withnul[] = "Wharf-Cluster t=1\0, n=0123456789abcdef0123456789abcdef, mac="
			 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	CHECK_EQ_INT(acme_cluster_auth_parse((wf_slice_t){ withnul, sizeof(withnul) - 1 }, &a), WF_ERR);
	CHECK(memcmp(&a, &before, sizeof(a)) == 0); /* untouched by any refusal */
}

/* The scheme alone tells a node's request from a user's login, malformed
 * or not: no such request may count toward a ban. */
static void test_is_cluster(void)
{
	CHECK(acme_cluster_auth_is_cluster(sl("Wharf-Cluster t=1, n=x, mac=y")));
	CHECK(acme_cluster_auth_is_cluster(sl("  wharf-CLUSTER\tgarbage")));
	CHECK(acme_cluster_auth_is_cluster(sl("Wharf-Cluster")));
	CHECK(acme_cluster_auth_is_cluster(sl("Wharf-Cluster ")));
	CHECK(!acme_cluster_auth_is_cluster(sl("Wharf-Clusters t=1")));
	CHECK(!acme_cluster_auth_is_cluster(sl("Wharf-Cluste")));
	CHECK(!acme_cluster_auth_is_cluster(sl("Basic d2hhcmYtY2x1c3Rlcjp4")));
	CHECK(!acme_cluster_auth_is_cluster(sl("Bearer Wharf-Cluster")));
	CHECK(!acme_cluster_auth_is_cluster(sl("")));
	CHECK(!acme_cluster_auth_is_cluster((wf_slice_t){ NULL, 0 }));
}

static int check_at(const char *method, const char *target, const char *auth, int64_t now, char nonce[33],
		    const char **why)
{
	acme_cluster_auth_t a;
	*why = NULL;
	int rc = acme_cluster_auth_check(&g_keys, sl(method), sl(target), sl(auth), now, &a, why);
	if (rc == WF_OK) {
		CHECK_EQ_INT(a.t, NOW);
		memcpy(nonce, a.nonce, sizeof(a.nonce));
	}
	return rc;
}

static void test_check(void)
{
	char auth[300], nonce[33];
	const char *why;
	CHECK_EQ_INT(acme_cluster_auth_make(&g_keys, "GET", TARGET, NOW, NONCE, auth, sizeof(auth)), WF_OK);
	static const char prefix[] = "Wharf-Cluster t=1700000000, n=" NONCE ", mac=";
	CHECK(strncmp(auth, prefix, sizeof(prefix) - 1) == 0);
	CHECK_EQ_INT(strlen(auth), sizeof(prefix) - 1 + 64);
	CHECK(strstr(auth, SECRET) == NULL);

	/* Good, at either edge of the allowed skew. */
	CHECK_EQ_INT(check_at("GET", TARGET, auth, NOW, nonce, &why), WF_OK);
	CHECK_EQ_STR(nonce, NONCE);
	CHECK_EQ_INT(check_at("GET", TARGET, auth, NOW + ACME_CLUSTER_SKEW, nonce, &why), WF_OK);
	CHECK_EQ_INT(check_at("GET", TARGET, auth, NOW - ACME_CLUSTER_SKEW, nonce, &why), WF_OK);

	/* Stale, or from the future. */
	CHECK_EQ_INT(check_at("GET", TARGET, auth, NOW + ACME_CLUSTER_SKEW + 1, nonce, &why), WF_ERR);
	CHECK(why && strstr(why, "time"));
	CHECK_EQ_INT(check_at("GET", TARGET, auth, NOW - ACME_CLUSTER_SKEW - 1, nonce, &why), WF_ERR);
	CHECK_EQ_INT(check_at("GET", TARGET, auth, NOW + 600, nonce, &why), WF_ERR);

	/* Signed for another target or method. */
	CHECK_EQ_INT(check_at("GET", "/.wharf/cluster/bundle/other?wait=25", auth, NOW, nonce, &why), WF_ERR);
	CHECK(why && strstr(why, "signature"));
	CHECK_EQ_INT(check_at("GET", "/.wharf/cluster/bundle/main", auth, NOW, nonce, &why), WF_ERR);
	CHECK_EQ_INT(check_at("HEAD", TARGET, auth, NOW, nonce, &why), WF_ERR);

	/* A wrong mac: one digit changed, or another secret. */
	char bad[300];
	snprintf(bad, sizeof(bad), "%s", auth);
	char *last = bad + strlen(bad) - 1;
	*last = *last == '0' ? '1' : '0';
	CHECK_EQ_INT(check_at("GET", TARGET, bad, NOW, nonce, &why), WF_ERR);
	CHECK(why && strstr(why, "signature"));
	acme_cluster_keys_t other;
	CHECK_EQ_INT(acme_cluster_keys_init(&other, "another-secret-of-at-least-32-characters"), WF_OK);
	CHECK_EQ_INT(acme_cluster_auth_make(&other, "GET", TARGET, NOW, NONCE, bad, sizeof(bad)), WF_OK);
	CHECK_EQ_INT(check_at("GET", TARGET, bad, NOW, nonce, &why), WF_ERR);
	acme_cluster_keys_fini(&other);

	/* The nonce is signed: another one with the same mac fails. */
	snprintf(bad, sizeof(bad), "%s", auth);
	bad[strlen("Wharf-Cluster t=1700000000, n=")] = 'f';
	CHECK_EQ_INT(check_at("GET", TARGET, bad, NOW, nonce, &why), WF_ERR);

	/* Malformed, missing, and the old scheme. */
	CHECK_EQ_INT(check_at("GET", TARGET, "Bearer " SECRET, NOW, nonce, &why), WF_ERR);
	CHECK(why && strstr(why, "malformed"));
	CHECK_EQ_INT(check_at("GET", TARGET, "", NOW, nonce, &why), WF_ERR);
	CHECK(why != NULL);
	acme_cluster_auth_t a;
	CHECK_EQ_INT(acme_cluster_auth_check(&g_keys, sl("GET"), sl(TARGET), (wf_slice_t){ NULL, 0 }, NOW, &a, &why),
		     WF_ERR);

	/* Too small a buffer for the value. */
	CHECK_EQ_INT(acme_cluster_auth_make(&g_keys, "GET", TARGET, NOW, NONCE, auth, 100), WF_ERR);
}

/* A checked request at time t with the i-th nonce. */
static acme_cluster_auth_t request(int64_t t, unsigned i)
{
	acme_cluster_auth_t a;
	memset(&a, 0, sizeof(a));
	a.t = t;
	snprintf(a.nonce, sizeof(a.nonce), "%032x", i);
	return a;
}

static int admit(acme_cluster_replay_t *r, int64_t t, unsigned i, int64_t now, const char **why)
{
	acme_cluster_auth_t a = request(t, i);
	*why = NULL;
	return acme_cluster_replay_admit(r, &a, now, why);
}

static acme_cluster_replay_t g_replay; /* 96 KiB: not on the stack */

static void test_replay(void)
{
	acme_cluster_replay_t *r = &g_replay;
	const char *why;
	acme_cluster_replay_init(r);
	/* Once, and once only, for as long as the request passes the time check. */
	CHECK_EQ_INT(admit(r, NOW, 1, NOW, &why), WF_OK);
	CHECK_EQ_INT(admit(r, NOW, 1, NOW, &why), WF_ERR);
	CHECK(why && strstr(why, "used already"));
	CHECK_EQ_INT(admit(r, NOW, 1, NOW + ACME_CLUSTER_SKEW, &why), WF_ERR);
	CHECK_EQ_INT(admit(r, NOW, 2, NOW + 1, &why), WF_OK);
	/* A request signed ahead of our clock stays recorded as long as it
	 * could pass (until its own t + skew). */
	CHECK_EQ_INT(admit(r, NOW + 200, 3, NOW, &why), WF_OK);
	CHECK_EQ_INT(admit(r, NOW + 200, 3, NOW + 450, &why), WF_ERR);
	/* Entries go when their window has: the space is used again. */
	size_t used = r->used;
	CHECK_EQ_INT(admit(r, NOW + 600, 4, NOW + 600, &why), WF_OK);
	CHECK_EQ_INT(r->used, used);
	acme_cluster_replay_fini(r);

	/* Bounded: three tables' worth of requests, a steady stream over
	 * 15 minutes, all taken in a record that never grows past its cap. */
	acme_cluster_replay_init(r);
	unsigned n = 3 * ACME_CLUSTER_REPLAY_MAX, refused = 0;
	for (unsigned i = 0; i < n; i++) {
		int64_t t = NOW + (int64_t)i * 900 / n;
		refused += admit(r, t, 1000000 + i, t, &why) != WF_OK;
	}
	CHECK_EQ_INT(refused, 0);
	CHECK(r->used <= ACME_CLUSTER_REPLAY_MAX);
	acme_cluster_replay_fini(r);

	/* Full of live entries (a flood of signed requests): the oldest
	 * request's entry makes room, and no request as old gets in again,
	 * its own least of all. Fresh requests still do. */
	acme_cluster_replay_init(r);
	for (unsigned i = 0; i < ACME_CLUSTER_REPLAY_MAX; i++)
		refused += admit(r, NOW - 200 + i / 64, i, NOW, &why) != WF_OK;
	CHECK_EQ_INT(refused, 0);
	CHECK_EQ_INT(admit(r, NOW, 900001, NOW, &why), WF_OK); /* entry 0 (t = NOW - 200) made room */
	CHECK_EQ_INT(admit(r, NOW - 200, 0, NOW, &why), WF_ERR);  /* so its replay is refused */
	CHECK(why && strstr(why, "full"));
	CHECK_EQ_INT(admit(r, NOW - 200, 1, NOW, &why), WF_ERR);  /* still recorded, or as old: refused */
	CHECK_EQ_INT(admit(r, NOW - 200, 900002, NOW, &why), WF_ERR); /* as old as what was forgotten */
	CHECK_EQ_INT(admit(r, NOW, 900001, NOW, &why), WF_ERR);
	CHECK(why && strstr(why, "used already"));
	CHECK_EQ_INT(admit(r, NOW + 1, 900003, NOW + 1, &why), WF_OK);
	CHECK_EQ_INT(r->used, ACME_CLUSTER_REPLAY_MAX);
	/* Once the flood's window has passed, so has the floor. */
	CHECK_EQ_INT(admit(r, NOW + 400, 0, NOW + 400, &why), WF_OK);
	acme_cluster_replay_fini(r);
}

/* Worker threads sharing one record: each nonce is taken exactly once,
 * whichever thread it reaches. */
#define RACE_THREADS 4
#define RACE_NONCES 2000

static int g_race_ok[RACE_THREADS];

static void *race(void *arg)
{
	int id = (int)(intptr_t)arg;
	const char *why;
	for (unsigned i = 0; i < RACE_NONCES; i++)
		g_race_ok[id] += admit(&g_replay, NOW, i, NOW, &why) == WF_OK;
	return NULL;
}

static void test_replay_threads(void)
{
	pthread_t th[RACE_THREADS];
	acme_cluster_replay_init(&g_replay);
	for (int i = 0; i < RACE_THREADS; i++)
		CHECK_EQ_INT(pthread_create(&th[i], NULL, race, (void *)(intptr_t)i), 0);
	int total = 0;
	for (int i = 0; i < RACE_THREADS; i++) {
		pthread_join(th[i], NULL);
		total += g_race_ok[i];
	}
	CHECK_EQ_INT(total, RACE_NONCES);
	acme_cluster_replay_fini(&g_replay);
	CHECK(acme_cluster_replay_shared() == acme_cluster_replay_shared());
}

/* The lines the refusal log emits. */
static char g_lines[64][1100];
static int g_nlines;

static void collect(void *arg, const char *line)
{
	(void)arg;
	if (g_nlines < (int)WF_ARRAY_LEN(g_lines))
		snprintf(g_lines[g_nlines], sizeof(g_lines[0]), "%s", line);
	g_nlines++;
}

static const char WHY_SIG[] = "its signature does not match (another cluster secret?)";
static const char WHY_TIME[] = "its time is too far from ours (clocks must agree within 300 s)";

static void test_refusals(void)
{
	acme_cluster_refusals_t r;
	acme_cluster_refusals_init(&r, 10, collect, NULL);
	g_nlines = 0;
	/* The first from an address: at once, with its port and reason. */
	acme_cluster_refusals_note(&r, "10.0.0.1", "10.0.0.1:5000", WHY_SIG, NOW);
	CHECK_EQ_INT(g_nlines, 1);
	CHECK_EQ_STR(g_lines[0], "cluster: bundle request from 10.0.0.1:5000 refused: its signature does not match "
				 "(another cluster secret?)");
	/* The next 99 within the interval: counted, not logged. */
	for (int i = 0; i < 99; i++)
		acme_cluster_refusals_note(&r, "10.0.0.1", "10.0.0.1:5001", i < 60 ? WHY_SIG : WHY_TIME, NOW + i / 11);
	acme_cluster_refusals_flush(&r, NOW + 9);
	CHECK_EQ_INT(g_nlines, 1);
	/* Another address has its own first line. */
	acme_cluster_refusals_note(&r, "10.0.0.2", "10.0.0.2:6000", WHY_TIME, NOW + 5);
	CHECK_EQ_INT(g_nlines, 2);
	CHECK(strstr(g_lines[1], "from 10.0.0.2:6000 refused: its time"));
	/* The interval over: one line says how many and why; 10.0.0.2, with
	 * nothing more, is forgotten without a line. */
	acme_cluster_refusals_flush(&r, NOW + 10);
	CHECK_EQ_INT(g_nlines, 3);
	CHECK_EQ_STR(g_lines[2], "cluster: 99 more bundle requests from 10.0.0.1 refused in the last 10 s (60: its "
				 "signature does not match (another cluster secret?); 39: its time is too far from "
				 "ours (clocks must agree within 300 s))");
	acme_cluster_refusals_flush(&r, NOW + 11);
	CHECK_EQ_INT(g_nlines, 3);
	/* 10.0.0.1 stays counted: a steady flood is one line per interval. */
	acme_cluster_refusals_note(&r, "10.0.0.1", "10.0.0.1:5002", WHY_SIG, NOW + 12);
	CHECK_EQ_INT(g_nlines, 3);
	acme_cluster_refusals_note(&r, "10.0.0.1", "10.0.0.1:5003", WHY_SIG, NOW + 21); /* the line comes first */
	CHECK_EQ_INT(g_nlines, 4);
	CHECK(strstr(g_lines[3], "cluster: 1 more bundle request from 10.0.0.1 refused in the last 11 s (1: its "
				 "signature"));
	acme_cluster_refusals_flush(&r, NOW + 31);
	CHECK_EQ_INT(g_nlines, 5);
	CHECK(strstr(g_lines[4], "1 more bundle request from 10.0.0.1 refused in the last 10 s"));
	/* A quiet interval, then a refusal: logged at once again. */
	acme_cluster_refusals_flush(&r, NOW + 41);
	CHECK_EQ_INT(g_nlines, 5);
	acme_cluster_refusals_note(&r, "10.0.0.1", "10.0.0.1:5004", WHY_TIME, NOW + 42);
	CHECK_EQ_INT(g_nlines, 6);
	CHECK(strstr(g_lines[5], "from 10.0.0.1:5004 refused: its time"));
	acme_cluster_refusals_fini(&r);

	/* One IPv6 /64 is one client. More reasons than are counted apart:
	 * the rest are "other reasons". */
	acme_cluster_refusals_init(&r, 10, collect, NULL);
	g_nlines = 0;
	static const char *const whys[] = { "a", "b", "c", "d", "e", "f" };
	for (size_t i = 0; i < WF_ARRAY_LEN(whys) + 1; i++)
		acme_cluster_refusals_note(&r, i ? "2001:db8:0:1::2" : "2001:db8:0:1::1", "[2001:db8:0:1::1]:1",
					   whys[i % WF_ARRAY_LEN(whys)], NOW);
	CHECK_EQ_INT(g_nlines, 1);
	acme_cluster_refusals_flush(&r, NOW + 10);
	CHECK_EQ_INT(g_nlines, 2);
	CHECK_EQ_STR(g_lines[1], "cluster: 6 more bundle requests from 2001:db8:0:1::/64 refused in the last 10 s "
				 "(1: b; 1: c; 1: d; 1: e; 2: other reasons)");
	acme_cluster_refusals_fini(&r);

	/* A flood from many addresses: each of the first ACME_CLUSTER_LOG_CLIENTS
	 * has its line, the rest share one, and the interval's count says
	 * how many: bounded however many there are. */
	acme_cluster_refusals_init(&r, 10, collect, NULL);
	g_nlines = 0;
	for (unsigned i = 0; i < 10000; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
		acme_cluster_refusals_note(&r, addr, addr, WHY_SIG, NOW);
	}
	CHECK_EQ_INT(g_nlines, ACME_CLUSTER_LOG_CLIENTS + 1);
	CHECK(strstr(g_lines[ACME_CLUSTER_LOG_CLIENTS], "from 10.0.0.32 refused: its signature"));
	acme_cluster_refusals_flush(&r, NOW + 10);
	CHECK_EQ_INT(g_nlines, ACME_CLUSTER_LOG_CLIENTS + 2);
	char want[200];
	snprintf(want, sizeof(want), "cluster: %u more bundle requests from other addresses refused",
		 10000 - ACME_CLUSTER_LOG_CLIENTS - 1);
	CHECK(strstr(g_lines[ACME_CLUSTER_LOG_CLIENTS + 1], want));
	acme_cluster_refusals_fini(&r);
}

static void test_keys(void)
{
	acme_cluster_keys_t k;
	CHECK_EQ_INT(acme_cluster_keys_init(&k, ""), WF_ERR);
	CHECK_EQ_INT(acme_cluster_keys_init(&k, NULL), WF_ERR);
	/* One key per purpose. */
	CHECK(memcmp(g_keys.req, g_keys.bundle, 32) != 0);
	CHECK(memcmp(g_keys.req, g_keys.answer, 32) != 0);
	CHECK(memcmp(g_keys.bundle, g_keys.answer, 32) != 0);
	char a[33], b[33];
	CHECK_EQ_INT(acme_cluster_nonce(a), WF_OK);
	CHECK_EQ_INT(acme_cluster_nonce(b), WF_OK);
	CHECK_EQ_INT(strlen(a), ACME_CLUSTER_NONCE_LEN);
	CHECK(strcmp(a, b) != 0);
}

static const char PEM[] = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIF9nU3...\n-----END PRIVATE KEY-----\n"
			  "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n";

static int open_with(const acme_cluster_keys_t *k, const acme_cluster_bind_t *b, wf_slice_t sealed, wf_buf_t *out)
{
	wf_buf_reset(out);
	return acme_cluster_open(k, b, sealed, out);
}

static void test_seal(void)
{
	acme_cluster_bind_t b = { "main", "\"0011\"", "tp-abc", NONCE };
	wf_buf_t sealed, again, out;
	wf_buf_init(&sealed, 1 << 20);
	wf_buf_init(&again, 1 << 20);
	wf_buf_init(&out, 1 << 20);
	wf_slice_t pem = { PEM, sizeof(PEM) - 1 };

	CHECK_EQ_INT(acme_cluster_seal(&g_keys, &b, pem, &sealed), WF_OK);
	CHECK_EQ_INT(wf_buf_size(&sealed), ACME_CLUSTER_IV_LEN + pem.len + ACME_CLUSTER_TAG_LEN);
	wf_slice_t s = wf_buf_slice(&sealed);
	CHECK(memmem(s.ptr, s.len, "PRIVATE KEY", 11) == NULL);
	/* A fresh IV each time: the same bundle never seals the same. */
	CHECK_EQ_INT(acme_cluster_seal(&g_keys, &b, pem, &again), WF_OK);
	CHECK(memcmp(wf_buf_head(&sealed), wf_buf_head(&again), ACME_CLUSTER_IV_LEN) != 0);

	/* Round trip. */
	CHECK_EQ_INT(open_with(&g_keys, &b, s, &out), WF_OK);
	CHECK_EQ_INT(wf_buf_size(&out), pem.len);
	CHECK(memcmp(wf_buf_head(&out), PEM, pem.len) == 0);

	/* Each bound field changed: it does not open, and nothing comes out. */
	acme_cluster_bind_t c = b;
	c.name = "other";
	CHECK_EQ_INT(open_with(&g_keys, &c, s, &out), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&out), 0);
	c = b;
	c.etag = "\"0012\"";
	CHECK_EQ_INT(open_with(&g_keys, &c, s, &out), WF_ERR);
	c = b;
	c.thumbprint = "";
	CHECK_EQ_INT(open_with(&g_keys, &c, s, &out), WF_ERR);
	c = b;
	c.nonce = "fedcba9876543210fedcba9876543210";
	CHECK_EQ_INT(open_with(&g_keys, &c, s, &out), WF_ERR);
	/* Field boundaries count: "main\n" + etag is not "mai" + "n\n" + etag. */
	c = b;
	c.name = "main\n\"0011\"";
	c.etag = "";
	CHECK_EQ_INT(open_with(&g_keys, &c, s, &out), WF_ERR);

	/* Another secret. */
	acme_cluster_keys_t other;
	CHECK_EQ_INT(acme_cluster_keys_init(&other, "another-secret-of-at-least-32-characters"), WF_OK);
	CHECK_EQ_INT(open_with(&other, &b, s, &out), WF_ERR);
	acme_cluster_keys_fini(&other);

	/* One bit flipped anywhere: IV, ciphertext, tag. */
	size_t where[] = { 0, ACME_CLUSTER_IV_LEN, ACME_CLUSTER_IV_LEN + 40, s.len - 1 };
	for (size_t i = 0; i < WF_ARRAY_LEN(where); i++) {
		char *flip = wf_buf_head(&sealed) + where[i];
		*flip ^= 0x01;
		CHECK_EQ_INT(open_with(&g_keys, &b, wf_buf_slice(&sealed), &out), WF_ERR);
		*flip ^= 0x01;
	}
	CHECK_EQ_INT(open_with(&g_keys, &b, wf_buf_slice(&sealed), &out), WF_OK);

	/* Cut short, or too short to hold an IV and a tag. */
	CHECK_EQ_INT(open_with(&g_keys, &b, (wf_slice_t){ s.ptr, s.len - 1 }, &out), WF_ERR);
	CHECK_EQ_INT(open_with(&g_keys, &b, (wf_slice_t){ s.ptr, ACME_CLUSTER_IV_LEN + ACME_CLUSTER_TAG_LEN - 1 }, &out),
		     WF_ERR);
	CHECK_EQ_INT(open_with(&g_keys, &b, (wf_slice_t){ NULL, 0 }, &out), WF_ERR);

	/* An empty bundle seals and opens too. */
	wf_buf_reset(&again);
	CHECK_EQ_INT(acme_cluster_seal(&g_keys, &b, (wf_slice_t){ "", 0 }, &again), WF_OK);
	CHECK_EQ_INT(open_with(&g_keys, &b, wf_buf_slice(&again), &out), WF_OK);
	CHECK_EQ_INT(wf_buf_size(&out), 0);

	acme_cluster_wipe(&out);
	wf_buf_fini(&again);
	wf_buf_fini(&sealed);
}

static void test_proof(void)
{
	acme_cluster_bind_t b = { "main", "\"0011\"", "tp-abc", NONCE };
	char proof[65];
	CHECK_EQ_INT(acme_cluster_answer_proof(&g_keys, 200, &b, proof), WF_OK);
	CHECK_EQ_INT(strlen(proof), 64);
	CHECK(acme_cluster_answer_ok(&g_keys, 200, &b, proof));
	CHECK(!acme_cluster_answer_ok(&g_keys, 304, &b, proof));
	CHECK(!acme_cluster_answer_ok(&g_keys, 404, &b, proof));
	acme_cluster_bind_t c = b;
	c.nonce = "fedcba9876543210fedcba9876543210";
	CHECK(!acme_cluster_answer_ok(&g_keys, 200, &c, proof));
	c = b;
	c.etag = "";
	CHECK(!acme_cluster_answer_ok(&g_keys, 200, &c, proof));
	c = b;
	c.thumbprint = "tp-abd";
	CHECK(!acme_cluster_answer_ok(&g_keys, 200, &c, proof));
	/* The name is not part of the proof (the nonce names the request). */
	c = b;
	c.name = "other";
	CHECK(acme_cluster_answer_ok(&g_keys, 200, &c, proof));
	CHECK(!acme_cluster_answer_ok(&g_keys, 200, &b, ""));
	CHECK(!acme_cluster_answer_ok(&g_keys, 200, &b, NULL));
	proof[63] = proof[63] == '0' ? '1' : '0';
	CHECK(!acme_cluster_answer_ok(&g_keys, 200, &b, proof));
	/* Not a key the request signature uses: a proof is no request mac. */
	CHECK(memcmp(g_keys.answer, g_keys.req, 32) != 0);
}

static void test_thumbprint(void)
{
	CHECK(acme_cluster_thumbprint_valid("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
	CHECK(!acme_cluster_thumbprint_valid(""));
	CHECK(!acme_cluster_thumbprint_valid("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9X"));
	CHECK(!acme_cluster_thumbprint_valid("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xss"));
	CHECK(!acme_cluster_thumbprint_valid("NzbLsXh8uDCcd+6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
	CHECK(!acme_cluster_thumbprint_valid("NzbLsXh8uDCcd 6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
}

int main(void)
{
	if (acme_cluster_keys_init(&g_keys, SECRET) != WF_OK) {
		fprintf(stderr, "no keys\n");
		return 1;
	}
	test_parse_good();
	test_parse_malformed();
	test_is_cluster();
	test_keys();
	test_check();
	test_replay();
	test_replay_threads();
	test_refusals();
	test_seal();
	test_proof();
	test_thumbprint();
	acme_cluster_keys_fini(&g_keys);
	return check_report();
}
