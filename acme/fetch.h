/* wharf cert fetch HOST[:PORT] --sni NAME --key FILE --out DIR [-- HOOK ARGS]:
 * for fleets that share a key and have no ACME of their own. Takes the
 * certificate a server presents for NAME in a TLS handshake and installs it
 * (certbot's file layout, acme/output.h) only if it belongs to our key,
 * covers NAME, has not expired and is newer than the one in DIR; then runs
 * the hook (killed after 60 s, its exit status printed). Exit status 0 when
 * installed or already current, 1 with one clear line otherwise. */
#ifndef ACME_FETCH_H
#define ACME_FETCH_H

int acme_fetch_main(const char *target, const char *sni, const char *key_file, const char *out_dir,
		    char *const *hook);

#endif
