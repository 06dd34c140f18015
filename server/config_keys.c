/* Every config key, once. Adding a key here adds it to parsing, `wharf check`
 * and docs/config.md (a test keeps that file equal to `wharf config-reference`). */
#include "config_keys.h"
#include "config.h"
#include "../acme/b64url.h"

#include <string.h>

#define F(type, field) offsetof(type, field)

static const char *const service_types[] = { "https", "acme-http", "ftps", "ftps-implicit", NULL };
static const char *const ftps_types[] = { "ftps", "ftps-implicit", NULL };
static const char *const acme_http_types[] = { "acme-http", NULL };
static const char *const key_types[] = { "ec256", "ec384", "rsa2048", "rsa3072", "rsa4096", NULL };
static const char *const challenges[] = { "http-01", "tls-alpn-01", "dns-01", NULL };
static const char *const permissions[] = { "read", "write", "delete", "mkdir", "admin", NULL };
static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const tls_versions[] = { "1.2", "1.3", NULL };

static const wf_key_t log_keys[] = {
	{ "level", WF_KEY_STRING, F(wf_config_t, log.level), 0, "info", 0, 0, log_levels, NULL,
	  "Least severe error-log level written." },
	{ "error_log", WF_KEY_STRING, F(wf_config_t, log.error_log), 0, "stderr", 0, 0, NULL, NULL,
	  "Where error-log lines go: `stderr` or a file path (appended). A reload keeps the file open while "
	  "the path still names it, and opens it anew, as `run_user`, after rotation renamed it." },
	{ "access_log", WF_KEY_STRING, F(wf_config_t, log.access_log), 0, "stderr", 0, 0, NULL, NULL,
	  "Where access-log lines go (one per request): `stderr`, `off` or a file path, kept or opened anew "
	  "on reload as `error_log` is." },
};
static const wf_section_t log_section = { "log", log_keys, sizeof(log_keys) / sizeof(log_keys[0]), 0, -1,
					  "Logging." };

