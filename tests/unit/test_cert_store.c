/* Certificate store: SNI selection, snapshot lifetime, concurrent readers, and
 * a live TLS session (over a socketpair) that keeps its certificate across an
 * install while new handshakes get the new one. */
#include "check.h"
#include "server/cert_selfsigned.h"
#include "server/cert_store.h"
#include "server/rcu.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static wf_certkey_t *make_typed(const char *name, char **domains, size_t n, const char *key_type)
{
	wf_buf_t c, k;
	wf_buf_init(&c, 1 << 16);
	wf_buf_init(&k, 1 << 16);
	CHECK(wf_selfsigned_make(domains, n, key_type, &c, &k) == WF_OK);
	char err[256] = "";
	wf_certkey_t *ck = wf_certkey_new(name, domains, n, wf_buf_slice(&c), wf_buf_slice(&k), true, err, sizeof(err));
	if (!ck)
		fprintf(stderr, "certkey: %s\n", err);
	wf_buf_fini(&c);
	wf_buf_fini(&k);
	return ck;
}

static wf_certkey_t *make(const char *name, char **domains, size_t n)
{
	return make_typed(name, domains, n, NULL);
}

static void test_select(void)
{
	wf_certstore_t st;
	wf_certstore_init(&st);
	char *d1[] = { "example.com", "www.example.com" };
	char *d2[] = { "*.wild.test" };
	char *d3[] = { "other.test" };
	wf_certkey_t *cks[3] = { make("a", d1, 2), make("b", d2, 1), make("c", d3, 1) };
	wf_certstore_replace(&st, cks, 3, NULL);
	wf_certsnap_t *s = wf_certstore_acquire(&st);
	char *svc[] = { "a", "b" };
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 2, "www.example.com", 0)->name, "a");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 2, "WWW.Example.COM", 0)->name, "a");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 2, "x.wild.test", 0)->name, "b");
	/* A wildcard covers one label only, and not the bare domain. */
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 2, "a.b.wild.test", 0)->name, "a");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 2, "wild.test", 0)->name, "a");
	/* No SNI or an unknown name: the service's first certificate. */
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 2, NULL, 0)->name, "a");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 2, "", 0)->name, "a");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 2, "unknown.test", 0)->name, "a");
	/* A name the service does not list is never chosen, even on an exact match. */
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 2, "other.test", 0)->name, "a");
	char *svc2[] = { "c", "a" };
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc2, 2, "example.com", 0)->name, "a");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc2, 2, "nothing", 0)->name, "c");
	char *missing[] = { "zzz" };
	CHECK(wf_certsnap_select(s, NULL, missing, 1, "example.com", 0) == NULL);
	wf_certsnap_unref(s);
	wf_certstore_fini(&st);
	while (wf_rcu_reclaim() > 0)
		;
}

/* A reload that renames "a" to "n" and drops "b": the names of the config it
 * replaced still find their certificates in the store as it was, but only
 * where the new store lacks the name. */
static void test_retired_names(void)
{
	wf_certstore_t st;
	wf_certstore_init(&st);
	char *d1[] = { "one.test" };
	char *d2[] = { "two.test" };
	char *d3[] = { "three.test" };
	wf_certkey_t *old[3] = { make("a", d1, 1), make("b", d2, 1), make("c", d3, 1) };
	wf_certstore_replace(&st, old, 3, NULL);
	_Atomic(wf_certsnap_t *) retired = NULL;
	wf_certkey_t *next[2] = { make("n", d1, 1), make("c", d3, 1) };
	wf_certstore_replace(&st, next, 2, &retired);
	wf_certsnap_t *older = atomic_load(&retired);
	CHECK(older != NULL);
	wf_certsnap_t *s = wf_certstore_acquire(&st);
	char *old_svc[] = { "a", "b", "c" };
	/* Without the retired store, "b"'s name would get the default, "c". */
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, old_svc, 3, "two.test", 0)->name, "c");
	CHECK(wf_certsnap_select(s, older, old_svc, 3, "two.test", 0) == wf_certsnap_get(older, "b"));
	CHECK(wf_certsnap_select(s, older, old_svc, 3, NULL, 0) == wf_certsnap_get(older, "a"));
	/* A name both have: the current one, so a renewal reaches old configs too. */
	CHECK(wf_certsnap_select(s, older, old_svc, 3, "three.test", 0) == wf_certsnap_get(s, "c"));
	char *gone[] = { "zzz" };
	CHECK(wf_certsnap_select(s, older, gone, 1, "one.test", 0) == NULL);
	/* A second retirement into the same slot drops the first. */
	wf_certsnap_ref(older);
	wf_certstore_replace(&st, (wf_certkey_t *[]){ make("m", d1, 1) }, 1, &retired);
	CHECK(atomic_load(&retired) == s);
	while (wf_rcu_reclaim() > 0) /* the store's own reference, retired at the first replace */
		;
	CHECK_EQ_INT(atomic_load(&older->refs), 1);
	wf_certsnap_unref(older);
	wf_certsnap_unref(s);
	wf_certsnap_unref(atomic_load(&retired));
	wf_certstore_fini(&st);
	while (wf_rcu_reclaim() > 0)
		;
}

