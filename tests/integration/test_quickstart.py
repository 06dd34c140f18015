"""The README's quick start (packaging/quickstart.sh), as root, from a
checkout in a folder the run user cannot enter (as /root and homes are on
Debian): the server comes up on the example config, serves the demo user
over HTTPS and FTPS, takes an upload, reloads on SIGHUP, and with pebble
installed swaps in a CA-issued certificate. Fixed ports (8443, 2121, 9990,
and pebble's 14000), as the README gives them."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

TOP = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUN = "/var/lib/wharf-quickstart"
DEMO = ["-u", "demo:wharf-demo"]


def curl(*args):
    return subprocess.run(["curl", "-sk", "--max-time", "20"] + DEMO + list(args), capture_output=True,
                          timeout=30)


@unittest.skipUnless(os.geteuid() == 0, "the quick start as root")
class QuickStart(unittest.TestCase):
    def setUp(self):
        self.closed = tempfile.mkdtemp(prefix="wharf-quickstart-")  # 0700: only root enters
        # The script and the configs, beside the binary under test (WHARF_BIN:
        # the script's build step is the suite's own build).
        for part in ("packaging", "config"):
            shutil.copytree(os.path.join(TOP, part), os.path.join(self.closed, "wharf", part))
        self.had_run = os.path.exists(RUN)
        self.out = open(os.path.join(self.closed, "out.log"), "w+")
        self.proc = subprocess.Popen([os.path.join(self.closed, "wharf", "packaging", "quickstart.sh")],
                                     stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True,
                                     env=dict(os.environ, WHARF_BIN=harness.WHARF))

    def tearDown(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # Ctrl-C, as the script says
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.out.close()
        shutil.rmtree(self.closed, ignore_errors=True)
        if not self.had_run:
            shutil.rmtree(RUN, ignore_errors=True)

    def log(self):
        self.out.flush()
        with open(self.out.name, errors="replace") as f:
            return f.read()

    def test_serves_from_a_folder_the_run_user_cannot_enter(self):
        up = harness.wait_until(lambda: self.proc.poll() is not None or
                                (re.search(r"wharf \S+ ready", self.log()) and harness.wait_port(8443, 0.2)),
                                timeout=60, interval=0.5)
        self.assertTrue(up and self.proc.poll() is None, self.log()[-4000:])
        self.assertIn("running from %s" % RUN, self.log())

        r = curl("https://127.0.0.1:8443/")
        self.assertEqual(r.returncode, 0, self.log()[-3000:])
        self.assertIn(b"README.txt", r.stdout)
        with open(os.path.join(self.closed, "notes.txt"), "w") as f:
            f.write("quick start upload\n")
        r = curl("-T", os.path.join(self.closed, "notes.txt"), "https://127.0.0.1:8443/")
        self.assertEqual(r.returncode, 0, self.log()[-3000:])
        with open(os.path.join(RUN, ".run", "files", "notes.txt")) as f:
            self.assertEqual(f.read(), "quick start upload\n")
        r = curl("--ssl-reqd", "ftp://127.0.0.1:2121/")
        self.assertEqual(r.returncode, 0, self.log()[-3000:])
        self.assertIn(b"notes.txt", r.stdout)

        # A reload reads the config as the run user.
        wharf = subprocess.run(["pgrep", "-s", str(self.proc.pid), "-x", "wharf"], capture_output=True,
                               text=True, timeout=10).stdout.split()
        self.assertEqual(len(wharf), 1, wharf)
        os.kill(int(wharf[0]), signal.SIGHUP)
        self.assertTrue(harness.wait_until(lambda: "reloaded:" in self.log() or "reload refused" in self.log(),
                                           timeout=20), self.log()[-3000:])
        self.assertNotIn("reload refused", self.log())

        if shutil.which("pebble"):
            issued = harness.wait_until(
                lambda: "Pebble" in harness.cert_text(harness.tls_peer_cert(8443, "localhost")), timeout=60,
                interval=0.5)
            self.assertTrue(issued, self.log()[-4000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