static const wf_key_t limit_keys[] = {
	{ "max_header_bytes", WF_KEY_SIZE, F(wf_config_t, limits.max_header_bytes), 0, "16K", 1024, 1 << 20,
	  NULL, NULL, "Largest HTTP request head (request line and headers); a longer request line gets 414, a larger head 431." },
	{ "max_upload_bytes", WF_KEY_SIZE, F(wf_config_t, limits.max_upload_bytes), 0, "64G", 0,
	  INT64_MAX, NULL, NULL, "Largest upload body; larger gets 413 and nothing is stored. Past 2 GiB, "
	  "write it as a string (`\"100G\"`) or in bytes (`107374182400`, taken whole)." },
	{ "max_connections", WF_KEY_INT, F(wf_config_t, limits.max_connections), 0, "10000", 1, 1000000,
	  NULL, NULL, "Open client connections per process; past it new ones are closed at once." },
	{ "header_timeout", WF_KEY_INT, F(wf_config_t, limits.header_timeout), 0, "10", 1, 3600, NULL, NULL,
	  "Seconds allowed for a TLS handshake or a request head to arrive (slowloris guard)." },
	{ "idle_timeout", WF_KEY_INT, F(wf_config_t, limits.idle_timeout), 0, "60", 1, 86400, NULL, NULL,
	  "Seconds a kept-alive connection may sit idle between requests." },
	{ "send_timeout", WF_KEY_INT, F(wf_config_t, limits.send_timeout), 0, "60", 1, 86400, NULL, NULL,
	  "Seconds a transfer may make no progress in either direction before it is dropped." },
	{ "min_rate", WF_KEY_INT, F(wf_config_t, limits.min_rate), 0, "512", 0, 1 << 30, NULL, NULL,
	  "Bytes per second a transfer must move, judged over each `send_timeout` window: one that moves "
	  "fewer than `min_rate` x `send_timeout` bytes in it is dropped as a stalled one is (an HTTP/1.1 or "
	  "HTTP/2 body in either direction, an FTPS data connection). Waits that are the server's (a password "
	  "check, an fsync, a listing being made, a long poll) do not count. 512 is mod_reqtimeout's floor, "
	  "rounded: a modem-speed client passes, one trickling a byte every few seconds to hold a file and "
	  "descriptors does not. 0: only `send_timeout` (no progress at all) applies." },
	{ "max_requests_per_connection", WF_KEY_INT, F(wf_config_t, limits.max_requests_per_connection), 0,
	  "1000", 1, 100000000, NULL, NULL, "Requests served on one connection before it is closed: HTTP/1.1 "
	  "answers the last with `Connection: close`, HTTP/2 sends GOAWAY once that many streams have begun "
	  "(clients go on over a new connection). Each request is an access-log line, which HTTP/2's header "
	  "compression lets a client repeat for a dozen bytes; the limit makes each thousand cost a TLS "
	  "handshake." },
	{ "h2_max_streams", WF_KEY_INT, F(wf_config_t, limits.h2_max_streams), 0, "100", 1, 1000, NULL, NULL,
	  "Concurrent HTTP/2 streams per connection." },
	{ "shutdown_timeout", WF_KEY_INT, F(wf_config_t, limits.shutdown_timeout), 0, "30", 0, 3600, NULL,
	  NULL, "Seconds SIGTERM waits for open requests to finish before closing them." },
	{ "ftp_idle_timeout", WF_KEY_INT, F(wf_config_t, limits.ftp_idle_timeout), 0, "300", 1, 86400, NULL, NULL,
	  "Seconds an FTPS control connection may wait between commands (outside transfers)." },
	{ "ftp_login_timeout", WF_KEY_INT, F(wf_config_t, limits.ftp_login_timeout), 0, "120", 1, 3600, NULL, NULL,
	  "Seconds an FTPS client has from connecting to a completed login (AUTH TLS, USER, PASS); past it "
	  "421 and the connection closes." },
	{ "data_connect_timeout", WF_KEY_INT, F(wf_config_t, limits.data_connect_timeout), 0, "30", 1, 3600, NULL,
	  NULL, "Seconds an FTPS client has to open (and secure) a data connection." },
	{ "max_connections_per_ip", WF_KEY_INT, F(wf_config_t, limits.max_connections_per_ip), 0, "64", 1, 1000000,
	  NULL, NULL, "Connections one client (an IPv4 address, or an IPv6 /64) may hold on each protocol, all its "
		"services together: HTTP connections (HTTPS and acme-http), and apart from them FTPS control "
		"connections (FTPS data connections are not counted). Past it a new HTTP connection is closed at "
		"accept (an HTTPS one before its TLS handshake), "
		"a new FTPS one gets 421 (ftps-implicit: closed unanswered); one line a minute per client says so. The default leaves room for "
		"several browsers behind one NAT address (six HTTP/1.1 connections each), or FTP clients with "
		"a control connection per transfer." },
	{ "max_login_failures", WF_KEY_INT, F(wf_config_t, limits.max_login_failures), 0, "5", 1, 1000000, NULL,
	  NULL, "Failed logins (FTPS and HTTPS together) from one client (an IPv4 address, or an IPv6 /64) "
		"within `login_ban_seconds` before that client is banned for `login_ban_seconds`: its FTPS "
		"connections get 421 (ftps-implicit: closed unanswered), its HTTPS "
		"requests with a password get 429, even a password verified before." },
	{ "login_ban_seconds", WF_KEY_INT, F(wf_config_t, limits.login_ban_seconds), 0, "300", 1, 86400 * 7, NULL,
	  NULL, "How long failed logins are remembered, and how long a ban lasts." },
	{ "max_pending_logins", WF_KEY_INT, F(wf_config_t, limits.max_pending_logins), 0, "64", 1, 100000, NULL,
	  NULL, "Password checks (yescrypt, tens of milliseconds each) that may wait or run at once, for all "
		"services together; one client (as for bans) may have an eighth of them (at least 2). Past either, "
		"a login is refused unchecked, HTTPS with 503 and FTPS with 421, so that a flood of guesses "
		"cannot queue ahead of everything else the offload threads do." },
	{ "listing_memory", WF_KEY_SIZE, F(wf_config_t, limits.listing_memory), 0, "512M", 64 << 10,
	  INT64_MAX, NULL, NULL, "Memory folder listings may hold at once, HTTPS and FTPS together, from the "
		"moment a folder is read until the listing's last byte is sent or it is dropped (a listing of "
		"100000 entries holds 4 to 37 MB over HTTPS, by the length of the names, and up to 64 MiB of "
		"lines over FTPS). One client (as for bans) may hold an eighth of it: by default 64 MiB, room "
		"for the largest listing of either. A listing that would pass either is refused, HTTPS with "
		"503 and `Retry-After: 1`, FTPS with 450; one line a minute says so. Besides, at most 16 "
		"listings are built at once, two per client." },
	{ "open_files_per_client", WF_KEY_INT, F(wf_config_t, limits.open_files_per_client), 0, "0", 0, 1000000,
	  NULL, NULL, "File descriptors one client (as for bans) may hold with its HTTPS downloads and uploads "
		"at once, all its connections and HTTP/2 streams together: a download holds its file, an upload "
		"its temp file and folder (two), until they are closed (an upload's by its commit, or the "
		"removal of its temp file, on the offload pool: maybe after its request). 0, the default, is an eighth of what all such transfers may "
		"hold: half of what the open file limit (`ulimit -n`, `LimitNOFILE=`) leaves after 64, at least "
		"16; so 60 of 480 under a limit of 1024, 4092 under 65536. A download or upload past the "
		"client's share, or past the whole, gets 503 with `Retry-After: 1` before it opens anything "
		"(HTTP/2: that stream only), its other transfers going on; one line a minute per client says "
		"so. Without it one client could hold `max_connections_per_ip` x `h2_max_streams` x 2 "
		"descriptors and leave none to anyone else." },
	{ "partial_upload_max_age", WF_KEY_INT, F(wf_config_t, limits.partial_upload_max_age), 0, "604800", 0,
	  86400 * 3650, NULL, NULL,
	  "Seconds an interrupted FTPS upload is kept for resuming, counted from its last write (7 days); "
	  "an older one is gone for SIZE, REST+STOR and APPE, removed when met and by a sweep of every "
	  "home shortly after start-up and then hourly. 0 keeps them until resumed or deleted (the sweep "
	  "still removes upload temp files a stopped process left)." },
};
static const wf_section_t limit_section = { "limits", limit_keys, sizeof(limit_keys) / sizeof(limit_keys[0]),
					    0, -1, "Limits and timeouts on everything a client controls." };

