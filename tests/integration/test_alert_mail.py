"""Alert mail: a failed order sends a mail through the configured SMTP relay
(a real SMTP server from Python's standard library on loopback), with the
certificate, the event and the CA's problem in it; a relay that is down costs
one log line and nothing else."""

import os
import sys
import threading
import unittest
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore  # noqa: E402  (Python 3.11 still ships it with smtpd)
    import smtpd  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Server  # noqa: E402
from pebble import Pebble  # noqa: E402
from test_cert_obtain import obtain  # noqa: E402


class Relay(smtpd.SMTPServer):
    def __init__(self, port):
        super().__init__(("127.0.0.1", port), None, decode_data=True)
        self.messages = []

    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        self.messages.append((mailfrom, rcpttos, data))


class AlertMail(unittest.TestCase):
    def setUp(self):
        self.pebble = Pebble()
        self.pebble.start()
        self.smtp_port = harness.free_port()
        self.relay = Relay(self.smtp_port)
        self.loop = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1}, daemon=True)
        self.loop.start()
        self.server = None

    def tearDown(self):
        self.relay.close()
        self.loop.join(timeout=5)
        if self.server:
            self.server.cleanup()
        self.pebble.cleanup()

    def make(self, relay_port):
        acme = self.pebble.acme_config().replace(
            "acme = { ", 'acme = { mail_relay = "smtp://127.0.0.1:%d"; mail_from = "wharf@wharf.test"; '
                         'mail_to = ["ops@wharf.test", "oncall@wharf.test"]; ' % relay_port, 1)
        # The acme-http service listens where the CA does not look: the order fails.
        self.server = Server(certificates=[{"name": "main", "domains": ["wharf.test"]}],
                             services=[{"type": "acme-http", "address": "127.0.0.1", "port": None,
                                        "https_port": 443}], extra=acme)
        self.server.write_config()
        self.server.give_homes()
        return self.server

    def test_failure_mailed(self):
        s = self.make(self.smtp_port)
        r = obtain(s)
        self.assertEqual(r.returncode, 1, r.stderr[-2000:])
        self.assertTrue(harness.wait_until(lambda: self.relay.messages, 10), r.stderr[-2000:])
        self.assertIn("alert mail: sent", r.stderr)
        mailfrom, rcpt, data = self.relay.messages[0]
        self.assertEqual(mailfrom, "wharf@wharf.test")
        self.assertEqual(sorted(rcpt), ["oncall@wharf.test", "ops@wharf.test"])
        self.assertIn("Subject: [wharf] certificate main: renewal failed", data)
        self.assertIn("Domains: wharf.test", data)
        self.assertIn("Problem: urn:ietf:params:acme:error:", data)

    def test_relay_down_is_one_line(self):
        s = self.make(harness.free_port())
        r = obtain(s)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.count("alert mail: not sent"), 1, r.stderr[-2000:])
        self.assertIn("0 issued, 1 failed", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
