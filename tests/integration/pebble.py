"""A throw-away ACME CA for tests: Debian's pebble and pebble-challtestsrv on
loopback, fresh per test class. challtestsrv is only Pebble's DNS (every name
resolves to 127.0.0.1, no AAAA); the server under test answers HTTP-01 on
http_port and TLS-ALPN-01 on tls_port itself. Every wait is bounded.

Beside it, what the ACME tests share: AcmeCase (a Pebble per test and a
server that orders from it), waits for an issued or renewed certificate,
chain checks, and hook scripts for the server to run."""

import base64
import hashlib
import contextlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import harness
from harness import Server, cert_text, tls_peer_cert


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

    @contextlib.contextmanager
    def paused(self):
        """Pebble stopped (SIGSTOP) inside the block: requests to it wait,
        connected, until the block ends, well inside request_timeout. What a
        test must do before any order goes on is done in the block."""
        self.pebble.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.pebble.send_signal(signal.SIGCONT)

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


def account_dir_name(url):
    """The account folder of the CA at url under STATE/acme, named as
    acme/account_dir.c names it (docs/acme.md): readable host, port, path and
    query, then 16 hex digits of the SHA-256 of the normalized URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    auth = re.match(r"[^/?#]*", rest).group(0)
    tail = rest[len(auth):].split("#", 1)[0]
    auth = auth.rpartition("@")[2]
    if auth.startswith("["):
        close = auth.find("]")
        colon = close + 1 if close >= 0 and auth[close + 1:close + 2] == ":" else -1
    else:
        colon = auth.find(":")
    host, port = (auth[:colon], auth[colon + 1:]) if colon >= 0 else (auth, "")
    if port.isascii() and port.isdigit():
        port = port.lstrip("0") or "0"
    if port == {"https": "443", "http": "80"}.get(scheme.lower(), ""):
        port = ""

    def fold(s):
        return "".join(c.lower() if "A" <= c <= "Z" else c for c in s)
    readable = ""
    for c in fold(host) + ("_" + port if port else "") + tail:
        if len(readable) >= 100:
            break
        if not (c.isascii() and (c.isalnum() or c in ".-")) or (not readable and c in ".-"):
            c = "_"
        if not (c == "_" and readable.endswith("_")):
            readable += c
    readable = readable.rstrip("_") or "ca"
    norm = "%s://%s%s%s%s" % (fold(scheme), fold(host), ":" + port if port else "", "" if tail.startswith("/") else "/",
                              tail)
    return readable + "-" + hashlib.sha256(norm.encode("latin-1")).hexdigest()[:16]


def account_dir(state_dir, url):
    """STATE/acme/NAME, the account folder of the CA at url."""
    return os.path.join(state_dir, "acme", account_dir_name(url))


def issued_by_pebble(pem):
    return "Pebble Intermediate CA" in cert_text(pem)


def wait_issued(server, sni, timeout=60):
    deadline = time.monotonic() + timeout
    pem = None
    while time.monotonic() < deadline:
        pem = tls_peer_cert(server.port, sni)
        if issued_by_pebble(pem):
            return pem
        time.sleep(0.3)
    raise AssertionError("no Pebble-issued certificate for %s within %d s; log:\n%s"
                         % (sni, timeout, server.log()[-4000:]))


def wait_renewed(server, sni, first, timeout=60):
    """The Pebble-issued certificate served for sni once it is no longer
    first, or first itself if none came within timeout (the caller asserts)."""
    deadline = time.monotonic() + timeout
    pem = first
    while time.monotonic() < deadline and (pem == first or not issued_by_pebble(pem)):
        time.sleep(0.4)
        pem = tls_peer_cert(server.port, sni)
    return pem


def public_key_id(pem):
    text = cert_text(pem)
    return text[text.index("Public Key ID:"):][:200]


def verify_chain(pebble, leaf_and_chain_pem, name):
    """The served chain verifies against the running Pebble's root, for name."""
    with tempfile.TemporaryDirectory() as d:
        with open(d + "/root.pem", "w") as f:
            f.write(pebble.root_pem())
        with open(d + "/chain.pem", "w") as f:
            f.write(leaf_and_chain_pem)
        out = subprocess.run(["certtool", "--verify", "--load-ca-certificate", d + "/root.pem",
                              "--verify-hostname", name, "--infile", d + "/chain.pem"],
                             capture_output=True, text=True, timeout=20)
        return out.returncode == 0, out.stdout + out.stderr


