/* Account thumbprints by name: set says whether it changed, names match
 * ignoring case, a malformed thumbprint is never kept. */
#include "check.h"
#include "acme/thumbprints.h"

#include <string.h>

#define T1 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
#define T2 "0123456789-_ABCDEFGHIJKLMNOPQRSTUVWXYZabcde"

static void test_set_and_get(void)
{
	char out[ACME_CLUSTER_THUMBPRINT_LEN + 1];
	CHECK(!acme_thumbs_get(&acme_thumbs_by_domain, "a.test", 6, out));
	CHECK_EQ_STR(out, "");
	CHECK(acme_thumbs_set(&acme_thumbs_by_domain, "a.test", T1));
	CHECK(!acme_thumbs_set(&acme_thumbs_by_domain, "a.test", T1)); /* unchanged */
	CHECK(acme_thumbs_get(&acme_thumbs_by_domain, "A.Test", 6, out));
	CHECK_EQ_STR(out, T1);
	/* The length given, not a NUL, ends the name (a Host header's slice). */
	CHECK(acme_thumbs_get(&acme_thumbs_by_domain, "a.test:80", 6, out));
	CHECK(!acme_thumbs_get(&acme_thumbs_by_domain, "a.tes", 5, out));
	CHECK(acme_thumbs_set(&acme_thumbs_by_domain, "a.test", T2));
	CHECK(acme_thumbs_get(&acme_thumbs_by_domain, "a.test", 6, out));
	CHECK_EQ_STR(out, T2);
	/* The tables are apart. */
	CHECK(!acme_thumbs_get(&acme_thumbs_by_cert, "a.test", 6, out));
}

static void test_malformed_not_kept(void)
{
	char out[ACME_CLUSTER_THUMBPRINT_LEN + 1];
	CHECK(!acme_thumbs_set(&acme_thumbs_by_cert, "main", "short"));
	CHECK(!acme_thumbs_set(&acme_thumbs_by_cert, "main", T1 "x"));
	CHECK(!acme_thumbs_set(&acme_thumbs_by_cert, "main", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP\n"));
	CHECK(!acme_thumbs_get(&acme_thumbs_by_cert, "main", 4, out));
}

static void test_many(void)
{
	char key[32], out[ACME_CLUSTER_THUMBPRINT_LEN + 1];
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "cert-%d", i);
		CHECK(acme_thumbs_set(&acme_thumbs_by_cert, key, i % 2 ? T1 : T2));
	}
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "cert-%d", i);
		CHECK(acme_thumbs_get(&acme_thumbs_by_cert, key, strlen(key), out));
		CHECK_EQ_STR(out, i % 2 ? T1 : T2);
	}
}

int main(void)
{
	test_set_and_get();
	test_malformed_not_kept();
	test_many();
	return check_report();
}