static const wf_key_t tls_keys[] = {
	{ "session_tickets", WF_KEY_BOOL, F(wf_config_t, tls.session_tickets), 0, "true", 0, 0, NULL, NULL,
	  "Offer session resumption with tickets (keys are random per start, shared by workers, one per "
	  "certificate: a ticket resumes only where its certificate would be chosen again)." },
	{ "min_version", WF_KEY_STRING, F(wf_config_t, tls.min_version), 0, "1.2", 0, 0, tls_versions, NULL,
	  "Oldest TLS version accepted; nothing below 1.2 is ever offered." },
};
static const wf_section_t tls_section = { "tls", tls_keys, sizeof(tls_keys) / sizeof(tls_keys[0]), 0, -1,
					  "TLS settings shared by every service." };

static const wf_key_t service_keys[] = {
	{ "type", WF_KEY_STRING, F(wf_service_cfg_t, type_name), 0, NULL, 0, 0, service_types, NULL,
	  "What the listener serves: `https` (HTTP/1.1 and HTTP/2 over TLS), `acme-http` (plain "
	  "HTTP on the port the CA reaches as port 80: answers ACME HTTP-01 challenges and "
	  "`/.well-known/acme-challenge/test.txt`, redirects everything else to HTTPS), `ftps` "
	  "(FTP with AUTH TLS, RFC 4217) or `ftps-implicit` (FTP over TLS from the first byte); "
	  "see docs/ftps.md." },
	{ "address", WF_KEY_STRING, F(wf_service_cfg_t, address), 0, "*", 0, 0, NULL, NULL,
	  "IPv4 or IPv6 address to listen on; `*` listens on every IPv4 and IPv6 address, `0.0.0.0` on "
	  "every IPv4 one, `::` on every IPv6 one. Services on one port must not share an address, "
	  "these wildcards included." },
	{ "port", WF_KEY_INT, F(wf_service_cfg_t, port), 0, NULL, 1, 65535, NULL, NULL, "TCP port." },
	{ "certificates", WF_KEY_STRLIST, F(wf_service_cfg_t, certificates),
	  F(wf_service_cfg_t, ncertificates), "[]", 0, 1000, NULL, NULL,
	  "Names of the certificates served, chosen by SNI; the first is the default for clients "
	  "that send no SNI or an unknown name. Of two for the same names with different key types "
	  "(an `ec256` and an `rsa2048` one), each client gets the first it can verify. Required for "
	  "`https`." },
	{ "https_port", WF_KEY_INT, F(wf_service_cfg_t, https_port), 0, "443", 1, 65535, NULL, NULL,
	  "`acme-http`: the public HTTPS port that requests other than ACME challenges are redirected to.",
	  NULL, acme_http_types },
	{ "require_tls", WF_KEY_BOOL, F(wf_service_cfg_t, require_tls), 0, "true", 0, 0, NULL, NULL,
	  "FTPS: log in only after AUTH TLS, and move data only with PBSZ 0 and PROT P (PROT C refused).", NULL,
	  ftps_types },
	{ "require_tls_reuse", WF_KEY_BOOL, F(wf_service_cfg_t, require_tls_reuse), 0, "true", 0, 0, NULL, NULL,
	  "FTPS: a data connection's TLS session must resume its control connection's session (TLS 1.3 "
	  "tickets and TLS 1.2 alike), so no one else can take over a transfer; false for clients that "
	  "cannot resume.",
	  NULL, ftps_types },
	{ "passive_port_min", WF_KEY_INT, F(wf_service_cfg_t, passive_port_min), 0, "0", 0, 65535, NULL, NULL,
	  "FTPS: lowest port for passive data connections (0 with passive_port_max 0: any free port). "
	  "With a range, one client (an IPv4 address, or an IPv6 /64) may hold at most half of its ports "
	  "(at least one) in listeners at once, all its sessions together; past it PASV and EPSV get 425, "
	  "and one line a minute per client says so.",
	  NULL, ftps_types },
	{ "passive_port_max", WF_KEY_INT, F(wf_service_cfg_t, passive_port_max), 0, "0", 0, 65535, NULL, NULL,
	  "FTPS: highest port for passive data connections.", NULL, ftps_types },
	{ "public_address", WF_KEY_STRING, F(wf_service_cfg_t, public_address), 0, "", 0, 0, NULL, NULL,
	  "FTPS: IPv4 address announced in PASV replies (behind NAT or a load balancer); empty: the "
	  "address the client connected to.",
	  NULL, ftps_types },
	{ "active_mode", WF_KEY_BOOL, F(wf_service_cfg_t, active_mode), 0, "false", 0, 0, NULL, NULL,
	  "FTPS: allow PORT/EPRT data connections, and then only to the client's own address.", NULL,
	  ftps_types },
};
static const wf_section_t service_section = { "services[]", service_keys,
					      sizeof(service_keys) / sizeof(service_keys[0]),
					      sizeof(wf_service_cfg_t), F(wf_service_cfg_t, at),
					      "One entry per listener." };

