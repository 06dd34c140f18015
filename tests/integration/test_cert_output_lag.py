"""Output files that fall behind the certificate the server holds, against
Pebble: a folder not writable when the certificate is issued (or when a
follower takes it from its controller) is written again on a timer, one
error line per failed try, and the deploy hook runs once the files are
written; a restart finding files older than issued.pem (a kill between
storing a certificate and writing its files) rewrites them and runs the
deploy hook, and sweeps the temp files a killed write left, only those."""

import os
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import tls_peer_cert  # noqa: E402
from pebble import AcmeCase, hook_script, issued_by_pebble, wait_file_text, wait_issued  # noqa: E402
from test_cluster import ClusterCase, cluster_block  # noqa: E402

FILES = ("cert.pem", "chain.pem", "fullchain.pem", "privkey.pem", "combined.pem")
DOMAINS = ["wharf.test", "www.wharf.test"]


def read(path):
    with open(path) as f:
        return f.read()


def with_deploy_hook(s, out_dir, edit=lambda text: text):
    """Sets output_dir and a deploy hook that logs each run; returns the log's path."""
    deploy, deploy_log = hook_script(s, "deploy")
    for c in s.certificates:
        if isinstance(c, dict) and c["name"] == "main":
            c["output_dir"] = out_dir
            c["deploy_hook"] = "@DEPLOY@"
    s.write_config(edit(s.config_text().replace('deploy_hook = "@DEPLOY@";', 'deploy_hook = ["%s"];' % deploy)))
    return deploy_log


