"""The ACME client against a CA that misbehaves in ways Pebble cannot be
made to (scripted_ca.py): a certificate already expired, or not valid for
a month, or a chain past 256 KiB, is refused (never served or stored) and the order fails with the
usual backoff, not a loop of orders; a renewalInfo window that closed
before the certificate was issued is taken once ("renew now"), and
ignored when said again of the renewed one (one warning; no renewal
storm); Retry-After: 0 on an order that stays processing does not
make the client poll flat out; an order the CA leaves ready after its
finalize is polled, not finalized again; and a relative Location is
followed."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from scripted_ca import ScriptedCA  # noqa: E402


class ScriptedCACase(unittest.TestCase):

    def start(self, mode):
        self.ca = ScriptedCA(mode).start()
        self.addCleanup(self.ca.stop)
        certs = [{"name": "main", "domains": ["wharf.test"], "challenge": "tls-alpn-01"}]
        services = [{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]}]
        self.server = harness.Server(certificates=certs, services=services, extra=self.ca.acme_config(), workers=1)
        self.addCleanup(self.server.cleanup)
        self.server.start()

    def tearDown(self):
        if hasattr(self, "server"):
            harness.log_on_failure(self, self.server)

    def served_issuer(self):
        return harness.cert_text(harness.tls_peer_cert(self.server.port, "wharf.test"))

    def issued_pem(self):
        return os.path.join(self.server.state_dir, "certs", "main", "issued.pem")

    def assertRefusedWithBackoff(self, reason):
        s = self.server
        self.assertTrue(s.wait_log(reason, timeout=20), s.log()[-3000:])
        time.sleep(6)
        # retry_interval 1 s: a backoff makes a few attempts in 6 s; a loop
        # made hundreds (each a fresh order and download).
        self.assertLessEqual(self.ca.count("download"), 5, s.log()[-3000:])
        self.assertNotIn(ScriptedCA.ISSUER_CN, self.served_issuer())
        self.assertNotIn("; installed", s.log())
        self.assertFalse(os.path.exists(self.issued_pem()))

    def test_account_lost_under_two_requests(self):
        # Both authorizations are refused for the account; the lookup that
        # both then wait on fails: each request fails once, with the account
        # step's reason, and the server lives on (one's failure cancelled
        # the other while its waiter was being delivered).
        self.start("forgets_account")
        s = self.server
        self.assertTrue(s.wait_log("account: HTTP 500: down (authorizations)", timeout=20), s.log()[-3000:])
        self.assertTrue(harness.wait_until(lambda: self.ca.count("acct") >= 3, timeout=20), s.log()[-3000:])
        self.assertIsNone(s.proc.poll(), s.log()[-3000:])
        self.assertIn("the CA no longer knows account", s.log())
        self.assertNotIn("HTTP 400: account", s.log())

    def test_expired_certificate_refused(self):
        self.start("expired")
        self.assertRefusedWithBackoff("certificate download: the certificate expired at ")

    def test_certificate_valid_only_later_refused(self):
        self.start("future")
        self.assertRefusedWithBackoff("certificate download: the certificate is valid only from ")

    def test_order_left_ready_is_finalized_once(self):
        self.start("stays_ready")
        s = self.server
        self.assertTrue(harness.wait_until(lambda: self.ca.count("finalize") >= 1, timeout=20), s.log()[-3000:])
        self.assertTrue(harness.wait_until(lambda: self.ca.count("poll") >= 4, timeout=20), s.log()[-3000:])
        self.assertEqual(self.ca.count("finalize"), 1, s.log()[-3000:])

    def test_relative_location_is_followed(self):
        self.start("relative_location")
        s = self.server
        self.assertTrue(s.wait_log("; installed", timeout=20), s.log()[-3000:])
        self.assertIn(ScriptedCA.ISSUER_CN, self.served_issuer())
        self.assertEqual(self.ca.count("order"), 1)

    def test_chain_past_256_kib_refused(self):
        # A real chain is a few KiB; one of megabytes was stored, then could
        # not be read back at the next start.
        self.start("padded")
        self.assertRefusedWithBackoff("certificate download: the chain is larger than 256 KiB")

    def test_renewal_window_closed_again_is_ignored(self):
        # A window that closed before the certificate was issued means
        # "renew now" (a CA about to revoke): taken once. Said again of the
        # new certificate, and of every one after, it is ignored.
        self.start("ari_past")
        s = self.server
        self.assertTrue(s.wait_log("; installed", timeout=20, count=2), s.log()[-3000:])
        self.assertTrue(s.wait_log("the CA's renewal window ended before the served certificate was issued, "
                                   "as for the one it replaced; ignored", timeout=20), s.log()[-3000:])
        time.sleep(5)
        self.assertEqual(self.ca.count("order"), 2, s.log()[-3000:])
        self.assertEqual(s.log().count("; installed"), 2)
        self.assertIn(ScriptedCA.ISSUER_CN, self.served_issuer())

    def test_retry_after_zero_does_not_make_polling_flat_out(self):
        self.start("processing_ra0")
        s = self.server
        self.assertTrue(harness.wait_until(lambda: self.ca.count("finalize") == 1, timeout=20), s.log()[-3000:])
        time.sleep(6)
        # The client's own growing delay (up to 2 s) sets the pace: about a
        # dozen polls in 6 s; flat out it made over a hundred.
        self.assertLessEqual(self.ca.count("poll"), 25, s.log()[-3000:])
        self.assertGreaterEqual(self.ca.count("poll"), 2)


if __name__ == "__main__":
    harness.main()