static const wf_key_t user_keys[] = {
	{ "name", WF_KEY_STRING, F(wf_user_cfg_t, name), 0, NULL, 0, 0, NULL, NULL, "Login name." },
	{ "password", WF_KEY_STRING, F(wf_user_cfg_t, password), 0, NULL, 0, 0, NULL, NULL,
	  "crypt(3) hash (yescrypt `$y$` or sha512-crypt `$6$`; also `$gy$`, `$5$`, `$2b$`), whole, as "
	  "printed by `wharf passwd`: a hash no password could match (cut short, unknown method) is refused at "
	  "load." },
	{ "home", WF_KEY_STRING, F(wf_user_cfg_t, home), 0, NULL, 0, 0, NULL, NULL,
	  "Folder the user sees as `/`; nothing outside it is reachable. It may not be empty, hold the "
	  "state folder, the config file, a certificate's `output_dir`, a hook's program, a CA file or a "
	  "log file, nor lie inside the state folder "
	  "or an `output_dir` (compared where the paths lead, symlinks followed)." },
	{ "permissions", WF_KEY_STRLIST, F(wf_user_cfg_t, permissions), F(wf_user_cfg_t, npermissions),
	  "[\"read\"]", 0, 5, permissions, NULL,
	  "Any of `read` (GET, listings; FTP RETR, LIST, SIZE), `write` (PUT; FTP STOR, APPE, rename), "
	  "`delete` (DELETE; FTP DELE, RMD), `mkdir` (MKCOL; FTP MKD), `admin` "
	  "(GET `/.wharf/status`: every certificate's status as JSON, as `wharf cert list --json`)." },
};
static const wf_section_t user_section = { "users[]", user_keys, sizeof(user_keys) / sizeof(user_keys[0]),
					   sizeof(wf_user_cfg_t), F(wf_user_cfg_t, at),
					   "Accounts that may log in." };

