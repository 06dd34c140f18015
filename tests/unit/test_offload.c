/* The offload pool's lanes: a password check runs while every thread that
 * takes file work is held by it (a slow fsync), file work never takes the
 * logins' own thread, and the other threads take the older job of the two
 * lanes; a job not taken yet can be withdrawn. Jobs here have no completion
 * (no worker loop). */
#include "server/offload.h"

#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <semaphore.h>
#include <time.h>

static sem_t release, files_ran, login_ran;

static void blocking_file_job(void *arg)
{
	(void)arg;
	sem_wait(&release);
	sem_post(&files_ran);
}

static void quick_file_job(void *arg)
{
	(void)arg;
	sem_post(&files_ran);
}

static void login_job(void *arg)
{
	(void)arg;
	sem_post(&login_ran);
}

static bool within(sem_t *s, int ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	t.tv_sec += ms / 1000 + t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	int rc;
	while ((rc = sem_timedwait(s, &t)) != 0 && errno == EINTR)
		;
	return rc == 0;
}

static void test_login_passes_file_work(void)
{
	CHECK_EQ_INT(wf_offload_start(1), WF_OK);
	/* The one thread for files is held; a second file job waits for it. */
	CHECK_EQ_INT(wf_offload_submit(NULL, blocking_file_job, NULL, NULL), WF_OK);
	CHECK_EQ_INT(wf_offload_submit(NULL, quick_file_job, NULL, NULL), WF_OK);
	CHECK_EQ_INT(wf_offload_submit_login(NULL, login_job, NULL, NULL), WF_OK);
	CHECK(within(&login_ran, 5000));
	CHECK(!within(&files_ran, 200)); /* the logins' thread took no file job */
	sem_post(&release);
	CHECK(within(&files_ran, 5000));
	CHECK(within(&files_ran, 5000));
	wf_offload_stop();
}

/* With the logins' own thread held, the other takes the older job of the
 * two lanes: a file job queued first runs first, so guesses queued behind
 * it never hold it back. */
static sem_t file_started, login_started, hold_login;
static char order[8];
static int norder;
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;

static void note(char c)
{
	pthread_mutex_lock(&order_lock);
	if (norder < (int)sizeof(order) - 1)
		order[norder++] = c;
	pthread_mutex_unlock(&order_lock);
}

static void held_file_job(void *arg)
{
	(void)arg;
	sem_post(&file_started);
	sem_wait(&release);
}

static void held_login_job(void *arg)
{
	(void)arg;
	sem_post(&login_started);
	sem_wait(&hold_login);
}

static void noted_file_job(void *arg)
{
	(void)arg;
	note('F');
	sem_post(&files_ran);
}

static void noted_login_job(void *arg)
{
	(void)arg;
	note('L');
	sem_post(&login_ran);
}

static void test_oldest_first_on_the_shared_thread(void)
{
	sem_init(&file_started, 0, 0);
	sem_init(&login_started, 0, 0);
	sem_init(&hold_login, 0, 0);
	CHECK_EQ_INT(wf_offload_start(1), WF_OK);
	CHECK_EQ_INT(wf_offload_submit(NULL, held_file_job, NULL, NULL), WF_OK); /* only the shared thread takes it */
	CHECK(within(&file_started, 5000));
	CHECK_EQ_INT(wf_offload_submit_login(NULL, held_login_job, NULL, NULL), WF_OK); /* the logins' thread */
	CHECK(within(&login_started, 5000));
	CHECK_EQ_INT(wf_offload_submit(NULL, noted_file_job, NULL, NULL), WF_OK);
	CHECK_EQ_INT(wf_offload_submit_login(NULL, noted_login_job, NULL, NULL), WF_OK);
	sem_post(&release); /* the shared thread is free: both wait for it alone */
	CHECK(within(&files_ran, 5000));
	CHECK(within(&login_ran, 5000));
	CHECK_EQ_STR(order, "FL");
	sem_post(&hold_login);
	wf_offload_stop();
}

/* Stopping runs what is queued in both lanes first. */
static void test_stop_runs_the_queue(void)
{
	CHECK_EQ_INT(wf_offload_start(1), WF_OK);
	CHECK_EQ_INT(wf_offload_submit(NULL, blocking_file_job, NULL, NULL), WF_OK);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(wf_offload_submit(NULL, quick_file_job, NULL, NULL), WF_OK);
	CHECK_EQ_INT(wf_offload_submit_login(NULL, login_job, NULL, NULL), WF_OK);
	sem_post(&release);
	wf_offload_stop();
	int files = 0;
	while (sem_trywait(&files_ran) == 0)
		files++;
	CHECK_EQ_INT(files, 4);
	CHECK(sem_trywait(&login_ran) == 0);
}

/* A job no thread has taken yet is taken back out of the queue, and
 * never runs; one a thread took is not, and runs as ever. */
static void test_withdraw(void)
{
	sem_init(&file_started, 0, 0);
	int a, b;
	CHECK_EQ_INT(wf_offload_start(1), WF_OK);
	CHECK_EQ_INT(wf_offload_submit(NULL, held_file_job, NULL, &a), WF_OK);
	CHECK(within(&file_started, 5000)); /* taken: the one thread for files holds it */
	CHECK(!wf_offload_withdraw(held_file_job, &a));
	CHECK_EQ_INT(wf_offload_submit(NULL, quick_file_job, NULL, &a), WF_OK);
	CHECK_EQ_INT(wf_offload_submit(NULL, quick_file_job, NULL, &b), WF_OK);
	CHECK_EQ_INT(wf_offload_submit(NULL, quick_file_job, NULL, &a), WF_OK);
	CHECK(!wf_offload_withdraw(held_file_job, &b)); /* neither fn nor arg alone */
	CHECK(wf_offload_withdraw(quick_file_job, &b));  /* from between two */
	CHECK(wf_offload_withdraw(quick_file_job, &a));  /* the first of two */
	CHECK(wf_offload_withdraw(quick_file_job, &a));  /* the last, the queue's tail */
	CHECK(!wf_offload_withdraw(quick_file_job, &a)); /* none left */
	CHECK_EQ_INT(wf_offload_submit(NULL, quick_file_job, NULL, &b), WF_OK); /* the queue still works */
	sem_post(&release);
	CHECK(within(&files_ran, 5000));
	CHECK(!within(&files_ran, 200)); /* the withdrawn ones never ran */
	wf_offload_stop();
}

int main(void)
{
	sem_init(&release, 0, 0);
	sem_init(&files_ran, 0, 0);
	sem_init(&login_ran, 0, 0);
	test_login_passes_file_work();
	test_oldest_first_on_the_shared_thread();
	test_stop_runs_the_queue();
	test_withdraw();
	return check_report();
}