def served_chain(port, sni):
    out = subprocess.run(["gnutls-cli", "--insecure", "--print-cert", "-p", str(port), "127.0.0.1",
                          "--sni-hostname", sni], input=b"", capture_output=True, timeout=20)
    text = out.stdout.decode("latin-1")
    certs = []
    while "-----BEGIN CERTIFICATE-----" in text:
        a = text.index("-----BEGIN CERTIFICATE-----")
        b = text.index("-----END CERTIFICATE-----", a) + len("-----END CERTIFICATE-----")
        certs.append(text[a:b] + "\n")
        text = text[b:]
    return "".join(certs)


class AcmeCase(unittest.TestCase):
    challenge = "http-01"

    def setUp(self):
        self.pebble = Pebble()

    def tearDown(self):
        if hasattr(self, "server"):
            self.server.cleanup()
        self.pebble.cleanup()

    def make_server(self, domains=("wharf.test", "www.wharf.test"), challenge=None, certs=None, ca_extra=""):
        challenge = challenge or self.challenge
        services = [{"type": "https", "address": "127.0.0.1", "port": self.pebble.tls_port,
                     "certificates": ["main"] if not certs else [c["name"] for c in certs]}]
        if challenge == "http-01":
            services.append({"type": "acme-http", "address": "127.0.0.1", "port": self.pebble.http_port,
                             "https_port": self.pebble.tls_port})
        certs = certs or [{"name": "main", "domains": list(domains), "challenge": challenge}]
        self.server = Server(certificates=certs, services=services, extra=self.pebble.acme_config())
        return self.server


def hook_script(server, name):
    """An executable the server (nobody, when run as root) may run: it appends
    its WHARF_* environment to OUT/NAME.log, one event per line, and
    HOOK_SOCKETS=N, the sockets it was given (none should be)."""
    out = os.path.join(server.dir, "hooks")
    os.makedirs(out, exist_ok=True)
    server.give(out)
    path = os.path.join(out, name + ".sh")
    with open(path, "w") as f:
        f.write('#!/bin/sh\n{ env | grep ^WHARF_; echo "HOOK_SOCKETS=$(ls -l /proc/$$/fd | grep -c socket:)"; }'
                ' | sort | tr "\\n" " " >> "%s/%s.log"\necho >> "%s/%s.log"\n' % (out, name, out, name))
    os.chmod(path, 0o755)
    return path, os.path.join(out, name + ".log")


def dns_hook_script(server, pebble, mode="ok"):
    """A dns_hook the server may run: it logs each call to OUT/dns.log and
    publishes through pebble-challtestsrv's management API, the DNS server
    Pebble's validator asks. mode "fail": every add fails (exit 3); "wrong":
    it publishes another value than it was given; "slow": an add takes 3 s."""
    out = os.path.join(server.dir, "hooks")
    os.makedirs(out, exist_ok=True)
    server.give(out)
    path, log = os.path.join(out, "dns.sh"), os.path.join(out, "dns.log")
    api = "http://127.0.0.1:%d" % pebble.chall_mgmt_port
    with open(path, "w") as f:
        f.write('#!/bin/sh\n'
                'echo "$1 $2 $3 $WHARF_CERT_NAME $WHARF_DOMAIN" >> "%s"\n'
                'echo begin >> "%s.seq"; sleep 0.2; echo end >> "%s.seq"\n'
                '%s'
                'case "$1" in\n'
                'add) %s exec curl -sf -X POST -d "{\\"host\\":\\"$2.\\",\\"value\\":\\"%s$3\\"}" %s/set-txt ;;\n'
                'remove) exec curl -sf -X POST -d "{\\"host\\":\\"$2.\\"}" %s/clear-txt ;;\n'
                'esac\nexit 2\n' % (log, log, log, '[ "$1" = add ] && sleep 3\n' if mode == "slow" else "",
                                      "exit 3;" if mode == "fail" else "", "x" if mode == "wrong" else "", api, api))
    os.chmod(path, 0o755)
    return path, log


def block_issued_pem(server, name="main"):
    """Makes STATE/certs/NAME/issued.pem a non-empty folder (the run user's),
    so the server cannot store an issued certificate: a full disk's effect,
    for one file. Returns its path; shutil.rmtree lifts it."""
    blocker = os.path.join(server.state_dir, "certs", name, "issued.pem")
    os.makedirs(os.path.join(blocker, "x"), mode=0o700)
    for d in (server.state_dir, os.path.dirname(os.path.dirname(blocker)), os.path.dirname(blocker), blocker,
              os.path.join(blocker, "x")):
        os.chmod(d, 0o700)
        server.give(d)
    return blocker


def wait_file_text(path, text, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                data = f.read()
            if text in data:
                return data
        except FileNotFoundError:
            pass
        time.sleep(0.2)
    raise AssertionError("%r never appeared in %s" % (text, path))