static const wf_key_t cert_keys[] = {
	{ "name", WF_KEY_STRING, F(wf_cert_cfg_t, name), 0, NULL, 0, 0, NULL, NULL,
	  "Name services refer to; also the certificate's folder under `state_dir/certs/`: 1 to 64 letters, "
	  "digits, `-`, `_` and `.`, not starting with `.`." },
	{ "domains", WF_KEY_STRLIST, F(wf_cert_cfg_t, domains), F(wf_cert_cfg_t, ndomains), NULL, 1, 100,
	  NULL, NULL, "DNS names the certificate covers (`*.example.com` for a wildcard; labels of 1 to 63 "
		      "letters, digits and `-`, not starting or ending with `-`, 253 bytes in all), and IP addresses "
		      "(`192.0.2.7`, `2001:db8::7`, not `::ffff:192.0.2.7`, which CAs certify as `192.0.2.7`: "
		      "http-01 or tls-alpn-01 only; clients reaching the service by address send no SNI, so list "
		      "such a certificate first on its service); each once, case ignored; the first name is its "
		      "subject." },
	{ "acme", WF_KEY_BOOL, F(wf_cert_cfg_t, acme), 0, "true", 0, 0, NULL, NULL,
	  "Obtain and renew it from the CA when an `acme` block is configured; false keeps what is in "
	  "the state folder (or the provisional certificate)." },
	{ "key_type", WF_KEY_STRING, F(wf_cert_cfg_t, key_type), 0, "ec256", 0, 0, key_types, NULL,
	  "Key of the certificate, the provisional one's too. For clients that verify only RSA, "
	  "configure a second certificate for the same domains with an RSA key and list both on the "
	  "service." },
	{ "challenge", WF_KEY_STRING, F(wf_cert_cfg_t, challenge), 0, "http-01", 0, 0, challenges, NULL,
	  "How the CA validates the names: `http-01` (needs an `acme-http` service reachable as port 80), "
	  "`tls-alpn-01` (answered on the `https` services; no port 80 needed) or `dns-01` (TXT records "
	  "published by `dns_hook`; the only one for wildcards)." },
	{ "dns_hook", WF_KEY_STRLIST, F(wf_cert_cfg_t, dns_hook), F(wf_cert_cfg_t, ndns_hook), "[]", 0, 64, NULL,
	  NULL,
	  "For dns-01: command, as an argv array (no shell), run with three more arguments: `add NAME VALUE` "
	  "before the CA is asked to validate (NAME is `_acme-challenge.` and the domain, VALUE the TXT "
	  "text; exit 0 once the record is served, within 300 s), then `remove NAME VALUE` when the order "
	  "ends. A certificate for `example.com` and `*.example.com` adds two records of one NAME: add "
	  "beside, never replace. WHARF_CERT_NAME and WHARF_DOMAIN are in its environment." },
	{ "profile", WF_KEY_STRING, F(wf_cert_cfg_t, profile), 0, "", 0, 0, NULL, NULL,
	  "ACME profile to request (`classic`, `tlsserver`, `shortlived`), if the CA offers profiles." },
	{ "reuse_key", WF_KEY_BOOL, F(wf_cert_cfg_t, reuse_key), 0, "false", 0, 0, NULL, NULL,
	  "Keep the same key across renewals (for key pinning); a fresh key each time otherwise." },
	{ "deploy_hook", WF_KEY_STRLIST, F(wf_cert_cfg_t, deploy_hook), F(wf_cert_cfg_t, ndeploy_hook), "[]", 0, 64,
	  NULL, NULL,
	  "Command run after each issuance, as an argv array (no shell), with WHARF_EVENT=issued, "
	  "WHARF_CERT_NAME, WHARF_DOMAINS (space-separated), WHARF_CERT_FILE and WHARF_KEY_FILE in its "
	  "environment (with an output_dir, its fullchain.pem and privkey.pem; without, both are the state "
	  "folder's issued.pem, the key and then the chain); killed after 60 s; its exit status is logged. With an output_dir, it runs once the "
	  "files are written: after a retry when they could not be, and at start-up when they lagged "
	  "behind the issued certificate." },
	{ "output_dir", WF_KEY_STRING, F(wf_cert_cfg_t, output_dir), 0, "", 0, 0, NULL, NULL,
	  "Folder that gets certbot-style files for other servers (HAProxy, nginx): `cert.pem`, "
	  "`chain.pem`, `fullchain.pem`, `privkey.pem` (0600) and `combined.pem` (key and chain, "
	  "HAProxy's form, 0600), each written atomically and only when it changed; the deploy hook runs "
	  "after the last, when the set is consistent, with WHARF_OUTPUT_DIR set. Files that cannot be "
	  "written are tried again, 10 s later and then doubling to 10 min. One the run user may not "
	  "write (or, not there yet, create) is refused at load, as a hook it may not execute is. Empty: none." },
};
static const wf_section_t cert_section = { "certificates[]", cert_keys, sizeof(cert_keys) / sizeof(cert_keys[0]),
					   sizeof(wf_cert_cfg_t), F(wf_cert_cfg_t, at),
					   "Certificates. Until one is issued, a provisional self-signed "
					   "certificate of its key type serves, kept in the state folder." };

