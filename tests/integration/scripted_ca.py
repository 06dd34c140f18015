"""A scripted ACME CA on loopback, for faults no real CA (Pebble) can be
made to produce: certificates outside their dates, a renewal window that
closed long ago, Retry-After: 0 on an order that stays processing. It
checks no signature and validates nothing: every order is born ready (no
authorizations), and the certificate is made at download for the key of
the CSR, by an issuing CA of its own. Runs in the test's process, on a
thread; requests are counted by kind (self.count)."""

import base64
import datetime
import http.server
import ipaddress
import json
import os
import ssl
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DAY = datetime.timedelta(days=1)


def _cert(cn, pub, issuer, issuer_key, not_before, not_after, sans=None, ca=False, aki=False):
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .issuer_name(issuer).public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if aki:  # what an ARI certificate ID is made of (RFC 9773 4.1)
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                            critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class ScriptedCA:
    """mode: "normal", "expired" (certificates that ended yesterday),
    "future" (that begin in a month), "padded" (a good chain padded with
    300 KiB of blank lines), "ari_past" (a renewalInfo window that
    closed days ago), "processing_ra0" (orders that stay processing, each
    poll answered with Retry-After: 0), "relative_location" (a new order's
    Location is a path), "stays_ready" (an order left ready after its
    finalize), "forgets_account" (an order of two authorizations, each
    answered accountDoesNotExist half a second later, and the account not
    to be had again: newAccount answers 500 after the first)."""

    ISSUER_CN = "scripted issuing ca"

    def __init__(self, mode):
        self.mode = mode
        self.dir = tempfile.mkdtemp(prefix="wharf-scripted-ca-")
        os.chmod(self.dir, 0o755)
        self.lock = threading.Lock()
        self.counts = {}
        now = datetime.datetime.now(datetime.timezone.utc)
        self.now = now
        root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scripted tls root")])
        root = _cert("scripted tls root", root_key.public_key(), root_name, root_key, now - DAY, now + 30 * DAY, ca=True)
        tls_key = ec.generate_private_key(ec.SECP256R1())
        tls = _cert("127.0.0.1", tls_key.public_key(), root_name, root_key, now - DAY, now + 30 * DAY,
                    sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        self.ca_file = os.path.join(self.dir, "tls-root.pem")
        with open(self.ca_file, "wb") as f:
            f.write(root.public_bytes(serialization.Encoding.PEM))
        os.chmod(self.ca_file, 0o644)
        cert_path, key_path = os.path.join(self.dir, "tls.pem"), os.path.join(self.dir, "tls.key")
        with open(cert_path, "wb") as f:
            f.write(tls.public_bytes(serialization.Encoding.PEM))
        with open(key_path, "wb") as f:
            f.write(tls_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        self.issuer_key = ec.generate_private_key(ec.SECP256R1())
        self.issuer_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.ISSUER_CN)])
        self.issuer = _cert(self.ISSUER_CN, self.issuer_key.public_key(), self.issuer_name, self.issuer_key,
                            now - DAY, now + 3650 * DAY, ca=True)
        self.csr_key = None
        self.names = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_path, key_path)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.base = "https://127.0.0.1:%d" % self.port
        self.directory = self.base + "/dir"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self, kind):
        with self.lock:
            return self.counts.get(kind, 0)

    def _note(self, kind):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def acme_config(self):
        return ('acme = { contact = "admin@wharf.test"; retry_interval = 1; request_timeout = 10;\n'
                '  order_timeout = 60; preflight_port = 0;\n'
                '  cas = ( { url = "%s"; ca_bundle = "%s"; } ); };\n' % (self.directory, self.ca_file))

    def _issue(self):
        if self.mode == "expired":
            nb, na = self.now - 10 * DAY, self.now - DAY
        elif self.mode == "future":
            nb, na = self.now + 30 * DAY, self.now + 120 * DAY
        else:  # from the moment of issuance, as a CA does (a renewal begins later)
            now = datetime.datetime.now(datetime.timezone.utc)
            nb, na = now - datetime.timedelta(seconds=1), now + 90 * DAY
        leaf = _cert(self.names[0], self.csr_key, self.issuer_name, self.issuer_key, nb, na,
                     sans=[x509.DNSName(n) for n in self.names], aki=True)
        pem = leaf.public_bytes(serialization.Encoding.PEM) + self.issuer.public_bytes(serialization.Encoding.PEM)
        return pem + b"\n" * (300 * 1024) if self.mode == "padded" else pem

    def _handler(self):
        ca = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, status, body=b"", ctype="application/json", headers=()):
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Replay-Nonce", base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode())
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self):
                self.send(200)

            def do_GET(self):
                if self.path == "/dir":
                    d = {"newNonce": ca.base + "/nonce", "newAccount": ca.base + "/acct",
                         "newOrder": ca.base + "/new-order", "revokeCert": ca.base + "/revoke"}
                    if ca.mode == "ari_past":
                        d["renewalInfo"] = ca.base + "/ari"
                    self.send(200, d)
                elif self.path.startswith("/ari/"):
                    ca._note("ari")
                    closed = ca.now - 2 * DAY
                    window = {"start": (closed - DAY).strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "end": closed.strftime("%Y-%m-%dT%H:%M:%SZ")}
                    self.send(200, {"suggestedWindow": window})
                else:
                    self.send(404, {})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    jws = json.loads(raw)
                    payload = json.loads(_b64d(jws["payload"])) if jws.get("payload") else None
                except (ValueError, KeyError):
                    payload = None
                p = self.path
                if p == "/acct":
                    ca._note("acct")
                    if ca.mode == "forgets_account" and ca.count("acct") > 1:
                        self.send(500, {"type": "urn:ietf:params:acme:error:serverInternal", "detail": "down"},
                                  ctype="application/problem+json")
                        return
                    self.send(200, {"status": "valid"}, headers=[("Location", ca.base + "/acct/1")])
                elif p.startswith("/authz/"):
                    ca._note("authz")
                    time.sleep(0.5)  # both in flight when the first refusal comes
                    self.send(400, {"type": "urn:ietf:params:acme:error:accountDoesNotExist", "detail": "gone"},
                              ctype="application/problem+json")
                elif p == "/new-order":
                    ca._note("order")
                    ca.names = [i["value"] for i in payload["identifiers"]]
                    # RFC 9110 10.2.2 allows a relative Location.
                    where = "/order/1" if ca.mode == "relative_location" else ca.base + "/order/1"
                    if ca.mode == "forgets_account":
                        self.send(201, {"status": "pending", "identifiers": payload["identifiers"],
                                        "authorizations": [ca.base + "/authz/1", ca.base + "/authz/2"],
                                        "finalize": ca.base + "/finalize/1"}, headers=[("Location", where)])
                        return
                    self.send(201, {"status": "ready", "identifiers": payload["identifiers"], "authorizations": [],
                                    "finalize": ca.base + "/finalize/1"}, headers=[("Location", where)])
                elif p.startswith("/finalize/"):
                    ca._note("finalize")
                    csr = x509.load_der_x509_csr(_b64d(payload["csr"]))
                    ca.csr_key = csr.public_key()
                    status = "ready" if ca.mode == "stays_ready" else "processing"
                    self.send(200, {"status": status, "authorizations": [], "finalize": ca.base + p},
                              headers=[("Location", ca.base + "/order/1")])
                elif p.startswith("/order/"):
                    ca._note("poll")
                    if ca.mode == "stays_ready":
                        self.send(200, {"status": "ready", "authorizations": [], "finalize": ca.base + "/finalize/1"})
                        return
                    if ca.mode == "processing_ra0":
                        self.send(200, {"status": "processing", "authorizations": [],
                                        "finalize": ca.base + "/finalize/1"}, headers=[("Retry-After", "0")])
                        return
                    self.send(200, {"status": "valid", "authorizations": [], "finalize": ca.base + "/finalize/1",
                                    "certificate": ca.base + "/cert/1"})
                elif p.startswith("/cert/"):
                    ca._note("download")
                    self.send(200, ca._issue(), ctype="application/pem-certificate-chain")
                else:
                    self.send(404, {})

        return Handler
