"""A cluster on loopback against Pebble: one controller and two followers, each
a separate wharf process. The CA's HTTP-01 requests reach a follower, never
the controller (as behind a load balancer), and still validate. All three
serve the identical issued certificate by SNI; a renewal on the controller
reaches both followers with no failed handshake while clients keep
connecting; with the controller killed, followers keep serving and restart
fine; a wrong secret is refused and logged; a bundle altered on the way is
refused."""

import http.server
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Server, tls_peer_cert  # noqa: E402
from pebble import Pebble  # noqa: E402
from test_acme import issued_by_pebble  # noqa: E402

SECRET = "s3cret-shared-by-every-node-of-this-cluster"
DOMAINS = ["wharf.test", "www.wharf.test"]


def serial(pem):
    return subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem, capture_output=True, text=True,
                          timeout=10).stdout.strip()


def cluster_block(role, controller="", ca="", secret=SECRET, poll=30):
    # Polls 30 s apart: a renewal reaching followers within seconds is the long poll's doing.
    return ('cluster = { role = "%s"; secret = "%s"; controller = "%s"; controller_ca = "%s"; poll_interval = %d; };\n'
            % (role, secret, controller, ca, poll))


class TamperingProxy:
    """Stands between a follower and the controller and flips one byte of
    every bundle, keeping its MAC: the fault a network could cause, which no
    real controller produces."""

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
                    i = body.index(b"-----BEGIN CERTIFICATE-----") + 60
                    body = body[:i] + (b"A" if body[i:i + 1] != b"A" else b"B") + body[i + 1:]
                self.send_response(status)
                for h in ("ETag", "Wharf-Bundle-Mac", "Wharf-Account-Thumbprint", "Content-Type"):
                    if headers.get(h):
                        self.send_header(h, headers[h])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.port = harness.free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Cluster(unittest.TestCase):
    def setUp(self):
        # Certificates that live 40 s: the controller renews at 20 s.
        self.pebble = Pebble(validity=40)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        self.pebble.cleanup()

    def node(self, **kw):
        s = Server(**kw)
        self.servers.append(s)
        return s

    def follower(self, controller_port, ca, services, secret=SECRET, controller=None):
        ca_copy = None
        s = self.node(certificates=[{"name": "main", "domains": DOMAINS}], services=services,
                      extra=cluster_block("follower", controller or "https://localhost:%d" % controller_port,
                                          "@CA@", secret))
        ca_copy = os.path.join(s.dir, "controller-ca.pem")
        shutil.copy(ca, ca_copy)
        s.give(ca_copy)
        s.write_config(s.config_text().replace("@CA@", ca_copy))
        return s

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
        wrong = self.follower(ctl.port, ca, [{"type": "https", "address": "127.0.0.1", "port": None,
                                              "certificates": ["main"]}],
                              secret="another-secret-of-at-least-32-characters")
        wrong.start()
        self.assertTrue(wrong.wait_log("refused our cluster secret", 10), wrong.log()[-2000:])
        self.assertFalse(issued_by_pebble(tls_peer_cert(wrong.port, "wharf.test")))

        # A bundle altered on the way is refused; the follower keeps what it has.
        proxy = TamperingProxy("https://localhost:%d" % ctl.port, ca,
                               os.path.join(ctl.state_dir, "certs", "cluster", "selfsigned.key"), ca)
        try:
            tampered = self.follower(ctl.port, ca, [{"type": "https", "address": "127.0.0.1", "port": None,
                                                     "certificates": ["main"]}],
                                     controller="https://localhost:%d" % proxy.port)
            tampered.start()
            self.assertTrue(tampered.wait_log("bundle refused: its MAC does not match", 15), tampered.log()[-2000:])
            self.assertFalse(issued_by_pebble(tls_peer_cert(tampered.port, "wharf.test")))
            self.assertNotIn("installed the controller's certificate", tampered.log())
        finally:
            proxy.close()

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
        import re
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
