/* Certificate events to hooks and webhooks: see events.h. */
#include "events.h"
#include "command.h"
#include "../server/log.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOOK_TIMEOUT 60.0

/* One deploy hook running: the command's owner, so that its end reaches
 * the deployment that started it with the generation it gave. */
typedef struct deploy_run {
	acme_events_t *ev;       /* borrowed: the owner of the list */
	acme_deploy_done_cb cb;  /* NULL once its caller is gone */
	void *arg;               /* borrowed: the caller's */
	unsigned gen;
	struct deploy_run *next;
} deploy_run_t;

struct acme_events {
	struct ev_loop *loop;
	wf_config_t *cfg;   /* owned reference */
	acme_http_t *http;  /* owned, made on the first webhook */
	size_t deploy_failures; /* deploy hooks that failed or could not start */
	deploy_run_t *deploys;  /* owned: deploy hooks running */
};

bool acme_events_busy(const acme_events_t *ev)
{
	return ev && (acme_cmd_running(ev) || ev->deploys || (ev->http && acme_http_active(ev->http) > 0));
}

static const char *kind_name(acme_event_kind_t k)
{
	return k == ACME_EVENT_ISSUED ? "issued" : k == ACME_EVENT_FAILED ? "failed" : "expiring";
}

/* The event's variables for a hook, NULL-terminated (free with free_vars). */
static char **make_vars(const acme_event_t *e, const char *state_dir)
{
	char **vars = calloc(10, sizeof(char *));
	size_t k = 0;
	/* 100 names of up to 253 bytes: sized by the buffer, not guessed. */
	wf_buf_t domains;
	wf_buf_init(&domains, 64 * 1024);
	for (size_t i = 0; i < e->cert->ndomains; i++)
		wf_buf_printf(&domains, "%s%s", i ? " " : "", e->cert->domains[i]);
	wf_buf_append(&domains, "", 1);
	/* With an output_dir, the files a service loads (a hook written for
	 * certbot copies them); else issued.pem, which holds the key, then
	 * the chain, so that a hook never publishes a key as a certificate
	 * by mistake where the two can be told apart. */
	char cert_file[4200], key_file[4200];
	if (e->cert->output_dir && e->cert->output_dir[0]) {
		snprintf(cert_file, sizeof(cert_file), "%s/fullchain.pem", e->cert->output_dir);
		snprintf(key_file, sizeof(key_file), "%s/privkey.pem", e->cert->output_dir);
	} else {
		snprintf(cert_file, sizeof(cert_file), "%s/certs/%s/issued.pem", state_dir, e->cert->name);
		snprintf(key_file, sizeof(key_file), "%s", cert_file);
	}
	if (!vars || asprintf(&vars[k++], "WHARF_EVENT=%s", kind_name(e->kind)) < 0 ||
	    asprintf(&vars[k++], "WHARF_CERT_NAME=%s", e->cert->name) < 0 ||
	    asprintf(&vars[k++], "WHARF_DOMAINS=%s", wf_buf_head(&domains)) < 0 ||
	    asprintf(&vars[k++], "WHARF_DOMAIN=%s", e->domain ? e->domain : "") < 0 ||
	    asprintf(&vars[k++], "WHARF_PROBLEM=%s", e->problem ? e->problem : "") < 0 ||
	    asprintf(&vars[k++], "WHARF_DETAIL=%s", e->detail ? e->detail : "") < 0 ||
	    asprintf(&vars[k++], "WHARF_CERT_FILE=%s", cert_file) < 0 ||
	    asprintf(&vars[k++], "WHARF_KEY_FILE=%s", key_file) < 0 ||
	    asprintf(&vars[k++], "WHARF_OUTPUT_DIR=%s", e->cert->output_dir ? e->cert->output_dir : "") < 0)
		abort();
	wf_buf_fini(&domains);
	return vars;
}

static void free_vars(char **vars)
{
	for (size_t i = 0; vars[i]; i++)
		free(vars[i]);
	free(vars);
}

