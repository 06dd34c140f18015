/* The cluster's shared pieces (docs/cluster.md): keys derived from the shared
 * secret, the followers' signed requests and the controller's check of them,
 * bundles sealed to one request, the proof on each answer, and the ACME
 * account thumbprint that lets every node answer HTTP-01. The secret itself
 * never goes on the wire. */
#ifndef ACME_CLUSTER_H
#define ACME_CLUSTER_H

#include "../server/buf.h"
#include "../server/config.h"
#include "../server/ip_guard.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define ACME_CLUSTER_BUNDLE_PATH "/.wharf/cluster/bundle/"
/* How far a request's time may be from the controller's clock, in seconds. */
#define ACME_CLUSTER_SKEW 300
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

/* The controller's record of the requests it took, so that each is taken
 * once: a captured request sent again within its time window is refused.
 * Only requests whose signature checked go in (a flood of unsigned ones
 * cannot fill it), each until it would fail the time check anyway (t +
 * ACME_CLUSTER_SKEW). Bounded: when all ACME_CLUSTER_REPLAY_MAX entries are
 * live, the oldest request's entry makes room and the record refuses, from
 * then on, every request no newer than that one: under a flood of signed
 * requests the window shrinks for late requests rather than let a forgotten
 * nonce in twice. One mutex guards it: the worker threads share one record,
 * so a replay that reaches another worker is refused too. */
#define ACME_CLUSTER_REPLAY_MAX 4096

typedef struct acme_cluster_replay {
	pthread_mutex_t lock;
	int64_t floor; /* a request with t + ACME_CLUSTER_SKEW <= floor is refused */
	size_t used;   /* entries from this one on were never used */
	struct {
		unsigned char nonce[ACME_CLUSTER_NONCE_LEN / 2];
		int64_t until; /* t + ACME_CLUSTER_SKEW; free once before now */
	} e[ACME_CLUSTER_REPLAY_MAX];
} acme_cluster_replay_t;

void acme_cluster_replay_init(acme_cluster_replay_t *r);
void acme_cluster_replay_fini(acme_cluster_replay_t *r);
/* Records the request a (which acme_cluster_auth_check passed at now): WF_OK
 * the first time, or WF_ERR with *why (for the log) when its nonce was taken
 * already, or it is no newer than what a full record had to forget. */
int acme_cluster_replay_admit(acme_cluster_replay_t *r, const acme_cluster_auth_t *a, int64_t now, const char **why);
/* The process's record: one for every worker, kept across reloads (a reload
 * must not let a request in twice). */
acme_cluster_replay_t *acme_cluster_replay_shared(void);

/* Refused cluster requests, for the log, without flooding it: a refusal from
 * a client (an address, or an IPv6 /64, as wf_ipguard_client has it) that
 * has none counted yet is logged at once, one line; those after it are
 * counted, and once per interval one line says how many were refused and
 * why. That line comes with the first cluster request (taken or refused,
 * from anyone) after the interval, so on a cluster whose followers long-poll
 * it is at most a poll late. Past ACME_CLUSTER_LOG_CLIENTS clients, the rest
 * count together as "other addresses". A client whose interval passes with
 * nothing refused is forgotten. These are not failed logins: banning the
 * address would shut out every good node behind the same NAT as a bad one. */
#define ACME_CLUSTER_LOG_INTERVAL 10 /* seconds */
#define ACME_CLUSTER_LOG_CLIENTS 32
#define ACME_CLUSTER_LOG_WHYS 4 /* reasons counted apart per client; the rest as "other" */

typedef void (*acme_cluster_log_cb)(void *arg, const char *line);

/* One client's refusals in its current interval. */
typedef struct acme_cluster_refused {
	char client[WF_IPGUARD_CLIENT_MAX]; /* "" = free */
	int64_t since;                       /* when the interval began */
	unsigned count;                      /* refused in it, and not logged yet */
	struct {
		const char *why; /* borrowed: from the caller, a static string */
		unsigned n;
	} whys[ACME_CLUSTER_LOG_WHYS];
} acme_cluster_refused_t;

typedef struct acme_cluster_refusals {
	pthread_mutex_t lock;
	int interval;
	acme_cluster_log_cb emit; /* called under the lock, one line at a time */
	void *emit_arg;
	acme_cluster_refused_t c[ACME_CLUSTER_LOG_CLIENTS + 1]; /* the last: every other address */
} acme_cluster_refusals_t;

void acme_cluster_refusals_init(acme_cluster_refusals_t *r, int interval, acme_cluster_log_cb emit, void *arg);
void acme_cluster_refusals_fini(acme_cluster_refusals_t *r);
/* A request from addr (the address; peer: "addr:port" for the line) was
 * refused at now for why (a string that outlives r). Emits what is due. */
void acme_cluster_refusals_note(acme_cluster_refusals_t *r, const char *addr, const char *peer, const char *why,
				int64_t now);
/* Emits the counts whose interval has passed: call it with every request. */
void acme_cluster_refusals_flush(acme_cluster_refusals_t *r, int64_t now);
/* The process's, shared by the worker threads, writing to the error log
 * (warning). */
acme_cluster_refusals_t *acme_cluster_refusals_shared(void);

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
