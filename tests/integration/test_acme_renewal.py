"""Renewal, against Pebble with certificates that live seconds: a due
certificate is replaced without a restart, with a new key (or the same one
under reuse_key), also while issued.pem cannot be stored; the CA's
renewalInfo (ARI, RFC 9773) can call for it early; a name added to the
config, or another key type, orders a new certificate."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import cert_text, tls_peer_cert  # noqa: E402
from pebble import (AcmeCase, Pebble, block_issued_pem, issued_by_pebble, public_key_id, wait_issued,  # noqa: E402
                    wait_renewed)


class Renewal(AcmeCase):
    def setUp(self):
        # Certificates that live 40 s: renewal is due when half is left (shorter than 10 days).
        self.pebble = Pebble(validity=40)

    def test_short_lived_certificate_renewed(self):
        self.pebble.start()
        s = self.make_server()
        s.start()
        first = wait_issued(s, "wharf.test", timeout=40)
        second = wait_renewed(s, "wharf.test", first)
        self.assertNotEqual(second, first, s.log()[-3000:])
        self.assertTrue(issued_by_pebble(second))
        self.assertGreaterEqual(s.log().count("; installed"), 2)
        # Without reuse_key every renewal brings a new key.
        self.assertNotEqual(public_key_id(first), public_key_id(second))

    def test_renewal_while_issued_pem_cannot_be_written(self):
        # The state folder takes no issued.pem (a folder holds the name): each
        # certificate is served from memory and its order kept for a restart.
        # At renewal that kept order hands back the certificate served; that
        # is no renewal: a fresh order follows, not a loop of re-downloads.
        self.pebble.start()
        s = self.make_server()
        block_issued_pem(s)
        s.start()
        first = wait_issued(s, "wharf.test", timeout=40)
        second = wait_renewed(s, "wharf.test", first)
        self.assertNotEqual(second, first, s.log()[-3000:])
        self.assertIn("the CA handed back the certificate already served", s.log())
        self.assertLessEqual(s.log().count("; installed"), 4, s.log()[-3000:])

    def test_reuse_key_keeps_the_key(self):
        self.pebble.start()
        s = self.make_server(certs=[{"name": "main", "domains": ["wharf.test"], "reuse_key": True}])
        s.start()
        first = wait_issued(s, "wharf.test", timeout=40)
        second = wait_renewed(s, "wharf.test", first)
        self.assertNotEqual(second, first, s.log()[-3000:])
        self.assertEqual(public_key_id(first), public_key_id(second))


def ari_cert_id(pem):
    """RFC 9773 4.1, computed independently: AKI key id "." serial, base64url."""
    import base64
    import re
    text = cert_text(pem)
    aki = re.search(r"Authority Key Identifier.*?\n\s*([0-9a-f]+)\n", text, re.S).group(1)
    serial = re.search(r"Serial Number \(hex\): ([0-9a-f]+)", text).group(1)
    b = lambda h: base64.urlsafe_b64encode(bytes.fromhex(h)).decode().rstrip("=")
    return b(aki) + "." + b(serial)


class RenewalInfo(AcmeCase):
    """Pebble 2.4.0 has no ARI: a small HTTPS front serves its directory with a
    renewalInfo URL added, and answers renewalInfo itself; every other request
    goes to Pebble directly (the directory's other URLs are Pebble's)."""

    def start_front(self):
        import http.server
        import json
        import ssl
        import urllib.request
        pebble = self.pebble
        seen = self.seen = []
        windows = self.windows = {}
        port = self.front_port = harness.free_port()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/dir":
                    ctx = ssl.create_default_context(cafile=pebble.ca_file)
                    d = json.loads(urllib.request.urlopen(pebble.directory, context=ctx, timeout=10).read())
                    d["renewalInfo"] = "https://127.0.0.1:%d/ari/" % port
                    body = json.dumps(d).encode()
                    self.send_response(200)
                elif self.path.startswith("/ari/"):
                    cert_id = self.path[len("/ari/"):]
                    seen.append(cert_id)
                    if len(seen) == 1:
                        # Time for the test to see the first certificate before it is replaced.
                        time.sleep(1.5)
                    now = time.time()
                    # The first certificate asked about is to be renewed now (as after a
                    # mass-revocation notice); any later one not for a long while.
                    start, end = (now - 120, now - 60) if cert_id == seen[0] else (now + 86400, now + 90000)
                    windows[cert_id] = (start, end)
                    fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
                    body = json.dumps({"suggestedWindow": {"start": fmt(start), "end": fmt(end)}}).encode()
                    self.send_response(200)
                    self.send_header("Retry-After", "3600")
                else:
                    body = b"{}"
                    self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = pebble.https_front(Handler, port)

    def tearDown(self):
        if hasattr(self, "httpd"):
            self.httpd.shutdown()
        super().tearDown()

    def test_renews_when_the_ca_says_so(self):
        self.renew_when_the_ca_says_so()

    def renew_when_the_ca_says_so(self):
        self.pebble.start()
        self.start_front()
        s = self.make_server()
        s.extra = s.extra.replace(self.pebble.directory, "https://127.0.0.1:%d/dir" % self.front_port)
        s.write_config()
        s.start()
        first = wait_issued(s, "wharf.test")
        # Asked about the first certificate by its RFC 9773 id, told "now", renewed it
        # naming what it replaces; then asked about the new one, which is left alone.
        deadline = time.monotonic() + 40
        second = first
        while time.monotonic() < deadline and (second == first or len(self.seen) < 2):
            time.sleep(0.3)
            second = tls_peer_cert(s.port, "wharf.test")
        self.assertNotEqual(second, first, s.log()[-3000:])
        self.assertEqual(self.seen[0], ari_cert_id(first))
        self.assertIn("the new order replaces %s" % ari_cert_id(first), s.log())
        self.assertEqual(self.seen[1], ari_cert_id(second))
        time.sleep(2)
        self.assertEqual(s.log().count("; installed"), 2)
        return s, second

    def test_cert_list_shows_the_time_picked(self):
        """cert list tells the moment the daemon renews at (as the status
        endpoint does, from the same code): the one it picked in the CA's
        window, kept in status.json for the certificate it is about, not the
        lifetime rule's (years away for Pebble's five-year certificates)."""
        import json
        import subprocess
        s, second = self.renew_when_the_ca_says_so()
        start, end = self.windows[ari_cert_id(second)]
        fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

        def next_renewal():
            out = subprocess.run([harness.WHARF, "cert", "list", "-c", s.config_path, "--json"],
                                 capture_output=True, text=True, timeout=20)
            return json.loads(out.stdout)["certificates"][0]["next_renewal"]
        # The answer about the second certificate is in: its pick is kept soon after.
        deadline = time.monotonic() + 10
        shown = next_renewal()
        while time.monotonic() < deadline and not fmt(int(start)) <= shown <= fmt(end + 1):
            time.sleep(0.2)
            shown = next_renewal()
        self.assertTrue(fmt(int(start)) <= shown <= fmt(end + 1), (shown, fmt(start), fmt(end)))
        # A pick about another serial (its predecessor's) says nothing of this one.
        status_path = os.path.join(s.state_dir, "certs", "main", "status.json")
        with open(status_path) as f:
            status = json.load(f)
        status["ari_for"] = "00" + status["ari_for"]
        with open(status_path, "w") as f:
            json.dump(status, f)
        self.assertGreater(next_renewal(), fmt(time.time() + 365 * 86400))

class NamesChange(AcmeCase):
    def test_added_name_orders_a_new_certificate(self):
        self.pebble.start()
        s = self.make_server(domains=("wharf.test",))
        s.start()
        first = wait_issued(s, "wharf.test")
        self.assertNotIn("extra.wharf.test", cert_text(first))
        # The issued certificate no longer covers the names: it serves those
        # it has until the new one arrives (test_acme_names_added.py).
        s.certificates[0]["domains"].append("extra.wharf.test")
        s.write_config()
        self.assertTrue(s.reload())
        pem = wait_renewed(s, "extra.wharf.test", first)
        self.assertIn("extra.wharf.test", cert_text(pem))
        self.assertIn("wharf.test", cert_text(pem))

    def test_changed_key_type_orders_a_new_certificate(self):
        # Certificates of five years: only the changed key_type can make one due.
        self.pebble.start()
        s = self.make_server(certs=[{"name": "main", "domains": ["wharf.test"], "key_type": "rsa2048"}])
        s.start()
        first = wait_issued(s, "wharf.test")
        self.assertIn("Subject Public Key Algorithm: RSA", cert_text(first))
        s.certificates[0]["key_type"] = "ec384"
        s.write_config()
        self.assertTrue(s.reload())
        # The old one serves until the new one comes, never a self-signed one.
        self.assertTrue(issued_by_pebble(tls_peer_cert(s.port, "wharf.test")))
        pem = wait_renewed(s, "wharf.test", first, timeout=40)
        self.assertNotEqual(pem, first, s.log()[-3000:])
        self.assertIn("SECP384R1", cert_text(pem))
        self.assertIn("stored issued.pem has a rsa2048 key, the config asks for ec384", s.log())


if __name__ == "__main__":
    harness.main()
