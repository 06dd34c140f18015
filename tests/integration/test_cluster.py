"""A cluster on loopback against Pebble: one controller and two followers, each
a separate wharf process. The CA's HTTP-01 requests reach a follower, never
the controller (as behind a load balancer), and still validate. All three
serve the identical issued certificate by SNI; a renewal on the controller
reaches both followers with no failed handshake while clients keep
connecting; with the controller killed, followers keep serving and restart
fine; a wrong secret is refused and logged; a bundle altered on the way is
refused. The protocol itself: requests are signed (the secret never travels,
an old Bearer request or a stale one is refused), the bundle travels sealed,
a request with a body is refused without upsetting the server; a follower
tells an impostor nothing and believes nothing of it, takes a bundle
without an ETag without polling in a loop, and never sends one nonce twice.
The controller takes each signed request once (a replay is refused), and
logs a flood of refused requests in a few lines that count them."""

import hashlib
import hmac
import http.server
import json
import os
import re
import socket
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Server, tls_peer_cert  # noqa: E402
from pebble import Pebble, block_issued_pem, issued_by_pebble, wait_issued  # noqa: E402

SECRET = "s3cret-shared-by-every-node-of-this-cluster"
DOMAINS = ["wharf.test", "www.wharf.test"]


def serial(pem):
    return subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem, capture_output=True, text=True,
                          timeout=10).stdout.strip()


def cluster_keys(secret):
    """The per-purpose keys every node derives from the secret (docs/cluster.md)."""
    def key(label):
        return hmac.new(secret.encode(), label, hashlib.sha256).digest()
    return {"req": key(b"wharf cluster request"), "bundle": key(b"wharf cluster bundle"),
            "answer": key(b"wharf cluster answer")}


def cluster_auth(target, secret=SECRET, t=None, nonce=None, method="GET"):
    """An Authorization value for a bundle request, and its nonce."""
    t = int(time.time()) if t is None else t
    nonce = nonce or os.urandom(16).hex()
    mac = hmac.new(cluster_keys(secret)["req"], ("%s\n%s\n%d\n%s" % (method, target, t, nonce)).encode(),
                   hashlib.sha256).hexdigest()
    return "Wharf-Cluster t=%d, n=%s, mac=%s" % (t, nonce, mac), nonce


def answer_proof(status, nonce, etag="", thumbprint="", secret=SECRET):
    return hmac.new(cluster_keys(secret)["answer"], ("%d\n%s\n%s\n%s" % (status, nonce, etag, thumbprint)).encode(),
                    hashlib.sha256).hexdigest()


def aesgcm():
    """AES-GCM from the cryptography package, or None: only the checks that
    play the controller's part with sealed bundles need it."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        return AESGCM
    except ImportError:
        return None


def raw_exchange(port, request, timeout=10):
    """Sends request bytes over TLS (certificate unchecked) and returns every
    byte that comes back until the server closes (the request should ask it
    to), exactly as sent."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(request)
            out = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError):
                    break
                if not chunk:
                    break
                out += chunk
            return out


def split_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split(" ")[1]), headers, body


def cluster_block(role, controller="", ca="", secret=SECRET, poll=30):
    # Polls 30 s apart: a renewal reaching followers within seconds is the long poll's doing.
    return ('cluster = { role = "%s"; secret = "%s"; controller = "%s"; controller_ca = "%s"; poll_interval = %d; };\n'
            % (role, secret, controller, ca, poll))


