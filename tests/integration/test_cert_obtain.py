"""`wharf cert obtain`, the one-shot replacement for certbot's cron job,
against Pebble: with the standalone HTTP-01 responder (the config's acme-http
service) and with a webroot served by another web server; a second run finds
nothing due and changes nothing; a failed order exits 1 with a clear line."""

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Server  # noqa: E402
from pebble import Pebble, hook_script, verify_chain  # noqa: E402

DOMAINS = ["wharf.test", "www.wharf.test"]


def read(path):
    with open(path) as f:
        return f.read()


def obtain(server, *extra, timeout=90):
    return subprocess.run([harness.WHARF, "cert", "obtain", "-c", server.config_path, *extra],
                          capture_output=True, text=True, timeout=timeout)


class Obtain(unittest.TestCase):
    def setUp(self):
        self.pebble = Pebble()
        self.pebble.start()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        self.pebble.cleanup()

    def config(self, services, acme_extra="", cert_extra=None):
        acme = self.pebble.acme_config().replace("acme = { ", "acme = { " + acme_extra + " ", 1)
        s = Server(certificates=[dict({"name": "main", "domains": DOMAINS}, **(cert_extra or {}))],
                   services=services, extra=acme)
        self.servers.append(s)
        s.certificates[0]["output_dir"] = harness.writable_out_dir(s)
        return s

    def obtained(self):
        """A server whose certificate a first `cert obtain` (through its
        own acme-http answer) has issued."""
        s = self.config([{"type": "acme-http", "address": "127.0.0.1", "port": self.pebble.http_port,
                          "https_port": 443}])
        s.write_config()
        s.give_homes()
        r = obtain(s)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        return s

    def test_standalone_then_nothing_due(self):
        s = self.config([{"type": "acme-http", "address": "127.0.0.1", "port": self.pebble.http_port,
                          "https_port": 443}])
        deploy, deploy_log = hook_script(s, "deploy")
        s.certificates[0]["deploy_hook"] = "@DEPLOY@"
        s.write_config(s.config_text().replace('deploy_hook = "@DEPLOY@";', 'deploy_hook = ["%s"];' % deploy))
        s.give_homes()
        r = obtain(s)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertIn("cert obtain: 1 issued, 0 failed", r.stderr)
        full = read(os.path.join(s.dir, "out", "main", "fullchain.pem"))
        ok, why = verify_chain(self.pebble, full, "wharf.test")
        self.assertTrue(ok, why)
        # The run waited for its hook and logged how it ended.
        self.assertTrue(os.path.exists(deploy_log), "the deploy hook did not run before exit")
        self.assertIn("exited 0", r.stderr)
        self.assertIn("WHARF_EVENT=issued", read(deploy_log))
        self.assertIn("HOOK_SOCKETS=0 ", read(deploy_log))  # not the run's connection to the CA
        inode = os.stat(os.path.join(s.dir, "out", "main", "fullchain.pem")).st_ino
        hook_runs = read(deploy_log).count("WHARF_EVENT=issued")

        r = obtain(s)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertIn("0 issued, 0 failed (nothing was due)", r.stderr)
        self.assertEqual(os.stat(os.path.join(s.dir, "out", "main", "fullchain.pem")).st_ino, inode)
        self.assertEqual(read(deploy_log).count("WHARF_EVENT=issued"), hook_runs)

    def test_damaged_issued_cert_is_replaced_by_a_new_order(self):
        """A damaged issued.pem: the warning names its path and says a new
        one is ordered; `cert list` shows it; it stays until the new
        certificate is renamed over it."""
        s = self.obtained()
        issued = os.path.join(s.state_dir, "certs", "main", "issued.pem")
        with open(issued, "w") as f:
            f.write("garbage\n")
        out = subprocess.run([harness.WHARF, "cert", "list", "-c", s.config_path, "--json"],
                             capture_output=True, text=True, timeout=20)
        entry = json.loads(out.stdout)["certificates"][0]
        self.assertTrue(entry["stored_error"].startswith(issued + " is unusable: "), entry)
        r = obtain(s)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertIn("certificate main: stored %s is unusable: " % issued, r.stderr)
        self.assertIn("the provisional self-signed certificate serves in its place and a new one is ordered from "
                      "the CA", r.stderr)
        self.assertIn("cert obtain: 1 issued, 0 failed", r.stderr)
        ok, why = verify_chain(self.pebble, read(issued), "wharf.test")
        self.assertTrue(ok, why)
        out = subprocess.run([harness.WHARF, "cert", "list", "-c", s.config_path, "--json"],
                             capture_output=True, text=True, timeout=20)
        self.assertIsNone(json.loads(out.stdout)["certificates"][0]["stored_error"])

    def test_changed_key_type_is_due(self):
        s = self.obtained()
        self.assertIn("SECP256R1", harness.cert_text(read(os.path.join(s.dir, "out", "main", "cert.pem"))))
        s.certificates[0]["key_type"] = "ec384"
        s.write_config()
        # cert list tells the same: due now, not in years.
        out = subprocess.run([harness.WHARF, "cert", "list", "-c", s.config_path, "--json"],
                             capture_output=True, text=True, timeout=20)
        due = json.loads(out.stdout)["certificates"][0]["next_renewal"]
        self.assertLessEqual(due, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60)))
        r = obtain(s)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertIn("stored issued.pem has a ec256 key, the config asks for ec384", r.stderr)
        self.assertIn("cert obtain: 1 issued, 0 failed", r.stderr)
        self.assertIn("SECP384R1", harness.cert_text(read(os.path.join(s.dir, "out", "main", "cert.pem"))))

    def test_failed_deploy_hook_exits_1(self):
        """As `cert fetch` does: the certificate is issued, but the service
        that should take it did not reload. The hook's stdout goes to
        stderr, not into wharf's own output."""
        s = self.config([{"type": "acme-http", "address": "127.0.0.1", "port": self.pebble.http_port,
                          "https_port": 443}])
        hooks = os.path.join(s.dir, "hooks")
        os.makedirs(hooks)
        s.give(hooks)
        hook = os.path.join(hooks, "deploy.sh")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\necho hook-stdout\nexit 7\n")
        os.chmod(hook, 0o755)
        s.certificates[0]["deploy_hook"] = "@DEPLOY@"
        s.write_config(s.config_text().replace('deploy_hook = "@DEPLOY@";', 'deploy_hook = ["%s"];' % hook))
        s.give_homes()
        r = obtain(s)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn("cert obtain: 1 issued, 0 failed", r.stderr)
        self.assertIn("exited 7", r.stderr)
        self.assertIn("1 deployment failed", r.stderr)
        self.assertNotIn("hook-stdout", r.stdout)
        self.assertIn("hook-stdout", r.stderr)
        self.assertTrue(os.path.exists(os.path.join(s.dir, "out", "main", "fullchain.pem")))

    def serve_webroot(self):
        """A folder that another web server serves on the port the CA
        validates, as certbot's --webroot expects; both go at cleanup."""
        webroot = os.path.join(harness.tempfile.mkdtemp(prefix="wharf-webroot-"))
        os.chmod(webroot, 0o755)
        self.addCleanup(subprocess.run, ["rm", "-rf", webroot], timeout=10)
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass
        handler = functools.partial(Quiet, directory=webroot)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.pebble.http_port), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.addCleanup(httpd.server_close)
        self.addCleanup(httpd.shutdown)
        return webroot

    def test_webroot_option_without_acme_http(self):
        """--webroot DIR answers HTTP-01 for the run, as acme.webroot does:
        a config with no acme-http service is not refused for it."""
        webroot = self.serve_webroot()
        s = self.config([{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]}])
        s.give_homes()
        s.give(webroot)
        s.write_config()
        r = obtain(s, "--webroot", webroot)
        self.assertNotIn("no service has type acme-http", r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertIn("1 issued, 0 failed", r.stderr)
        self.assertTrue(os.path.exists(os.path.join(s.dir, "out", "main", "privkey.pem")))
        # Without it the same config has nothing to answer HTTP-01 with.
        r = obtain(s)
        self.assertEqual(r.returncode, 1)
        self.assertIn('certificate "main" uses http-01 but no service has type acme-http', r.stderr)

    def test_webroot(self):
        # Another web server serves the webroot on the port the CA validates.
        webroot = self.serve_webroot()
        s = self.config([{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]}],
                        acme_extra='webroot = "%s";' % webroot)
        s.give_homes()
        s.give(webroot)
        s.write_config()
        r = obtain(s)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertIn("1 issued, 0 failed", r.stderr)
        # Tokens are removed once the order is done; the readiness file stays.
        left = os.listdir(os.path.join(webroot, ".well-known", "acme-challenge"))
        self.assertEqual(left, ["test.txt"])
        self.assertTrue(os.path.exists(os.path.join(s.dir, "out", "main", "privkey.pem")))

    def test_failed_order_exits_1(self):
        # The acme-http service listens where the CA does not look.
        s = self.config([{"type": "acme-http", "address": "127.0.0.1", "port": None, "https_port": 443}])
        s.write_config()
        s.give_homes()
        r = obtain(s)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn("order failed for", r.stderr)
        self.assertIn("0 issued, 1 failed", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(s.dir, "out", "main", "fullchain.pem")))

    def test_held_back_by_the_backoff_exits_1(self):
        """A certificate due (never issued) whose last order failed: the next
        run within the backoff orders nothing, but says so and exits 1, not
        "nothing was due"."""
        s = self.config([{"type": "acme-http", "address": "127.0.0.1", "port": None, "https_port": 443}])
        s.write_config()
        s.give_homes()
        r = obtain(s)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        # The backoff of an hour, as a later failure gets it (retry_interval is 1 s here).
        status_path = os.path.join(s.state_dir, "certs", "main", "status.json")
        status = json.loads(read(status_path))
        error = status["last_error"]
        status["next_attempt"] = int(time.time()) + 3600
        with open(status_path, "w") as f:
            json.dump(status, f)
        r = obtain(s)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertNotIn("ordering from", r.stderr)
        self.assertIn("certificate main: due but held back until %s by the backoff after 1 failure: %s"
                      % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(status["next_attempt"])), error), r.stderr)
        self.assertIn("0 issued, 0 failed, 1 put off", r.stderr)
        self.assertNotIn("nothing was due", r.stderr)

    def held_files_cannot_catch_up(self, issued):
        """A certificate wharf no longer renews (acme = false) whose stored
        issued.pem is damaged: its output files cannot be brought up to date,
        and no retry could, so the run says so and exits 1."""
        s = self.config([{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]}],
                        cert_extra={"acme": False})
        s.write_config()
        folder = os.path.join(s.state_dir, "certs", "main")
        os.makedirs(folder)
        key = subprocess.run(["openssl", "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                             capture_output=True, text=True, check=True, timeout=20).stdout
        with open(os.path.join(folder, "issued.pem"), "w") as f:
            f.write(issued(key))
        s.give_homes()
        r = obtain(s)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn("0 issued, 0 failed (nothing was due)", r.stderr)
        self.assertIn("1 deployment failed", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(s.dir, "out", "main", "fullchain.pem")))
        return r, s

    def test_issued_pem_without_certificate_exits_1(self):
        # A key and no certificate after it (cut short by hand): nothing to
        # split into the five files.
        r, s = self.held_files_cannot_catch_up(lambda key: key)
        self.assertIn("output files in %s not updated: no certificate after the key"
                      % os.path.join(s.dir, "out", "main"), r.stderr)

    def test_unreadable_issued_pem_exits_1(self):
        # Over the 1 MiB a stored pair may hold: not read at all.
        r, s = self.held_files_cannot_catch_up(lambda key: key + "#" * (1 << 20))
        self.assertIn("cannot read the issued certificate", r.stderr)
        self.assertIn("output files in %s not updated" % os.path.join(s.dir, "out", "main"), r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
