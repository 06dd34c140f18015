/* A folder's listing job on a real offload pool, its steps coming back
 * through a worker's loop: a folder of 10000 names is listed in several
 * steps, done comes once, on the loop, with the whole listing sorted (the
 * same page as xfer_listing_render's); a folder that cannot be read ends in
 * one step with its errno and nothing to take; a job let go of before the
 * pool took it up, or between two of its steps, calls nothing and drops
 * the folder and the entries it holds on its own (no fd left open; under
 * ASan, no leak and no use after free); one let go of while it waits
 * behind a busy pool drops them at once, its hold on the budget with
 * them. The listings' budget: at most
 * XFER_LISTING_JOBS_MAX built at once, two per client, and the memory
 * they hold, an eighth of it per client. */
#include "transfer/listing_job.h"

#include "check.h"

#include "server/offload.h"
#include "server/worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAMES 10000 /* more than one step's worth */
#define SLOW 20.0   /* seconds any wait may take, however loaded the host */

static char root[64];
static wf_worker_t worker;
static pthread_t loop_thread;
static int passes;              /* completions that came back through the loop */
static int done_calls;
static xfer_fs_job_t *finished; /* the job done was called with */
static xfer_fs_job_t *let_go;   /* a job to let go of once its first step is back */

static void on_offload_wake(struct ev_loop *loop, ev_async *a, int revents)
{
	(void)loop;
	(void)a;
	(void)revents;
	passes++;
	wf_offload_complete(&worker);
	if (let_go) {
		xfer_fs_job_cancel(let_go);
		let_go = NULL;
	}
}

static void on_done(void *arg, xfer_fs_job_t *job)
{
	CHECK(arg == &worker);
	CHECK(pthread_equal(pthread_self(), loop_thread));
	done_calls++;
	finished = job;
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	ev_break(loop, EVBREAK_ONE);
}

/* Runs the loop for a tenth of a second at most; false once SLOW seconds
 * passed since the wait began at started. */
static bool turn(double started)
{
	ev_timer tick;
	ev_timer_init(&tick, on_tick, 0.1, 0);
	ev_timer_start(worker.loop, &tick);
	ev_run(worker.loop, EVRUN_ONCE);
	ev_timer_stop(worker.loop, &tick);
	return ev_time() - started < SLOW;
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *de; d && (de = readdir(d));)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Turns the loop until the fds open are back to want (a let-go job dropped
 * its folder), or SLOW passes. */
static bool fds_back_to(int want)
{
	double started = ev_time();
	while (open_fds() != want)
		if (!turn(started))
			return false;
	return true;
}

static int open_many(void)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/many", root);
	return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void test_in_steps(void)
{
	int dir = open_many();
	wf_buf_t want;
	wf_buf_init(&want, 4 << 20);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/many/", XFER_LISTING_JSON, 0, &want), WF_OK);
	passes = done_calls = 0;
	finished = NULL;
	xfer_fs_job_t *j = xfer_listing_job(dir, -1, "/many/", XFER_LISTING_JSON, 0, &(xfer_listing_hold_t){ 0 });
	CHECK(j != NULL);
	CHECK_EQ_INT(xfer_fs_job_start(j, &worker, on_done, &worker), WF_OK);
	CHECK_EQ_INT(done_calls, 0); /* never before start returns */
	for (double started = ev_time(); !done_calls && turn(started);)
		;
	CHECK_EQ_INT(done_calls, 1);
	CHECK(finished == j);
	CHECK(passes > 1); /* steps, each back through the loop */
	CHECK_EQ_INT(xfer_fs_job_err(j), 0);
	xfer_listing_t *l = xfer_listing_job_take(j);
	xfer_fs_job_free(j);
	CHECK(l != NULL);
	if (l) {
		CHECK(xfer_listing_size(l) == wf_buf_size(&want));
		char *got = malloc(wf_buf_size(&want) + 1);
		size_t n = 0;
		ssize_t r;
		while ((r = xfer_listing_read(l, got + n, wf_buf_size(&want) + 1 - n)) > 0)
			n += (size_t)r;
		CHECK(n == wf_buf_size(&want) && memcmp(got, wf_buf_head(&want), n) == 0);
		free(got);
		xfer_listing_free(l);
	}
	wf_buf_fini(&want);
}

