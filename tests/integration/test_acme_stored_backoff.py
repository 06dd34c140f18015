"""A wait for the next ACME attempt read back from status.json at start-up is
bounded as a live one is: never longer than a sixth of the time the served
certificate has left (nor than a day). A day-long wait saved earlier must not
let a short-lived certificate expire unrenewed across a restart. Against a
real ACME server (Debian's pebble), on loopback."""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Server, cert_text, tls_peer_cert  # noqa: E402
from pebble import Pebble  # noqa: E402

LIFE = 60  # seconds: due with 30 s left; a sixth of what is left is 10 s at most


def issued_pem(server, sni):
    pem = tls_peer_cert(server.port, sni)
    return pem if "Pebble Intermediate CA" in cert_text(pem) else None


def not_after(pem):
    import calendar
    from cryptography import x509
    cert = x509.load_pem_x509_certificate(pem.encode())
    when = cert.not_valid_after_utc if hasattr(cert, "not_valid_after_utc") else cert.not_valid_after
    return calendar.timegm(when.timetuple())


class StoredNextAttempt(unittest.TestCase):
    def setUp(self):
        self.pebble = Pebble(validity=LIFE)
        self.pebble.start()

    def tearDown(self):
        if hasattr(self, "server"):
            harness.log_on_failure(self, self.server)
            self.server.cleanup()
        self.pebble.cleanup()

    def test_day_long_wait_cut_to_the_time_left(self):
        p = self.pebble
        services = [{"type": "https", "address": "127.0.0.1", "port": p.tls_port, "certificates": ["main"]},
                    {"type": "acme-http", "address": "127.0.0.1", "port": p.http_port, "https_port": p.tls_port}]
        s = self.server = Server(certificates=[{"name": "main", "domains": ["wharf.test"], "challenge": "http-01"}],
                                 services=services, extra=p.acme_config())
        s.start()
        first = harness.wait_until(lambda: issued_pem(s, "wharf.test"), timeout=40)
        self.assertTrue(first, s.log()[-3000:])
        end = not_after(first)
        s.stop()
        # As an earlier run would have left it after failures while the
        # certificate had days to go: the next attempt a day away.
        path = os.path.join(s.state_dir, "certs", "main", "status.json")
        with open(path) as f:
            status = json.load(f)
        status.update(failures=4, ca_failures=0, last_error_at=int(time.time()),
                      last_error="wharf.test: the CA was down", next_attempt=int(time.time()) + 86400)
        with open(path, "w") as f:
            json.dump(status, f)
        s.start()
        started = time.time()
        left = end - started
        self.assertGreater(left, 40, "issuance took too long for this test to tell anything")
        # One line says the stored wait was cut, and to what; status.json
        # (what cert list shows) holds the new moment.
        self.assertTrue(s.wait_log("is later than the backoff allows with", timeout=10), s.log()[-3000:])
        line = [l for l in s.log().splitlines() if "is later than the backoff allows" in l][0]
        self.assertIn("(in 24.0 h)", line)
        wait = int(re.search(r"next attempt in (\d+) s$", line).group(1))
        self.assertLessEqual(wait, left / 6 * 1.1 + 1, line)
        with open(path) as f:
            # (status.json rounds the moment up to its second, and the server
            # cut it a moment after started)
            self.assertLessEqual(json.load(f)["next_attempt"], started + left / 6 * 1.1 + 2)
        # And the certificate is renewed once due (30 s left), before it expires.
        second = harness.wait_until(lambda: (lambda pem: pem if pem and pem != first else None)(
            issued_pem(s, "wharf.test")), timeout=max(1, end - time.time() - 1), interval=0.4)
        self.assertTrue(second, s.log()[-3000:])
        self.assertGreater(not_after(second), end)


if __name__ == "__main__":
    harness.main()
