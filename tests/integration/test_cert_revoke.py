"""`wharf cert revoke`, against Pebble: each revoked certificate is kept in
the certificate's state folder, none ever overwritten, so an admin can still
read the serial and dates of every one revoked; the first keeps the name
issued.pem.revoked, later ones carry their serial."""

import json
import os
import ssl
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from pebble import AcmeCase  # noqa: E402


def read(path):
    with open(path) as f:
        return f.read()


class Revoke(AcmeCase):
    def run_wharf(self, s, *args, timeout=90):
        return subprocess.run([harness.WHARF, "cert", *args, "-c", s.config_path], capture_output=True, text=True,
                              timeout=timeout)

    def obtain(self, s):
        r = self.run_wharf(s, "obtain")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertIn("1 issued, 0 failed", r.stderr)

    def serial(self, s):
        r = self.run_wharf(s, "list", "--json", timeout=20)
        return json.loads(r.stdout)["certificates"][0]["serial"]

    def revoked_at_ca(self, serial):
        ctx = ssl.create_default_context(cafile=self.pebble.ca_file)
        return b"Revoked" in urllib.request.urlopen(
            "https://127.0.0.1:%d/cert-status-by-serial/%s" % (self.pebble.mgmt_port, serial), context=ctx,
            timeout=10).read()

    def test_every_revoked_certificate_is_kept(self):
        self.pebble.start()
        s = self.make_server(domains=("wharf.test",))
        s.give_homes()
        folder = os.path.join(s.state_dir, "certs", "main")
        kept = {}  # file name -> (serial, issued.pem as it was when revoked)
        said = []
        for n in range(3):
            # Each round as cron and an admin would: obtain (the previous
            # one is set aside, so a new one is due), then revoke it.
            self.obtain(s)
            serial = self.serial(s)
            issued = read(os.path.join(folder, "issued.pem"))
            if n == 2:
                # A copy an admin put back under the name this one would
                # take is no more overwritten than the others: a number follows.
                copy = "issued.pem.revoked." + serial
                with open(os.path.join(folder, copy), "w") as f:
                    f.write("the admin's copy\n")
                kept[copy] = (None, "the admin's copy\n")
            r = self.run_wharf(s, "revoke", "main")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertFalse(os.path.exists(os.path.join(folder, "issued.pem")))
            # Those revoked before are still there, untouched.
            for name, (_, before) in kept.items():
                self.assertTrue(read(os.path.join(folder, name)) == before, "%s was overwritten" % name)
            name = ("issued.pem.revoked", "issued.pem.revoked." + serial, "issued.pem.revoked.%s.2" % serial)[n]
            self.assertNotIn(name, kept)
            self.assertEqual(read(os.path.join(folder, name)), issued, name)
            kept[name] = (serial, issued)
            said.append((r.stdout, serial, name))

        # Each time the output named the file and the serial.
        for out, serial, name in said:
            self.assertIn("certificate main: serial %s moved to %s;" % (serial, name), out)
        # All three are there (and the copy) and nothing else of the kind,
        # each revoked at the CA.
        self.assertEqual(sorted(n for n in os.listdir(folder) if n.startswith("issued.pem")), sorted(kept))
        serials = [serial for serial, _ in kept.values() if serial]
        self.assertEqual(len(set(serials)), 3)
        for serial in serials:
            self.assertTrue(self.revoked_at_ca(serial), serial)


if __name__ == "__main__":
    unittest.main(verbosity=2)