static void test_not_a_folder(void)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/many/n00000", root);
	done_calls = 0;
	finished = NULL;
	xfer_fs_job_t *j = xfer_listing_job(open(p, O_RDONLY | O_CLOEXEC), -1, "/f/", XFER_LISTING_HTML, 0, &(xfer_listing_hold_t){ 0 });
	CHECK_EQ_INT(xfer_fs_job_start(j, &worker, on_done, &worker), WF_OK);
	for (double started = ev_time(); !done_calls && turn(started);)
		;
	CHECK_EQ_INT(done_calls, 1);
	CHECK(finished == j);
	CHECK_EQ_INT(xfer_fs_job_err(j), ENOTDIR);
	CHECK(xfer_listing_job_take(j) == NULL);
	xfer_fs_job_free(j);
}

static void test_let_go(void)
{
	int before = open_fds();
	done_calls = 0;
	/* Before the pool took it up: in the same loop turn as its start. */
	xfer_fs_job_t *j = xfer_listing_job(open_many(), -1, "/many/", XFER_LISTING_HTML, 0, &(xfer_listing_hold_t){ 0 });
	CHECK_EQ_INT(xfer_fs_job_start(j, &worker, on_done, &worker), WF_OK);
	xfer_fs_job_cancel(j);
	CHECK(fds_back_to(before));
	/* Between two steps: once its first step came back, with the second
	 * one on the pool. */
	passes = 0;
	j = xfer_listing_job(open_many(), -1, "/many/", XFER_LISTING_HTML, 0, &(xfer_listing_hold_t){ 0 });
	CHECK_EQ_INT(xfer_fs_job_start(j, &worker, on_done, &worker), WF_OK);
	let_go = j;
	CHECK(fds_back_to(before));
	CHECK(let_go == NULL);
	CHECK(passes >= 1);
	/* Nobody was told: the exchange that let go may be gone. */
	CHECK_EQ_INT(done_calls, 0);
}

/* Every thread of the pool that takes file work, held until unblock. */
static sem_t blocked, unblock;

static void blocking_job(void *arg)
{
	(void)arg;
	sem_post(&blocked);
	sem_wait(&unblock);
}

static bool posted_within(sem_t *s, double seconds)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += (time_t)seconds;
	int rc;
	while ((rc = sem_timedwait(s, &t)) != 0 && errno == EINTR)
		;
	return rc == 0;
}

/* Jobs let go of while their first step waits behind a busy pool give
 * back what they hold at once, on the loop, though no step ran: their
 * folders, and their holds on the listings' budget (the client's two
 * builds may begin again), not once the pool reaches them. */
static void test_let_go_queued(void)
{
	int before = open_fds();
	sem_init(&blocked, 0, 0);
	sem_init(&unblock, 0, 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(wf_offload_submit(NULL, blocking_job, NULL, NULL), WF_OK);
		CHECK(posted_within(&blocked, SLOW));
	}
	done_calls = 0;
	xfer_listing_hold_t h[3];
	xfer_fs_job_t *j[2];
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(xfer_listing_hold_begin(&h[i], "192.0.2.60", 64 << 20), XFER_LISTING_GRANTED);
		j[i] = xfer_listing_job(open_many(), -1, "/many/", XFER_LISTING_HTML, 0, &h[i]);
		CHECK(j[i] != NULL);
		CHECK_EQ_INT(xfer_fs_job_start(j[i], &worker, on_done, &worker), WF_OK);
	}
	CHECK_EQ_INT(xfer_listing_hold_begin(&h[2], "192.0.2.60", 64 << 20), XFER_LISTING_CLIENT_BUSY);
	for (int i = 0; i < 2; i++)
		xfer_fs_job_cancel(j[i]);
	CHECK_EQ_INT(open_fds(), before);
	CHECK_EQ_INT(xfer_listing_hold_begin(&h[0], "192.0.2.60", 64 << 20), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_begin(&h[1], "192.0.2.60", 64 << 20), XFER_LISTING_GRANTED);
	xfer_listing_hold_end(&h[0]);
	xfer_listing_hold_end(&h[1]);
	CHECK(xfer_listing_held() == 0);
	/* Once the pool is free, nothing of theirs runs, nor is called. */
	for (int i = 0; i < 2; i++)
		sem_post(&unblock);
	double started = ev_time();
	for (int i = 0; i < 3; i++)
		turn(started);
	CHECK_EQ_INT(done_calls, 0);
	CHECK_EQ_INT(open_fds(), before);
}

/* At most XFER_LISTING_JOBS_MAX listings are built at once, process-wide,
 * and one client has at most two of them: one more is refused with why,
 * and a build that ends makes room. The jobs let go of above are gone from
 * the count, as their fds are. */
