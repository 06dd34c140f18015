/* Hook commands: see command.h. */
#include "command.h"
#include "../server/base.h"
#include "../server/log.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef struct cmd {
	struct ev_loop *loop; /* borrowed: the default loop */
	ev_child watch;
	ev_timer timeout;
	double limit;
	char what[600];
	acme_cmd_done_cb cb;
	void *owner; /* borrowed; NULL once forgotten */
	struct cmd *next;
} cmd_t;

/* Every command still running, all owners: a handful at most. Main thread only. */
static cmd_t *running;

static void cmd_end(cmd_t *c, bool ok)
{
	ev_child_stop(c->loop, &c->watch);
	ev_timer_stop(c->loop, &c->timeout);
	for (cmd_t **pp = &running; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->owner && c->cb)
		c->cb(c->owner, ok);
	free(c);
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	(void)loop;
	(void)revents;
	cmd_t *c = wf_container_of(w, cmd_t, watch);
	int st = w->rstatus;
	bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (ok)
		wf_log_info("%s: exited 0", c->what);
	else if (WIFEXITED(st))
		wf_log_error("%s: exited %d", c->what, WEXITSTATUS(st));
	else
		wf_log_error("%s: killed by signal %d", c->what, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	cmd_end(c, ok);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	cmd_t *c = wf_container_of(t, cmd_t, timeout);
	wf_log_error("%s: still running after %.0f s, killing it", c->what, c->limit);
	kill(-c->watch.pid, SIGKILL); /* the whole group: see acme_cmd_run */
	/* The child watcher reports the exit and ends it. */
}

static size_t count(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

bool acme_cmd_run(struct ev_loop *loop, char *const *argv, size_t argc, char *const *extra, char *const *vars,
		  double timeout, const char *what, acme_cmd_done_cb cb, void *owner)
{
	size_t nextra = count(extra), nvars = count(vars), nenv = count(environ);
	if (!argc)
		return false;
	/* Both arrays borrow their strings: nothing here to free but them. */
	char **args = calloc(argc + nextra + 1, sizeof(char *));
	char **env = calloc(nenv + nvars + 1, sizeof(char *));
	if (!args || !env) {
		free(args);
		free(env);
		wf_log_error("%s: out of memory, %s not run", what, argv[0]);
		return false;
	}
	memcpy(args, argv, argc * sizeof(char *));
	if (nextra)
		memcpy(args + argc, extra, nextra * sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < nenv; i++)
		if (strncmp(environ[i], "WHARF_", 6) != 0) /* ours come from vars alone */
			env[k++] = environ[i];
	for (size_t i = 0; i < nvars; i++)
		env[k++] = vars[i];
	/* Its own process group, so that the timeout kills what a shell hook
	 * started too (a curl still writing a DNS record after the order gave
	 * up); default signal handling and mask, not ours (SIGPIPE ignored, the
	 * reactor's blocked set). */
	posix_spawnattr_t attr;
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	pid_t pid;
	int rc = posix_spawnattr_init(&attr);
	if (rc == 0) {
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
		posix_spawnattr_setpgroup(&attr, 0);
		posix_spawnattr_setsigdefault(&attr, &all);
		posix_spawnattr_setsigmask(&attr, &none);
		/* A name without '/' is looked up in PATH, as a shell would (the
		 * config made every other path absolute at load). */
		/* Its stdout goes where our log and diagnostics go, stderr: on
		 * stdout it would run into what wharf prints there (`cert batch`'s
		 * table). With no stderr open, to /dev/null rather than not run. */
		posix_spawn_file_actions_t fa;
		rc = posix_spawn_file_actions_init(&fa);
		if (rc == 0) {
			if (fcntl(STDERR_FILENO, F_GETFD) != -1)
				rc = posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
			else
				rc = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
			/* Nothing of ours beyond stdio: a hook that starts a daemon
			 * (a sysvinit "restart") would hold our sockets (libcurl's
			 * connection to the CA, its wake-up pair, a listener) for
			 * the daemon's life, as not all of them are close-on-exec. */
			if (rc == 0)
				rc = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
			if (rc == 0)
				rc = posix_spawnp(&pid, args[0], &fa, &attr, args, env);
			posix_spawn_file_actions_destroy(&fa);
		}
		posix_spawnattr_destroy(&attr);
	}
	free(args);
	free(env);
	if (rc != 0) {
		wf_log_error("%s: cannot run %s: %s", what, argv[0], strerror(rc));
		return false;
	}
	cmd_t *c = calloc(1, sizeof(*c));
	if (!c) { /* nothing could watch it: stop it rather than leave it unreaped */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		wf_log_error("%s: out of memory, %s stopped", what, argv[0]);
		return false;
	}
	c->loop = loop;
	c->cb = cb;
	c->owner = owner;
	c->limit = timeout;
	snprintf(c->what, sizeof(c->what), "%s (%s, pid %d)", what, argv[0], (int)pid);
	ev_child_init(&c->watch, on_child, pid, 0);
	ev_child_start(loop, &c->watch);
	ev_timer_init(&c->timeout, on_timeout, timeout, 0);
	ev_timer_start(loop, &c->timeout);
	c->next = running;
	running = c;
	return true;
}

void acme_cmd_forget(void *owner)
{
	for (cmd_t *c = running; c; c = c->next)
		if (c->owner == owner)
			c->owner = NULL;
}

size_t acme_cmd_running(const void *owner)
{
	size_t n = 0;
	for (cmd_t *c = running; c; c = c->next)
		n += c->owner == owner;
	return n;
}
