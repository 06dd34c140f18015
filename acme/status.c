/* Certificate status for people: see status.h. */
#include "status.h"
#include "../server/cert_key.h"
#include "../server/cert_state.h"
#include "../server/durable.h"

#include <gnutls/crypto.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PEM_MAX (1 << 20)

time_t acme_renewal_time(time_t not_before, time_t not_after, bool provisional)
{
	if (provisional)
		return 0;
	double life = difftime(not_after, not_before);
	double left_at_renewal = life < 10 * 86400 ? life / 2 : life / 3;
	return not_after - (time_t)left_at_renewal;
}

time_t acme_renewal_time_ari(time_t not_before, time_t not_after, time_t ari_at)
{
	time_t latest = not_after - (time_t)(difftime(not_after, not_before) / 6);
	if (!ari_at)
		return acme_renewal_time(not_before, not_after, false);
	return ari_at < latest ? ari_at : latest;
}

double acme_jitter(double seconds, double fraction)
{
	uint32_t r = 0;
	gnutls_rnd(GNUTLS_RND_NONCE, &r, sizeof(r));
	double u = (double)r / 4294967295.0; /* 0..1 */
	return seconds * (1.0 - fraction + 2.0 * fraction * u);
}

double acme_retry_delay_max(double retry_interval, double life, double left)
{
	/* What the bound is a sixth of: the time left, so attempts close in on
	 * expiry; once it is past, the lifetime, so an expired certificate of an
	 * hour is asked for again within minutes, not a day later. life 0 with
	 * left > 0: the time left alone (no lifetime known). */
	double span = left > 0 ? left : life;
	if (life > 0 && span > life)
		span = life;
	if (span <= 0)
		return ACME_BACKOFF_CAP;
	double limit = span / 6 > retry_interval ? span / 6 : retry_interval;
	return limit < ACME_BACKOFF_CAP ? limit : ACME_BACKOFF_CAP;
}

double acme_retry_delay(int failures, double retry_interval, bool stubborn, double life, double left)
{
	static const double steps[] = { 1, 10, 100 };
	double delay = ACME_BACKOFF_CAP;
	if (!stubborn && failures >= 1 && failures <= 3)
		delay = retry_interval * steps[failures - 1];
	double most = acme_retry_delay_max(retry_interval, life, left);
	return delay < most ? delay : most;
}

double acme_retry_delay_stored(double stored, double retry_interval, double life, double left)
{
	double most = acme_retry_delay_max(retry_interval, life, left) * (1 + ACME_BACKOFF_JITTER);
	if (stored > most)
		return most;
	return stored > 0 ? stored : 0;
}

void acme_span_text(double seconds, char *out, size_t cap)
{
	if (seconds >= 2 * 86400)
		snprintf(out, cap, "%.1f days", seconds / 86400);
	else if (seconds >= 2 * 3600)
		snprintf(out, cap, "%.1f h", seconds / 3600);
	else if (seconds >= 120)
		snprintf(out, cap, "%.0f min", seconds / 60);
	else
		snprintf(out, cap, "%.0f s", seconds);
}

bool acme_alarm_due(double life, double left, double since_last, double next_delay)
{
	double every = life / 8 < 20 * 3600.0 ? life / 8 : 20 * 3600.0;
	/* The CA's Retry-After (up to a day) may put the next attempt past the
	 * expiry of a short-lived certificate: this failure is the last one
	 * that can tell the admin in time, whatever the sixth (unless an alarm
	 * came lately). */
	if (left > 0 && next_delay >= left && since_last >= every / 2)
		return true;
	if (left >= life / 6)
		return false;
	return since_last >= every || (since_last >= every / 2 && since_last + next_delay > every * 1.2);
}

static int cert_dir(const char *state_dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/certs/%s", state_dir, name);
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int acme_status_save(const char *state_dir, const char *name, const acme_status_rec_t *rec)
{
	int dfd = cert_dir(state_dir, name);
	if (dfd < 0)
		return WF_ERR;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "failures", json_object_new_int(rec->failures));
	json_object_object_add(o, "ca_failures", json_object_new_int(rec->ca_failures));
	json_object_object_add(o, "last_error_at", json_object_new_int64(rec->last_error_at));
	json_object_object_add(o, "last_error", json_object_new_string(rec->last_error));
	json_object_object_add(o, "last_error_local", json_object_new_boolean(rec->last_error_local));
	json_object_object_add(o, "next_attempt", json_object_new_int64(rec->next_attempt));
	json_object_object_add(o, "last_issued_at", json_object_new_int64(rec->last_issued_at));
	json_object_object_add(o, "ca", json_object_new_int(rec->ca));
	if (rec->issued_ca[0])
		json_object_object_add(o, "issued_ca", json_object_new_string(rec->issued_ca));
	if (rec->ca_wait_until)
		json_object_object_add(o, "ca_wait_until", json_object_new_int64(rec->ca_wait_until));
	if (rec->failed_for[0])
		json_object_object_add(o, "failed_for", json_object_new_string(rec->failed_for));
	if (rec->ari_at && rec->ari_for[0]) {
		json_object_object_add(o, "ari_at", json_object_new_int64(rec->ari_at));
		json_object_object_add(o, "ari_for", json_object_new_string(rec->ari_for));
	}
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int rc = wf_durable_write(dfd, "status.json", text, strlen(text), 0644);
	json_object_put(o);
	close(dfd);
	return rc;
}