/* An ECDSA and an RSA certificate for the same names: each client gets the
 * first in the service's order whose key it can verify. */
static void test_key_types(void)
{
	wf_certstore_t st;
	wf_certstore_init(&st);
	char *d[] = { "dual.test", "a.dual.test" };
	char *w[] = { "*.dual.test" };
	char *o[] = { "other.test" };
	wf_certkey_t *cks[4] = { make_typed("ec", d, 2, "ec384"), make_typed("rsa", d, 2, "rsa2048"),
				 make_typed("wild-rsa", w, 1, "rsa2048"), make_typed("other-rsa", o, 1, "rsa2048") };
	CHECK_EQ_STR(cks[0]->key_type, "ec384");
	CHECK_EQ_STR(cks[1]->key_type, "rsa2048");
	wf_certstore_replace(&st, cks, 4, NULL);
	wf_certsnap_t *s = wf_certstore_acquire(&st);
	char *svc[] = { "ec", "rsa", "wild-rsa" };
	unsigned ec = WF_KEY_EC, rsa = WF_KEY_RSA;
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 3, "dual.test", 0)->name, "ec");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 3, "dual.test", ec | rsa)->name, "ec");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 3, "dual.test", rsa)->name, "rsa");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 3, NULL, rsa)->name, "rsa");
	char *rsa_first[] = { "rsa", "ec" };
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, rsa_first, 2, "dual.test", ec | rsa)->name, "rsa");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, rsa_first, 2, "dual.test", ec)->name, "ec");
	/* A TLS 1.3 client verifying ECDSA on P-256 alone: not the P-384 one. */
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 3, "dual.test", WF_KEY_EC256 | rsa)->name, "rsa");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, svc, 3, "dual.test", WF_KEY_EC384 | rsa)->name, "ec");
	/* A wildcard the client can verify beats an exact name it cannot. */
	char *ec_wild[] = { "ec", "wild-rsa" };
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, ec_wild, 2, "a.dual.test", ec | rsa)->name, "ec");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, ec_wild, 2, "a.dual.test", rsa)->name, "wild-rsa");
	/* None it can verify: chosen as ever, by name. */
	char *ec_only[] = { "ec" };
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, ec_only, 1, "dual.test", rsa)->name, "ec");
	/* None it can verify has its name: the one with its name, not an RSA
	 * one for other names; without SNI, the default it can verify. */
	char *other_rsa[] = { "ec", "other-rsa" };
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, other_rsa, 2, "dual.test", rsa)->name, "ec");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, other_rsa, 2, "unknown.test", rsa)->name, "other-rsa");
	CHECK_EQ_STR(wf_certsnap_select(s, NULL, other_rsa, 2, NULL, rsa)->name, "other-rsa");
	wf_certsnap_unref(s);
	wf_certstore_fini(&st);
	while (wf_rcu_reclaim() > 0)
		;
}

