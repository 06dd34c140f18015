/* ACME account thumbprints by name, for the cluster's HTTP-01 answers
 * (docs/cluster.md): set on the main thread, read by the workers. With
 * orders at two CAs under way at once, one account's thumbprint cannot
 * answer both, so the controller says, per certificate, which account its
 * orders use, and a follower answers a validation by the name it is for
 * (its Host). */
#ifndef ACME_THUMBPRINTS_H
#define ACME_THUMBPRINTS_H

#include "cluster.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct acme_thumbs acme_thumbs_t;

/* The controller's: certificate name to the thumbprint of the account its
 * orders use now. */
extern acme_thumbs_t acme_thumbs_by_cert;
/* A follower's: domain to the thumbprint its controller gave for the
 * certificate with that domain (the last one set, when two share it). */
extern acme_thumbs_t acme_thumbs_by_domain;

/* Sets key's thumbprint (a valid one, acme_cluster_thumbprint_valid, or
 * nothing changes). True when it differs from what key had. Keys are
 * compared ignoring ASCII case. */
bool acme_thumbs_set(acme_thumbs_t *t, const char *key, const char *thumbprint);
/* key's thumbprint into out (NUL-terminated), or false (out is ""). */
bool acme_thumbs_get(acme_thumbs_t *t, const char *key, size_t keylen,
		     char out[ACME_CLUSTER_THUMBPRINT_LEN + 1]);

#endif