static int64_t get_int(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
}

void acme_status_load(const char *state_dir, const char *name, acme_status_rec_t *rec)
{
	memset(rec, 0, sizeof(*rec));
	int dfd = cert_dir(state_dir, name);
	if (dfd < 0)
		return;
	wf_buf_t b;
	wf_buf_init(&b, 64 * 1024);
	if (wf_durable_read(dfd, "status.json", 64 * 1024, &b) == WF_OK) {
		json_tokener *tok = json_tokener_new_ex(8);
		json_object *o = tok ? json_tokener_parse_ex(tok, wf_buf_head(&b), (int)wf_buf_size(&b)) : NULL;
		if (o && json_object_is_type(o, json_type_object)) {
			rec->failures = (int)get_int(o, "failures");
			rec->ca_failures = (int)get_int(o, "ca_failures");
			rec->last_error_at = (time_t)get_int(o, "last_error_at");
			rec->next_attempt = (time_t)get_int(o, "next_attempt");
			rec->last_issued_at = (time_t)get_int(o, "last_issued_at");
			rec->ca = (int)get_int(o, "ca");
			rec->ca_wait_until = (time_t)get_int(o, "ca_wait_until");
			rec->ari_at = (time_t)get_int(o, "ari_at");
			/* No wait we store passes a day and its jitter (ACME_BACKOFF_CAP,
			 * Retry-After's cap): a later one is an edited file's, and
			 * would be shown as a year past 9999. */
			time_t cap = time(NULL) + (time_t)(ACME_BACKOFF_CAP * (1 + ACME_BACKOFF_JITTER));
			if (rec->next_attempt > cap)
				rec->next_attempt = cap;
			if (rec->ca_wait_until > cap)
				rec->ca_wait_until = cap;
			json_object *v;
			rec->last_error_local = json_object_object_get_ex(o, "last_error_local", &v) &&
						json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
			if (json_object_object_get_ex(o, "last_error", &v) && json_object_is_type(v, json_type_string))
				snprintf(rec->last_error, sizeof(rec->last_error), "%s", json_object_get_string(v));
			if (json_object_object_get_ex(o, "issued_ca", &v) && json_object_is_type(v, json_type_string))
				snprintf(rec->issued_ca, sizeof(rec->issued_ca), "%s", json_object_get_string(v));
			if (json_object_object_get_ex(o, "failed_for", &v) && json_object_is_type(v, json_type_string))
				snprintf(rec->failed_for, sizeof(rec->failed_for), "%s", json_object_get_string(v));
			if (json_object_object_get_ex(o, "ari_for", &v) && json_object_is_type(v, json_type_string))
				snprintf(rec->ari_for, sizeof(rec->ari_for), "%s", json_object_get_string(v));
		}
		json_object_put(o);
		if (tok)
			json_tokener_free(tok);
	}
	wf_buf_fini(&b);
	close(dfd);
}

int acme_status_issuing_ca(const wf_config_t *cfg, const acme_status_rec_t *rec, char *why, size_t cap)
{
	if (rec->issued_ca[0]) {
		for (size_t i = 0; i < cfg->acme.ncas; i++)
			if (strcmp(cfg->acme.cas[i].url, rec->issued_ca) == 0) {
				snprintf(why, cap, "the CA that issued it");
				return (int)i;
			}
		snprintf(why, cap,
			 "the CA that issued it (%.200s) is no longer in the config; add it back to acme.cas (a "
			 "revocation must go to the CA that issued the certificate)",
			 rec->issued_ca);
		return -1;
	}
	/* Older status files name only the CA in use: the issuer still, unless
	 * a failure since may have moved it on (the fallback). */
	if (rec->last_issued_at && rec->failures == 0 && rec->ca >= 0 && (size_t)rec->ca < cfg->acme.ncas) {
		snprintf(why, cap, "status.json does not record the issuing CA; the one of the last issuance");
		return rec->ca;
	}
	snprintf(why, cap, "status.json does not record the issuing CA; the first configured");
	return 0;
}

