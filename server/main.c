/* wharf: command-line entry. */
#include "buf.h"
#include "config.h"
#include "log.h"
#include "passwd.h"
#include "privdrop.h"
#include "server.h"
#include "../acme/batch.h"
#include "../acme/fetch.h"
#include "../acme/revoke.h"
#include "../acme/status.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The cert sub-commands, for `wharf --help` and a `wharf cert` that names none. */
#define CERT_USAGE                                                                                       \
	"  cert list -c FILE    every certificate: names, issuer, not-after, next renewal, last error\n" \
	"                       (--json for the same as JSON)\n"                                         \
	"  cert revoke NAME -c FILE\n"                                                                   \
	"                       revoke NAME's issued certificate at the CA and set it aside\n"           \
	"  cert obtain -c FILE [--webroot DIR]\n"                                                        \
	"                       obtain or renew what is due, once (for cron or a timer): write files,\n" \
	"                       run hooks, exit 1 if any order failed; HTTP-01 is answered by the\n"     \
	"                       config's acme-http service, or by files under DIR\n"                     \
	"  cert batch FILE.csv -c FILE [--webroot DIR]\n"                                                \
	"                       issue the CSV's certificates (name,domains,key_type,hook,challenge),\n"  \
	"                       then print a table of results; exit 1 if any failed\n"                   \
	"  cert fetch HOST[:PORT] --sni NAME --key FILE --out DIR [--ca FILE] [-- HOOK ARGS...]\n"       \
	"                       install the certificate HOST presents for NAME if a CA vouches for it\n" \
	"                       (the system's, or those in --ca FILE), it is valid now, matches the\n"   \
	"                       key and is newer than the one in DIR, then run HOOK\n"

static void usage(FILE *f)
{
	fprintf(f, "usage: wharf COMMAND [OPTIONS]\n"
		   "\n"
		   "commands:\n"
		   "  serve -c FILE        run the server in the foreground (SIGHUP reloads, SIGTERM drains)\n"
		   "  check -c FILE        validate FILE: exit 0, or print FILE:LINE: problem for each problem\n"
		   "  passwd [--sha512]    read a password on standard input and print its crypt(3) hash\n"
		   "  config-reference     print the reference of every config key (docs/config.md)\n"
		   CERT_USAGE
		   "\n"
		   "  --help, --version\n");
}

static bool cert_command(const char *sub)
{
	static const char *const subs[] = { "list", "revoke", "obtain", "batch", "fetch" };
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(sub, subs[i]) == 0)
			return true;
	return false;
}

static const char *config_arg(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' }, { 0 } };
	const char *path = NULL;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (ch == 'c')
			path = optarg;
		else
			return NULL;
	}
	if (optind != argc)
		return NULL;
	return path;
}

/* The config, or NULL after printing every problem as FILE:LINE: message. */
static wf_config_t *load_or_report(const char *path)
{
	wf_buf_t errors;
	wf_buf_init(&errors, 1 << 20);
	wf_config_t *cfg = wf_config_load(path, &errors);
	if (!cfg)
		fwrite(wf_buf_head(&errors), 1, wf_buf_size(&errors), stderr);
	wf_buf_fini(&errors);
	return cfg;
}

/* The batch CSV is the admin's own input, read once: a symlink to it or a
 * pipe (/dev/stdin) is as good as the file, unlike the state files
 * wf_durable_read guards. Only its size is capped, by out's: WF_ERR with
 * errno, EFBIG past the cap. */
static int read_csv(const char *path, wf_buf_t *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return WF_ERR;
	int rc = WF_ERR;
	char chunk[8192];
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (wf_buf_append(out, chunk, (size_t)r) != WF_OK) {
			errno = EFBIG;
			goto out;
		}
	}
	rc = WF_OK;
out:
	close(fd);
	return rc;
}

/* `wharf check`: what the start would refuse or warn of, said in its words
 * from the key's FILE:LINE on. The logs are opened as the start opens them,
 * by whoever starts it; what the server will read and write as it runs (the
 * run user, when root starts it) is checked as that user. A listening port
 * in use is not: the running server holds it when an admin checks before a
 * reload. */
