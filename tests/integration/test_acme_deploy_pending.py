"""A deploy hook that does not finish is not forgotten, against Pebble:
STATE/certs/NAME/deploy-pending is written before the hook runs and removed
only when it exits 0. A hook that fails is tried again on a timer (one error
line saying when) and at the next start; a hook cut short by a SIGKILL of
the server runs again at the next start, with or without an output_dir;
a hook that exited 0 leaves no mark and is not run again."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from pebble import AcmeCase, block_issued_pem, hook_script, wait_file_text, wait_issued  # noqa: E402

RERUN = "did not finish (failed, killed or interrupted by a restart): running it again"


def read(path):
    with open(path) as f:
        return f.read()


def serial_of(pem):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem, capture_output=True, text=True,
                         timeout=20).stdout
    return int(out.strip().split("=", 1)[1], 16)


class DeployPending(AcmeCase):
    def tearDown(self):
        # A sleeping hook outlives the server (its own process group): end it.
        pid_file = os.path.join(getattr(self, "hooks", "/nonexistent"), "slow.pid")
        try:
            os.killpg(int(read(pid_file)), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        super().tearDown()

    def deploy_hook(self, s, output_dir=False):
        """A deploy hook that logs "start" and, when it exits 0, "done" to
        HOOKS/deploy.log; it exits 1 while HOOKS/fail exists, and while
        HOOKS/slow exists it writes its pid to HOOKS/slow.pid and sleeps 30 s."""
        hooks = os.path.join(s.dir, "hooks")
        os.makedirs(hooks, exist_ok=True)
        s.give(hooks)
        path = os.path.join(hooks, "deploy.sh")
        with open(path, "w") as f:
            f.write('#!/bin/sh\nH="%s"\necho "start $WHARF_EVENT $WHARF_CERT_NAME" >> "$H/deploy.log"\n'
                    '[ -e "$H/fail" ] && exit 1\n'
                    'if [ -e "$H/slow" ]; then echo $$ > "$H/slow.pid"; sleep 30; fi\n'
                    'echo done >> "$H/deploy.log"\n' % hooks)
        os.chmod(path, 0o755)
        self.hooks = hooks
        self.log_path = os.path.join(hooks, "deploy.log")
        c = s.certificates[0]
        if output_dir:
            c["output_dir"] = harness.writable_out_dir(s)
        c["deploy_hook"] = "@DEPLOY@"
        s.write_config(s.config_text().replace('deploy_hook = "@DEPLOY@";', 'deploy_hook = ["%s"];' % path))
        self.mark = os.path.join(s.state_dir, "certs", c["name"], "deploy-pending")

    def flag(self, name, on):
        path = os.path.join(self.hooks, name)
        if on:
            open(path, "w").close()
        elif os.path.exists(path):
            os.unlink(path)

    def runs(self):
        text = read(self.log_path) if os.path.exists(self.log_path) else ""
        return text.count("start issued main"), text.count("done")

    def wait_runs(self, starts, dones, timeout):
        ok = harness.wait_until(lambda: self.runs() == (starts, dones), timeout)
        self.assertTrue(ok, "deploy hook runs %r, not %r; log:\n%s" % (self.runs(), (starts, dones),
                                                                        self.server.log()[-4000:]))

    def wait_no_mark(self, timeout=10):
        self.assertTrue(harness.wait_until(lambda: not os.path.exists(self.mark), timeout),
                        "the mark is still there:\n" + self.server.log()[-3000:])

    def assert_not_rerun(self, s, runs):
        """A restart runs no hook: the last run exited 0."""
        s.stop()
        before = s.log().count(RERUN)
        s.start()
        time.sleep(1.5)  # start-up runs the hook before `ready`; a run would have begun by now
        self.assertEqual(self.runs(), runs)
        self.assertEqual(s.log().count(RERUN), before)
        self.assertFalse(os.path.exists(self.mark))

    def deploy_pending(self, s):
        """What `cert list --json` says of the deploy hook not done."""
        out = subprocess.run([harness.WHARF, "cert", "list", "--json", "-c", s.config_path], capture_output=True,
                             text=True, timeout=20)
        return json.loads(out.stdout)["certificates"][0]["deploy_pending"]

    def test_failed_hook_runs_again_at_start(self):
        """And it is no secret: the event hook (so the webhook and the mail)
        hears of the first failure, and `cert list` shows the serial whose
        hook is not done until it is."""
        self.pebble.start()
        s = self.make_server()
        event, event_log = hook_script(s, "event")
        s.extra = s.extra.replace("retry_interval = 1;", 'retry_interval = 1; event_hook = ["%s"];' % event)
        self.deploy_hook(s, output_dir=True)
        self.flag("fail", True)
        s.start()
        served = wait_issued(s, "wharf.test")
        self.assertTrue(s.wait_log("failed (try 1)", 15), s.log()[-3000:])
        self.wait_runs(1, 0, 5)
        # The mark names the certificate whose hook did not finish.
        self.assertTrue(os.path.exists(self.mark))
        self.assertEqual(int(read(self.mark).strip(), 16), serial_of(served))
        line = re.search(r"certificate main: deploy hook of serial (\w+) failed \(try 1\).*next try in (\d+) s",
                         s.log())
        self.assertIsNotNone(line, s.log()[-3000:])
        self.assertEqual(int(line.group(1), 16), serial_of(served))
        self.assertTrue(54 <= int(line.group(2)) <= 66, line.group(0))
        failed = wait_file_text(event_log, "WHARF_EVENT=failed")
        self.assertIn("WHARF_DETAIL=deploy hook of serial %s failed" % line.group(1), failed)
        self.assertEqual(failed.count("WHARF_EVENT=failed"), 1, failed)
        self.assertEqual(int(self.deploy_pending(s), 16), serial_of(served))

        # The service is fixed; the restart (files in step) runs the hook again.
        self.flag("fail", False)
        s.stop()
        s.start()
        self.assertTrue(s.wait_log("certificate main: the deploy hook of serial %s %s" % (line.group(1), RERUN), 10),
                        s.log()[-3000:])
        self.wait_runs(2, 1, 10)
        self.wait_no_mark()
        self.assertIsNone(self.deploy_pending(s))
        self.assert_not_rerun(s, (2, 1))

    def test_a_mark_that_cannot_be_rewritten_still_runs_the_hook_at_start(self):
        self.pebble.start()
        s = self.make_server()
        self.deploy_hook(s, output_dir=True)
        self.flag("fail", True)
        s.start()
        wait_issued(s, "wharf.test")
        self.assertTrue(s.wait_log("failed (try 1)", 15), s.log()[-3000:])
        self.assertRegex(s.log(), r"failed \(try 1\).*next try in \d+ s, or at the next start")
        # The mark cannot be replaced: the start-up run cannot rewrite it,
        # but the older mark is there, so the next start runs the hook all
        # the same, and the lines say so.
        s.stop()
        if subprocess.run(["chattr", "+i", self.mark], capture_output=True, timeout=10).returncode != 0:
            self.skipTest("chattr +i is not available here")
        self.addCleanup(subprocess.run, ["chattr", "-i", self.mark], capture_output=True, timeout=10)
        before = s.log().count("failed (try 1)")
        s.start()
        self.assertTrue(harness.wait_until(lambda: s.log().count("failed (try 1)") > before, 15), s.log()[-3000:])
        self.assertIn("cannot write %s: " % self.mark, s.log())
        self.assertIn("the older mark there still makes the next start run the deploy hook", s.log())
        last = [ln for ln in s.log().splitlines() if "failed (try 1)" in ln][-1]
        self.assertRegex(last, r"next try in \d+ s, or at the next start$")
        s.stop()
        before = s.log().count(RERUN)
        s.start()
        self.assertTrue(harness.wait_until(lambda: s.log().count(RERUN) > before, 15), s.log()[-3000:])

    def test_hook_cut_short_by_a_kill_runs_again(self):
        self.pebble.start()
        s = self.make_server()
        self.deploy_hook(s)  # no output_dir: the mark alone brings the hook back
        self.flag("slow", True)
        s.start()
        wait_issued(s, "wharf.test")
        pid_file = os.path.join(self.hooks, "slow.pid")
        self.assertTrue(harness.wait_until(lambda: os.path.exists(pid_file) and read(pid_file).strip(), 15),
                        s.log()[-3000:])
        self.assertTrue(os.path.exists(self.mark), "no mark while the hook runs")
        s.proc.kill()
        s.proc.wait(timeout=10)
        s.logf.close()
        # The hook outlives the server in its own process group; the
        # service it was telling is as if it never was.
        self.flag("slow", False)
        os.killpg(int(read(pid_file)), signal.SIGKILL)
        os.unlink(pid_file)
        self.assertEqual(self.runs(), (1, 0))
        self.assertTrue(os.path.exists(self.mark))

        s.start()
        self.assertTrue(s.wait_log("certificate main: the deploy hook of serial ", 10), s.log()[-3000:])
        self.assertIn(RERUN, s.log())
        self.wait_runs(2, 1, 10)
        self.wait_no_mark()
        self.assert_not_rerun(s, (2, 1))

    def test_hook_given_issued_pem_waits_until_it_is_stored(self):
        # Without an output_dir the hook is given issued.pem. A certificate
        # issued while issued.pem cannot be written is not there yet: the
        # hook waits (its mark set) and runs once the certificate is stored.
        self.pebble.start()
        s = self.make_server()
        self.deploy_hook(s)
        blocker = block_issued_pem(s)
        s.start()
        served = wait_issued(s, "wharf.test")
        self.assertTrue(s.wait_log("deploy hook held back: issued.pem, which it is given, does not hold serial", 10),
                        s.log()[-3000:])
        self.assertTrue(os.path.exists(self.mark))
        time.sleep(1)
        self.assertEqual(self.runs(), (0, 0))
        shutil.rmtree(blocker)
        self.assertTrue(s.wait_log("certificate main: stored at last", 40), s.log()[-3000:])
        self.wait_runs(1, 1, 20)
        self.assertIn("running the deploy hook held back until issued.pem took serial", s.log())
        self.assertIn(served.strip(), read(blocker))
        self.assertTrue(harness.wait_until(lambda: not os.path.exists(self.mark), 10))

    def test_failed_hook_retried_on_timer(self):
        """The first retry comes about 60 s after the failure (jittered by
        10 %), without a restart."""
        self.pebble.start()
        s = self.make_server()
        self.deploy_hook(s)
        self.flag("fail", True)
        s.start()
        wait_issued(s, "wharf.test")
        self.assertTrue(s.wait_log("failed (try 1)", 15), s.log()[-3000:])
        self.wait_runs(1, 0, 5)
        failed_at = time.monotonic()
        self.assertTrue(os.path.exists(self.mark))
        self.flag("fail", False)
        self.wait_runs(2, 1, 75)
        self.assertGreater(time.monotonic() - failed_at, 45, "retried too soon")
        self.assertTrue(s.wait_log("done, after 1 failed try", 5), s.log()[-3000:])
        self.wait_no_mark()


if __name__ == "__main__":
    unittest.main()
