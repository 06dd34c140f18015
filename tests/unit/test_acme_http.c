/* ACME HTTP client against a local HTTPS peer (acme_http_peer.py): headers,
 * caps, timeouts, TLS trust, cancellation and callbacks run from the loop. */
#include "acme/http.h"

#include "check.h"

#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_DEADLINE_S 30

static struct ev_loop *g_loop;
static pid_t g_peer = -1;
static int g_peer_stdin = -1;
static char g_dir[64];
static char g_ca[128];
static char g_base[64]; /* https://127.0.0.1:PORT */
static bool g_in_request; /* set while acme_http_request runs */

typedef struct result {
	int calls;
	int curl_code;
	long status;
	char error[256];
	char body[512];
	size_t body_len;
	char content_type[128];
	char replay_nonce[256];
	char location[1024];
	char retry_after[64];
	char links[512];
	double seconds;
	double at; /* loop time of the callback */
} result_t;

static void on_alarm(int sig)
{
	static const char msg[] = "test_acme_http: overall deadline passed\n";
	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
	}
	if (g_peer > 0)
		kill(g_peer, SIGKILL);
	_exit(2);
}

static void copy_buf(char *dst, size_t size, const wf_buf_t *b)
{
	wf_slice_t s = wf_buf_slice(b);
	size_t n = s.len < size - 1 ? s.len : size - 1;
	if (n)
		memcpy(dst, s.ptr, n);
	dst[n] = '\0';
}

static void on_result(void *arg, const acme_http_resp_t *resp)
{
	result_t *r = arg;

	CHECK(!g_in_request);
	r->calls++;
	r->curl_code = resp->curl_code;
	r->status = resp->status;
	snprintf(r->error, sizeof(r->error), "%s", resp->error);
	r->body_len = wf_buf_size(&resp->body);
	copy_buf(r->body, sizeof(r->body), &resp->body);
	snprintf(r->content_type, sizeof(r->content_type), "%s", resp->content_type);
	snprintf(r->replay_nonce, sizeof(r->replay_nonce), "%s", resp->replay_nonce);
	snprintf(r->location, sizeof(r->location), "%s", resp->location);
	snprintf(r->retry_after, sizeof(r->retry_after), "%s", resp->retry_after);
	copy_buf(r->links, sizeof(r->links), &resp->links);
	r->seconds = resp->seconds;
	r->at = ev_now(g_loop);
}

static unsigned long start(acme_http_t *h, const char *method, const char *path, const char *ctype, const char *body,
			   double timeout, acme_http_cb cb, void *arg)
{
	char url[256];
	if (strncmp(path, "http", 4) == 0)
		snprintf(url, sizeof(url), "%s", path);
	else
		snprintf(url, sizeof(url), "%s%s", g_base, path);
	wf_slice_t b = body ? (wf_slice_t){ body, strlen(body) } : (wf_slice_t){ NULL, 0 };
	g_in_request = true;
	unsigned long id = acme_http_request(h, method, url, ctype, b, timeout, cb, arg);
	g_in_request = false;
	return id;
}

static bool g_guard_fired;

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
	g_guard_fired = true;
}

/* Runs the loop until *counter reaches target, for at most max seconds. */
static bool wait_for(const int *counter, int target, double max)
{
	ev_timer guard;
	ev_timer_init(&guard, on_guard, max, 0.);
	ev_now_update(g_loop);
	ev_timer_start(g_loop, &guard);
	g_guard_fired = false;
	while (*counter < target && !g_guard_fired)
		ev_run(g_loop, EVRUN_ONCE);
	ev_timer_stop(g_loop, &guard);
	return *counter >= target;
}

/* Runs the loop for a while: lets anything that should not happen happen. */
static void spin(double seconds)
{
	int never = 0;
	wait_for(&never, 1, seconds);
}

