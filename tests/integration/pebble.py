"""A throw-away ACME CA for tests: Debian's pebble and pebble-challtestsrv on
loopback, fresh per test class. challtestsrv is only Pebble's DNS (every name
resolves to 127.0.0.1, no AAAA); the server under test answers HTTP-01 on
http_port and TLS-ALPN-01 on tls_port itself. Every wait is bounded."""

import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import harness


class Pebble:
    def __init__(self, validity=0, nonce_reject=None, nosleep=True, eab_required=False, extra_env=None):
        self.dir = tempfile.mkdtemp(prefix="wharf-pebble-")
        os.chmod(self.dir, 0o755)
        self.port = harness.free_port()
        self.mgmt_port = harness.free_port()
        self.dns_port = harness.free_port()
        self.chall_mgmt_port = harness.free_port()
        self.http_port = harness.free_port()   # where the VA sends HTTP-01 requests
        self.tls_port = harness.free_port()    # where the VA sends TLS-ALPN-01 handshakes
        self.validity = validity
        self.env = dict(os.environ)
        self.env["PEBBLE_VA_NOSLEEP"] = "1" if nosleep else "0"
        if nonce_reject is not None:
            self.env["PEBBLE_WFE_NONCEREJECT"] = str(nonce_reject)
        self.env.update(extra_env or {})
        self.eab_required = eab_required
        # Test names resolve only in Pebble's DNS, so the self-check is off unless a test wants it.
        self.preflight_port = 0
        self.eab_kid = "kid-1"
        self.eab_hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
        self.procs = []
        self._make_tls()

    @property
    def directory(self):
        return "https://127.0.0.1:%d/dir" % self.port

    @property
    def ca_file(self):
        return os.path.join(self.dir, "ca.pem")

    def _run(self, args):
        subprocess.run(args, capture_output=True, check=True, timeout=60)

    def _make_tls(self):
        d = self.dir
        self._run(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "30",
                   "-subj", "/CN=wharf test ACME endpoint CA", "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        self._run(["openssl", "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                   "-keyout", d + "/pebble.key", "-out", d + "/pebble.csr", "-subj", "/CN=localhost"])
        with open(d + "/pebble.ext", "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
        self._run(["openssl", "x509", "-req", "-in", d + "/pebble.csr", "-CA", d + "/ca.pem", "-CAkey",
                   d + "/ca.key", "-CAcreateserial", "-days", "30", "-extfile", d + "/pebble.ext",
                   "-out", d + "/pebble.pem"])
        os.chmod(d + "/ca.pem", 0o644)

    def start(self):
        cfg = {"pebble": {
            "listenAddress": "127.0.0.1:%d" % self.port,
            "managementListenAddress": "127.0.0.1:%d" % self.mgmt_port,
            "certificate": self.dir + "/pebble.pem", "privateKey": self.dir + "/pebble.key",
            "httpPort": self.http_port, "tlsPort": self.tls_port, "ocspResponderURL": "",
            "externalAccountBindingRequired": self.eab_required,
            "externalAccountMACKeys": {self.eab_kid: self.eab_hmac},
            "domainBlocklist": ["blocked.example"]}}
        if self.validity:
            cfg["pebble"]["certificateValidityPeriod"] = self.validity
        with open(self.dir + "/pebble.json", "w") as f:
            json.dump(cfg, f)
        self.chall_log = open(self.dir + "/challtestsrv.log", "ab")
        self.procs.append(subprocess.Popen(
            ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-dns01", "127.0.0.1:%d" % self.dns_port, "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-management", "127.0.0.1:%d" % self.chall_mgmt_port],
            stdout=self.chall_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        self.start_pebble()
        return self

    def start_pebble(self):
        if getattr(self, "log_f", None):
            self.log_f.close()
        self.log_f = open(self.dir + "/pebble.log", "ab")
        self.pebble = subprocess.Popen(
            ["pebble", "-config", self.dir + "/pebble.json", "-dnsserver", "127.0.0.1:%d" % self.dns_port],
            stdout=self.log_f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env)
        self.procs.append(self.pebble)
        ctx = ssl.create_default_context(cafile=self.ca_file)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.pebble.poll() is not None:
                raise RuntimeError("pebble exited:\n" + self.log())
            try:
                urllib.request.urlopen(self.directory, context=ctx, timeout=2).read()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("pebble did not answer within 20 s:\n" + self.log())

    def stop_pebble(self):
        if self.pebble.poll() is None:
            self.pebble.send_signal(signal.SIGTERM)
            try:
                self.pebble.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.pebble.kill()
                self.pebble.wait(timeout=5)

    def root_pem(self):
        """Pebble's issuing root (it changes at every Pebble start)."""
        ctx = ssl.create_default_context(cafile=self.ca_file)
        url = "https://127.0.0.1:%d/roots/0" % self.mgmt_port
        return urllib.request.urlopen(url, context=ctx, timeout=10).read().decode()

    def log(self):
        try:
            with open(self.dir + "/pebble.log", "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def https_front(self, handler, port):
        """An HTTPS server on 127.0.0.1:port with this Pebble's endpoint certificate
        (so wharf trusts it through the same ca_bundle), serving in a thread.
        Stand-in for CA features or faults Pebble 2.4.0 cannot produce."""
        return harness.https_server(handler, self.dir + "/pebble.pem", self.dir + "/pebble.key", port)

    def deactivate_account(self, key_pem_path):
        """Deactivates, at this Pebble, the account of the key in key_pem_path
        (an EC P-256 PEM), as its holder would (RFC 8555 7.3.6). Returns the
        account URL."""
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        with open(key_pem_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        pub = key.public_key().public_numbers()

        def b64(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

        jwk = {"crv": "P-256", "kty": "EC", "x": b64(pub.x.to_bytes(32, "big")), "y": b64(pub.y.to_bytes(32, "big"))}
        ctx = ssl.create_default_context(cafile=self.ca_file)
        directory = json.load(urllib.request.urlopen(self.directory, context=ctx, timeout=10))

        def nonce():
            req = urllib.request.Request(directory["newNonce"], method="HEAD")
            return urllib.request.urlopen(req, context=ctx, timeout=10).headers["Replay-Nonce"]

        def post(url, payload, kid=None):
            # Pebble refuses a share of good nonces (badNonce) on purpose:
            # sign again with a fresh one, as any client must.
            for _ in range(20):
                protected = {"alg": "ES256", "nonce": nonce(), "url": url}
                protected.update({"kid": kid} if kid else {"jwk": jwk})
                p64, b64payload = b64(json.dumps(protected).encode()), b64(json.dumps(payload).encode())
                r, s = decode_dss_signature(key.sign(("%s.%s" % (p64, b64payload)).encode(),
                                                     ec.ECDSA(hashes.SHA256())))
                body = json.dumps({"protected": p64, "payload": b64payload,
                                   "signature": b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}).encode()
                req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/jose+json"})
                try:
                    return urllib.request.urlopen(req, context=ctx, timeout=10)
                except urllib.error.HTTPError as e:
                    problem = e.read().decode("utf-8", "replace")
                    if e.code != 400 or "badNonce" not in problem:
                        raise AssertionError("%s answered %d: %s" % (url, e.code, problem))
            raise AssertionError("%s: a bad nonce 20 times" % url)

        kid = post(directory["newAccount"], {"onlyReturnExisting": True}).headers["Location"]
        answer = json.load(post(kid, {"status": "deactivated"}, kid=kid))
        assert answer["status"] == "deactivated", answer
        return kid

    def acme_config(self, extra=""):
        """The acme block a wharf config needs to use this Pebble."""
        return ('acme = { contact = "admin@wharf.test"; retry_interval = 1; request_timeout = 10;\n'
                '  preflight_port = %d;\n'
                '  cas = ( { url = "%s"; ca_bundle = "%s"; %s } ); };\n'
                % (self.preflight_port, self.directory, self.ca_file, extra))

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        for f in (getattr(self, "chall_log", None), getattr(self, "log_f", None)):
            if f:
                f.close()
        shutil.rmtree(self.dir, ignore_errors=True)