static int check_as_server(const wf_config_t *cfg)
{
	char err[2048], where[420];
	bool access_log = false;
	int rc = WF_OK;
	if (wf_log_check(cfg->log.error_log, cfg->log.access_log, err, sizeof(err), &access_log) != WF_OK) {
		wf_config_where(cfg, access_log ? cfg->at.access_log : cfg->at.error_log, where, sizeof(where));
		fprintf(stderr, "%s%s\n", where, err);
		rc = WF_ERR;
	}
	uid_t uid;
	gid_t gid;
	if (geteuid() == 0) {
		if (wf_privdrop_check_user(cfg, &uid, &gid, stderr) != WF_OK)
			return WF_ERR;
		return wf_privdrop_check_as(cfg, uid, gid, stderr) != WF_OK ? WF_ERR : rc;
	}
	if (wf_privdrop_check_trust(cfg, false, err, sizeof(err)) != WF_OK) {
		fprintf(stderr, "%s\n", err);
		rc = WF_ERR;
	}
	wf_buf_t runs;
	wf_buf_init(&runs, 1 << 20);
	if (wf_privdrop_check_runs(cfg, false, cfg->acme.webroot, &runs)) {
		fputs(wf_buf_head(&runs), stderr);
		rc = WF_ERR;
	}
	wf_buf_reset(&runs);
	if (wf_privdrop_check_homes(cfg, false, &runs))
		fputs(wf_buf_head(&runs), stderr);
	wf_buf_fini(&runs);
	return rc;
}