typedef struct cert_info {
	bool found, provisional;
	bool short_of_config; /* issued for some configured names only: due now */
	bool other_key_type;  /* issued with another key type than the config's: due now */
	bool names_removed;   /* issued for a name the config no longer has: due now */
	char issuer[256], serial[64];
	time_t not_before, not_after;
	char stored_error[600]; /* issued.pem there but unreadable or damaged: the provisional one serves */
} cert_info_t;

/* What is on disk, the same choice the server makes: the issued pair if
 * usable, else the provisional one. */
static void read_cert(const wf_config_t *cfg, const wf_cert_cfg_t *c, cert_info_t *ci)
{
	memset(ci, 0, sizeof(*ci));
	int dfd = cert_dir(cfg->state_dir, c->name);
	if (dfd < 0)
		return;
	static const char *const files[2][2] = { { "issued.pem", "issued.pem" }, { "selfsigned.pem", "selfsigned.key" } };
	for (int i = 0; i < 2 && !ci->found; i++) {
		wf_buf_t cert, key;
		wf_buf_init(&cert, PEM_MAX);
		wf_buf_init(&key, PEM_MAX);
		bool read = wf_durable_read(dfd, files[i][0], PEM_MAX, &cert) == WF_OK &&
			    wf_durable_read(dfd, files[i][1], PEM_MAX, &key) == WF_OK;
		/* Not one this command may not read: the server, root at start,
		 * may well read it (and cannot be judged from here). */
		if (!read && i == 0 && errno != ENOENT && errno != EACCES && errno != EPERM)
			snprintf(ci->stored_error, sizeof(ci->stored_error), "cannot read %s/certs/%s/issued.pem: %s",
				 cfg->state_dir, c->name, strerror(errno));
		if (read) {
			char err[256];
			wf_certkey_t *ck = wf_certkey_new(c->name, c->domains, c->ndomains, wf_buf_slice(&cert),
							  wf_buf_slice(&key), i == 1, err, sizeof(err));
			/* The server's warning says the same (server/cert_state.c). */
			if (!ck && i == 0) {
				char why[300];
				wf_certstate_unusable_reason(wf_buf_slice(&cert), err, why, sizeof(why));
				snprintf(ci->stored_error, sizeof(ci->stored_error), "%s/certs/%s/issued.pem is unusable: %s",
					 cfg->state_dir, c->name, why);
			}
			/* An expired issued one too, and an unexpired one that
			 * names some of the configured names: the server serves
			 * them (cert_state.c). */
			size_t covered = ck && i == 0 ? wf_certkey_pem_covered(wf_buf_slice(&cert), c->domains,
									       c->ndomains) : 0;
			bool partial = covered > 0 && covered < c->ndomains && ck->not_after > time(NULL);
			if (ck && (i == 1 || covered == c->ndomains || partial)) {
				ci->found = true;
				ci->provisional = i == 1;
				ci->short_of_config = partial;
				ci->other_key_type = i == 0 && c->key_type && strcasecmp(ck->key_type, c->key_type) != 0;
				ci->names_removed = i == 0 && wf_certkey_names_beyond(ck, c->domains, c->ndomains) > 0;
				snprintf(ci->issuer, sizeof(ci->issuer), "%s", ck->issuer);
				snprintf(ci->serial, sizeof(ci->serial), "%s", ck->serial);
				ci->not_before = ck->not_before;
				ci->not_after = ck->not_after;
			}
			wf_certkey_unref(ck);
		}
		if (key.data)
			memset(key.data, 0, key.cap);
		if (cert.data) /* issued.pem: the key, then the chain */
			memset(cert.data, 0, cert.cap);
		wf_buf_fini(&cert);
		wf_buf_fini(&key);
	}
	close(dfd);
}

static json_object *time_or_null(time_t t)
{
	if (!t)
		return NULL;
	char s[32];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(s);
}