static void on_webhook(void *arg, const acme_http_resp_t *resp)
{
	if (resp->curl_code)
		wf_log_error("webhook: no answer: %s", resp->error);
	else if (resp->status >= 300)
		wf_log_error("webhook: answered HTTP %ld", resp->status);
	else
		wf_log_debug("webhook: delivered (HTTP %ld)", resp->status);
}

static void send_mail(acme_events_t *ev, const acme_event_t *e);

static void on_deploy_done(void *owner, bool ok)
{
	deploy_run_t *run = owner;
	acme_events_t *ev = run->ev;
	for (deploy_run_t **pp = &ev->deploys; *pp; pp = &(*pp)->next)
		if (*pp == run) {
			*pp = run->next;
			break;
		}
	if (!ok)
		ev->deploy_failures++;
	if (run->cb)
		run->cb(run->arg, run->gen, ok);
	free(run);
}

void acme_events_emit(acme_events_t *ev, const acme_event_t *e)
{
	char **vars = make_vars(e, ev->cfg->state_dir);
	char what[160];
	if (e->kind == ACME_EVENT_ISSUED && e->cert->ndeploy_hook && e->no_deploy) {
		wf_log_error("certificate %s: deploy hook not run: the output files were not updated (see above)%s",
			     e->cert->name, e->deploy_later ? "; it runs once they are" : "");
	}
	if (ev->cfg->acme.nevent_hook) {
		snprintf(what, sizeof(what), "certificate %s: event hook (%s)", e->cert->name, kind_name(e->kind));
		acme_cmd_run(ev->loop, ev->cfg->acme.event_hook, ev->cfg->acme.nevent_hook, NULL, vars, HOOK_TIMEOUT,
			     what, NULL, ev);
	}
	free_vars(vars);
	if (ev->cfg->acme.webhook[0]) {
		if (!ev->http)
			ev->http = acme_http_new(ev->loop, NULL, "wharf/" WHARF_VERSION);
		json_object *o = json_object_new_object();
		json_object_object_add(o, "event", json_object_new_string(kind_name(e->kind)));
		json_object_object_add(o, "certificate", json_object_new_string(e->cert->name));
		json_object_object_add(o, "domain", json_object_new_string(e->domain ? e->domain : ""));
		json_object_object_add(o, "problem", json_object_new_string(e->problem ? e->problem : ""));
		json_object_object_add(o, "detail", json_object_new_string(e->detail ? e->detail : ""));
		const char *body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		if (!ev->http || !acme_http_request(ev->http, "POST", ev->cfg->acme.webhook, "application/json",
						    (wf_slice_t){ body, strlen(body) }, 30, on_webhook, NULL))
			wf_log_error("webhook: cannot send to %s", ev->cfg->acme.webhook);
		json_object_put(o);
	}
	send_mail(ev, e);
}

bool acme_events_deploy(acme_events_t *ev, const wf_cert_cfg_t *cert, acme_deploy_done_cb cb, void *arg,
			unsigned gen)
{
	if (!cert->ndeploy_hook)
		return false;
	deploy_run_t *run = calloc(1, sizeof(*run));
	if (!run) {
		wf_log_error("certificate %s: deploy hook: out of memory, not run", cert->name);
		ev->deploy_failures++;
		return false;
	}
	*run = (deploy_run_t){ ev, cb, arg, gen, NULL };
	acme_event_t e = { ACME_EVENT_ISSUED, cert, cert->domains[0], "", "", false };
	char **vars = make_vars(&e, ev->cfg->state_dir);
	char what[160];
	snprintf(what, sizeof(what), "certificate %s: deploy hook", cert->name);
	bool started = acme_cmd_run(ev->loop, cert->deploy_hook, cert->ndeploy_hook, NULL, vars, HOOK_TIMEOUT, what,
				    on_deploy_done, run);
	free_vars(vars);
	if (!started) {
		ev->deploy_failures++;
		free(run);
		return false;
	}
	run->next = ev->deploys;
	ev->deploys = run;
	return true;
}

void acme_events_deploy_forget(acme_events_t *ev, void *arg)
{
	for (deploy_run_t *run = ev ? ev->deploys : NULL; run; run = run->next)
		if (run->arg == arg)
			run->cb = NULL;
}

