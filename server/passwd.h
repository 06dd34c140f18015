/* `wharf passwd`: password hashes for the config. */
#ifndef WF_PASSWD_H
#define WF_PASSWD_H

#include <stddef.h>

/* Hashes a password with yescrypt ("$y$"), or sha512-crypt ("$6$") when
 * sha512 is true. Returns WF_OK with the hash in out, or WF_ERR. */
int wf_passwd_hash(const char *password, int sha512, char *out, size_t cap);
/* The subcommand: reads the password (twice, without echo, from a terminal;
 * one line otherwise) and prints the hash. */
int wf_passwd_main(int argc, char **argv);

#endif
