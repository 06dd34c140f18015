"""`wharf cert fetch`, for nodes that share a key and run no ACME: it takes
the certificate a real server (wharf itself here) presents for a name, and
installs it with certbot's file layout only if it matches our key, covers the
name and is newer than what is on disk; then the hook runs. Every refusal is
exit 1 with one clear line."""

import os
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def read(path):
    with open(path) as f:
        return f.read()


class Fetch(harness.SharedServerCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="wharf-fetch-")
        self.key = os.path.join(self.server.state_dir, "certs", "main", "selfsigned.key")
        self.served = os.path.join(self.server.state_dir, "certs", "main", "selfsigned.pem")

    def tearDown(self):
        super().tearDown()
        subprocess.run(["rm", "-rf", self.tmp], timeout=10)

    def fetch(self, *args, sni="localhost", key=None, port=None, hook=()):
        cmd = [harness.WHARF, "cert", "fetch", "127.0.0.1:%d" % (port or self.server.port), "--sni", sni,
               "--key", key or self.key, "--out", os.path.join(self.tmp, "out"), *args]
        if hook:
            cmd += ["--", *hook]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def test_install_then_up_to_date(self):
        hook_log = os.path.join(self.tmp, "hook.log")
        hook = os.path.join(self.tmp, "hook.sh")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\nenv | grep ^WHARF_ >> %s\n" % hook_log)
        os.chmod(hook, 0o755)
        r = self.fetch(hook=(hook,))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("installed the certificate", r.stdout)
        out = os.path.join(self.tmp, "out")
        self.assertEqual(read(os.path.join(out, "cert.pem")).strip(), read(self.served).strip().split(
            "-----END CERTIFICATE-----")[0].strip() + "\n-----END CERTIFICATE-----")
        self.assertEqual(read(os.path.join(out, "privkey.pem")), read(self.key))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(out, "privkey.pem")).st_mode), 0o600)
        self.assertIn("WHARF_EVENT=fetched", read(hook_log))
        self.assertIn("WHARF_OUTPUT_DIR=%s" % out, read(hook_log))
        self.assertIn("exited 0", r.stderr)

        # The same certificate again is not newer: nothing changes, no hook.
        r = self.fetch(hook=(hook,))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("up to date", r.stdout)
        self.assertEqual(read(hook_log).count("WHARF_EVENT=fetched"), 1)

    def test_hook_named_without_a_path_is_looked_up_in_path(self):
        # As a shell would: ["sh", "-c", ...] ran nothing ("cannot run sh"),
        # here and for the config's deploy, event and DNS hooks alike.
        hook_log = os.path.join(self.tmp, "hook.log")
        r = self.fetch(hook=("sh", "-c", 'echo "$WHARF_EVENT" > "$0"', hook_log))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("exited 0", r.stderr)
        self.assertEqual(read(hook_log), "fetched\n")

    def test_refusals(self):
        other_key = os.path.join(self.tmp, "other.key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                        other_key], check=True, capture_output=True, timeout=30)
        r = self.fetch(key=other_key)
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not match the key", r.stderr)
        r = self.fetch(sni="elsewhere.example")
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not cover elsewhere.example", r.stderr)
        r = self.fetch(port=harness.free_port())
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "out")))
        r = subprocess.run([harness.WHARF, "cert", "fetch", "127.0.0.1"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: wharf cert fetch", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
