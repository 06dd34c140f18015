/* Which CA `wharf cert revoke` goes to (acme_status_issuing_ca): the issuer
 * status.json records, whatever CA is in use since; in older files, a guess
 * that says it is one. A hand-edited status.json's waits are bounded. The
 * ARI pick is kept with the serial it is for, and bounded as the manager
 * bounds it. A damaged issued.pem is shown by cert list with its path. */
#include "check.h"
#include "acme/status.h"
#include "server/cert_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	wf_acme_ca_cfg_t cas[2] = { { .url = "https://a.example/dir" }, { .url = "https://b.example/dir" } };
	wf_config_t cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.acme.cas = cas;
	cfg.acme.ncas = 2;
	acme_status_rec_t rec;
	char why[400];

	/* Issued by the first, the second in use after failures: the first. */
	memset(&rec, 0, sizeof(rec));
	rec.ca = 1;
	rec.failures = 3;
	rec.last_issued_at = 1000;
	snprintf(rec.issued_ca, sizeof(rec.issued_ca), "%s", cas[0].url);
	CHECK_EQ_INT(acme_status_issuing_ca(&cfg, &rec, why, sizeof(why)), 0);
	CHECK_EQ_STR(why, "the CA that issued it");
	snprintf(rec.issued_ca, sizeof(rec.issued_ca), "%s", cas[1].url);
	CHECK_EQ_INT(acme_status_issuing_ca(&cfg, &rec, why, sizeof(why)), 1);
	/* An issuer no longer configured: none, and the output says so. */
	snprintf(rec.issued_ca, sizeof(rec.issued_ca), "https://gone.example/dir");
	CHECK_EQ_INT(acme_status_issuing_ca(&cfg, &rec, why, sizeof(why)), -1);
	CHECK(strstr(why, "(https://gone.example/dir) is no longer in the config") != NULL);
	CHECK(strstr(why, "add it back to acme.cas") != NULL);

	/* Older files: the CA in use if nothing failed since the last issuance ... */
	rec.issued_ca[0] = '\0';
	rec.failures = 0;
	CHECK_EQ_INT(acme_status_issuing_ca(&cfg, &rec, why, sizeof(why)), 1);
	CHECK(strstr(why, "does not record the issuing CA; the one of the last issuance") != NULL);
	/* ... else (a fallback may have moved it on), the first. */
	rec.failures = 2;
	CHECK_EQ_INT(acme_status_issuing_ca(&cfg, &rec, why, sizeof(why)), 0);
	CHECK(strstr(why, "the first configured") != NULL);
	rec.failures = 0;
	rec.ca = 7; /* a hand edit, or a shorter cas list */
	CHECK_EQ_INT(acme_status_issuing_ca(&cfg, &rec, why, sizeof(why)), 0);

	/* An edited status.json's waits past a day are read as a day. */
	char state[] = "/tmp/wharf-status-XXXXXX", path[200];
	CHECK(mkdtemp(state) != NULL);
	snprintf(path, sizeof(path), "%s/certs", state);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/certs/x", state);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/certs/x/status.json", state);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("{\"failures\": 2, \"next_attempt\": 6918749999999999, \"ca_wait_until\": 99999999999}", f);
		fclose(f);
	}
	acme_status_load(state, "x", &rec);
	time_t now = time(NULL);
	CHECK_EQ_INT(rec.failures, 2);
	CHECK(rec.next_attempt > now && rec.next_attempt <= now + (time_t)(ACME_BACKOFF_CAP * (1 + ACME_BACKOFF_JITTER)) + 1);
	CHECK(rec.ca_wait_until > now && rec.ca_wait_until <= now + (time_t)(ACME_BACKOFF_CAP * (1 + ACME_BACKOFF_JITTER)) + 1);
	/* That file is older than the ARI pick: none read. */
	CHECK_EQ_INT((int)rec.ari_at, 0);
	CHECK_EQ_STR(rec.ari_for, "");
	/* The pick and the serial it is for come back as saved. */
	rec.ari_at = 1900000000;
	snprintf(rec.ari_for, sizeof(rec.ari_for), "7c84568e7bd03098");
	CHECK_EQ_INT(acme_status_save(state, "x", &rec), WF_OK);
	memset(&rec, 0, sizeof(rec));
	acme_status_load(state, "x", &rec);
	CHECK(rec.ari_at == 1900000000);
	CHECK_EQ_STR(rec.ari_for, "7c84568e7bd03098");
	/* A pick inside the lifetime decides; one past the last sixth (a CA's
	 * window past expiry) gives way to it; none: the lifetime rule. */
	CHECK(acme_renewal_time_ari(0, 600000, 100000) == 100000);
	CHECK(acme_renewal_time_ari(0, 600000, 590000) == 500000);
	CHECK(acme_renewal_time_ari(0, 600000, 0) == acme_renewal_time(0, 600000, false));

	/* A damaged issued.pem is shown with its path, in the JSON as in the
	 * text, and the reason is in words: empty, no PEM, or GnuTLS's. */
	char reason[200];
	wf_certstate_unusable_reason((wf_slice_t){ "", 0 }, "x", reason, sizeof(reason));
	CHECK_EQ_STR(reason, "it is empty");
	wf_certstate_unusable_reason((wf_slice_t){ "garbage\n", 8 }, "x", reason, sizeof(reason));
	CHECK_EQ_STR(reason, "it holds no PEM certificate or key");
	wf_certstate_unusable_reason((wf_slice_t){ "-----BEGIN CERTIFICATE-----\n", 28 }, "Base64 decoding error.",
				     reason, sizeof(reason));
	CHECK_EQ_STR(reason, "Base64 decoding error");
	char *domains[] = { "x.example" };
	wf_cert_cfg_t certs[1] = { { .name = "x", .domains = domains, .ndomains = 1 } };
	cfg.certificates = certs;
	cfg.ncertificates = 1;
	cfg.state_dir = state;
	snprintf(path, sizeof(path), "%s/certs/x/issued.pem", state);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("garbage\n", f);
		fclose(f);
	}
	wf_buf_t out;
	wf_buf_init(&out, 1 << 20);
	CHECK_EQ_INT(acme_status_json(&cfg, &out), WF_OK);
	CHECK(wf_buf_append(&out, "", 1) == WF_OK);
	char want[400];
	snprintf(want, sizeof(want), "\"stored_error\":\"%s is unusable: it holds no PEM certificate or key\"", path);
	CHECK(strstr(wf_buf_head(&out), want) != NULL);
	wf_buf_fini(&out);
	char *text = NULL;
	size_t textlen = 0;
	FILE *mem = open_memstream(&text, &textlen);
	CHECK(mem != NULL);
	if (mem) {
		acme_status_print(&cfg, mem);
		fclose(mem);
		snprintf(want, sizeof(want), "x\n  names:        x.example\n  problem:      %s is unusable: it holds no PEM "
			 "certificate or key; the provisional certificate serves", path);
		CHECK(strncmp(text, want, strlen(want)) == 0);
		free(text);
	}
	unlink(path);
	wf_buf_init(&out, 1 << 20);
	CHECK_EQ_INT(acme_status_json(&cfg, &out), WF_OK);
	CHECK(wf_buf_append(&out, "", 1) == WF_OK);
	CHECK(strstr(wf_buf_head(&out), "\"stored_error\":null") != NULL);
	wf_buf_fini(&out);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	CHECK(system(cmd) == 0);
	return check_report();
}