static void peer_start(void)
{
	char script[1024];
	const char *src = getenv("WHARF_SOURCE_DIR");
	if (src) {
		snprintf(script, sizeof(script), "%s/tests/unit/acme_http_peer.py", src);
	} else {
		char here[1024];
		snprintf(here, sizeof(here), "%s", __FILE__);
		snprintf(script, sizeof(script), "%s/acme_http_peer.py", dirname(here));
	}
	snprintf(g_dir, sizeof(g_dir), "/tmp/wharf-acme-http-XXXXXX");
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(g_ca, sizeof(g_ca), "%s/cert.pem", g_dir);

	int in[2], out[2];
	if (pipe(in) < 0 || pipe(out) < 0) {
		perror("pipe");
		exit(1);
	}
	g_peer = fork();
	if (g_peer < 0) {
		perror("fork");
		exit(1);
	}
	if (g_peer == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl("/usr/bin/python3", "python3", script, g_dir, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	g_peer_stdin = in[1];

	char line[32];
	size_t len = 0;
	while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		if (poll(&p, 1, 15000) <= 0) {
			fprintf(stderr, "peer did not start (%s)\n", script);
			exit(1);
		}
		ssize_t n = read(out[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0) {
			fprintf(stderr, "peer exited before printing its port (%s)\n", script);
			exit(1);
		}
		len += (size_t)n;
	}
	line[len] = '\0';
	close(out[0]);
	int port = atoi(line);
	if (port <= 0) {
		fprintf(stderr, "peer printed \"%s\"\n", line);
		exit(1);
	}
	snprintf(g_base, sizeof(g_base), "https://127.0.0.1:%d", port);
}

static void peer_stop(void)
{
	close(g_peer_stdin);
	kill(g_peer, SIGTERM);
	waitpid(g_peer, NULL, 0);
	g_peer = -1;
	char path[128];
	snprintf(path, sizeof(path), "%s/key.pem", g_dir);
	unlink(path);
	unlink(g_ca);
	rmdir(g_dir);
}

static void test_get(acme_http_t *h)
{
	result_t r = { 0 };
	unsigned long id = start(h, "GET", "/hello", NULL, NULL, 10, on_result, &r);
	CHECK(id > 0);
	CHECK_EQ_INT(r.calls, 0);
	CHECK_EQ_INT(acme_http_active(h), 1);
	CHECK(wait_for(&r.calls, 1, 10));
	CHECK_EQ_INT(acme_http_active(h), 0);
	CHECK_EQ_INT(r.curl_code, 0);
	CHECK_EQ_STR(r.error, "");
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_STR(r.body, "hello\n");
	CHECK_EQ_STR(r.content_type, "text/plain; charset=utf-8");
	CHECK_EQ_STR(r.replay_nonce, "nonce-abc");
	CHECK_EQ_STR(r.location, "https://127.0.0.1/acct/1");
	CHECK_EQ_STR(r.retry_after, "7");
	CHECK_EQ_STR(r.links, "<https://127.0.0.1/dir>;rel=\"index\", <https://127.0.0.1/up>;rel=\"up\"");
	CHECK(r.seconds > 0);
}

static void test_header_limits(acme_http_t *h)
{
	result_t r = { 0 };
	CHECK(start(h, "GET", "/longhdr", NULL, NULL, 10, on_result, &r) > 0);
	CHECK(wait_for(&r.calls, 1, 10));
	CHECK_EQ_INT(r.curl_code, 0);
	CHECK_EQ_STR(r.replay_nonce, ""); /* 300 bytes: dropped, not cut */
	CHECK_EQ_STR(r.location, "https://127.0.0.1/x");
	CHECK_EQ_STR(r.retry_after, ""); /* a control byte inside */

	result_t e = { 0 };
	CHECK(start(h, "GET", "/early", NULL, NULL, 10, on_result, &e) > 0);
	CHECK(wait_for(&e.calls, 1, 10));
	CHECK_EQ_INT(e.curl_code, 0);
	CHECK_EQ_INT(e.status, 200);
	CHECK_EQ_STR(e.replay_nonce, "final");
	CHECK_EQ_STR(e.links, "<https://127.0.0.1/final>");
	CHECK_EQ_STR(e.body, "final");
}

static void test_reuse(acme_http_t *h)
{
	result_t a = { 0 }, b = { 0 };
	CHECK(start(h, "GET", "/conn", NULL, NULL, 10, on_result, &a) > 0);
	CHECK(wait_for(&a.calls, 1, 10));
	CHECK(start(h, "GET", "/conn", NULL, NULL, 10, on_result, &b) > 0);
	CHECK(wait_for(&b.calls, 1, 10));
	CHECK_EQ_INT(a.status, 200);
	CHECK(a.body_len > 0);
	CHECK_EQ_STR(a.body, b.body); /* same client port: one kept-alive connection */
}

static int g_many_done;

static void on_many(void *arg, const acme_http_resp_t *resp)
{
	on_result(arg, resp);
	g_many_done++;
}

static void test_concurrent(acme_http_t *h)
{
	result_t r[20];
	memset(r, 0, sizeof(r));
	g_many_done = 0;
	for (int i = 0; i < 20; i++)
		CHECK(start(h, "GET", "/hello", NULL, NULL, 10, on_many, &r[i]) > 0);
	CHECK_EQ_INT(acme_http_active(h), 20);
	CHECK(wait_for(&g_many_done, 20, 15));
	for (int i = 0; i < 20; i++) {
		CHECK_EQ_INT(r[i].calls, 1);
		CHECK_EQ_INT(r[i].status, 200);
		CHECK_EQ_STR(r[i].body, "hello\n");
	}
	CHECK_EQ_INT(acme_http_active(h), 0);
}

static void test_post_head_status(acme_http_t *h)
{
	result_t p = { 0 };
	char body[64];
	snprintf(body, sizeof(body), "{\"payload\":\"abc\"}");
	CHECK(start(h, "POST", "/post", "application/jose+json", body, 10, on_result, &p) > 0);
	memset(body, 'X', sizeof(body) - 1); /* the request kept its own copy */
	CHECK(wait_for(&p.calls, 1, 10));
	CHECK_EQ_INT(p.curl_code, 0);
	CHECK_EQ_INT(p.status, 200);
	CHECK_EQ_STR(p.content_type, "application/json");
	CHECK_EQ_STR(p.body, "{\"body\": \"{\\\"payload\\\":\\\"abc\\\"}\", \"content_type\": \"application/jose+json\", "
			     "\"expect\": null, \"user_agent\": \"wharf-test/1\"}");

	result_t hd = { 0 };
	CHECK(start(h, "HEAD", "/head", NULL, NULL, 10, on_result, &hd) > 0);
	CHECK(wait_for(&hd.calls, 1, 10));
	CHECK_EQ_INT(hd.curl_code, 0);
	CHECK_EQ_INT(hd.status, 200);
	CHECK_EQ_STR(hd.replay_nonce, "head-nonce");
	CHECK_EQ_INT(hd.body_len, 0);

	result_t s = { 0 };
	CHECK(start(h, "GET", "/status/404", NULL, NULL, 10, on_result, &s) > 0);
	CHECK(wait_for(&s.calls, 1, 10));
	CHECK_EQ_INT(s.curl_code, 0);
	CHECK_EQ_INT(s.status, 404);
	CHECK_EQ_STR(s.body, "status");

	/* Requests that cannot start never call back. */
	result_t bad = { 0 };
	CHECK_EQ_INT(start(h, "PUT", "/hello", NULL, NULL, 10, on_result, &bad), 0);
	CHECK_EQ_INT(start(h, "GET", "/hello", NULL, NULL, 0, on_result, &bad), 0);
	CHECK_EQ_INT(start(h, "GET", "/hello", "a\r\nX-Evil: 1", NULL, 10, on_result, &bad), 0);
	CHECK_EQ_INT(acme_http_active(h), 0);
	spin(0.1);
	CHECK_EQ_INT(bad.calls, 0);
}

static void test_big(acme_http_t *h)
{
	static const char *const paths[] = { "/big", "/bigstream" };
	for (size_t i = 0; i < WF_ARRAY_LEN(paths); i++) {
		result_t r = { 0 };
		CHECK(start(h, "GET", paths[i], NULL, NULL, 10, on_result, &r) > 0);
		CHECK(wait_for(&r.calls, 1, 10));
		CHECK(r.curl_code != 0);
		CHECK_EQ_STR(r.error, "response larger than 1 MiB");
		CHECK(r.body_len <= ACME_HTTP_BODY_MAX);
	}
}

static int g_ticks;

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	g_ticks++;
}

static void test_timeout(acme_http_t *h)
{
	ev_timer tick;
	ev_timer_init(&tick, on_tick, 0.05, 0.05);
	ev_timer_start(g_loop, &tick);
	g_ticks = 0;

	result_t r = { 0 };
	ev_now_update(g_loop);
	double t0 = ev_now(g_loop);
	unsigned it0 = ev_iteration(g_loop);
	CHECK(start(h, "GET", "/slow", NULL, NULL, 0.5, on_result, &r) > 0);
	CHECK(wait_for(&r.calls, 1, 5));
	double took = r.at - t0;
	unsigned turns = ev_iteration(g_loop) - it0;
	/* Sleeping in the loop, not spinning: a sub-second curl timeout
	 * rounded down to 0 would turn it thousands of times. */
	CHECK(turns < 200);
	CHECK_EQ_INT(r.curl_code, CURLE_OPERATION_TIMEDOUT);
	CHECK(r.error[0] != '\0');
	CHECK(took >= 0.4 && took < 2.0);
	/* ~10 ticks in 0.5 s: the loop kept turning while curl waited. */
	CHECK(g_ticks >= 6);
	if (took < 0.4 || took >= 2.0 || g_ticks < 6 || turns >= 200)
		fprintf(stderr, "timeout after %.3f s, %d ticks, %u loop turns\n", took, g_ticks, turns);
	ev_timer_stop(g_loop, &tick);
}

static void test_refused(acme_http_t *h)
{
	/* A port bound but not listening: connecting to it is refused. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", ntohs(sa.sin_port));

	result_t r = { 0 };
	CHECK(start(h, "GET", url, NULL, NULL, 5, on_result, &r) > 0);
	CHECK(wait_for(&r.calls, 1, 10));
	CHECK_EQ_INT(r.curl_code, CURLE_COULDNT_CONNECT);
	CHECK(r.error[0] != '\0');
	close(fd);
}

static void test_trust(void)
{
	/* Without the peer's certificate as ca_file, the system CAs reject it. */
	acme_http_t *sys = acme_http_new(g_loop, NULL, NULL);
	CHECK(sys != NULL);
	result_t r = { 0 };
	CHECK(start(sys, "GET", "/hello", NULL, NULL, 10, on_result, &r) > 0);
	CHECK(wait_for(&r.calls, 1, 10));
	CHECK_EQ_INT(r.curl_code, CURLE_PEER_FAILED_VERIFICATION);
	CHECK(r.error[0] != '\0');
	CHECK_EQ_INT(r.status, 0);
	acme_http_free(sys);

	/* A ca_file replaces the system CAs: trusting some other bundle fails. */
	acme_http_t *other = acme_http_new(g_loop, "/etc/ssl/certs/ca-certificates.crt", NULL);
	result_t o = { 0 };
	CHECK(start(other, "GET", "/hello", NULL, NULL, 10, on_result, &o) > 0);
	CHECK(wait_for(&o.calls, 1, 10));
	CHECK(o.curl_code != 0);
	acme_http_free(other);
}

static void test_cancel(acme_http_t *h)
{
	result_t a = { 0 }, b = { 0 }, c = { 0 };
	unsigned long ia = start(h, "GET", "/slow", NULL, NULL, 10, on_result, &a);
	unsigned long ib = start(h, "GET", "/slow", NULL, NULL, 10, on_result, &b);
	CHECK(ia > 0 && ib > 0 && ia != ib);
	acme_http_cancel(h, ib); /* before curl even saw it */
	spin(0.3);               /* a is connected and waiting */
	acme_http_cancel(h, ia);
	acme_http_cancel(h, ia); /* twice, and unknown handles, are harmless */
	acme_http_cancel(h, 999999);
	CHECK_EQ_INT(acme_http_active(h), 0);
	CHECK(start(h, "GET", "/hello", NULL, NULL, 10, on_result, &c) > 0);
	CHECK(wait_for(&c.calls, 1, 10));
	CHECK_EQ_INT(c.status, 200);
	spin(0.2);
	CHECK_EQ_INT(a.calls, 0);
	CHECK_EQ_INT(b.calls, 0);
}

/* Each link of the chain starts the next from its callback. */
typedef struct chain {
	acme_http_t *h;
	int done;
	int ok;
} chain_t;

static void on_chain(void *arg, const acme_http_resp_t *resp)
{
	chain_t *c = arg;
	CHECK(!g_in_request);
	c->done++;
	if (resp->status == 200)
		c->ok++;
	if (c->done < 3)
		CHECK(start(c->h, "GET", "/hello", NULL, NULL, 10, on_chain, c) > 0);
}

static void test_chain(acme_http_t *h)
{
	chain_t c = { .h = h };
	CHECK(start(h, "GET", "/hello", NULL, NULL, 10, on_chain, &c) > 0);
	CHECK(wait_for(&c.done, 3, 10));
	CHECK_EQ_INT(c.ok, 3);
	CHECK_EQ_INT(acme_http_active(h), 0);
}

/* A callback that cancels its sibling, or frees the whole client. */
typedef struct sibling {
	acme_http_t *h;
	unsigned long other;
	bool free_client;
	int calls;
} sibling_t;

static int g_sibling_calls;

static void on_sibling(void *arg, const acme_http_resp_t *resp)
{
	sibling_t *s = arg;
	s->calls++;
	g_sibling_calls++;
	if (s->free_client)
		acme_http_free(s->h);
	else
		acme_http_cancel(s->h, s->other);
}

static void test_from_callback(void)
{
	/* Both finish at about the same time: the sibling is either still
	 * running or queued for delivery, and must not be called either way. */
	for (int round = 0; round < 2; round++) {
		bool free_client = round == 1;
		acme_http_t *h = acme_http_new(g_loop, g_ca, "wharf-test/1");
		sibling_t x = { .h = h, .free_client = free_client }, y = x;
		g_sibling_calls = 0;
		unsigned long ix = start(h, "GET", "/hello", NULL, NULL, 10, on_sibling, &x);
		unsigned long iy = start(h, "GET", "/hello", NULL, NULL, 10, on_sibling, &y);
		x.other = iy;
		y.other = ix;
		CHECK(wait_for(&g_sibling_calls, 1, 10));
		spin(0.3);
		CHECK_EQ_INT(g_sibling_calls, 1);
		if (!free_client) {
			CHECK_EQ_INT(acme_http_active(h), 0);
			acme_http_free(h);
		}
	}

	/* Freed with transfers in flight (connected, or not yet started): no
	 * callback, no leak. */
	acme_http_t *h = acme_http_new(g_loop, g_ca, NULL);
	result_t r = { 0 };
	CHECK(start(h, "GET", "/slow", NULL, NULL, 10, on_result, &r) > 0);
	CHECK(start(h, "GET", "/slow", NULL, NULL, 10, on_result, &r) > 0);
	spin(0.2);
	acme_http_free(h);
	h = acme_http_new(g_loop, g_ca, NULL);
	CHECK(start(h, "GET", "/hello", NULL, NULL, 10, on_result, &r) > 0);
	acme_http_free(h);
	spin(0.2);
	CHECK_EQ_INT(r.calls, 0);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(TEST_DEADLINE_S);
	/* The peer is on loopback: a proxy from the environment must not catch it. */
	setenv("no_proxy", "127.0.0.1", 1);
	setenv("NO_PROXY", "127.0.0.1", 1);
	peer_start();
	g_loop = ev_loop_new(EVFLAG_AUTO);

	acme_http_t *h = acme_http_new(g_loop, g_ca, "wharf-test/1");
	CHECK(h != NULL);
	if (h) {
		test_get(h);
		test_header_limits(h);
		test_reuse(h);
		test_concurrent(h);
		test_post_head_status(h);
		test_big(h);
		test_timeout(h);
		test_refused(h);
		test_cancel(h);
		test_chain(h);
		acme_http_free(h);
	}
	test_trust();
	test_from_callback();

	ev_loop_destroy(g_loop);
	peer_stop();
	return check_report();
}
