/* The cluster's shared pieces (docs/cluster.md): keys derived from the shared
 * secret, the followers' signed requests and the controller's check of them,
 * bundles sealed to one request, the proof on each answer, and the ACME
 * account thumbprint that lets every node answer HTTP-01. The secret itself
 * never goes on the wire. */
#ifndef ACME_CLUSTER_H
#define ACME_CLUSTER_H

#include "../server/buf.h"
#include "../server/config.h"

#include <stdbool.h>
#include <stdint.h>

#define ACME_CLUSTER_BUNDLE_PATH "/.wharf/cluster/bundle/"
/* How far a request's time may be from the controller's clock, in seconds. */
#define ACME_CLUSTER_SKEW 300
/* A controller's 403 body: "403 Forbidden: " ACME_CLUSTER_REFUSED, then the
 * failed check's words, which the follower logs. */
#define ACME_CLUSTER_REFUSED "cluster request refused: "
/* What a node that is no controller answers a cluster request: "421
 * Misdirected Request: " ACME_CLUSTER_NOT_CONTROLLER, which a follower looks
 * for to say its controller setting names the wrong node. */
#define ACME_CLUSTER_NOT_CONTROLLER "this node is not a cluster controller"
#define ACME_CLUSTER_NONCE_LEN 32 /* hex digits */
#define ACME_CLUSTER_IV_LEN 12
#define ACME_CLUSTER_TAG_LEN 16
/* A SHA-256 JWK thumbprint in base64url (RFC 7638). */
#define ACME_CLUSTER_THUMBPRINT_LEN 43

bool acme_cluster_is_controller(const wf_config_t *cfg);
bool acme_cluster_is_follower(const wf_config_t *cfg);

/* One key per purpose, each HMAC-SHA256(secret, label): a key that leaks
 * from one use says nothing of the others, nor of the secret. */
typedef struct acme_cluster_keys {
	unsigned char req[32];    /* signs followers' requests */
	unsigned char bundle[32]; /* AES-256-GCM key of sealed bundles */
	unsigned char answer[32]; /* the controller's proof on its answers */
} acme_cluster_keys_t;

/* WF_ERR when there is no secret (then k is zeroed). */
int acme_cluster_keys_init(acme_cluster_keys_t *k, const char *secret);
/* Zeroes the keys. */
void acme_cluster_keys_fini(acme_cluster_keys_t *k);

/* A request's Authorization value, parsed. */
typedef struct acme_cluster_auth {
	int64_t t;                                /* UNIX seconds, as the follower signed them */
	char nonce[ACME_CLUSTER_NONCE_LEN + 1];   /* lower-case hex */
	unsigned char mac[32];
} acme_cluster_auth_t;

/* Parses "Wharf-Cluster t=SECONDS, n=NONCE, mac=HEX": the scheme in any case,
 * then the three parameters once each, in any order, t in decimal without
 * leading zeros, n 32 and mac 64 lower-case hex digits. Pure. WF_OK, or
 * WF_ERR (malformed; out untouched). */
int acme_cluster_auth_parse(wf_slice_t value, acme_cluster_auth_t *out);
/* Whether an Authorization value names the Wharf-Cluster scheme (in any
 * case), well-formed or not: such a request is a cluster node's, never a
 * user's login, on any node. Pure. */
bool acme_cluster_auth_is_cluster(wf_slice_t value);
/* ACME_CLUSTER_NONCE_LEN fresh random hex digits and a NUL. WF_ERR if the
 * random generator fails. */
int acme_cluster_nonce(char out[ACME_CLUSTER_NONCE_LEN + 1]);
/* The Authorization value for a request of method for target (path and
 * query, as on the wire) at time t with nonce: mac = HMAC(k->req, METHOD "\n"
 * TARGET "\n" T "\n" NONCE). WF_ERR if it does not fit in cap. Pure. */
int acme_cluster_auth_make(const acme_cluster_keys_t *k, const char *method, const char *target, int64_t t,
			   const char *nonce, char *out, size_t cap);
/* The controller's check of a request's Authorization value: well-formed,
 * within ACME_CLUSTER_SKEW of now, and signed for this method and target.
 * WF_OK with the request's time and nonce in out, or WF_ERR with *why saying
 * which check failed (for the log; out untouched). Pure. */
int acme_cluster_auth_check(const acme_cluster_keys_t *k, wf_slice_t method, wf_slice_t target,
			    wf_slice_t authorization, int64_t now, acme_cluster_auth_t *out, const char **why);

/* What an answer is bound to: the certificate it is for, the bundle's ETag
 * ("" for none), the account thumbprint sent with it ("" for none) and the
 * nonce of the request it answers. None may hold a newline. */
typedef struct acme_cluster_bind {
	const char *name, *etag, *thumbprint, *nonce;
} acme_cluster_bind_t;

/* Seals pem with AES-256-GCM under k->bundle: appends to out a fresh random
 * IV, the ciphertext and its tag, with NAME "\n" ETAG "\n" THUMBPRINT "\n"
 * NONCE as associated data. WF_OK or WF_ERR (out unchanged). */
int acme_cluster_seal(const acme_cluster_keys_t *k, const acme_cluster_bind_t *b, wf_slice_t pem, wf_buf_t *out);
/* The reverse: appends the PEM to pem when sealed opens under k and b.
 * WF_OK, or WF_ERR (altered, or sealed for another key, name, ETag,
 * thumbprint or request; pem unchanged). */
int acme_cluster_open(const acme_cluster_keys_t *k, const acme_cluster_bind_t *b, wf_slice_t sealed, wf_buf_t *pem);
/* The Wharf-Cluster-Answer value: hex HMAC(k->answer, STATUS "\n" NONCE "\n"
 * ETAG "\n" THUMBPRINT) (b->name is not part of it: the nonce already
 * names one request). WF_OK, or WF_ERR (out of memory; out is ""). */
int acme_cluster_answer_proof(const acme_cluster_keys_t *k, int status, const acme_cluster_bind_t *b, char out[65]);
/* Constant-time check of a received proof (any string). */
bool acme_cluster_answer_ok(const acme_cluster_keys_t *k, int status, const acme_cluster_bind_t *b, const char *proof);

/* The bundle for certificate name: the issued pair in the state folder as
 * stored (key, then chain: wf_certstate_split_issued splits it) and its ETag
 * (quoted). WF_OK, WF_DECLINED (none issued yet, or not a configured name),
 * or WF_ERR. */
int acme_cluster_bundle(const wf_config_t *cfg, const char *name, wf_buf_t *pem, char etag[72]);
/* Zeroes a buffer that held a private key, then frees it. */
void acme_cluster_wipe(wf_buf_t *b);

/* Exactly ACME_CLUSTER_THUMBPRINT_LEN base64url characters. */
bool acme_cluster_thumbprint_valid(const char *s);
/* The ACME account thumbprint in use (STATE/acme/thumbprint), or "". */
void acme_cluster_thumbprint(const char *state_dir, char *out, size_t cap);
int acme_cluster_thumbprint_save(const char *state_dir, const char *thumbprint);

#endif