/* Decoded as the ACME client will decode it, so a key it cannot use stops
 * wharf check and the start, not the first order. */
static const char *check_eab_hmac(const char *value)
{
	unsigned char mac[ACME_EAB_KEY_MAX];
	ssize_t n = value[0] ? acme_eab_key_decode(value, mac) : 0;
	explicit_bzero(mac, sizeof(mac));
	return n < 0 ? "is not a base64url key of 1 to 256 bytes (A-Z a-z 0-9 - _, as the CA gave it)" : NULL;
}

static const wf_key_t ca_keys[] = {
	{ "url", WF_KEY_STRING, F(wf_acme_ca_cfg_t, url), 0, NULL, 0, 0, NULL, NULL,
	  "Directory URL, or `letsencrypt` / `letsencrypt-staging`." },
	{ "ca_bundle", WF_KEY_STRING, F(wf_acme_ca_cfg_t, ca_bundle), 0, "", 0, 0, NULL, NULL,
	  "PEM file of the CA certificates to trust for this ACME server's own HTTPS (a private CA); "
	  "empty: the system's." },
	{ "eab_kid", WF_KEY_STRING, F(wf_acme_ca_cfg_t, eab_kid), 0, "", 0, 0, NULL, NULL,
	  "External Account Binding key id, for CAs that require one." },
	{ "eab_hmac", WF_KEY_STRING, F(wf_acme_ca_cfg_t, eab_hmac), 0, "", 0, 0, NULL, NULL,
	  "External Account Binding MAC key (base64url, as the CA gives it), with `eab_kid`; a value that "
	  "does not decode is refused at load.",
	  check_eab_hmac },
};
static const wf_section_t ca_section = { "acme.cas[]", ca_keys, sizeof(ca_keys) / sizeof(ca_keys[0]),
					 sizeof(wf_acme_ca_cfg_t), F(wf_acme_ca_cfg_t, at),
					 "ACME servers, in order of preference: after repeated failures with one, "
					 "the next is tried." };

