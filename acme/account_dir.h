/* Where a CA's account lives: STATE/acme/NAME, one folder per ACME directory
 * URL (each directory is its own CA, with its own accounts and its own
 * Retry-After), as certbot keys its accounts by the server's host and path.
 * Earlier versions named the folder after the host (and port) alone, so two
 * directories on one host (step-ca's provisioners) shared one; such a folder
 * is taken over by its CA (see acme_account_dir_path). docs/acme.md. */
#ifndef ACME_ACCOUNT_DIR_H
#define ACME_ACCOUNT_DIR_H

#include "../server/config.h"

#include <stddef.h>

/* A name's size, NUL included: at most 100 readable bytes, '-', 16 hex digits. */
#define ACME_ACCOUNT_DIR_NAME_MAX 128

/* The folder name of the directory at url: the host (lower case), the port
 * unless it is the scheme's default, the path and the query, each byte other
 * than a letter, digit, '.' or '-' made '_' (runs of them one), cut at 100
 * bytes; then '-' and 16 hex digits of the SHA-256 of the URL so normalized
 * (SCHEME "://" HOST [":" PORT] PATH ["?" QUERY], scheme and host in lower
 * case, the path "/" at least; no user name, no fragment), which tells apart
 * URLs the readable part confuses. Never "", "." or "..", no '/', never
 * starting with '.' or '-'. Any string in, even not a URL. Pure. WF_ERR if
 * cap < ACME_ACCOUNT_DIR_NAME_MAX, or no memory to hash. */
int acme_account_dir_name(const char *url, char *out, size_t cap);

/* The name earlier versions gave the folder: the URL's authority up to the
 * first '/', with ':', '[' and ']' made '_' ("127.0.0.1_14000"), at most 255
 * bytes. It may be "", "." or "..", which name no account folder. Pure. */
void acme_account_dir_legacy_name(const char *url, char *out, size_t cap);

/* STATE/acme/NAME for ca (an entry of cfg->acme.cas) into out. When that
 * folder does not exist yet and the one an earlier version used for its host
 * does, that one is this CA's if ca is the first entry of acme.cas it was
 * named after: it is renamed to the new name (one log line), or, should the
 * rename fail, used where it is for this run. The other CAs on that host
 * get folders, and accounts, of their own (one log line each, until they
 * have it). WF_ERR when out is too small, or no memory to hash. */
int acme_account_dir_path(const wf_config_t *cfg, const wf_acme_ca_cfg_t *ca, char *out, size_t cap);

#endif
