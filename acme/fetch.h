/* wharf cert fetch HOST[:PORT] --sni NAME --key FILE --out DIR [--ca FILE]
 * [-- HOOK ARGS]: for fleets that share a key and have no ACME of their own.
 * Takes the certificate a server presents for NAME in a TLS handshake and
 * installs it (certbot's file layout, acme/output.h) only if its chain is
 * trusted (by the CAs of ca_file, or NULL for the system's), it covers NAME,
 * is valid now, belongs to our key and is newer than the one in DIR; then
 * runs the hook (killed after 60 s, its exit status printed). Our public key
 * is public: the match with the key alone proves nothing. The key, the CA
 * file and DIR (made if missing, its parent never) are judged before any
 * connection. Exit status 0 when installed or already current, 1 with one
 * clear line otherwise. */
#ifndef ACME_FETCH_H
#define ACME_FETCH_H

int acme_fetch_main(const char *target, const char *sni, const char *key_file, const char *ca_file,
		    const char *out_dir, char *const *hook);

#endif