static void test_snapshot_lifetime(void)
{
	wf_certstore_t st;
	wf_certstore_init(&st);
	char *d[] = { "life.test" };
	wf_certkey_t *first = make("x", d, 1);
	wf_certstore_install(&st, first);
	wf_certsnap_t *held = wf_certstore_acquire(&st);
	wf_certkey_t *second = make("x", d, 1);
	wf_certkey_ref(first); /* to watch its count */
	wf_certstore_install(&st, second);
	wf_certsnap_t *now = wf_certstore_acquire(&st);
	CHECK(wf_certsnap_get(held, "x") == first);
	CHECK(wf_certsnap_get(now, "x") == second);
	CHECK(now->generation > held->generation);
	/* The store's own reference to the old snapshot goes once no reader is online. */
	while (wf_rcu_reclaim() > 0)
		;
	CHECK_EQ_INT(atomic_load(&held->refs), 1);
	CHECK_EQ_INT(atomic_load(&first->refs), 2); /* held snapshot + ours */
	wf_certsnap_unref(held);
	CHECK_EQ_INT(atomic_load(&first->refs), 1); /* the snapshot died with its last reader */
	wf_certkey_unref(first);
	/* Installing another name keeps the others. */
	char *d2[] = { "y.test" };
	wf_certstore_install(&st, make("y", d2, 1));
	wf_certsnap_t *both = wf_certstore_acquire(&st);
	CHECK_EQ_INT(both->n, 2);
	CHECK(wf_certsnap_get(both, "x") == second);
	wf_certsnap_unref(both);
	wf_certsnap_unref(now);
	wf_certstore_fini(&st);
	while (wf_rcu_reclaim() > 0)
		;
}

/* Readers acquire and release in a tight loop (as workers do, online between
 * quiescent points) while a writer installs: under ASan any use-after-free of
 * a snapshot shows. */
static wf_certstore_t race_store;
static atomic_int race_stop;
static atomic_long race_reads;

static void *reader(void *arg)
{
	wf_rcu_reader_t r;
	wf_rcu_register(&r);
	char *names[] = { "r" };
	while (!atomic_load(&race_stop)) {
		wf_rcu_online(&r);
		for (int i = 0; i < 100; i++) {
			wf_certsnap_t *s = wf_certstore_acquire(&race_store);
			wf_certkey_t *ck = wf_certsnap_select(s, NULL, names, 1, "race.test", 0);
			if (!ck || ck->cred == NULL)
				abort();
			wf_certsnap_unref(s);
			atomic_fetch_add(&race_reads, 1);
		}
		wf_rcu_offline(&r);
	}
	wf_rcu_unregister(&r);
	return NULL;
}

static void test_concurrent_readers(void)
{
	wf_certstore_init(&race_store);
	char *d[] = { "race.test" };
	wf_certkey_t *proto = make("r", d, 1);
	wf_certstore_install(&race_store, wf_certkey_ref(proto));
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, reader, NULL);
	/* Let the readers get going (bounded), so the installs race with them. */
	for (int waited = 0; atomic_load(&race_reads) == 0 && waited < 5000; waited++)
		usleep(1000);
	for (int i = 0; i < 2000; i++) {
		wf_certstore_install(&race_store, wf_certkey_ref(proto));
		if (i % 50 == 0)
			wf_rcu_reclaim();
	}
	atomic_store(&race_stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	while (wf_rcu_reclaim() > 0)
		;
	CHECK(atomic_load(&race_reads) > 0);
	CHECK_EQ_INT(atomic_load(&proto->refs), 2); /* ours + the current snapshot's */
	wf_certstore_fini(&race_store);
	while (wf_rcu_reclaim() > 0)
		;
	CHECK_EQ_INT(atomic_load(&proto->refs), 1);
	wf_certkey_unref(proto);
}

/* A server session over a socketpair that picks its certificate from a
 * snapshot, as server/conn.c does. */
typedef struct tls_pair {
	int fds[2];
	gnutls_session_t server, client;
	gnutls_certificate_credentials_t client_cred;
	wf_certsnap_t *snap;
} tls_pair_t;

static wf_certstore_t live_store;

static int pick_cert(gnutls_session_t s)
{
	tls_pair_t *p = gnutls_session_get_ptr(s);
	char *names[] = { "live" };
	wf_certkey_t *ck = wf_certsnap_select(p->snap, NULL, names, 1, "live.test", 0);
	return gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, ck->cred);
}

