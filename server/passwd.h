/* `wharf passwd`: password hashes for the config. */
#ifndef WF_PASSWD_H
#define WF_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

/* The longest password `wharf passwd` hashes: the longest crypt(3) takes
 * (libxcrypt refuses CRYPT_MAX_PASSPHRASE_SIZE bytes and more, so no login
 * could match a longer one; logins read up to XFER_AUTH_PASS_MAX). A longer
 * one is refused, never cut short. */
#define WF_PASSWD_MAX 511

/* Hashes a password with yescrypt ("$y$"), or sha512-crypt ("$6$") when
 * sha512 is true. Returns WF_OK with the hash in out, or WF_ERR. */
int wf_passwd_hash(const char *password, int sha512, char *out, size_t cap);
/* Could a login ever match this stored hash: is it one of the methods the
 * config takes (yescrypt "$y$", gost-yescrypt "$gy$", sha512-crypt "$6$",
 * sha256-crypt "$5$", bcrypt "$2b$"), with a setting crypt_checksalt takes
 * and the whole encoded hash the method writes after it? A hash cut short
 * ("$6$x", "$y$") never matches any password. Cheap: no trial crypt, which
 * costs a yescrypt user tens of milliseconds. Pure. */
bool wf_passwd_hash_usable(const char *hash);
/* What is wrong with a stored hash wf_passwd_hash_usable refuses, said for
 * the config's problem line: a method crypt(3) knows that the config does
 * not take ("$1$", md5-crypt) is named, with those it takes; anything else
 * is a hash no password could match. NULL when usable; the text may be
 * written into buf (cap bytes). Pure. */
const char *wf_passwd_hash_problem(const char *hash, char *buf, size_t cap);
/* The subcommand: reads the password (twice, without echo, from a terminal;
 * one line otherwise) and prints the hash. A line longer than WF_PASSWD_MAX
 * bytes, or with a NUL, is refused with a message and exit status 1. */
int wf_passwd_main(int argc, char **argv);

#endif