class TamperingProxy:
    """Stands between a follower and the controller and flips one byte of
    every sealed bundle, keeping its headers: the fault a network could
    cause, which no real controller produces. (It relays the follower's
    signed requests as they are: the controller answers them, but what it
    answers is sealed.)"""

    def __init__(self, upstream, cert, key, ca):
        ctx_up = ssl.create_default_context(cafile=ca)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                req = urllib.request.Request(upstream + self.path,
                                             headers={"Authorization": self.headers.get("Authorization", "")})
                try:
                    resp = urllib.request.urlopen(req, context=ctx_up, timeout=10)
                    status, headers, body = resp.status, resp.headers, resp.read()
                except urllib.error.HTTPError as e:
                    status, headers, body = e.code, e.headers, e.read()
                if status == 200:
                    i = len(body) // 2
                    body = body[:i] + bytes([body[i] ^ 1]) + body[i + 1:]
                self.send_response(status)
                for h in ("ETag", "Wharf-Cluster-Answer", "Wharf-Account-Thumbprint", "Content-Type"):
                    if headers.get(h):
                        self.send_header(h, headers[h])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = harness.https_server(Handler, cert, key)
        self.port = self.httpd.server_address[1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeController:
    """Answers a follower's polls in the controller's place over TLS the
    follower trusts. Without a secret it is an impostor: every answer is a
    404 with a thumbprint of its choosing, and it keeps the Authorization
    values it was sent. With the secret and a bundle it is an honest
    controller that sends the sealed bundle with no ETag; with the secret and
    no bundle, an honest one that has none issued (404). keep_alive: answers
    in HTTP/1.1 and keeps the connection; drop(n): whether to close the
    connection on the n-th request (from 1) without an answer; forbid: a
    plain 403 to everything, as a proxy or firewall in the way might."""

    def __init__(self, cert, key, secret=None, bundle=None, thumbprint="T" * 43, keep_alive=False, drop=None,
                 forbid=False):
        self.auths, self.lock = [], threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_GET(self):
                auth = self.headers.get("Authorization", "")
                with fake.lock:
                    fake.auths.append(auth)
                    n = len(fake.auths)
                if drop and drop(n):
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                headers = {"Wharf-Account-Thumbprint": thumbprint, "Cache-Control": "no-store"}
                if forbid:
                    status, body = 403, b"403 Forbidden\n"
                elif secret is None:
                    status, body = 404, b"404 Not Found: no issued certificate\n"
                elif bundle is None:
                    nonce = re.search(r"n=([0-9a-f]{32})", auth).group(1)
                    status, body = 404, b"404 Not Found: no issued certificate\n"
                    headers["Wharf-Cluster-Answer"] = answer_proof(404, nonce, "", thumbprint, secret)
                else:
                    m = re.fullmatch(r"Wharf-Cluster t=(\d+), n=([0-9a-f]{32}), mac=([0-9a-f]{64})", auth)
                    t, nonce = int(m.group(1)), m.group(2)
                    want, _ = cluster_auth(self.path, secret, t, nonce)
                    assert hmac.compare_digest(want, auth), "the follower's signature does not check"
                    name = self.path.split("/")[-1].split("?")[0]
                    iv = os.urandom(12)
                    ad = "\n".join([name, "", thumbprint, nonce]).encode()
                    status = 200
                    body = iv + aesgcm()(cluster_keys(secret)["bundle"]).encrypt(iv, bundle, ad)
                    headers["Content-Type"] = "application/octet-stream"
                    headers["Wharf-Cluster-Answer"] = answer_proof(200, nonce, "", thumbprint, secret)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = harness.https_server(Handler, cert, key)
        self.port = self.httpd.server_address[1]

    def requests(self):
        with self.lock:
            return len(self.auths)

    def nonces(self):
        with self.lock:
            return [re.search(r"n=([0-9a-f]{32})", a).group(1) for a in self.auths]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class ClusterCase(unittest.TestCase):
    """A Pebble and the nodes a test starts, all cleaned up after it."""
    PEBBLE = {}

    def setUp(self):
        self.pebble = Pebble(**self.PEBBLE)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        self.pebble.cleanup()

    def node(self, **kw):
        s = Server(**kw)
        self.servers.append(s)
        return s

    def follower_node(self, controller_port, ca, certificates, services, secret=SECRET, controller=None, poll=30):
        """A follower of the controller on controller_port, trusting the PEM
        file ca (copied into its folder)."""
        s = self.node(certificates=certificates, services=services,
                      extra=cluster_block("follower", controller or "https://localhost:%d" % controller_port,
                                          "@CA@", secret, poll))
        ca_copy = os.path.join(s.dir, "controller-ca.pem")
        shutil.copy(ca, ca_copy)
        s.give(ca_copy)
        # In extra too: a config written anew later (config_text) names the file, not "@CA@".
        s.extra = s.extra.replace("@CA@", ca_copy)
        s.write_config()
        return s


class Cluster(ClusterCase):
    # Certificates that live 40 s: the controller renews at 20 s.
    PEBBLE = {"validity": 40}

    def follower(self, controller_port, ca, services, secret=SECRET, controller=None, poll=30):
        return self.follower_node(controller_port, ca, [{"name": "main", "domains": DOMAINS}], services, secret,
                                  controller, poll)

    def test_controller_and_two_followers(self):
        self.pebble.start()
        # The controller: ACME, and a stable provisional certificate "cluster"
        # for localhost, which is what its followers trust for its HTTPS.
        ctl = self.node(certificates=[{"name": "main", "domains": DOMAINS, "challenge": "http-01"},
                                      {"name": "cluster", "domains": ["localhost"], "acme": False}],
                        services=[{"type": "https", "address": "127.0.0.1", "port": None,
                                   "certificates": ["main", "cluster"]},
                                  {"type": "acme-http", "address": "127.0.0.1", "port": None, "https_port": 443}],
                        extra=self.pebble.acme_config() + cluster_block("controller"))
        ctl.start()
        ca = os.path.join(ctl.state_dir, "certs", "cluster", "selfsigned.pem")
        self.assertTrue(harness.wait_until(lambda: os.path.exists(ca), 10))
        # Follower A takes the CA's HTTP-01 requests (the balanced port 80);
        # follower B has no acme-http service at all.
        a = self.follower(ctl.port, ca, [
            {"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]},
            {"type": "acme-http", "address": "127.0.0.1", "port": self.pebble.http_port, "https_port": 443}])
        b = self.follower(ctl.port, ca, [
            {"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]}])
        a.start()
        b.start()

        # All three serve the identical issued certificate by SNI.
        def all_issued():
            pems = [tls_peer_cert(s.port, "wharf.test") for s in (ctl, a, b)]
            return issued_by_pebble(pems[0]) and pems[0] == pems[1] == pems[2]
        self.assertTrue(harness.wait_until(all_issued, 60, 0.3),
                        "not in step:\n" + ctl.log()[-2500:] + a.log()[-1500:])
        self.assertIn("answered the challenge", a.log())
        self.assertNotIn("answered the challenge", ctl.log())
        self.assertIn("installed the controller's certificate", b.log())
        first = tls_peer_cert(ctl.port, "wharf.test")
        self.assertTrue(os.path.exists(os.path.join(b.state_dir, "certs", "main", "issued.pem")))

        # A wrong secret is refused and logged, on both sides.
        out = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                              "Authorization: Bearer not-the-secret",
                              "https://127.0.0.1:%d/.wharf/cluster/bundle/main" % ctl.port],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(out.stdout, "403")
        self.assertTrue(ctl.wait_log("cluster: bundle request from 127.0.0.1", 5))
        self.check_signed_requests(ctl)
        wrong = self.follower(ctl.port, ca, [{"type": "https", "address": "127.0.0.1", "port": None,
                                              "certificates": ["main"]}],
                              secret="another-secret-of-at-least-32-characters")
        wrong.start()
        self.assertTrue(wrong.wait_log("the controller refused our request: its signature does not match", 10),
                        wrong.log()[-2000:])
        self.assertFalse(issued_by_pebble(tls_peer_cert(wrong.port, "wharf.test")))

        # A follower whose state folder does not take the bundle (a folder
        # holds issued.pem's name) serves it all the same, asks again at its
        # interval (not in a loop), and stores it once it can.
        c = self.follower(ctl.port, ca, [{"type": "https", "address": "127.0.0.1", "port": None,
                                          "certificates": ["main"]}], poll=2)
        blocker = block_issued_pem(c)
        c.start()
        self.assertTrue(c.wait_log("cluster: certificate main: not stored", 15), c.log()[-2000:])
        self.assertTrue(issued_by_pebble(tls_peer_cert(c.port, "wharf.test")))
        tries = c.log().count("not stored")
        time.sleep(3)
        self.assertLessEqual(c.log().count("not stored") - tries, 2, c.log()[-2000:])
        shutil.rmtree(blocker)
        self.assertTrue(harness.wait_until(lambda: os.path.isfile(blocker), 10), c.log()[-2000:])

        # A bundle altered on the way is refused; the follower keeps what it has.
        proxy = TamperingProxy("https://localhost:%d" % ctl.port, ca,
                               os.path.join(ctl.state_dir, "certs", "cluster", "selfsigned.key"), ca)
        try:
            tampered = self.follower(ctl.port, ca, [{"type": "https", "address": "127.0.0.1", "port": None,
                                                     "certificates": ["main"]}],
                                     controller="https://localhost:%d" % proxy.port)
            tampered.start()
            self.assertTrue(tampered.wait_log("bundle refused: it does not open", 15), tampered.log()[-2000:])
            self.assertFalse(issued_by_pebble(tls_peer_cert(tampered.port, "wharf.test")))
            self.assertNotIn("installed the controller's certificate", tampered.log())
        finally:
            proxy.close()
        # The request with a body (check_signed_requests) is among the logged
        # refusals: counted, as others from 127.0.0.1 came first, and told
        # when its 10 s interval ends.
        self.assertTrue(ctl.wait_log("1: it has a body (a bundle request takes none)", 12), ctl.log()[-1500:])

        # Renewal (at 20 s of 40) reaches both followers while clients keep
        # handshaking with them: not one handshake fails.
        failures, done = [], threading.Event()
        seen = {}

        def load(s):
            while not done.is_set():
                try:
                    pem = tls_peer_cert(s.port, "wharf.test", timeout=5)
                    seen.setdefault(s.port, set()).add(pem)
                except Exception as e:  # noqa: BLE001 - every failure counts
                    failures.append(repr(e))
                time.sleep(0.02)
        threads = [threading.Thread(target=load, args=(s,)) for s in (a, b)]
        for t in threads:
            t.start()
        try:
            renewed = harness.wait_until(
                lambda: all(tls_peer_cert(s.port, "wharf.test") not in (first,) and
                            issued_by_pebble(tls_peer_cert(s.port, "wharf.test")) for s in (ctl, a, b)), 60, 0.5)
        finally:
            done.set()
            for t in threads:
                t.join(timeout=10)
        self.assertTrue(renewed, "renewal did not reach every node:\n" + ctl.log()[-2000:] + b.log()[-1500:])
        # Within seconds of the controller's install (the polls are 30 s apart).
        def stamp(log, text):
            lines = [l for l in log.splitlines() if text in l]
            return time.mktime(time.strptime(lines[-1][:19], "%Y-%m-%dT%H:%M:%S")) + float(lines[-1][19:23])
        ctl_at = stamp(ctl.log(), "; installed")
        for s in (a, b):
            self.assertLess(stamp(s.log(), "installed the controller's certificate") - ctl_at, 3.0, s.log()[-1500:])
        self.assertEqual(failures, [])
        for s in (a, b):
            self.assertGreaterEqual(len(seen.get(s.port, ())), 2, "the load saw no switch on %d" % s.port)
        second = tls_peer_cert(ctl.port, "wharf.test")
        self.assertNotEqual(serial(second), serial(first))
        self.assertEqual(tls_peer_cert(b.port, "wharf.test"), second)

        # The controller killed: followers keep serving, and restart fine.
        ctl.proc.kill()
        ctl.proc.wait(timeout=10)
        self.assertEqual(tls_peer_cert(a.port, "wharf.test"), second)
        b.stop()
        b.start()
        self.assertEqual(tls_peer_cert(b.port, "wharf.test"), second)
        self.assertTrue(b.wait_log("unreachable", 10), b.log()[-1500:])
        # The controller down while the certificate runs out: the follower
        # (polling every 2 s now) gives the expiry alarm the controller
        # cannot, in the last sixth of the 40 s lifetime.
        b.stop()
        b.write_config(b.config_text().replace("poll_interval = 30;", "poll_interval = 2;"))
        b.start()
        self.assertTrue(b.wait_log("ALARM certificate main: expires in", 45), b.log()[-1500:])
        self.assertIn("and the controller cannot be reached", b.log())
        time.sleep(3)  # polls 2 s apart: one alarm, not one a poll (the next is due 5 s on)
        self.assertEqual(b.log().count("ALARM certificate main"), 1, b.log()[-1500:])

    def bundle_status(self, port, auth, extra=""):
        target = "/.wharf/cluster/bundle/main"
        out = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: " + auth]
                             + (["-H", extra] if extra else []) + ["https://127.0.0.1:%d%s" % (port, target)],
                             capture_output=True, text=True, timeout=20)
        return out.stdout

    def check_signed_requests(self, ctl):
        """The controller's side of the protocol, with requests made here."""
        target = "/.wharf/cluster/bundle/main"
        # The old request, with the secret itself: refused.
        self.assertEqual(self.bundle_status(ctl.port, "Bearer " + SECRET), "403")
        # Signed with another secret, or at a time 10 minutes off: refused.
        # (Logged as counts: ClusterController checks those lines.)
        self.assertEqual(self.bundle_status(ctl.port, cluster_auth(target, "another-secret-of-at-least-32-chars")[0]),
                         "403")
        for off in (-600, 600):
            self.assertEqual(self.bundle_status(ctl.port, cluster_auth(target, t=int(time.time()) + off)[0]), "403")
        # Signed for another certificate: refused.
        self.assertEqual(self.bundle_status(ctl.port, cluster_auth("/.wharf/cluster/bundle/cluster")[0]), "403")
        # Signed right: 200, and the bytes on the wire hold no private key.
        auth, nonce = cluster_auth(target)
        raw = raw_exchange(ctl.port, ("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                                      "Connection: close\r\n\r\n" % (target, auth)).encode())
        status, headers, body = split_response(raw)
        self.assertEqual(status, 200, raw[:300])
        self.assertNotIn(b"PRIVATE KEY", raw)
        self.assertNotIn(b"BEGIN", raw)
        self.assertEqual(headers["content-type"], "application/octet-stream")
        self.assertNotIn("wharf-bundle-mac", headers)
        etag, thumb = headers["etag"], headers.get("wharf-account-thumbprint", "")
        self.assertEqual(len(thumb), 43)
        self.assertEqual(headers["wharf-cluster-answer"], answer_proof(200, nonce, etag, thumb))
        AESGCM = aesgcm()
        if AESGCM:  # it is the bundle, sealed to this request and name
            ad = "\n".join(["main", etag, thumb, nonce]).encode()
            pem = AESGCM(cluster_keys(SECRET)["bundle"]).decrypt(body[:12], body[12:], ad)
            self.assertIn(b"PRIVATE KEY", pem)
            self.assertIn(b"BEGIN CERTIFICATE", pem)
        # A current ETag: 304, proved too.
        auth, nonce = cluster_auth(target)
        raw = raw_exchange(ctl.port, ("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                                      "If-None-Match: %s\r\nConnection: close\r\n\r\n"
                                      % (target, auth, etag)).encode())
        status, headers, _ = split_response(raw)
        self.assertEqual(status, 304, raw[:300])
        self.assertEqual(headers["wharf-cluster-answer"], answer_proof(304, nonce, etag, thumb))
        # A request with a body, even one that would wait: 400 at once, on a
        # connection that goes on serving.
        with harness.RawTLS(None, port=ctl.port) as c:
            wait_target = target + "?wait=25"
            auth, _ = cluster_auth(wait_target)
            c.send("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\nIf-None-Match: %s\r\n"
                   "Content-Length: 5\r\n\r\nhello" % (wait_target, auth, etag))
            status, _, _ = c.read_final_response(timeout=5)
            self.assertEqual(status, 400, c.last_status_line)
            auth, _ = cluster_auth(target)
            c.send("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n" % (target, auth))
            status, _, body = c.read_final_response(timeout=5)
            self.assertEqual(status, 200, c.last_status_line)
            self.assertNotIn(b"PRIVATE KEY", body)
        auth, _ = cluster_auth(target)
        self.assertEqual(self.bundle_status(ctl.port, auth), "200")


    def test_followers_get_a_certificate_the_controller_stores_late(self):
        # A renewal the controller's state folder refuses is served from
        # memory; the followers' long polls find the bundle on disk
        # unchanged and wait on. Once the disk takes it (acme/unsaved.c),
        # they are answered at once, not at the end of their 25 s.
        self.pebble.cleanup()
        self.pebble = Pebble(validity=3600)  # no renewal of its own meanwhile
        self.pebble.start()
        ctl = self.node(certificates=[{"name": "main", "domains": DOMAINS, "challenge": "tls-alpn-01"},
                                      {"name": "cluster", "domains": ["localhost"], "acme": False}],
                        services=[{"type": "https", "address": "127.0.0.1", "port": self.pebble.tls_port,
                                   "certificates": ["main", "cluster"]}],
                        extra=self.pebble.acme_config() + cluster_block("controller"))
        ctl.start()
        first = wait_issued(ctl, "wharf.test")
        ca = os.path.join(ctl.state_dir, "certs", "cluster", "selfsigned.pem")
        f = self.follower(ctl.port, ca, [{"type": "https", "address": "127.0.0.1", "port": None,
                                          "certificates": ["main"]}], poll=300)
        f.start()
        self.assertTrue(harness.wait_until(lambda: tls_peer_cert(f.port, "wharf.test") == first, 30, 0.3),
                        f.log()[-2000:])
        # A name added: due at once; issued.pem, immutable, cannot be
        # replaced (as on a full disk), but is read as before.
        issued = os.path.join(ctl.state_dir, "certs", "main", "issued.pem")
        if subprocess.run(["chattr", "+i", issued], capture_output=True, timeout=10).returncode != 0:
            self.skipTest("chattr +i is not available here")
        try:
            self.renewal_stored_late(ctl, f, first, issued)
        finally:
            subprocess.run(["chattr", "-i", issued], capture_output=True, timeout=10)

    def renewal_stored_late(self, ctl, f, first, issued):
        ctl.certificates[0]["domains"] = DOMAINS + ["extra.wharf.test"]
        ctl.write_config()
        self.assertTrue(ctl.reload(), ctl.log()[-3000:])
        self.assertTrue(ctl.wait_log("issued, but not stored", 60), ctl.log()[-3000:])
        renewed = wait_issued(ctl, "extra.wharf.test")
        self.assertNotEqual(renewed, first)
        time.sleep(1)
        self.assertEqual(tls_peer_cert(f.port, "wharf.test"), first)
        subprocess.run(["chattr", "-i", issued], check=True, timeout=10)
        self.assertTrue(ctl.wait_log("certificate main: stored at last", 40), ctl.log()[-3000:])
        stored_at = time.monotonic()
        self.assertTrue(harness.wait_until(lambda: tls_peer_cert(f.port, "wharf.test") == renewed, 30, 0.3),
                        f.log()[-2000:])
        self.assertLess(time.monotonic() - stored_at, 6, f.log()[-2000:])


def account_thumbprint(key_path):
    """The RFC 7638 thumbprint of an EC P-256 account key (PEM file)."""
    import base64
    from cryptography.hazmat.primitives import serialization
    with open(key_path, "rb") as f:
        pub = serialization.load_pem_private_key(f.read(), password=None).public_key().public_numbers()

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    jwk = json.dumps({"crv": "P-256", "kty": "EC", "x": b64(pub.x.to_bytes(32, "big")),
                      "y": b64(pub.y.to_bytes(32, "big"))}, separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(jwk.encode()).digest())


class TwoCasCase(ClusterCase):
    """A controller with two CAs (two directories of one Pebble, with an
    account each) and a follower that takes the CA's HTTP-01 requests."""

    def cas(self, urls):
        cas = ", ".join('{ url = "%s"; ca_bundle = "%s"; }' % (u, self.pebble.ca_file) for u in urls)
        return re.sub(r"cas = \(.*\);", "cas = ( %s );" % cas, self.pebble.acme_config())

    def start_nodes(self, ctl_certs, follower_certs, second=()):
        """A controller with ctl_certs (names, each for NAME.wharf.test;
        those in second ordered from the second CA) and a follower with
        follower_certs (name: domains) that takes the CA's HTTP-01
        requests; returns them once the follower serves each of ctl_certs
        as issued."""
        self.pebble.start()
        self.one, self.two = self.pebble.directory + "?ca=one", self.pebble.directory + "?ca=two"
        certs = [{"name": n, "domains": ["%s.wharf.test" % n], "challenge": "http-01"} for n in ctl_certs]
        ctl = self.node(certificates=certs + [{"name": "cluster", "domains": ["localhost"], "acme": False}],
                        services=[{"type": "https", "address": "127.0.0.1", "port": None,
                                   "certificates": list(ctl_certs) + ["cluster"]},
                                  {"type": "acme-http", "address": "127.0.0.1", "port": None, "https_port": 443}],
                        extra=self.cas((self.one, self.two)) + cluster_block("controller"))
        for n in second:
            os.makedirs(os.path.join(ctl.state_dir, "certs", n), exist_ok=True)
            with open(os.path.join(ctl.state_dir, "certs", n, "status.json"), "w") as fh:
                fh.write('{"ca": 1}\n')
        ctl.start()
        ca = os.path.join(ctl.state_dir, "certs", "cluster", "selfsigned.pem")
        self.assertTrue(harness.wait_until(lambda: os.path.exists(ca), 10))
        f = self.follower_node(ctl.port, ca, [{"name": n, "domains": d} for n, d in follower_certs.items()],
                               [{"type": "https", "address": "127.0.0.1", "port": None,
                                 "certificates": list(follower_certs)},
                                {"type": "acme-http", "address": "127.0.0.1", "port": self.pebble.http_port,
                                 "https_port": 443}])
        f.start()

        def all_issued():
            return all(issued_by_pebble(tls_peer_cert(f.port, "%s.wharf.test" % n)) for n in ctl_certs)
        self.assertTrue(harness.wait_until(all_issued, 60, 0.3), ctl.log()[-3000:] + f.log()[-2000:])
        return ctl, f

    def issued_ca(self, ctl, name):
        try:
            with open(os.path.join(ctl.state_dir, "certs", name, "status.json")) as fh:
                return json.load(fh).get("issued_ca")
        except (OSError, ValueError):
            return None

    def thumbprint(self, ctl, url):
        from pebble import account_dir
        return account_thumbprint(os.path.join(account_dir(ctl.state_dir, url), "account.key"))

    def answer(self, host, token="T" * 43):
        """The follower's HTTP-01 answer to a request for host."""
        req = urllib.request.Request("http://127.0.0.1:%d/.well-known/acme-challenge/%s"
                                     % (self.pebble.http_port, token), headers={"Host": host})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode()

class ClusterTwoCas(TwoCasCase):
    """Orders at two CAs at once (a certificate moved to the next CA, as after
    failures at the first, beside one that stays): the follower that takes
    the CA's HTTP-01 requests answers each with the account its
    certificate's orders use. Before, every token got the thumbprint of the
    account the controller loaded last, and one certificate never
    validated."""

    def test_each_certificate_answered_with_its_account(self):
        ctl, f = self.start_nodes(("a", "b"), {"a": ["a.wharf.test"], "b": ["b.wharf.test"]}, second=("b",))
        self.assertGreaterEqual(f.log().count("answered the challenge"), 2)
        # Each from its own CA, not "a" moved to the second after its
        # validations failed there (the key authorization did not match).
        self.assertNotIn("did not match", ctl.log())
        self.assertTrue(harness.wait_until(
            lambda: (self.issued_ca(ctl, "a"), self.issued_ca(ctl, "b")) == (self.one, self.two), 10),
            (self.issued_ca(ctl, "a"), self.issued_ca(ctl, "b")))
        self.assertIn("certificate b: ordering in 4 s, once the cluster's followers have the account thumbprint",
                      ctl.log())
        # The follower's answer follows the name the validation is for.
        thumbs = {"a": self.thumbprint(ctl, self.one), "b": self.thumbprint(ctl, self.two)}
        self.assertNotEqual(thumbs["a"], thumbs["b"])
        for name in ("a", "b"):
            self.assertEqual(self.answer("%s.wharf.test" % name), "T" * 43 + "." + thumbs[name])

    def test_a_name_two_certificates_share_keeps_its_answer(self):
        # The follower's "x", which the controller lacks (404 answers every
        # 2 s, with the thumbprint of the account loaded last), shares a
        # name with "a" and one with "b", whose accounts differ: a name
        # keeps the thumbprint of the certificate whose orders changed
        # account last, between polls too. Before, each answer set it, so
        # one of the two names flipped at each of its certificate's polls.
        ctl, f = self.start_nodes(("a", "b"), {"a": ["a.wharf.test"], "b": ["b.wharf.test"],
                                               "x": ["a.wharf.test", "b.wharf.test"]}, second=("b",))
        seen = {"a": set(), "b": set()}
        deadline = time.time() + 30  # past a's and b's next long polls (25 s)
        while time.time() < deadline:
            for name in seen:
                seen[name].add(self.answer("%s.wharf.test" % name))
            time.sleep(0.05)  # a flip lasts until x's next answer, 2 s or less
        self.assertEqual([len(v) for v in seen.values()], [1, 1], seen)


class ClusterCaMoved(TwoCasCase):
    """A certificate whose orders move to another CA's account while the
    follower holds its bundle: the follower's long poll wakes on the new
    thumbprint, and the controller's order waits for it, so the renewal
    validates through the follower at once. Before, the long poll slept on
    (nothing in the bundle changed) and the validation failed."""

    # Certificates that live 40 s: the renewal comes within half a minute.
    PEBBLE = {"validity": 40}

    def test_follower_hears_of_the_new_account_before_the_renewal(self):
        ctl, f = self.start_nodes(("a",), {"a": ["a.wharf.test"]})
        self.assertTrue(harness.wait_until(lambda: self.issued_ca(ctl, "a") == self.one, 10))
        # The second CA first: the renewal goes there.
        ctl.extra = ctl.extra.replace(self.cas((self.one, self.two)), self.cas((self.two, self.one)))
        ctl.write_config()
        self.assertTrue(ctl.reload(), ctl.log()[-2000:])
        self.assertTrue(harness.wait_until(lambda: self.issued_ca(ctl, "a") == self.two, 60, 0.5),
                        ctl.log()[-3000:] + f.log()[-2000:])
        self.assertNotIn("did not match", ctl.log())
        self.assertEqual(self.answer("a.wharf.test"), "T" * 43 + "." + self.thumbprint(ctl, self.two))


class ClusterImpostors(unittest.TestCase):
    """Followers facing something other than their controller, on loopback
    without a CA: a TLS certificate the follower trusts is all it has."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="wharf-cluster-")
        self.servers, self.fakes = [], []
        self.tls_cert, self.tls_key = self.self_signed("tls", ["localhost"])

    def tearDown(self):
        for f in self.fakes:
            f.close()
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def self_signed(self, name, domains):
        cert, key = os.path.join(self.dir, name + ".pem"), os.path.join(self.dir, name + ".key")
        subprocess.run(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-keyout", key, "-out", cert, "-days", "2", "-subj",
                        "/CN=" + domains[0], "-addext", "subjectAltName=" + ",".join("DNS:" + d for d in domains)],
                       capture_output=True, check=True, timeout=30)
        return cert, key

    def fake(self, **kw):
        f = FakeController(self.tls_cert, self.tls_key, **kw)
        self.fakes.append(f)
        return f

    def follower(self, port, poll=30):
        s = Server(certificates=[{"name": "main", "domains": DOMAINS}],
                   services=[{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]}],
                   extra=cluster_block("follower", "https://localhost:%d" % port, "@CA@", poll=poll))
        self.servers.append(s)
        ca = os.path.join(s.dir, "controller-ca.pem")
        shutil.copy(self.tls_cert, ca)
        s.give(ca)
        s.write_config(s.config_text().replace("@CA@", ca))
        return s

    def test_impostor_learns_and_plants_nothing(self):
        """One that answers in the controller's name gets no secret, and its
        unproved thumbprint is not what the follower answers HTTP-01 with."""
        imp = self.fake()
        f = self.follower(imp.port)
        f.start()
        self.assertTrue(f.wait_log("proof does not check", 10), f.log()[-2000:])
        self.assertGreaterEqual(imp.requests(), 1)
        for auth in imp.auths:
            self.assertTrue(auth.startswith("Wharf-Cluster t="), auth)
            self.assertNotIn(SECRET, auth)
        self.assertFalse(os.path.exists(os.path.join(f.state_dir, "acme", "thumbprint")))

    def test_a_403_not_from_a_controller_is_told_apart(self):
        """A controller's 403 names the failed check (the Cluster test sees
        it logged); a bare one says that no controller gave a reason."""
        f = self.follower(self.fake(forbid=True).port)
        f.start()
        self.assertTrue(f.wait_log("HTTP 403 with no controller's reason", 10), f.log()[-2000:])
        self.assertNotIn("the controller refused our request", f.log())

    def test_bundle_without_etag_polls_at_the_interval(self):
        """An accepted bundle with no ETag cannot be long-polled on: the next
        poll waits the interval (30 s here) rather than following at once."""
        if not aesgcm():
            self.skipTest("needs the cryptography package to seal a bundle")
        cert, key = self.self_signed("bundle", DOMAINS)
        with open(key, "rb") as k, open(cert, "rb") as c:
            bundle = k.read() + c.read()
        ctl = self.fake(secret=SECRET, bundle=bundle, thumbprint="A" * 43)
        f = self.follower(ctl.port)
        f.start()
        self.assertTrue(f.wait_log("installed the controller's certificate", 10), f.log()[-2000:])
        with open(cert) as c:
            self.assertEqual(tls_peer_cert(f.port, "wharf.test").strip(), c.read().strip())
        with open(os.path.join(f.state_dir, "acme", "thumbprint")) as t:
            self.assertEqual(t.read(), "A" * 43)
        time.sleep(3)
        self.assertLessEqual(ctl.requests(), 2, "polled %d times in 3 s" % ctl.requests())

    def test_each_request_signed_once(self):
        """The controller takes each nonce once, so nothing a follower sends
        may go out twice with one: not even libcurl's own resend of a request
        whose kept-alive connection died before any answer (a long poll cut
        by a balancer, say). Here every second request is cut, on
        connections the fake controller would keep alive."""
        ctl = self.fake(secret=SECRET, keep_alive=True, drop=lambda n: n % 2 == 0)
        f = self.follower(ctl.port, poll=1)
        f.start()
        self.assertTrue(harness.wait_until(lambda: ctl.requests() >= 6, 20), f.log()[-2000:])
        nonces = ctl.nonces()
        self.assertEqual(len(set(nonces)), len(nonces), "a nonce sent twice: %r" % nonces)
        # The cuts reached the follower as such, and it asked again.
        self.assertIn("unreachable", f.log())
        self.assertIn("the controller has no issued certificate of that name", f.log())


class ClusterController(unittest.TestCase):
    """The controller's side alone, with requests made here and no CA: its
    certificate has none issued, so a request it takes gets a proved 404."""

    TARGET = "/.wharf/cluster/bundle/main"

    def setUp(self):
        self.ctl = Server(certificates=[{"name": "main", "domains": DOMAINS, "acme": False}],
                          services=[{"type": "https", "address": "127.0.0.1", "port": None,
                                     "certificates": ["main"]}],
                          extra=cluster_block("controller"), workers=2)
        self.ctl.start()

    def tearDown(self):
        self.ctl.cleanup()

    def request(self, auth):
        return ("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\nConnection: close\r\n\r\n"
                % (self.TARGET, auth)).encode()

    def ask(self, auth):
        """Status and headers of one request on a connection of its own."""
        status, headers, _ = split_response(raw_exchange(self.ctl.port, self.request(auth)))
        return status, headers

    def refusal_lines(self):
        return [l for l in self.ctl.log().splitlines() if "cluster:" in l and "refused" in l]

    def test_replayed_request_is_refused(self):
        auth, nonce = cluster_auth(self.TARGET)
        status, headers = self.ask(auth)
        self.assertEqual(status, 404, self.ctl.log()[-1500:])
        self.assertEqual(headers["wharf-cluster-answer"], answer_proof(404, nonce))
        # The same request again, well within its 300 s: refused, unproved,
        # on each of several connections (which land on either worker).
        for _ in range(8):
            status, headers = self.ask(auth)
            self.assertEqual(status, 403)
            self.assertNotIn("wharf-cluster-answer", headers)
        self.assertTrue(self.ctl.wait_log("refused: its nonce was used already (a replayed request)", 5),
                        self.ctl.log()[-1500:])
        # A fresh request is taken.
        auth, nonce = cluster_auth(self.TARGET)
        status, headers = self.ask(auth)
        self.assertEqual(status, 404)
        self.assertEqual(headers["wharf-cluster-answer"], answer_proof(404, nonce))
        # Requests whose signature does not check use no nonce up: a flood
        # of them with the nonce of a request not sent yet leaves it good.
        auth, nonce = cluster_auth(self.TARGET)
        forged = auth[:-64] + ("0" if auth[-1] != "0" else "1") * 64
        with harness.RawTLS(None, port=self.ctl.port) as c:
            for _ in range(50):
                c.send(self.request(forged).replace(b"Connection: close\r\n", b""))
                self.assertEqual(c.read_final_response(timeout=5)[0], 403)
        status, headers = self.ask(auth)
        self.assertEqual(status, 404, self.ctl.log()[-1500:])
        self.assertEqual(headers["wharf-cluster-answer"], answer_proof(404, nonce))

    def test_refusals_logged_with_a_count(self):
        """A flood of refused requests from one address: one line at once,
        then one per interval (10 s) saying how many and why; and no login
        ban for the address."""
        n = 300
        bad = [lambda: "Bearer " + SECRET,
               lambda: cluster_auth(self.TARGET, "another-secret-of-at-least-32-characters")[0],
               lambda: cluster_auth(self.TARGET, t=int(time.time()) - 600)[0]]
        started = time.monotonic()
        with harness.RawTLS(None, port=self.ctl.port) as c:
            for i in range(n):
                c.send(self.request(bad[i % 3]()).replace(b"Connection: close\r\n", b""))
                self.assertEqual(c.read_final_response(timeout=5)[0], 403)
        flood = time.monotonic() - started
        lines = self.refusal_lines()
        if flood < 9:  # within one interval: the first line only
            self.assertEqual(len(lines), 1, "\n".join(lines[:10]))
            self.assertIn("cluster: bundle request from 127.0.0.1:", lines[0])
            self.assertIn("malformed or not a Wharf-Cluster authorization", lines[0])
        # The flood over, its count comes when the interval ends, with no
        # further request to bring it.
        self.assertTrue(self.ctl.wait_log("more bundle requests from 127.0.0.1 refused",
                                          max(0, started + 15 - time.monotonic())), self.ctl.log()[-1500:])
        auth, _ = cluster_auth(self.TARGET)
        self.assertEqual(self.ask(auth)[0], 404)
        lines = self.refusal_lines()
        self.assertLessEqual(len(lines), 2 + int(flood // 10), "\n".join(lines[:10]))
        counted = sum(int(m) for m in re.findall(r"cluster: (\d+) more bundle requests? from 127\.0\.0\.1 refused",
                                                 "\n".join(lines)))
        first = sum(1 for l in lines if "cluster: bundle request from 127.0.0.1:" in l)
        self.assertEqual(first + counted, n, "\n".join(lines))
        summary = lines[-1]
        self.assertIn("its signature does not match", summary)
        self.assertIn("its time is too far from ours", summary)
        # Not failed logins: the address is not banned (5 failures would).
        status, _, _ = harness.curl(self.ctl, "/")
        self.assertEqual(status, 200)
        self.assertNotIn("banned", self.ctl.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