def broken_out_dir(s):
    """An output folder the server will not be able to write, a function
    that breaks it and one that fixes it. start and reload refuse a folder
    the run user cannot use (see test_privileges.py), so the folder is
    fine then: a symlink to a folder of the run user's. Broken after the
    start (with the CA paused, so nothing is issued before), the link leads
    nowhere; the fix makes that folder again, the run user's."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("a folder the server cannot write needs the server run as another user")
    out_dir = harness.writable_out_dir(s)
    target = os.path.join(s.dir, "out-target")

    def fix():
        os.makedirs(target)
        s.give(target)
        os.chmod(target, 0o700)
    fix()
    os.symlink(target, out_dir)
    return out_dir, lambda: os.rmdir(target), fix


def runs(path):
    return read(path).count("WHARF_EVENT=issued") if os.path.exists(path) else 0


def issued_pair(s):
    return read(os.path.join(s.state_dir, "certs", "main", "issued.pem"))


class OutputRetry(AcmeCase):
    def test_unwritable_folder_is_retried_then_deployed(self):
        self.pebble.start()
        s = self.make_server()
        out_dir, break_it, fix = broken_out_dir(s)
        deploy_log = with_deploy_hook(s, out_dir)
        with self.pebble.paused():
            s.start()
            break_it()
        wait_issued(s, "wharf.test")
        self.assertTrue(s.wait_log("output files in %s not updated" % out_dir, 10), s.log()[-3000:])
        self.assertTrue(s.wait_log("deploy hook not run: the output files were not updated", 10))
        self.assertEqual(runs(deploy_log), 0)
        self.assertFalse(os.path.exists(out_dir))

        fix()  # the admin fixes the folder: nothing else happens
        wait_file_text(deploy_log, "WHARF_EVENT=issued", timeout=30)
        self.assertTrue(s.wait_log("up to date at last, after 1 failed try; running the deploy hook held back", 10),
                        s.log()[-3000:])
        self.assertEqual(runs(deploy_log), 1)
        self.assertEqual(sorted(os.listdir(out_dir)), sorted(FILES))
        self.assertTrue(issued_pair(s).endswith(read(os.path.join(out_dir, "fullchain.pem"))))
        # One line per failed try, saying the other service is on the old certificate.
        self.assertIn("output files in %s not updated (try 1)" % out_dir, s.log())
        self.assertIn("services that read them are still on the old certificate; next try in", s.log())
        self.assertEqual(s.log().count("not updated (try"), 1, "more than one line per failed try")

    def test_restart_catches_up_and_runs_the_hook(self):
        """A kill after issued.pem was stored and before (or while) the files
        were written leaves them older than it, maybe with temp files: the
        next start writes them, runs the deploy hook, and sweeps wharf's own
        temp names, nothing else."""
        self.pebble.start()
        s = self.make_server()
        out_dir = harness.writable_out_dir(s)
        deploy_log = with_deploy_hook(s, out_dir)
        s.start()
        wait_issued(s, "wharf.test")
        wait_file_text(deploy_log, "WHARF_EVENT=issued")
        s.stop()
        fresh = {n: read(os.path.join(out_dir, n)) for n in FILES}

        # The state a kill leaves: two files renamed, three still the old
        # certificate's, and staged files never renamed.
        for n in ("cert.pem", "fullchain.pem", "combined.pem"):
            with open(os.path.join(out_dir, n), "w") as f:
                f.write("the certificate before\n")
        left = [".privkey.pem.tmp.0123456789abcdef", ".combined.pem.tmp.fedcba9876543210"]
        kept = [".privkey.pem.tmp.notours", ".cert.pem.tmp.0123456789abcdef0", "notes.tmp", ".other.tmp.0123456789abcdef"]
        for n in left + kept:
            with open(os.path.join(out_dir, n), "w") as f:
                f.write("x")
        before = runs(deploy_log)

        s.start()
        self.assertTrue(harness.wait_until(lambda: runs(deploy_log) == before + 1, 20),
                        "the deploy hook did not run after the start-up rewrite:\n" + s.log()[-3000:])
        for n in FILES:
            self.assertEqual(read(os.path.join(out_dir, n)), fresh[n], n)
        self.assertEqual(sorted(os.listdir(out_dir)), sorted(list(FILES) + kept))
        self.assertIn("removed 2 temp files an interrupted write left in %s" % out_dir, s.log())

        # Files in step: a restart runs no hook.
        s.stop()
        s.start()
        time.sleep(1)
        self.assertEqual(runs(deploy_log), before + 1)

        # An admin let a service's group read the key (0640): a restart keeps
        # that, and runs no hook, as nothing in the files changed.
        s.stop()
        os.chmod(os.path.join(out_dir, "privkey.pem"), 0o640)
        s.start()
        time.sleep(1)
        self.assertEqual(runs(deploy_log), before + 1)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(out_dir, "privkey.pem")).st_mode), 0o640)

        # Renewals turned off (acme = false): the files still catch up with
        # the issued.pem the state folder keeps.
        s.stop()
        text = read(s.config_path)
        self.assertIn('name = "main";', text)
        s.write_config(text.replace('name = "main";', 'name = "main"; acme = false;', 1))
        with open(os.path.join(out_dir, "cert.pem"), "w") as f:
            f.write("the certificate before\n")
        s.start()
        self.assertTrue(harness.wait_until(lambda: runs(deploy_log) == before + 2, 20),
                        "no catch-up for a certificate with acme = false:\n" + s.log()[-3000:])
        self.assertEqual(read(os.path.join(out_dir, "cert.pem")), fresh["cert.pem"])

    def test_restart_leaves_files_newer_than_the_stored_certificate(self):
        """A renewal issued, written to the output files, but not stored
        (issued.pem cannot be replaced), then a kill: the next start finds
        the files newer than issued.pem and leaves them, rather than put
        the older certificate back under the services reading them."""
        self.pebble.start()
        s = self.make_server()
        out_dir = harness.writable_out_dir(s)
        deploy_log = with_deploy_hook(s, out_dir)
        s.start()
        first = wait_issued(s, "wharf.test")
        wait_file_text(deploy_log, "WHARF_EVENT=issued")
        issued = os.path.join(s.state_dir, "certs", "main", "issued.pem")
        if subprocess.run(["chattr", "+i", issued], capture_output=True, timeout=10).returncode != 0:
            self.skipTest("chattr +i is not available here")
        try:
            # A name added: due at once, and issued.pem cannot take it.
            time.sleep(1.5)  # a later notBefore (whole seconds) than the first
            s.certificates[0]["domains"] = DOMAINS + ["extra.wharf.test"]
            s.write_config(s.config_text().replace('deploy_hook = "@DEPLOY@";', ""))
            with_deploy_hook(s, out_dir)
            self.assertTrue(s.reload(), s.log()[-3000:])
            self.assertTrue(s.wait_log("issued, but not stored", 60), s.log()[-3000:])
            renewed = wait_issued(s, "extra.wharf.test")
            self.assertTrue(harness.wait_until(lambda: read(os.path.join(out_dir, "cert.pem")) == renewed, 10))
            s.signal(9)
            s.proc.wait(timeout=10)
            self.pebble.stop_pebble()  # nothing fetches the order again
            s.start()
            self.assertTrue(s.wait_log("hold a newer certificate", 10), s.log()[-3000:])
            time.sleep(1)
            self.assertEqual(read(os.path.join(out_dir, "cert.pem")), renewed)
            self.assertNotEqual(renewed, first)
        finally:
            subprocess.run(["chattr", "-i", issued], capture_output=True, timeout=10)

    def test_symlinked_folder_is_written_and_swept_alike(self):
        """An output_dir that is a symlink to a folder (a service's own): the
        files are written through the link, and the start-up sweep removes
        wharf's leftover temp names there too, not only in plain folders."""
        self.pebble.start()
        s = self.make_server()
        target = harness.writable_out_dir(s, "haproxy")
        os.makedirs(target)
        s.give(target)
        link = os.path.join(s.dir, "out", "main")
        os.symlink(target, link)
        left = [".privkey.pem.tmp.0123456789abcdef", ".fullchain.pem.tmp.fedcba9876543210"]
        kept = [".privkey.pem.tmp.notours", "notes.tmp"]
        for n in left + kept:
            with open(os.path.join(target, n), "w") as f:
                f.write("x")
        deploy_log = with_deploy_hook(s, link)
        s.start()
        wait_issued(s, "wharf.test")
        wait_file_text(deploy_log, "WHARF_EVENT=issued")
        self.assertIn("removed 2 temp files an interrupted write left in %s" % link, s.log())
        self.assertEqual(sorted(os.listdir(target)), sorted(list(FILES) + kept))
        self.assertTrue(os.path.islink(link))
        self.assertTrue(issued_pair(s).endswith(read(os.path.join(target, "fullchain.pem"))))

    def test_obtain_catches_up_and_runs_the_hook(self):
        """The same for `cert obtain` (the cron job after a killed run): the
        files are written, the hook runs and is waited for, nothing is due."""
        self.pebble.start()
        s = self.make_server()
        out_dir = harness.writable_out_dir(s)
        deploy_log = with_deploy_hook(s, out_dir)
        s.give_homes()
        cmd = [harness.WHARF, "cert", "obtain", "-c", s.config_path]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(runs(deploy_log), 1)
        os.unlink(os.path.join(out_dir, "privkey.pem"))
        with open(os.path.join(out_dir, "cert.pem"), "w") as f:
            f.write("the certificate before\n")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertIn("nothing was due", r.stderr)
        self.assertEqual(runs(deploy_log), 2, r.stderr[-3000:])
        self.assertTrue(issued_pair(s).startswith(read(os.path.join(out_dir, "privkey.pem"))))


class FollowerOutputRetry(ClusterCase):
    def test_follower_retries_its_files(self):
        self.pebble.start()
        with self.pebble.paused():  # till the follower's folder is broken
            ctl = self.node(certificates=[{"name": "main", "domains": DOMAINS, "challenge": "http-01"},
                                       {"name": "cluster", "domains": ["localhost"], "acme": False}],
                         services=[{"type": "https", "address": "127.0.0.1", "port": None,
                                    "certificates": ["main", "cluster"]},
                                   {"type": "acme-http", "address": "127.0.0.1", "port": self.pebble.http_port,
                                    "https_port": 443}],
                         extra=self.pebble.acme_config() + cluster_block("controller"))
            ctl.start()
            ca = os.path.join(ctl.state_dir, "certs", "cluster", "selfsigned.pem")
            self.assertTrue(harness.wait_until(lambda: os.path.exists(ca), 10))
            f = self.follower_node(ctl.port, ca, [{"name": "main", "domains": DOMAINS}],
                                   [{"type": "https", "address": "127.0.0.1", "port": None,
                                     "certificates": ["main"]}])
            out_dir, break_it, fix = broken_out_dir(f)
            deploy_log = with_deploy_hook(f, out_dir)
            f.start()
            break_it()
        self.assertTrue(harness.wait_until(lambda: issued_by_pebble(tls_peer_cert(f.port, "wharf.test")), 60, 0.3),
                        ctl.log()[-2000:] + f.log()[-2000:])
        self.assertTrue(f.wait_log("output files in %s not updated" % out_dir, 10), f.log()[-3000:])
        self.assertEqual(runs(deploy_log), 0)

        fix()
        wait_file_text(deploy_log, "WHARF_EVENT=issued", timeout=30)
        self.assertEqual(sorted(os.listdir(out_dir)), sorted(FILES))
        self.assertTrue(issued_pair(f).endswith(read(os.path.join(out_dir, "fullchain.pem"))))
        self.assertEqual(runs(deploy_log), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