static void test_cap(void)
{
	int before = open_fds();
	xfer_listing_hold_t h[XFER_LISTING_JOBS_MAX + 2];
	char addr[32];
	CHECK_EQ_INT(xfer_listing_hold_begin(&h[0], "192.0.2.1", 1 << 20), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_begin(&h[1], "192.0.2.1", 1 << 20), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_begin(&h[2], "192.0.2.1", 1 << 20), XFER_LISTING_CLIENT_BUSY);
	/* An IPv6 /64 is one client, whatever its host part. */
	CHECK_EQ_INT(xfer_listing_hold_begin(&h[2], "2001:db8::1", 1 << 20), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_begin(&h[3], "2001:db8::2", 1 << 20), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_begin(&h[4], "2001:db8::3", 1 << 20), XFER_LISTING_CLIENT_BUSY);
	for (int i = 0; i < 4; i++)
		xfer_listing_hold_end(&h[i]);

	xfer_fs_job_t *jobs[XFER_LISTING_JOBS_MAX];
	for (int i = 0; i < XFER_LISTING_JOBS_MAX; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i + 1);
		CHECK_EQ_INT(xfer_listing_hold_begin(&h[i], addr, 64 << 20), XFER_LISTING_GRANTED);
		jobs[i] = xfer_listing_job(open_many(), -1, "/many/", XFER_LISTING_JSON, 0, &h[i]);
		CHECK(jobs[i] != NULL);
	}
	CHECK_EQ_INT(xfer_listing_hold_begin(&h[XFER_LISTING_JOBS_MAX], "203.0.113.1", 64 << 20), XFER_LISTING_BUSY);
	CHECK_EQ_INT(open_fds(), before + XFER_LISTING_JOBS_MAX);
	xfer_fs_job_free(jobs[0]);
	CHECK_EQ_INT(xfer_listing_hold_begin(&h[0], "203.0.113.1", 64 << 20), XFER_LISTING_GRANTED);
	jobs[0] = xfer_listing_job(open_many(), -1, "/many/", XFER_LISTING_JSON, 0, &h[0]);
	CHECK(jobs[0] != NULL);
	for (int i = 0; i < XFER_LISTING_JOBS_MAX; i++)
		xfer_fs_job_free(jobs[i]);
	CHECK(fds_back_to(before));
	CHECK(xfer_listing_held() == 0);
}

/* The memory listings hold: one client may hold an eighth of the budget,
 * all of them the budget; a listing that grows past either is refused
 * with why, the count left as it was, and a listing ended gives all back. */
static void test_budget_counts(void)
{
	size_t budget = 8 << 20, share = budget / 8;
	xfer_listing_hold_t a, b, c;
	CHECK_EQ_INT(xfer_listing_hold_begin(&a, "192.0.2.7", budget), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_set(&a, share - 100), XFER_LISTING_GRANTED);
	xfer_listing_hold_built(&a); /* built: its memory stays counted */
	CHECK(xfer_listing_held() == share - 100);
	CHECK_EQ_INT(xfer_listing_hold_set(&a, share + 1), XFER_LISTING_CLIENT_FULL);
	CHECK(xfer_listing_held() == share - 100);
	/* The same client may begin (room is left), and is stopped as it grows. */
	CHECK_EQ_INT(xfer_listing_hold_begin(&b, "192.0.2.7", budget), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_set(&b, 100), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_set(&b, 101), XFER_LISTING_CLIENT_FULL);
	/* Its share is full: the next is refused at once. */
	CHECK_EQ_INT(xfer_listing_hold_begin(&c, "192.0.2.7", budget), XFER_LISTING_CLIENT_FULL);
	/* Another client is not. */
	CHECK_EQ_INT(xfer_listing_hold_begin(&c, "192.0.2.8", budget), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_set(&c, share), XFER_LISTING_GRANTED);
	xfer_listing_hold_end(&c);
	xfer_listing_hold_end(&b);
	CHECK(xfer_listing_held() == share - 100);
	/* The budget for all: seven more clients at their share fill it. */
	xfer_listing_hold_t many[8];
	char addr[32];
	for (int i = 0; i < 7; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", 20 + i);
		CHECK_EQ_INT(xfer_listing_hold_begin(&many[i], addr, budget), XFER_LISTING_GRANTED);
		CHECK_EQ_INT(xfer_listing_hold_set(&many[i], share), XFER_LISTING_GRANTED);
		xfer_listing_hold_built(&many[i]);
	}
	CHECK_EQ_INT(xfer_listing_hold_set(&a, share), XFER_LISTING_GRANTED);
	CHECK(xfer_listing_held() == budget);
	CHECK_EQ_INT(xfer_listing_hold_begin(&many[7], "192.0.2.99", budget), XFER_LISTING_FULL);
	xfer_listing_hold_end(&a);
	CHECK_EQ_INT(xfer_listing_hold_begin(&many[7], "192.0.2.99", budget), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_set(&many[7], share + 1), XFER_LISTING_CLIENT_FULL);
	CHECK_EQ_INT(xfer_listing_hold_set(&many[7], share), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_set(&many[7], share), XFER_LISTING_GRANTED); /* no change */
	xfer_listing_hold_end(&many[7]);
	xfer_listing_hold_end(&many[7]); /* twice: nothing more */
	for (int i = 0; i < 7; i++)
		xfer_listing_hold_end(&many[i]);
	CHECK(xfer_listing_held() == 0);
}