static json_object *collect(const wf_config_t *cfg)
{
	json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < cfg->ncertificates; i++) {
		const wf_cert_cfg_t *c = &cfg->certificates[i];
		cert_info_t ci;
		acme_status_rec_t rec;
		read_cert(cfg, c, &ci);
		acme_status_load(cfg->state_dir, c->name, &rec);
		json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(c->name));
		json_object *d = json_object_new_array();
		for (size_t j = 0; j < c->ndomains; j++)
			json_object_array_add(d, json_object_new_string(c->domains[j]));
		json_object_object_add(o, "domains", d);
		json_object_object_add(o, "acme", json_object_new_boolean(c->acme && cfg->acme.ncas > 0));
		json_object_object_add(o, "issuer", ci.found ? json_object_new_string(ci.issuer) : NULL);
		json_object_object_add(o, "serial", ci.found ? json_object_new_string(ci.serial) : NULL);
		json_object_object_add(o, "provisional", json_object_new_boolean(!ci.found || ci.provisional));
		json_object_object_add(o, "stored_error",
				       ci.stored_error[0] ? json_object_new_string(ci.stored_error) : NULL);
		json_object_object_add(o, "not_before", time_or_null(ci.not_before));
		json_object_object_add(o, "not_after", time_or_null(ci.not_after));
		time_t due = ci.found && !ci.short_of_config && !ci.other_key_type && !ci.names_removed ?
				     acme_renewal_time(ci.not_before, ci.not_after, ci.provisional) : 0;
		/* The daemon's ARI pick, when it is about the certificate on disk:
		 * one for its predecessor says nothing of it. */
		if (due && !ci.provisional && rec.ari_at && rec.ari_for[0] && strcasecmp(rec.ari_for, ci.serial) == 0)
			due = acme_renewal_time_ari(ci.not_before, ci.not_after, rec.ari_at);
		if (rec.next_attempt > due)
			due = rec.next_attempt;
		json_object_object_add(o, "next_renewal",
				       c->acme && cfg->acme.ncas ? time_or_null(due ? due : time(NULL)) : NULL);
		json_object_object_add(o, "failures", json_object_new_int(rec.failures));
		json_object_object_add(o, "last_error", rec.last_error[0] ? json_object_new_string(rec.last_error) : NULL);
		json_object_object_add(o, "last_error_local",
				       json_object_new_boolean(rec.last_error[0] && rec.last_error_local));
		json_object_object_add(o, "last_error_at", time_or_null(rec.last_error_at));
		/* The serial whose deploy hook has not exited 0 yet (running,
		 * failed and retried, or cut short): services that read its
		 * files may still be on an older certificate. */
		char pending[64];
		bool hooked = c->ndeploy_hook &&
			      wf_certstate_read_deploy_pending(cfg->state_dir, c->name, pending, sizeof(pending)) == WF_OK;
		json_object_object_add(o, "deploy_pending", hooked ? json_object_new_string(pending) : NULL);
		/* Only while it runs: a wait over is no news. */
		json_object_object_add(o, "ca_wait_until",
				       time_or_null(rec.ca_wait_until > time(NULL) ? rec.ca_wait_until : 0));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "certificates", arr);
	return root;
}

int acme_status_json(const wf_config_t *cfg, wf_buf_t *out)
{
	json_object *root = collect(cfg);
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = wf_buf_append_str(out, text);
	json_object_put(root);
	return rc;
}

static const char *str_or(json_object *o, const char *k, const char *dflt)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : dflt;
}

int acme_status_print(const wf_config_t *cfg, FILE *f)
{
	json_object *root = collect(cfg), *arr;
	json_object_object_get_ex(root, "certificates", &arr);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i), *d, *p;
		json_object_object_get_ex(o, "domains", &d);
		json_object_object_get_ex(o, "provisional", &p);
		fprintf(f, "%s\n  names:        ", str_or(o, "name", "?"));
		for (size_t j = 0; j < json_object_array_length(d); j++)
			fprintf(f, "%s%s", j ? ", " : "", json_object_get_string(json_object_array_get_idx(d, j)));
		/* Before the rest: it says why the certificate served is not the issued one. */
		if (str_or(o, "stored_error", NULL))
			fprintf(f, "\n  problem:      %s; the provisional certificate serves until a good one replaces it",
				str_or(o, "stored_error", ""));
		fprintf(f, "\n  issuer:       %s%s\n", str_or(o, "issuer", "(none yet)"),
			json_object_get_boolean(p) ? " (provisional, self-signed)" : "");
		/* Times are ISO 8601 in UTC: as strings they compare as times. */
		char now[32];
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
		const char *not_after = str_or(o, "not_after", NULL);
		fprintf(f, "  not after:    %s%s\n", not_after ? not_after : "-",
			not_after && strcmp(not_after, now) <= 0 ? " (EXPIRED)" : "");
		fprintf(f, "  next renewal: %s\n", str_or(o, "next_renewal", "- (no ACME)"));
		fprintf(f, "  last error:   %s%s%s\n", str_or(o, "last_error", "none"),
			str_or(o, "last_error_at", NULL) ? " at " : "", str_or(o, "last_error_at", ""));
		if (str_or(o, "deploy_pending", NULL))
			fprintf(f, "  deploy hook:  not done for serial %s (running, or failed and retried: see the log)\n",
				str_or(o, "deploy_pending", ""));
		if (str_or(o, "ca_wait_until", NULL))
			fprintf(f, "  CA wait:      until %s (the CA's Retry-After)\n", str_or(o, "ca_wait_until", ""));
	}
	json_object_put(root);
	return WF_OK;
}
