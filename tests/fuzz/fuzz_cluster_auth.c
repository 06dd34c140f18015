/* The cluster request's Authorization parser: never reads past the input,
 * leaves its output untouched when it refuses, and what it accepts is in one
 * spelling, so writing it back out parses to the same thing. The check over
 * the same bytes must agree with the parser on what is malformed. */
#include "acme/cluster.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void hexify(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so reading one past is caught. */
	char *in = malloc(size ? size : 1);
	if (size)
		memcpy(in, data, size);
	wf_slice_t v = { in, size };
	acme_cluster_auth_t a, untouched;
	memset(&a, 0xa5, sizeof(a));
	untouched = a;
	if (acme_cluster_auth_parse(v, &a) == WF_OK) {
		if (a.t < 0 || strlen(a.nonce) != ACME_CLUSTER_NONCE_LEN ||
		    strspn(a.nonce, "0123456789abcdef") != ACME_CLUSTER_NONCE_LEN)
			abort();
		char mac[65], again[200];
		hexify(a.mac, sizeof(a.mac), mac);
		snprintf(again, sizeof(again), "Wharf-Cluster t=%" PRId64 ", n=%s, mac=%s", a.t, a.nonce, mac);
		acme_cluster_auth_t b;
		if (acme_cluster_auth_parse((wf_slice_t){ again, strlen(again) }, &b) != WF_OK ||
		    memcmp(&a, &b, sizeof(a)) != 0)
			abort();
	} else if (memcmp(&a, &untouched, sizeof(a)) != 0) {
		abort();
	}

	static acme_cluster_keys_t keys;
	static int have_keys;
	if (!have_keys)
		have_keys = acme_cluster_keys_init(&keys, "a fuzzing secret of at least 32 characters") == WF_OK;
	acme_cluster_auth_t checked;
	memset(&checked, 0, sizeof(checked));
	const char *why = NULL;
	int rc = acme_cluster_auth_check(&keys, (wf_slice_t){ "GET", 3 },
					 (wf_slice_t){ "/.wharf/cluster/bundle/main", 27 }, v, 1700000000, &checked, &why);
	if (rc == WF_OK ? strlen(checked.nonce) != ACME_CLUSTER_NONCE_LEN : why == NULL)
		abort();
	free(in);
	return 0;
}
