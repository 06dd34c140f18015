/* The configuration: an immutable, reference-counted struct built from a
 * libconfig file through one table of keys (config_keys.c). The same table drives
 * parsing, `wharf check` and docs/config.md. Reload builds a new struct aside and
 * swaps it whole; a file with any problem leaves the running one in place. */
#ifndef WF_CONFIG_H
#define WF_CONFIG_H

#include "base.h"
#include "buf.h"

#include <stdatomic.h>
#include <stdbool.h>

typedef enum wf_service_type {
	WF_SERVICE_HTTPS,
	WF_SERVICE_ACME_HTTP, /* plain HTTP: ACME HTTP-01 answers, everything else redirected to HTTPS */
	WF_SERVICE_FTPS,      /* explicit FTPS: plain control connection upgraded by AUTH TLS */
	WF_SERVICE_FTPS_IMPLICIT, /* FTPS with TLS from the first byte */
} wf_service_type_t;

static inline bool wf_service_is_ftp(int type)
{
	return type == WF_SERVICE_FTPS || type == WF_SERVICE_FTPS_IMPLICIT;
}

enum {
	WF_PERM_READ = 1 << 0,
	WF_PERM_WRITE = 1 << 1,
	WF_PERM_DELETE = 1 << 2,
	WF_PERM_MKDIR = 1 << 3,
	WF_PERM_ADMIN = 1 << 4, /* may read /.wharf/status (certificate status as JSON) */
};

/* Where an entry is written: its line, and the file when an @include'd one
 * (owned by the config: its sources) or a `cert batch` CSV (argv's), NULL
 * when the config file itself. */
typedef struct wf_config_at {
	const char *file;
	int line;
} wf_config_at_t;

typedef struct wf_service_cfg {
	char *type_name; /* as written: "https" */
	wf_service_type_t type;
	char *address; /* IPv4 or IPv6 literal, or "*" for both families */
	int port;
	char **certificates; /* names of wf_cert_cfg; the first is the default */
	size_t ncertificates;
	int https_port; /* acme-http: where other requests are redirected */
	/* FTPS services only (docs/ftps.md) */
	bool require_tls;       /* login and data only over TLS */
	bool require_tls_reuse; /* data connections must resume the control connection's TLS session */
	int passive_port_min, passive_port_max; /* 0, 0: any free port */
	char *public_address;   /* IPv4 announced in 227 replies, or "" */
	bool active_mode;       /* PORT/EPRT allowed (to the client's own address only) */
	wf_config_at_t at;
} wf_service_cfg_t;

typedef struct wf_user_cfg {
	char *name;
	char *password; /* crypt(3) hash */
	char *home;     /* absolute after load */
	int home_fd;    /* owned: O_PATH handle on home, the root every request resolves beneath */
	char **permissions;
	size_t npermissions;
	unsigned perms; /* WF_PERM_* bits, derived from permissions */
	wf_config_at_t at;
} wf_user_cfg_t;

typedef struct wf_cert_cfg {
	char *name;
	char **domains; /* lowercase; "*.example.com" for a wildcard */
	size_t ndomains;
	bool acme;       /* obtained and renewed from the CA (when an acme block exists) */
	char *key_type;  /* ec256, ec384, rsa2048, rsa3072, rsa4096 */
	char *challenge; /* http-01, tls-alpn-01 or dns-01 */
	char **dns_hook; /* argv that adds and removes dns-01 TXT records, or none */
	size_t ndns_hook;
	char *profile;   /* ACME profile to ask for, or "" */
	bool reuse_key;
	char **deploy_hook; /* argv run after each issuance, or none */
	size_t ndeploy_hook;
	char *output_dir;   /* absolute after load: cert/chain/fullchain/privkey/combined.pem, or "" */
	wf_config_at_t at;
} wf_cert_cfg_t;

