/* Cluster bundles and secrets: see cluster.h. */
#include "cluster.h"
#include "../server/cert_state.h"
#include "../server/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>


bool acme_cluster_is_controller(const wf_config_t *cfg)
{
	return cfg->cluster.role && strcmp(cfg->cluster.role, "controller") == 0;
}

bool acme_cluster_is_follower(const wf_config_t *cfg)
{
	return cfg->cluster.role && strcmp(cfg->cluster.role, "follower") == 0;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void acme_cluster_mac(const char *secret, wf_slice_t body, char out[65])
{
	unsigned char mac[32];
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, strlen(secret), body.ptr, body.len, mac) < 0)
		memset(mac, 0, sizeof(mac));
	hex(mac, sizeof(mac), out);
}

bool acme_cluster_secret_ok(const wf_config_t *cfg, wf_slice_t authorization)
{
	const char *secret = cfg->cluster.secret;
	if (!secret || !secret[0])
		return false;
	wf_slice_t v = wf_slice_trim(authorization);
	if (v.len < 7 || !wf_slice_eq_ci((wf_slice_t){ v.ptr, 7 }, "Bearer "))
		return false;
	wf_slice_t given = wf_slice_trim((wf_slice_t){ v.ptr + 7, v.len - 7 });
	/* Compare MACs of both, so the time taken says nothing about the secret. */
	char a[65], b[65];
	acme_cluster_mac(secret, given, a);
	acme_cluster_mac(secret, (wf_slice_t){ secret, strlen(secret) }, b);
	return gnutls_memcmp(a, b, 64) == 0;
}

int acme_cluster_bundle(const wf_config_t *cfg, const char *name, wf_buf_t *pem, char etag[72], char mac[65])
{
	if (!wf_config_cert(cfg, name))
		return WF_DECLINED;
	int rc = wf_certstate_read_issued(cfg->state_dir, name, pem);
	if (rc != WF_OK)
		return rc;
	unsigned char digest[32];
	gnutls_hash_fast(GNUTLS_DIG_SHA256, wf_buf_head(pem), wf_buf_size(pem), digest);
	char h[65];
	hex(digest, 16, h);
	snprintf(etag, 72, "\"%s\"", h);
	acme_cluster_mac(cfg->cluster.secret, wf_buf_slice(pem), mac);
	return WF_OK;
}

void acme_cluster_thumbprint(const char *state_dir, char *out, size_t cap)
{
	out[0] = '\0';
	char path[4200];
	snprintf(path, sizeof(path), "%s/acme", state_dir);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	wf_buf_t b;
	wf_buf_init(&b, 8192); /* wf_durable_read reads in 4 KiB steps */
	if (wf_durable_read(dfd, "thumbprint", 200, &b) == WF_OK && wf_buf_size(&b) < cap) {
		memcpy(out, wf_buf_head(&b), wf_buf_size(&b));
		out[wf_buf_size(&b)] = '\0';
		/* Only base64url: it goes into responses and headers. */
		for (char *p = out; *p; p++)
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
			      *p == '_')) {
				out[0] = '\0';
				break;
			}
	}
	wf_buf_fini(&b);
	close(dfd);
}

int acme_cluster_thumbprint_save(const char *state_dir, const char *thumbprint)
{
	char cur[128];
	acme_cluster_thumbprint(state_dir, cur, sizeof(cur));
	if (strcmp(cur, thumbprint) == 0)
		return WF_OK;
	char path[4200];
	snprintf(path, sizeof(path), "%s/acme", state_dir);
	if (wf_durable_mkdirs(path, 0700) != WF_OK)
		return WF_ERR;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return WF_ERR;
	int rc = wf_durable_write(dfd, "thumbprint", thumbprint, strlen(thumbprint), 0644);
	close(dfd);
	return rc;
}