int main(int argc, char **argv)
{
	/* Started with 0, 1 or 2 closed, the first file opened would take its
	 * number: log lines and hooks' output written "to stderr" would land
	 * in a state file or a socket. /dev/null holds them instead. */
	for (int fd = 0; fd <= 2;) {
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			break;
		if (fd > 2) {
			close(fd);
			break;
		}
		fcntl(fd, F_SETFD, 0); /* a standard descriptor, for hooks too */
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("wharf %s\n", WHARF_VERSION);
		return 0;
	}
	if (strcmp(cmd, "passwd") == 0)
		return wf_passwd_main(argc - 2, argv + 2);
	if (strcmp(cmd, "config-reference") == 0) {
		if (argc != 2) {
			fprintf(stderr, "usage: wharf config-reference\n");
			return 2;
		}
		wf_buf_t out;
		wf_buf_init(&out, 1 << 20);
		wf_config_reference(&out);
		fwrite(wf_buf_head(&out), 1, wf_buf_size(&out), stdout);
		wf_buf_fini(&out);
		return 0;
	}
	if (strcmp(cmd, "cert") == 0 && (argc < 3 || !cert_command(argv[2]))) {
		if (argc >= 3)
			fprintf(stderr, "wharf: unknown cert command \"%s\"\n\n", argv[2]);
		fprintf(stderr, "usage: wharf cert COMMAND ...\n\ncommands:\n" CERT_USAGE);
		return 2;
	}
	if (strcmp(cmd, "cert") == 0 && strcmp(argv[2], "fetch") == 0) {
		const char *sni = NULL, *key = NULL, *out = NULL, *ca = NULL;
		char **hook = NULL;
		for (int i = 4; i < argc; i++) {
			if (strcmp(argv[i], "--") == 0) {
				hook = &argv[i + 1];
				break;
			}
			if (i + 1 < argc && strcmp(argv[i], "--sni") == 0)
				sni = argv[++i];
			else if (i + 1 < argc && strcmp(argv[i], "--key") == 0)
				key = argv[++i];
			else if (i + 1 < argc && strcmp(argv[i], "--out") == 0)
				out = argv[++i];
			else if (i + 1 < argc && strcmp(argv[i], "--ca") == 0)
				ca = argv[++i];
			else
				sni = key = NULL, i = argc; /* unknown option: usage */
		}
		if (argc < 4 || argv[3][0] == '-' || !sni || !key || !out) {
			fprintf(stderr, "usage: wharf cert fetch HOST[:PORT] --sni NAME --key FILE --out DIR [--ca FILE] "
					"[-- HOOK ARGS...]\n");
			return 2;
		}
		if (gnutls_global_init() < 0)
			return 1;
		int code = acme_fetch_main(argv[3], sni, key, ca, out, hook);
		gnutls_global_deinit();
		return code;
	}
	if (strcmp(cmd, "cert") == 0 && argc >= 3 && (strcmp(argv[2], "obtain") == 0 || strcmp(argv[2], "batch") == 0)) {
		wf_run_opts_t opts = { .oneshot = true };
		bool batch = strcmp(argv[2], "batch") == 0;
		acme_batch_t entries = { 0 };
		if (batch) {
			if (argc < 4 || argv[3][0] == '-') {
				fprintf(stderr, "usage: wharf cert batch FILE.csv -c FILE [--webroot DIR]\n");
				return 2;
			}
			wf_buf_t csv;
			wf_buf_init(&csv, 4 << 20);
			char err[512];
			if (read_csv(argv[3], &csv) != WF_OK) {
				fprintf(stderr, "cert batch: cannot read %s: %s\n", argv[3],
					errno == EFBIG ? "larger than 4 MiB" : strerror(errno));
				wf_buf_fini(&csv);
				return 1;
			}
			if (acme_batch_parse(wf_buf_head(&csv), wf_buf_size(&csv), &entries, err, sizeof(err)) != WF_OK) {
				fprintf(stderr, "%s: %s\n", argv[3], err);
				wf_buf_fini(&csv);
				return 1;
			}
			wf_buf_fini(&csv);
			entries.path = argv[3];
			opts.batch = &entries;
		}
		char *args[16] = { argv[0] };
		int n = 1;
		for (int i = batch ? 4 : 3; i < argc && n < 15; i++) {
			if (strcmp(argv[i], "--webroot") == 0 && i + 1 < argc)
				opts.webroot = argv[++i];
			else
				args[n++] = argv[i];
		}
		const char *path = config_arg(n, args);
		if (!path) {
			fprintf(stderr, "usage: wharf cert %s -c FILE [--webroot DIR]\n", batch ? "batch FILE.csv" : "obtain");
			acme_batch_free(&entries);
			return 2;
		}
		int code = wf_server_run(path, &opts);
		acme_batch_free(&entries);
		return code;
	}
	if (strcmp(cmd, "cert") == 0 && argc >= 3) {
		const char *sub = argv[2];
		const char *name = NULL;
		bool json = false;
		int rest = 3;
		if (strcmp(sub, "revoke") == 0 && argc >= 4 && argv[3][0] != '-') {
			name = argv[3];
			rest = 4;
		}
		/* Remaining: -c FILE [--json]; getopt wants the program name first. */
		char *args[16] = { argv[0] };
		int n = 1;
		for (int i = rest; i < argc && n < 15; i++) {
			if (strcmp(argv[i], "--json") == 0)
				json = true;
			else
				args[n++] = argv[i];
		}
		const char *path = config_arg(n, args);
		if (!path || (strcmp(sub, "list") != 0 && !(strcmp(sub, "revoke") == 0 && name))) {
			fprintf(stderr, "usage: wharf cert list -c FILE [--json] | wharf cert revoke NAME -c FILE\n");
			return 2;
		}
		wf_config_t *cfg = load_or_report(path);
		if (!cfg)
			return 1;
		int code = 0;
		if (strcmp(sub, "revoke") == 0) {
			code = acme_revoke_main(cfg, name);
		} else if (json) {
			wf_buf_t out;
			wf_buf_init(&out, 16 << 20);
			acme_status_json(cfg, &out);
			fwrite(wf_buf_head(&out), 1, wf_buf_size(&out), stdout);
			putchar('\n');
			wf_buf_fini(&out);
		} else {
			acme_status_print(cfg, stdout);
		}
		wf_config_unref(cfg);
		return code;
	}
	if (strcmp(cmd, "serve") == 0 || strcmp(cmd, "check") == 0) {
		const char *path = config_arg(argc - 1, argv + 1);
		if (!path) {
			fprintf(stderr, "usage: wharf %s -c FILE\n", cmd);
			return 2;
		}
		if (strcmp(cmd, "serve") == 0)
			return wf_server_run(path, NULL);
		wf_config_t *cfg = load_or_report(path);
		if (!cfg)
			return 1;
		if (check_as_server(cfg) != WF_OK) {
			wf_config_unref(cfg);
			return 1;
		}
		printf("%s: configuration is valid (%zu services, %zu users, %zu certificates)\n", cfg->path,
		       cfg->nservices, cfg->nusers, cfg->ncertificates);
		wf_config_unref(cfg);
		return 0;
	}
	fprintf(stderr, "wharf: unknown command \"%s\"\n\n", cmd);
	usage(stderr);
	return 2;
}
