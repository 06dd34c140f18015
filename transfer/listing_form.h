/* The upload form of HTML folder listings: what a browser user who may
 * write or make folders gets on the page, its one inline script, and the
 * Content-Security-Policy that lets exactly that script run.
 *
 * The script does its work with the requests every client uses: a PUT per
 * chosen file (first with If-None-Match: *, so an existing file is only
 * replaced once the user says so), a MKCOL for a new folder. There is no
 * form submission and no other request kind. */
#ifndef XFER_LISTING_FORM_H
#define XFER_LISTING_FORM_H

#include "../server/buf.h"

/* What a listing offers besides its links (bits; 0: nothing, the page as
 * for a user who may only read). */
enum {
	XFER_LISTING_UPLOAD = 1 << 0, /* files chosen in the browser, PUT here */
	XFER_LISTING_MKDIR = 1 << 1,  /* a folder made here, MKCOL */
};

/* The CSP of a listing that offers nothing: no script, no requests. */
#define XFER_LISTING_CSP "default-src 'none'; style-src 'unsafe-inline'"

/* Computes the script's hash for xfer_listing_form_csp: once, at start-up,
 * before any worker runs. WF_OK, or WF_ERR (the hash could not be made). */
int xfer_listing_form_init(void);

/* The CSP of a listing that offers something: XFER_LISTING_CSP, plus the
 * form's script by its hash and requests to the page's own origin. Aborts
 * when xfer_listing_form_init has not run (a bug). */
const char *xfer_listing_form_csp(void);

/* Appends the form for tools (XFER_LISTING_* bits; nothing for 0), its
 * script with it. Its size depends on tools alone. WF_OK, or WF_ERR at
 * out's cap. */
int xfer_listing_form_append(wf_buf_t *out, unsigned tools);

/* The script's exact bytes (between <script> and </script>): what the
 * CSP's hash is of. */
extern const char xfer_listing_form_script[];

#endif
