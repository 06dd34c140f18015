/* The upload form of HTML listings: see listing_form.h.
 *
 * The script is a constant, so its hash is too: the CSP names that hash
 * (script-src 'sha256-...'), never 'unsafe-inline', so nothing else a page
 * might come to hold (a name is always escaped, but should one ever slip
 * through) can run. Event handlers are attached by the script, as inline
 * ones (onclick=) would need 'unsafe-hashes'. There is no <form> element,
 * so nothing is ever submitted: every request is the script's own
 * XMLHttpRequest, which default-src 'none' would block, hence
 * connect-src 'self'.
 *
 * What the script relies on, as the server answers (transfer/exchange.c,
 * transfer/precond.c):
 * - PUT with If-None-Match: * onto a name a file (or anything) holds is
 *   412 before the body is read, so the user is asked before any byte is
 *   stored; the commit checks again right before its rename, so a file
 *   made meanwhile is not overwritten either (412 then too). Yes: the PUT
 *   is sent again without the header, replacing the file.
 * - Errors carry a text body "STATUS REASON: detail" (403 no write
 *   permission, 405 a folder has that name, 413, 507 ...). Over HTTP/2
 *   there is no reason phrase (statusText is empty), so the body's first
 *   line is what is shown; status 0 is a connection lost.
 * - Files go one after another, each with its own progress bar. Once all
 *   are done the page reloads to show them; when one failed it does not,
 *   so its reason stays readable, and a link reloads it.
 * - The folder's URL is location.pathname, as the browser encoded it; a
 *   name is added with encodeURIComponent (a name holds no '/'). */
#include "listing_form.h"
#include "../server/base64.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char xfer_listing_form_script[] =
	"(function () {\n"
	"\"use strict\";\n"
	"var d = document, dir = location.pathname, log = d.getElementById(\"wf-log\");\n"
	"var pick = d.getElementById(\"wf-files\"), send = d.getElementById(\"wf-send\");\n"
	"var fname = d.getElementById(\"wf-name\"), mk = d.getElementById(\"wf-mkdir\");\n"
	"function line(text) {\n"
	"\tvar li = d.createElement(\"li\"), s = d.createElement(\"span\");\n"
	"\ts.textContent = text;\n"
	"\tli.appendChild(s);\n"
	"\tlog.appendChild(li);\n"
	"\treturn s;\n"
	"}\n"
	"function why(x) {\n"
	"\tvar t = x.responseText.split(\"\\n\")[0];\n"
	"\treturn x.status ? t || x.status + \" \" + x.statusText : \"no answer: the connection was lost\";\n"
	"}\n"
	"function ended(failed) {\n"
	"\tif (!failed)\n"
	"\t\treturn location.reload();\n"
	"\tvar a = d.createElement(\"a\");\n"
	"\ta.href = \"\";\n"
	"\ta.textContent = \"Reload the folder\";\n"
	"\tline(\"\").appendChild(a);\n"
	"}\n"
	"function put(f, s, bar, replace, next) {\n"
	"\tvar x = new XMLHttpRequest();\n"
	"\tx.open(\"PUT\", dir + encodeURIComponent(f.name));\n"
	"\tif (!replace)\n"
	"\t\tx.setRequestHeader(\"If-None-Match\", \"*\");\n"
	"\tx.upload.onprogress = function (e) {\n"
	"\t\tif (e.lengthComputable) {\n"
	"\t\t\tbar.max = e.total;\n"
	"\t\t\tbar.value = e.loaded;\n"
	"\t\t}\n"
	"\t};\n"
	"\tx.onloadend = function () {\n"
	"\t\tif (x.status === 412 && !replace) {\n"
	"\t\t\tif (confirm(\"Replace \" + f.name + \"?\"))\n"
	"\t\t\t\treturn put(f, s, bar, true, next);\n"
	"\t\t\ts.textContent = f.name + \": not replaced\";\n"
	"\t\t\treturn next(true);\n"
	"\t\t}\n"
	"\t\tif (x.status >= 200 && x.status < 300) {\n"
	"\t\t\tbar.value = bar.max;\n"
	"\t\t\ts.textContent = f.name + \": uploaded\";\n"
	"\t\t\treturn next(true);\n"
	"\t\t}\n"
	"\t\ts.textContent = f.name + \": \" + why(x);\n"
	"\t\tnext(false);\n"
	"\t};\n"
	"\tx.send(f);\n"
	"}\n"
	"function upload() {\n"
	"\tvar files = Array.prototype.slice.call(pick.files), i = 0, failed = false;\n"
	"\tif (!files.length)\n"
	"\t\treturn;\n"
	"\tpick.disabled = send.disabled = true;\n"
	"\t(function next(ok) {\n"
	"\t\tfailed = failed || ok === false;\n"
	"\t\tif (i === files.length)\n"
	"\t\t\treturn ended(failed);\n"
	"\t\tvar f = files[i++], s = line(f.name), bar = d.createElement(\"progress\");\n"
	"\t\ts.parentNode.insertBefore(bar, s);\n"
	"\t\ts.parentNode.insertBefore(d.createTextNode(\" \"), s);\n"
	"\t\tbar.value = 0;\n"
	"\t\tput(f, s, bar, false, next);\n"
	"\t})();\n"
	"}\n"
	"function mkdir() {\n"
	"\tvar n = fname.value, s;\n"
	"\tif (!n)\n"
	"\t\treturn;\n"
	"\ts = line(n + \"/\");\n"
	"\tvar x = new XMLHttpRequest();\n"
	"\tx.open(\"MKCOL\", dir + encodeURIComponent(n) + \"/\");\n"
	"\tx.onloadend = function () {\n"
	"\t\tif (x.status >= 200 && x.status < 300)\n"
	"\t\t\treturn location.reload();\n"
	"\t\ts.textContent = n + \"/: \" + why(x);\n"
	"\t};\n"
	"\tx.send();\n"
	"}\n"
	"if (send)\n"
	"\tsend.addEventListener(\"click\", upload);\n"
	"if (mk) {\n"
	"\tmk.addEventListener(\"click\", mkdir);\n"
	"\tfname.addEventListener(\"keydown\", function (e) {\n"
	"\t\tif (e.key === \"Enter\")\n"
	"\t\t\tmkdir();\n"
	"\t});\n"
	"}\n"
	"})();\n";

