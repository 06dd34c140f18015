"""A certificate issued but not stored (issued.pem cannot be written) is
served anyway; a reload while the CA is down keeps serving it, rather than
go back to the provisional self-signed one the disk still holds until an
order succeeds again; and it is stored once the disk takes it, so a restart
with the CA down still serves it."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import tls_peer_cert  # noqa: E402
from pebble import AcmeCase, block_issued_pem, issued_by_pebble, wait_issued  # noqa: E402


class ReloadUnstored(AcmeCase):
    challenge = "tls-alpn-01"

    def test_reload_keeps_the_issued_certificate_not_stored(self):
        self.pebble.start()
        s = self.make_server(domains=("wharf.test",))
        # A folder stands where issued.pem goes: the save fails (as any
        # write failure would), the certificate is served from memory.
        block_issued_pem(s)
        s.start()
        issued = wait_issued(s, "wharf.test")
        self.assertTrue(s.wait_log("issued, but not stored", timeout=10), s.log()[-3000:])
        self.pebble.stop_pebble()

        self.assertTrue(s.reload(), s.log()[-3000:])
        served = tls_peer_cert(s.port, "wharf.test")
        self.assertTrue(issued_by_pebble(served), served + s.log()[-3000:])
        self.assertEqual(served, issued)
        self.assertIn("certificate main: keeps serving the certificate from", s.log())

        # A change of key type is a new certificate to order: the reload
        # then takes what the disk has (the provisional one).
        s.certificates[0]["key_type"] = "rsa2048"
        s.write_config()
        self.assertTrue(s.reload(), s.log()[-3000:])
        self.assertFalse(issued_by_pebble(tls_peer_cert(s.port, "wharf.test")))

    def test_stored_once_the_disk_takes_it_even_after_a_reload(self):
        self.pebble.start()
        s = self.make_server(domains=("wharf.test",))
        blocker = block_issued_pem(s)
        s.start()
        issued = wait_issued(s, "wharf.test")
        self.assertTrue(s.wait_log("issued, but not stored", timeout=10), s.log()[-3000:])
        self.pebble.stop_pebble()
        # Retried while the disk refuses, across a reload too.
        self.assertTrue(s.wait_log("certificate main: still not stored (try 2)", timeout=30), s.log()[-3000:])
        self.assertTrue(s.reload(), s.log()[-3000:])
        shutil.rmtree(blocker)
        self.assertTrue(s.wait_log("certificate main: stored at last", timeout=60), s.log()[-3000:])
        with open(blocker) as f:
            self.assertIn(issued.strip(), f.read())
        # A restart with the CA still down serves it from the disk.
        s.stop()
        s.start()
        self.assertEqual(tls_peer_cert(s.port, "wharf.test"), issued)

    def test_reload_does_not_keep_a_stored_certificate_set_aside(self):
        # issued.pem moved aside (as `cert revoke` does) asks for a new
        # certificate: the reload takes the provisional one, not the served.
        self.pebble.start()
        s = self.make_server(domains=("wharf.test",))
        s.start()
        wait_issued(s, "wharf.test")
        self.pebble.stop_pebble()
        path = os.path.join(s.state_dir, "certs", "main", "issued.pem")
        os.rename(path, path + ".revoked")
        self.assertTrue(s.reload(), s.log()[-3000:])
        self.assertFalse(issued_by_pebble(tls_peer_cert(s.port, "wharf.test")))
        self.assertNotIn("keeps serving", s.log())


if __name__ == "__main__":
    harness.main()
