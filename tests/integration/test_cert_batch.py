"""`wharf cert batch FILE.csv`: the CSV's certificates are issued in one run
against Pebble, concurrently, with their hooks; a table says what happened to
each; one the CA refuses makes the exit status 1 without holding the others
back; a malformed CSV is refused with its line before anything is ordered."""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Server  # noqa: E402
from pebble import Pebble, dns_hook_script  # noqa: E402


class Batch(unittest.TestCase):
    def setUp(self):
        self.pebble = Pebble()
        self.pebble.start()
        self.server = Server(certificates=[], users=[],
                             services=[{"type": "acme-http", "address": "127.0.0.1", "port": self.pebble.http_port,
                                        "https_port": 443}], extra=self.pebble.acme_config())
        self.server.write_config()
        self.server.give_homes()

    def tearDown(self):
        self.server.cleanup()
        self.pebble.cleanup()

    def batch(self, text):
        path = os.path.join(self.server.dir, "certs.csv")
        with open(path, "w") as f:
            f.write(text)
        return subprocess.run([harness.WHARF, "cert", "batch", path, "-c", self.server.config_path],
                              capture_output=True, text=True, timeout=120)

    def test_batch_table(self):
        hook_log = os.path.join(self.server.dir, "hook.log")
        hook = os.path.join(self.server.dir, "hook.sh")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\necho \"$WHARF_CERT_NAME $WHARF_DOMAINS\" >> %s\n" % hook_log)
        os.chmod(hook, 0o755)
        self.server.give(self.server.dir)
        names = ["site%d" % i for i in range(8)]
        lines = ["name,domains,key_type,hook"]
        lines += ["%s,%s.wharf.test www.%s.wharf.test,%s,%s" % (n, n, n, "rsa2048" if n == "site1" else "", hook)
                  for n in names]
        lines.append("refused,blocked.example,,")  # on the CA's blocklist
        start = time.monotonic()
        r = self.batch("\n".join(lines) + "\n")
        took = time.monotonic() - start
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        rows = {l.split()[0]: l for l in r.stdout.splitlines()[1:] if l.strip()}
        self.assertEqual(sorted(rows), sorted(names + ["refused"]), r.stdout)
        for n in names:
            self.assertRegex(rows[n], r"^%s\s+issued\s+valid until 20\d\d-" % n)
            self.assertTrue(os.path.exists(os.path.join(self.server.state_dir, "certs", n, "issued.pem")))
        self.assertRegex(rows["refused"], r"refused\s+failed\s+")
        # Its lines name the command the admin ran, not `cert obtain`.
        self.assertIn("cert batch: 8 issued, 1 failed", r.stderr)
        self.assertNotIn("cert obtain", r.stderr)
        with open(hook_log) as f:
            ran = sorted(l.split()[0] for l in f.read().splitlines())
        self.assertEqual(ran, names)
        # Concurrently: the run takes far less than nine orders one after another.
        self.assertLess(took, 60)

    def test_wildcard_line_with_the_config_dns_hook(self):
        # A dns-01 line takes acme.dns_hook; without one in the config the
        # line is refused before anything is ordered.
        r = self.batch("wild,wild.test *.wild.test,,,dns-01\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 1: dns-01 needs acme.dns_hook in the config", r.stderr)
        hook, log = dns_hook_script(self.server, self.pebble)
        self.server.write_config(self.server.config_text().replace(
            "retry_interval = 1;", 'retry_interval = 1; dns_hook = ["%s"];' % hook))
        r = self.batch("wild,wild.test *.wild.test,,,dns-01\nplain,plain.wharf.test\n")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        rows = {l.split()[0]: l for l in r.stdout.splitlines()[1:] if l.strip()}
        self.assertRegex(rows["wild"], r"^wild\s+issued\s+valid until 20\d\d-")
        self.assertRegex(rows["plain"], r"^plain\s+issued\s+")
        issued = os.path.join(self.server.state_dir, "certs", "wild", "issued.pem")
        with open(issued) as f:
            chain = f.read().split("-----END PRIVATE KEY-----")[1]  # the key, then the chain
        self.assertIn("*.wild.test", harness.cert_text(chain))
        with open(log) as f:
            calls = f.read().splitlines()
        # cert batch waits for the removes before it exits.
        self.assertEqual(sorted(c.split()[0] for c in calls), ["add", "add", "remove", "remove"], calls)

    def test_failed_hook_exits_1_and_hooks_print_aside(self):
        """A deploy hook that fails makes the run exit 1, as `cert fetch`
        does; what hooks print goes to stderr, never into the table."""
        hooks = {}
        for name, code in (("good", 0), ("bad", 7)):
            hooks[name] = os.path.join(self.server.dir, "%s.sh" % name)
            with open(hooks[name], "w") as f:
                f.write("#!/bin/sh\necho \"hook-stdout $WHARF_CERT_NAME\"\nexit %d\n" % code)
            os.chmod(hooks[name], 0o755)
        self.server.give(self.server.dir)
        r = self.batch("good,good.wharf.test,,%s\nbad,bad.wharf.test,,%s\n" % (hooks["good"], hooks["bad"]))
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertNotIn("hook-stdout", r.stdout)
        self.assertIn("hook-stdout good", r.stderr)
        self.assertIn("hook-stdout bad", r.stderr)
        self.assertIn("exited 7", r.stderr)
        self.assertIn("cert batch: 1 deployment failed", r.stderr)
        self.assertNotIn("cert obtain", r.stderr)
        rows = {l.split()[0]: l for l in r.stdout.splitlines()[1:] if l.strip()}
        self.assertEqual(sorted(rows), ["bad", "good"], r.stdout)
        self.assertRegex(rows["good"], r"^good\s+issued\s+valid until 20\d\d-")
        # Not only the exit status tells: the row does.
        self.assertRegex(rows["bad"], r"^bad\s+issued\s+but the deploy hook failed; valid until 20\d\d-")

    def test_row_held_back_by_the_backoff(self):
        """A certificate never issued whose last order failed is not
        "current" in the next batch within its backoff: the row says it is
        held back, until when and why, and the run exits 1."""
        r = self.batch("refused,blocked.example\n")  # on the CA's blocklist: a day's backoff
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        r = self.batch("refused,blocked.example\n")
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertNotIn("ordering from", r.stderr)
        rows = {l.split()[0]: l for l in r.stdout.splitlines()[1:] if l.strip()}
        self.assertRegex(rows["refused"], r"^refused\s+held back\s+until 20\d\d-\S+ by the backoff after 1 "
                                          r"failure: blocked.example: urn:ietf:params:acme:error:rejectedIdentifier")

    def test_config_without_acme_block_is_named_as_a_batch(self):
        self.server.write_config(self.server.config_text().replace(self.pebble.acme_config(), ""))
        r = self.batch("plain,plain.wharf.test\n")
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn("cert batch: the config has no acme block", r.stderr)
        self.assertNotIn("cert obtain", r.stderr)

    def test_malformed_csv_orders_nothing(self):
        r = self.batch("a,a.wharf.test\na,b.wharf.test\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("certs.csv: line 2: name \"a\" already used on line 1", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.server.state_dir, "certs", "a")))

    def test_challenge_no_service_answers_orders_nothing(self):
        # The config has acme-http alone: a tls-alpn-01 line, as the same
        # certificate in the config is at load, is refused before any
        # order spends the CA's failed-validation limit.
        r = self.batch("ok,ok.wharf.test\nalpn,alpn.wharf.test,,,tls-alpn-01\n")
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn('line 2: certificate "alpn" uses tls-alpn-01 but no service has type https', r.stderr)
        for name in ("ok", "alpn"):
            self.assertFalse(os.path.exists(os.path.join(self.server.state_dir, "certs", name)))

    def test_hook_that_cannot_run_orders_nothing(self):
        # A hook is checked before any order, as the config's hooks are at
        # load, not found missing once a certificate has been issued.
        plain = os.path.join(self.server.dir, "not-executable.sh")
        with open(plain, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(plain, 0o644)
        for hook, why in (("/nonexistent/deploy.sh", "No such file or directory"),
                          (plain, "no execute permission")):
            with self.subTest(hook=hook):
                r = self.batch("h,h.wharf.test,,%s\n" % hook)
                self.assertEqual(r.returncode, 1)
                self.assertIn("line 1: hook %s is not an executable file (%s)" % (hook, why), r.stderr)
                self.assertFalse(os.path.exists(os.path.join(self.server.state_dir, "certs", "h")))

    @unittest.skipUnless(os.geteuid() == 0, "needs root to drop to a run user")
    def test_hook_the_run_user_may_not_run_is_said_with_its_csv_line(self):
        hook = harness.root_only_script(self.server, "deploy.sh")
        r = self.batch("# two certificates\nok,ok.wharf.test\nh,h.wharf.test,,%s\n" % hook)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn('%s:3: certificate "h": deploy_hook %s: the run user nobody may not execute it'
                      % (os.path.join(self.server.dir, "certs.csv"), hook), r.stderr)
        for name in ("ok", "h"):  # nothing ordered: no issued certificate
            self.assertFalse(os.path.exists(os.path.join(self.server.state_dir, "certs", name, "issued.pem")))

    def test_csv_through_a_symlink_or_a_pipe(self):
        # The CSV is the admin's own input: a link to it, or a pipe, does.
        path = os.path.join(self.server.dir, "real.csv")
        with open(path, "w") as f:
            f.write("linked,linked.wharf.test\n")
        link = os.path.join(self.server.dir, "link.csv")
        os.symlink(path, link)
        r = subprocess.run([harness.WHARF, "cert", "batch", link, "-c", self.server.config_path],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertRegex(r.stdout, r"(?m)^linked\s+issued\s+")
        r = subprocess.run([harness.WHARF, "cert", "batch", "/dev/stdin", "-c", self.server.config_path],
                           input="piped,piped.wharf.test\n", capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertRegex(r.stdout, r"(?m)^piped\s+issued\s+")

    def test_csv_past_the_cap_is_refused(self):
        text = "# filler\n" * (5 << 17)  # 5 MiB of comments
        r = subprocess.run([harness.WHARF, "cert", "batch", "/dev/stdin", "-c", self.server.config_path],
                           input=text, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cert batch: cannot read /dev/stdin: larger than 4 MiB", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