typedef struct wf_acme_ca_cfg {
	char *url;       /* directory URL (shortcuts resolved at load) */
	char *ca_bundle; /* PEM file trusted for this CA's HTTPS, or "" for the system's */
	char *eab_kid;
	char *eab_hmac;  /* base64url MAC key */
	wf_config_at_t at;
} wf_acme_ca_cfg_t;

typedef struct wf_config {
	atomic_int refs;
	/* Set by wf_config_load, unique in the process and never 0: a key for
	 * what is derived from one config, where the address would not do (a
	 * freed config's address comes back with the next load). */
	uint64_t generation;
	char *path; /* the file, absolute */
	char *dir;  /* its folder: relative paths in the file are resolved against it */

	char *state_dir;
	char *run_user;
	bool allow_root;
	int workers;

	struct {
		char *level;
		char *error_log;  /* "stderr" or a file */
		char *access_log; /* "stderr", "off" or a file */
	} log;
	/* Where some keys are written, for problems found after the load (line
	 * 0: not in the file, the default holds): filled by key_ats in config.c. */
	struct {
		wf_config_at_t state_dir, run_user, error_log, access_log, webroot;
	} at;

	struct {
		int64_t max_header_bytes;
		int64_t max_upload_bytes;
		int max_connections;
		int header_timeout;
		int idle_timeout;
		int send_timeout;
		int min_rate; /* bytes/s over each send_timeout window; 0: off */
		int max_requests_per_connection;
		int h2_max_streams;
		int shutdown_timeout;
		int ftp_idle_timeout;
		int ftp_login_timeout;
		int data_connect_timeout;
		int max_connections_per_ip;
		int max_login_failures;
		int login_ban_seconds;
		int max_pending_logins; /* password checks waiting or running at once, process-wide */
		int64_t listing_memory; /* bytes folder listings may hold, process-wide */
		int open_files_per_client; /* descriptors one client's HTTP transfers may hold; 0: an eighth of
					    * the budget (transfer/file_budget.h) */
		int partial_upload_max_age; /* seconds an interrupted FTP upload is kept; 0: forever */
	} limits;

	struct {
		bool session_tickets;
		char *min_version;
	} tls;

	struct {
		char *contact;  /* e-mail for the CA account, or "" */
		char *account_key_type;
		int request_timeout;
		int order_timeout;  /* seconds one order may take (its dns_hook calls not counted) */
		int retry_interval; /* first backoff after a failure, seconds */
		char **event_hook;  /* argv run on every certificate event */
		size_t nevent_hook;
		char **dns_hook;    /* default dns_hook of dns-01 certificates that name none */
		size_t ndns_hook;
		char *webhook;      /* URL that gets each event as a JSON POST, or "" */
		char *mail_relay;   /* smtp://HOST:PORT or smtps://..., or "": failure and expiry alerts */
		char *mail_from;
		char **mail_to;
		size_t nmail_to;
		int preflight_port; /* HTTP-01 self-check through the public name on this port; 0: off */
		char *webroot;      /* HTTP-01 answers also written as files under it, or "" */
		wf_acme_ca_cfg_t *cas; /* in order of preference; none: ACME is off */
		size_t ncas;
		wf_config_at_t at;
	} acme;

	struct {
		char *role;          /* "", "controller" or "follower" */
		char *controller;    /* follower: the controller's base URL ("https://10.0.0.1:8443") */
		char *secret;        /* shared by every node: authenticates followers, MACs bundles */
		char *controller_ca; /* follower: PEM trusted for the controller's HTTPS, or "" for the system's */
		int poll_interval;   /* follower: seconds between bundle polls (jittered) */
		wf_config_at_t at;
	} cluster;

	wf_service_cfg_t *services;
	size_t nservices;
	wf_user_cfg_t *users;
	size_t nusers;
	wf_cert_cfg_t *certificates;
	size_t ncertificates;
	char **sources; /* owned: the @include'd files' paths (each that holds a setting); entries' at.file point here */
	size_t nsources;

	/* Owned reference, set once, by the reload that replaces this config
	 * (before it publishes the new certificates): the store as it was then.
	 * Connections still running on this config find here the names the new
	 * one renamed or dropped (wf_certsnap_select's `older`). */
	_Atomic(struct wf_certsnap *) retired_certs;
} wf_config_t;