static const char csp_prefix[] = XFER_LISTING_CSP "; script-src 'sha256-";
static const char csp_suffix[] = "'; connect-src 'self'";
/* The prefix, 44 characters of base64 (32 bytes), the suffix. */
static char csp[sizeof(csp_prefix) + 44 + sizeof(csp_suffix)];

int xfer_listing_form_init(void)
{
	unsigned char digest[32];
	char b64[45];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, xfer_listing_form_script, strlen(xfer_listing_form_script), digest) <
		    0 ||
	    wf_base64_encode(digest, sizeof(digest), b64, sizeof(b64)) != 44)
		return WF_ERR;
	snprintf(csp, sizeof(csp), "%s%s%s", csp_prefix, b64, csp_suffix);
	return WF_OK;
}

const char *xfer_listing_form_csp(void)
{
	if (!csp[0])
		abort(); /* a bug: xfer_listing_form_init did not run at start-up */
	return csp;
}

int xfer_listing_form_append(wf_buf_t *out, unsigned tools)
{
	if (!tools)
		return WF_OK;
	if (wf_buf_append_str(out, "<div>\n") != WF_OK)
		return WF_ERR;
	if ((tools & XFER_LISTING_UPLOAD) &&
	    wf_buf_append_str(out, "<p><label>Files: <input type=\"file\" id=\"wf-files\" multiple></label> "
				   "<button type=\"button\" id=\"wf-send\">Upload</button></p>\n") != WF_OK)
		return WF_ERR;
	if ((tools & XFER_LISTING_MKDIR) &&
	    wf_buf_append_str(out, "<p><label>Folder name: <input type=\"text\" id=\"wf-name\"></label> "
				   "<button type=\"button\" id=\"wf-mkdir\">New folder</button></p>\n") != WF_OK)
		return WF_ERR;
	if (wf_buf_append_str(out, "<ul id=\"wf-log\"></ul>\n</div>\n<script>") != WF_OK ||
	    wf_buf_append_str(out, xfer_listing_form_script) != WF_OK ||
	    wf_buf_append_str(out, "</script>\n") != WF_OK)
		return WF_ERR;
	return WF_OK;
}