static const char *const account_key_types[] = { "ec256", "ec384", "rsa2048", "rsa3072", "rsa4096", NULL };
static const wf_key_t acme_keys[] = {
	{ "contact", WF_KEY_STRING, F(wf_config_t, acme.contact), 0, "", 0, 0, NULL, NULL,
	  "E-mail address given to the CA for the account (optional): `name@example.org` or "
	  "`mailto:name@example.org`; anything else is refused at load (a CA refuses it, and the failed "
	  "order would wait up to a day)." },
	{ "account_key_type", WF_KEY_STRING, F(wf_config_t, acme.account_key_type), 0, "ec256", 0, 0,
	  account_key_types, NULL, "Key that signs ACME requests (ES256 for ec256)." },
	{ "request_timeout", WF_KEY_INT, F(wf_config_t, acme.request_timeout), 0, "30", 1, 600, NULL, NULL,
	  "Seconds allowed for one request to the CA." },
	{ "order_timeout", WF_KEY_INT, F(wf_config_t, acme.order_timeout), 0, "600", 1, 86400, NULL, NULL,
	  "Seconds one order may take, from the account to the download, before it counts as failed "
	  "(raise it for a CA that validates slowly). Time its dns_hook calls spend queued or running is "
	  "not counted: each has a limit of its own." },
	{ "retry_interval", WF_KEY_INT, F(wf_config_t, acme.retry_interval), 0, "60", 1, 86400, NULL, NULL,
	  "Seconds before the first retry after a failed order; each further failure waits ten times "
	  "longer, up to a day, but no longer than a sixth of the served certificate's time left, or of its "
	  "lifetime once it has expired (with jitter, and never less than the CA's Retry-After, which "
	  "holds back every certificate ordered from that CA)." },
	{ "event_hook", WF_KEY_STRLIST, F(wf_config_t, acme.event_hook), F(wf_config_t, acme.nevent_hook), "[]", 0, 64,
	  NULL, NULL,
	  "Command (argv array, no shell) run on every certificate event: WHARF_EVENT is issued, failed or "
	  "expiring; also WHARF_CERT_NAME, WHARF_DOMAINS, WHARF_DOMAIN, WHARF_PROBLEM, WHARF_DETAIL." },
	{ "dns_hook", WF_KEY_STRLIST, F(wf_config_t, acme.dns_hook), F(wf_config_t, acme.ndns_hook), "[]", 0, 64,
	  NULL, NULL,
	  "The `dns_hook` of every dns-01 certificate that names none of its own, `cert batch` lines "
	  "included (see the certificates' `dns_hook`)." },
	{ "webhook", WF_KEY_STRING, F(wf_config_t, acme.webhook), 0, "", 0, 0, NULL, NULL,
	  "URL that receives each certificate event as a JSON POST: {\"event\", \"certificate\", "
	  "\"domain\", \"problem\", \"detail\"}." },
	{ "mail_relay", WF_KEY_STRING, F(wf_config_t, acme.mail_relay), 0, "", 0, 0, NULL, NULL,
	  "SMTP relay for alert mail on `failed` and `expiring` events: `smtp://HOST:PORT` (STARTTLS "
	  "when offered) or `smtps://HOST:PORT`; empty: no mail." },
	{ "mail_from", WF_KEY_STRING, F(wf_config_t, acme.mail_from), 0, "wharf@localhost", 0, 0, NULL, NULL,
	  "Sender address of alert mail." },
	{ "mail_to", WF_KEY_STRLIST, F(wf_config_t, acme.mail_to), F(wf_config_t, acme.nmail_to), "[]", 0, 64, NULL,
	  NULL, "Recipients of alert mail." },
	{ "preflight_port", WF_KEY_INT, F(wf_config_t, acme.preflight_port), 0, "80", 0, 65535, NULL, NULL,
	  "Before an http-01 order, fetch http://NAME:PORT/.well-known/acme-challenge/test.txt for every "
	  "name; if that does not reach our own acme-http service, the order is not sent (the CA counts "
	  "failed validations against a limit). 0 turns the check off." },
	{ "webroot", WF_KEY_STRING, F(wf_config_t, acme.webroot), 0, "", 0, 0, NULL, NULL,
	  "Folder another web server serves as the site root: HTTP-01 answers are also written there as "
	  "`.well-known/acme-challenge/TOKEN` files (certbot's webroot mode), so http-01 needs no "
	  "`acme-http` service. `wharf cert obtain --webroot DIR` sets it for one run. Taken at start-up "
	  "only: a reload that changes it says that it takes a restart." },
	{ "cas", WF_KEY_LIST, F(wf_config_t, acme.cas), F(wf_config_t, acme.ncas), NULL, 1, 8, NULL, &ca_section,
	  "ACME servers." },
};
static const wf_section_t acme_section = { "acme", acme_keys, sizeof(acme_keys) / sizeof(acme_keys[0]), 0,
					   F(wf_config_t, acme.at),
					   "The built-in ACME client (RFC 8555). Without this block no "
					   "certificate is requested from a CA." };

