"""A stop between storing issued.pem and removing pending.order and
pending.key (kill -9 in that window of a few milliseconds) leaves the files
that let a restart resume an order whose certificate is already stored. The
crash's leftovers are made deterministically here: the certificate is issued
while issued.pem cannot be stored (so the order's files stay, as they do
then), wharf stops, and issued.pem is written as wharf writes it (the key of
pending.key, then the chain served). At the next start those files are
removed with one info line (a spare copy of a private key must not stay on
disk for ever); under reuse_key (every order certifies the same key, so the
key says nothing) the resumed order hands back the certificate served, which
is no failure: a new order follows at once. Against Debian's pebble."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import tls_peer_cert  # noqa: E402
from pebble import AcmeCase, Pebble, block_issued_pem, served_chain, wait_issued, wait_renewed  # noqa: E402


class PendingOfStoredCertificate(AcmeCase):
    validity = 0

    def setUp(self):
        self.pebble = Pebble(validity=self.validity)

    def tearDown(self):
        if hasattr(self, "server"):
            harness.log_on_failure(self, self.server)
        super().tearDown()

    def crash_leftovers(self, certs=None):
        """Issues a certificate and leaves the state folder as a kill -9 right
        after issued.pem was stored would: issued.pem, pending.order and
        pending.key for the same order. Returns the certificate served."""
        self.pebble.start()
        s = self.make_server(domains=("wharf.test",), certs=certs)
        blocker = block_issued_pem(s)
        s.start()
        first = wait_issued(s, "wharf.test", timeout=40)
        self.assertTrue(s.wait_log("issued, but not stored", timeout=10), s.log()[-3000:])
        chain = served_chain(s.port, "wharf.test")
        self.assertTrue(chain.startswith(first.strip()[:60]), chain)
        s.stop()
        shutil.rmtree(blocker)
        d = os.path.dirname(blocker)
        self.pending = [os.path.join(d, "pending.order"), os.path.join(d, "pending.key")]
        for p in self.pending:
            self.assertTrue(os.path.exists(p), p)
        with open(self.pending[1]) as f:
            key = f.read()
        with open(blocker, "w") as f:
            f.write(key + ("" if key.endswith("\n") else "\n") + chain)
        os.chmod(blocker, 0o600)
        s.give(blocker)
        return first

    def test_restart_removes_the_order_files_of_the_stored_certificate(self):
        first = self.crash_leftovers()
        s = self.server
        before = len(s.log())
        s.start()
        self.assertTrue(s.wait_log("the unfinished order in pending.order was finalized with the key of the "
                                   "certificate issued.pem holds", timeout=10), s.log()[-3000:])
        for p in self.pending:
            self.assertFalse(os.path.exists(p), p)
        self.assertEqual(tls_peer_cert(s.port, "wharf.test"), first)
        self.assertNotIn("ordering from", s.log()[before:])
        self.assertNotIn("order failed", s.log())

    def test_lone_pending_key_of_the_stored_certificate_removed(self):
        # pending.order went, pending.key did not (a stop between the two).
        self.crash_leftovers()
        os.unlink(self.pending[0])
        s = self.server
        s.start()
        self.assertTrue(s.wait_log("pending.key is the key of the certificate issued.pem holds", timeout=10),
                        s.log()[-3000:])
        self.assertFalse(os.path.exists(self.pending[1]))


class ResumedOrderOfServedCertificate(PendingOfStoredCertificate):
    validity = 40  # renewal due 20 s after issuance

    # The tests of the base class, not again here.
    test_restart_removes_the_order_files_of_the_stored_certificate = None
    test_lone_pending_key_of_the_stored_certificate_removed = None

    def test_resumed_order_handing_back_the_served_certificate_is_no_failure(self):
        first = self.crash_leftovers(certs=[{"name": "main", "domains": ["wharf.test"], "challenge": "http-01",
                                             "reuse_key": True}])
        s = self.server
        before = len(s.log())
        s.start()
        self.assertEqual(tls_peer_cert(s.port, "wharf.test"), first)
        second = wait_renewed(s, "wharf.test", first, timeout=60)
        self.assertNotEqual(second, first, s.log()[-3000:])
        log = s.log()[before:]
        self.assertIn("certificate main: resuming the unfinished order", log)
        self.assertIn("certificate main: the unfinished order resumed was done already: the CA handed back the "
                      "certificate already served; ordering anew", log)
        self.assertNotIn("order failed", log)
        self.assertNotIn("[error]", log)
        for p in self.pending:
            self.assertFalse(os.path.exists(p), p)


if __name__ == "__main__":
    harness.main()