const char *acme_events_state_dir(const acme_events_t *ev)
{
	return ev->cfg->state_dir;
}

size_t acme_events_deploy_failures(const acme_events_t *ev)
{
	return ev ? ev->deploy_failures : 0;
}

static void on_mail(void *arg, const acme_http_resp_t *resp)
{
	(void)arg;
	if (resp->curl_code)
		wf_log_error("alert mail: not sent: %s", resp->error);
	else
		wf_log_info("alert mail: sent");
}

/* Header values we write ourselves: a CR or LF from a name would add headers. */
static void header_safe(char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			*s = ' ';
}

/* Failures and near expiry also go out as mail through the SMTP relay. */
static void send_mail(acme_events_t *ev, const acme_event_t *e)
{
	const wf_config_t *cfg = ev->cfg;
	if (!cfg->acme.mail_relay[0] || !cfg->acme.nmail_to || e->kind == ACME_EVENT_ISSUED)
		return;
	if (!ev->http)
		ev->http = acme_http_new(ev->loop, NULL, "wharf/" WHARF_VERSION);
	wf_buf_t msg;
	wf_buf_init(&msg, 256 * 1024);
	char date[64], subject[512];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(subject, sizeof(subject), "[wharf] certificate %s: %s", e->cert->name,
		 e->deploy_failed		? "deploy hook failed"
		 : e->kind == ACME_EVENT_FAILED ? "renewal failed"
						: "expiring soon");
	header_safe(subject);
	wf_buf_printf(&msg, "From: <%s>\r\nTo: ", cfg->acme.mail_from);
	for (size_t i = 0; i < cfg->acme.nmail_to; i++)
		wf_buf_printf(&msg, "%s<%s>", i ? ", " : "", cfg->acme.mail_to[i]);
	wf_buf_printf(&msg, "\r\nSubject: %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			    "Auto-Submitted: auto-generated\r\n\r\n", subject, date);
	wf_buf_printf(&msg, "Certificate: %s\r\nEvent: %s\r\nDomains:", e->cert->name, kind_name(e->kind));
	for (size_t i = 0; i < e->cert->ndomains; i++)
		wf_buf_printf(&msg, " %s", e->cert->domains[i]);
	/* The CA's words go in the body only, line ends made CRLF by curl. */
	wf_buf_printf(&msg, "\r\nDomain: %s\r\nProblem: %s\r\nDetail: %s\r\n", e->domain ? e->domain : "",
		      e->problem ? e->problem : "", e->detail ? e->detail : "");
	char from[512];
	snprintf(from, sizeof(from), "<%s>", cfg->acme.mail_from);
	const char *rcpt[65];
	char rcpt_buf[64][320];
	size_t n = 0;
	for (; n < cfg->acme.nmail_to && n < 64; n++) {
		snprintf(rcpt_buf[n], sizeof(rcpt_buf[n]), "<%s>", cfg->acme.mail_to[n]);
		rcpt[n] = rcpt_buf[n];
	}
	rcpt[n] = NULL;
	if (!ev->http || !acme_http_mail(ev->http, cfg->acme.mail_relay, from, rcpt, wf_buf_slice(&msg), 30, on_mail, NULL))
		wf_log_error("alert mail: cannot send through %s", cfg->acme.mail_relay);
	wf_buf_fini(&msg);
}

acme_events_t *acme_events_new(struct ev_loop *loop, wf_config_t *cfg)
{
	acme_events_t *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return NULL;
	ev->loop = loop;
	ev->cfg = wf_config_ref(cfg);
	return ev;
}

void acme_events_free(acme_events_t *ev)
{
	if (!ev)
		return;
	acme_cmd_forget(ev); /* running hooks are left to finish */
	while (ev->deploys) {
		deploy_run_t *run = ev->deploys;
		ev->deploys = run->next;
		acme_cmd_forget(run);
		free(run);
	}
	acme_http_free(ev->http);
	wf_config_unref(ev->cfg);
	free(ev);
}