static void *server_handshake(void *arg)
{
	tls_pair_t *p = arg;
	int rc;
	do
		rc = gnutls_handshake(p->server);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	return (void *)(long)rc;
}

static int pair_open(tls_pair_t *p)
{
	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->fds) != 0)
		return -1;
	p->snap = wf_certstore_acquire(&live_store);
	gnutls_init(&p->server, GNUTLS_SERVER);
	gnutls_set_default_priority(p->server);
	gnutls_session_set_ptr(p->server, p);
	gnutls_handshake_set_post_client_hello_function(p->server, pick_cert);
	gnutls_transport_set_int(p->server, p->fds[0]);
	gnutls_certificate_allocate_credentials(&p->client_cred);
	gnutls_init(&p->client, GNUTLS_CLIENT);
	gnutls_set_default_priority(p->client);
	gnutls_credentials_set(p->client, GNUTLS_CRD_CERTIFICATE, p->client_cred);
	gnutls_server_name_set(p->client, GNUTLS_NAME_DNS, "live.test", 9);
	gnutls_transport_set_int(p->client, p->fds[1]);
	pthread_t t;
	pthread_create(&t, NULL, server_handshake, p);
	int rc;
	do
		rc = gnutls_handshake(p->client);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	void *srv_rc;
	pthread_join(t, &srv_rc);
	return rc < 0 || (long)srv_rc < 0 ? -1 : 0;
}

static void peer_serial(gnutls_session_t client, unsigned char *out, size_t *len)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(client, &n);
	gnutls_x509_crt_t crt;
	gnutls_x509_crt_init(&crt);
	gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
	gnutls_x509_crt_get_serial(crt, out, len);
	gnutls_x509_crt_deinit(crt);
}

static void pair_close(tls_pair_t *p)
{
	gnutls_deinit(p->client);
	gnutls_deinit(p->server);
	gnutls_certificate_free_credentials(p->client_cred);
	close(p->fds[0]);
	close(p->fds[1]);
	wf_certsnap_unref(p->snap);
}

static void test_live_swap(void)
{
	wf_certstore_init(&live_store);
	char *d[] = { "live.test" };
	wf_certstore_install(&live_store, make("live", d, 1));
	tls_pair_t old;
	CHECK(pair_open(&old) == 0);
	unsigned char s_old[32], s_new[32], s_again[32];
	size_t l_old = sizeof(s_old), l_new = sizeof(s_new), l_again = sizeof(s_again);
	peer_serial(old.client, s_old, &l_old);

	wf_certstore_install(&live_store, make("live", d, 1));
	while (wf_rcu_reclaim() > 0)
		;
	/* The open session still carries data both ways. */
	char buf[16];
	CHECK(gnutls_record_send(old.client, "ping", 4) == 4);
	CHECK(gnutls_record_recv(old.server, buf, sizeof(buf)) == 4 && memcmp(buf, "ping", 4) == 0);
	CHECK(gnutls_record_send(old.server, "pong", 4) == 4);
	CHECK(gnutls_record_recv(old.client, buf, sizeof(buf)) == 4 && memcmp(buf, "pong", 4) == 0);

	/* A new handshake gets the new certificate. */
	tls_pair_t fresh;
	CHECK(pair_open(&fresh) == 0);
	peer_serial(fresh.client, s_new, &l_new);
	CHECK(l_old != l_new || memcmp(s_old, s_new, l_old) != 0);
	/* And the old session's peer certificate is still the old one. */
	peer_serial(old.client, s_again, &l_again);
	CHECK(l_old == l_again && memcmp(s_old, s_again, l_old) == 0);
	pair_close(&fresh);
	pair_close(&old);
	wf_certstore_fini(&live_store);
	while (wf_rcu_reclaim() > 0)
		;
}

int main(void)
{
	gnutls_global_init();
	test_select();
	test_retired_names();
	test_key_types();
	test_snapshot_lifetime();
	test_concurrent_readers();
	test_live_swap();
	gnutls_global_deinit();
	return check_report();
}