/* Loads and checks a config file. On success returns a struct with one
 * reference. On failure returns NULL and appends one line per problem to
 * errors ("FILE:LINE: message\n"), every problem found, not just the first;
 * those past the buffer's cap are counted in one last line ("FILE: N more
 * problems left out"). Either way the text is followed by a NUL, not counted
 * in the buffer's size, so it may be used as a C string. */
wf_config_t *wf_config_load(const char *path, wf_buf_t *errors);
/* "FILE:LINE: " of an entry (at), as problems of the config begin, for
 * those found after the load: "FILE: " when no line is known. */
void wf_config_where(const wf_config_t *cfg, wf_config_at_t at, char *out, size_t outlen);
/* wf_config_load for a run whose HTTP-01 answers are files under webroot
 * whatever the file says (cert obtain --webroot DIR): an acme-http service
 * is then not needed. NULL: as wf_config_load. */
wf_config_t *wf_config_load_webroot(const char *path, const char *webroot, wf_buf_t *errors);
wf_config_t *wf_config_ref(wf_config_t *cfg);
void wf_config_unref(wf_config_t *cfg);

const wf_user_cfg_t *wf_config_user(const wf_config_t *cfg, wf_slice_t name);
/* Does u, a user of cfg (the config a connection was accepted under),
 * still stand in newest (the config loaded last; NULL: cfg is the last) as
 * it was: same name, password hash, home and permissions? A reload that
 * removes or changes an account thus reaches connections opened before it. */
bool wf_config_user_current(const wf_config_t *newest, const wf_config_t *cfg, const wf_user_cfg_t *u);
const wf_cert_cfg_t *wf_config_cert(const wf_config_t *cfg, const char *name);

/* Is name fit to name a certificate: 1 to 64 bytes of letters, digits, '-',
 * '_' and '.', not starting with '.'? It is the certificate's folder under
 * state_dir/certs/, so "." and ".." (the certs folder, the state folder) and
 * hidden names are not. One rule for the config and `cert batch`. Pure. */
bool wf_config_cert_name_ok(const char *name);

/* Adds a certificate with the table's defaults (wharf cert batch), before
 * the config is shared with anyone; a dns-01 one gets acme.dns_hook. WF_OK,
 * WF_DECLINED (the name exists), or WF_ERR (no memory, or a name
 * wf_config_cert_name_ok refuses: the caller checks it first). Pointers to the config's
 * certificates taken before are invalid. */
int wf_config_add_cert(wf_config_t *cfg, const char *name, char *const *domains, size_t ndomains, const char *key_type,
		       const char *challenge, char *const *hook, size_t nhook);

/* Why no service of cfg can answer challenge ("http-01", "tls-alpn-01";
 * dns-01 goes through a hook, not a service), as the end of a sentence
 * that starts with the certificate ("uses http-01 but ..."); NULL when one
 * can. HTTP-01 files under acme.webroot or under webroot (--webroot; may
 * be NULL) count as an answer. One check for the config's certificates and
 * `cert batch` lines alike. Pure. */
const char *wf_config_challenge_unanswered(const wf_config_t *cfg, const char *challenge, const char *webroot);

/* Why the program at path (a full path) cannot be run as a hook: "not a
 * file", "no execute permission", strerror; NULL when it can, or when a
 * folder on the way may not be looked into (its run will say). */
const char *wf_config_unrunnable(const char *path);

/* Writes the Markdown reference of every key (docs/config.md) to out. */
int wf_config_reference(wf_buf_t *out);

#endif