/* A job whose listing outgrows its client's share fails with ENOBUFS,
 * saying why, and gives back what it held; within its share, it holds
 * its entries until the listing taken is freed. */
static void test_job_budget(void)
{
	xfer_listing_hold_t h;
	/* 10000 entries: far more than a 64 KiB budget's eighth. */
	CHECK_EQ_INT(xfer_listing_hold_begin(&h, "192.0.2.50", 64 << 10), XFER_LISTING_GRANTED);
	done_calls = 0;
	xfer_fs_job_t *j = xfer_listing_job(open_many(), -1, "/many/", XFER_LISTING_JSON, 0, &h);
	CHECK(j != NULL);
	CHECK_EQ_INT(xfer_fs_job_start(j, &worker, on_done, &worker), WF_OK);
	for (double started = ev_time(); !done_calls && turn(started);)
		;
	CHECK_EQ_INT(xfer_fs_job_err(j), ENOBUFS);
	CHECK_EQ_INT(xfer_listing_job_refused(j), XFER_LISTING_CLIENT_FULL);
	CHECK(xfer_listing_job_take(j) == NULL);
	xfer_fs_job_free(j);
	CHECK(xfer_listing_held() == 0);

	CHECK_EQ_INT(xfer_listing_hold_begin(&h, "192.0.2.50", 64 << 20), XFER_LISTING_GRANTED);
	done_calls = 0;
	j = xfer_listing_job(open_many(), -1, "/many/", XFER_LISTING_JSON, 0, &h);
	CHECK_EQ_INT(xfer_fs_job_start(j, &worker, on_done, &worker), WF_OK);
	for (double started = ev_time(); !done_calls && turn(started);)
		;
	CHECK_EQ_INT(xfer_fs_job_err(j), 0);
	xfer_listing_t *l = xfer_listing_job_take(j);
	xfer_fs_job_free(j);
	CHECK(l != NULL);
	/* NAMES entries of 32 bytes, each name 7 bytes: at least that much. */
	CHECK(xfer_listing_held() >= (size_t)NAMES * (32 + 7));
	/* Its build is given back: two more for the same client may begin. */
	xfer_listing_hold_t b1, b2;
	CHECK_EQ_INT(xfer_listing_hold_begin(&b1, "192.0.2.50", 64 << 20), XFER_LISTING_GRANTED);
	CHECK_EQ_INT(xfer_listing_hold_begin(&b2, "192.0.2.50", 64 << 20), XFER_LISTING_GRANTED);
	xfer_listing_hold_end(&b1);
	xfer_listing_hold_end(&b2);
	xfer_listing_free(l);
	CHECK(xfer_listing_held() == 0);
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/wharf-listing-job-XXXXXX");
	if (!mkdtemp(root))
		return 1;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/many", root);
	mkdir(p, 0755);
	int dir = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < NAMES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "n%05d", (i * 7919) % NAMES); /* not made in order */
		int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		CHECK(fd >= 0);
		close(fd);
	}

	loop_thread = pthread_self();
	worker.loop = ev_loop_new(EVFLAG_AUTO);
	pthread_mutex_init(&worker.mbox_lock, NULL);
	ev_async_init(&worker.offload_wake, on_offload_wake);
	ev_async_start(worker.loop, &worker.offload_wake);
	CHECK_EQ_INT(wf_offload_start(2), WF_OK);

	test_in_steps();
	test_not_a_folder();
	test_let_go();
	test_let_go_queued();
	test_cap();
	test_budget_counts();
	test_job_budget();

	wf_offload_stop();
	ev_async_stop(worker.loop, &worker.offload_wake);
	ev_loop_destroy(worker.loop);
	pthread_mutex_destroy(&worker.mbox_lock);

	for (int i = 0; i < NAMES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "n%05d", i);
		unlinkat(dir, name, 0);
	}
	close(dir);
	rmdir(p);
	rmdir(root);
	return check_report();
}