static const char *const cluster_roles[] = { "", "controller", "follower", NULL };
static const wf_key_t cluster_keys[] = {
	{ "role", WF_KEY_STRING, F(wf_config_t, cluster.role), 0, "", 0, 0, cluster_roles, NULL,
	  "`controller`: this node runs ACME and hands certificates to followers at "
	  "`/.wharf/cluster/bundle/NAME` on its https services; `follower`: this node runs no ACME and "
	  "installs what the controller hands out (see docs/cluster.md)." },
	{ "controller", WF_KEY_STRING, F(wf_config_t, cluster.controller), 0, "", 0, 0, NULL, NULL,
	  "Follower: the controller's base URL, `https://HOST:PORT`." },
	{ "secret", WF_KEY_STRING, F(wf_config_t, cluster.secret), 0, "", 0, 0, NULL, NULL,
	  "The same on every node (at least 32 characters): followers present it, and every bundle "
	  "carries an HMAC-SHA256 under it, so a bundle altered on the way is refused." },
	{ "controller_ca", WF_KEY_STRING, F(wf_config_t, cluster.controller_ca), 0, "", 0, 0, NULL, NULL,
	  "Follower: PEM file of the CA certificates to trust for the controller's HTTPS; empty: the "
	  "system's. Read at every poll, by `run_user` when started as root: a start or a reload that could "
	  "not read it is refused, and `wharf check` fails." },
	{ "poll_interval", WF_KEY_INT, F(wf_config_t, cluster.poll_interval), 0, "10", 1, 3600, NULL, NULL,
	  "Follower: seconds to wait (+-20 % jitter) before asking again after an error or a controller "
	  "that does not hold long polls; with a bundle in hand each request is a long poll, so a new "
	  "certificate arrives within a second." },
};
static const wf_section_t cluster_section = { "cluster", cluster_keys, sizeof(cluster_keys) / sizeof(cluster_keys[0]),
					      0, F(wf_config_t, cluster.at),
					      "Load-balanced nodes that serve the same certificates." };

static const wf_key_t root_keys[] = {
	{ "state_dir", WF_KEY_STRING, F(wf_config_t, state_dir), 0, "state", 0, 0, NULL, NULL,
	  "Folder for keys and certificates (created 0700); the folder itself, not a symlink to one. "
	  "Relative paths in this file are resolved against the file's own folder. Not `/`, nor a folder "
	  "holding this file. Started as root, wharf gives its own entries there (`certs/`, `acme/`, `lock`) "
	  "to `run_user`, and the folder itself only when it holds nothing else." },
	{ "run_user", WF_KEY_STRING, F(wf_config_t, run_user), 0, "nobody", 0, 0, NULL, NULL,
	  "When started as root: the user to switch to once ports are bound and keys read. Taken at "
	  "start-up only: a reload that changes it says that it takes a restart. Reloads read the config "
	  "file (and its @include'd files) as this user: the start warns when it cannot." },
	{ "allow_root", WF_KEY_BOOL, F(wf_config_t, allow_root), 0, "false", 0, 0, NULL, NULL,
	  "Allow serving files as root (when `run_user` is root); refused otherwise." },
	{ "workers", WF_KEY_INT, F(wf_config_t, workers), 0, "0", 0, 256, NULL, NULL,
	  "Worker threads, each with its own event loop; 0 means one per CPU core. Taken at start-up only: "
	  "a reload that changes it says that it takes a restart." },
	{ "log", WF_KEY_GROUP, 0, 0, NULL, 0, 0, NULL, &log_section, "Logging." },
	{ "limits", WF_KEY_GROUP, 0, 0, NULL, 0, 0, NULL, &limit_section, "Limits and timeouts." },
	{ "tls", WF_KEY_GROUP, 0, 0, NULL, 0, 0, NULL, &tls_section, "TLS settings." },
	{ "acme", WF_KEY_GROUP, 0, 0, NULL, 0, 0, NULL, &acme_section, "ACME client." },
	{ "cluster", WF_KEY_GROUP, 0, 0, NULL, 0, 0, NULL, &cluster_section, "Cluster role." },
	{ "services", WF_KEY_LIST, F(wf_config_t, services), F(wf_config_t, nservices), NULL, 1, 64, NULL,
	  &service_section, "Listeners." },
	{ "users", WF_KEY_LIST, F(wf_config_t, users), F(wf_config_t, nusers), NULL, 0, 10000, NULL,
	  &user_section, "Accounts." },
	{ "certificates", WF_KEY_LIST, F(wf_config_t, certificates), F(wf_config_t, ncertificates), NULL, 0,
	  1000, NULL, &cert_section, "Certificates." },
};
const wf_section_t wf_config_root = { "", root_keys, sizeof(root_keys) / sizeof(root_keys[0]), 0, -1,
				      "Top-level keys." };
