"""Started as root: what the run user is given, and nothing more (the state
folder's own entries, never the config beside them), and what it must
still reach after the drop (reloads, log files, homes)."""

import os
import pwd
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import WHARF, Server, curl  # noqa: E402

NOBODY = pwd.getpwnam("nobody").pw_uid


def owner(path):
    return os.lstat(path).st_uid


def run(*args, timeout=30):
    return subprocess.run([WHARF, *args], capture_output=True, text=True, timeout=timeout)


@unittest.skipUnless(os.geteuid() == 0, "needs root to start and drop privileges")
class StateFolder(unittest.TestCase):
    def server(self, state_dir):
        s = Server()
        self.addCleanup(s.cleanup)
        s.write_config(s.config_text().replace('state_dir = "state";', 'state_dir = "%s";' % state_dir))
        os.chmod(s.config_path, 0o600)
        return s

    def test_state_folder_holding_the_config_is_refused(self):
        # The run user would be given the folder root starts from, and with
        # it the config: it could rewrite what root runs next time.
        for state_dir in (".", ""):
            s = self.server(state_dir)
            for cmd in ("check", "serve"):
                out = run(cmd, "-c", s.config_path)
                self.assertEqual(out.returncode, 1, (state_dir, cmd, out.stdout, out.stderr))
                self.assertIn("holds the config file %s" % s.config_path, out.stderr + out.stdout)
            self.assertEqual(owner(s.config_path), 0)
            self.assertEqual(owner(s.dir), 0)

    def test_root_folder_is_refused(self):
        s = self.server("/")
        out = run("check", "-c", s.config_path)
        self.assertEqual(out.returncode, 1)
        # Named with its line, the file as the success line names it.
        self.assertIn("%s:1: state_dir is the root folder" % s.config_path, out.stderr)
        # Run from the config's folder, a relative name is made absolute too.
        out = subprocess.run([os.path.abspath(WHARF), "check", "-c", "wharf.conf"], capture_output=True, text=True,
                             timeout=30, cwd=s.dir)
        self.assertIn("%s:1: state_dir is the root folder" % s.config_path, out.stderr)

    def test_only_wharfs_own_entries_are_given(self):
        # A shared state folder: wharf's entries are the run user's, the
        # folder and what else it holds stay root's.
        s = self.server("shared")
        shared = os.path.join(s.dir, "shared")
        os.makedirs(os.path.join(shared, "other"))
        with open(os.path.join(shared, "root-file"), "w") as f:
            f.write("root's")
        os.chmod(shared, 0o755)
        s.start()
        self.assertEqual(curl(s, "/")[0], 200)
        for name in ("certs", "acme", "lock", "certs/main", "certs/main/selfsigned.key"):
            self.assertEqual(owner(os.path.join(shared, name)), NOBODY, name)
        for name in ("certs/main/selfsigned.key", "lock"):
            self.assertEqual(os.stat(os.path.join(shared, name)).st_mode & 0o777, 0o600, name)
        for name in ("", "other", "root-file"):
            self.assertEqual(owner(os.path.join(shared, name)), 0, name)

    def test_a_shared_folder_the_run_user_cannot_enter_says_so(self):
        s = self.server("shared")
        shared = os.path.join(s.dir, "shared")
        os.makedirs(shared, mode=0o700)
        with open(os.path.join(shared, "root-file"), "w") as f:
            f.write("root's")
        out = run("serve", "-c", s.config_path)
        self.assertEqual(out.returncode, 1)
        self.assertIn("run user nobody cannot write %s/certs: Permission denied" % shared, out.stderr)
        self.assertEqual(owner(shared), 0)

    def test_a_folder_of_its_own_is_given_whole(self):
        s = self.server("state")
        os.makedirs(s.state_dir, mode=0o700)
        s.start()
        self.assertEqual(owner(s.state_dir), NOBODY)
        self.assertEqual(sorted(os.listdir(s.state_dir)), ["acme", "certs", "lock"])


@unittest.skipUnless(os.geteuid() == 0, "needs root to start and drop privileges")
class LogFiles(unittest.TestCase):
    def test_reload_keeps_the_log_file_root_opened(self):
        # Root makes the error log (0640, root's) at start; the run user
        # could not open it again, so every reload was refused. The file it
        # has is kept while its name still leads to it.
        s = Server()
        self.addCleanup(s.cleanup)
        error_log = s.log_file("error_log")
        s.start(wait=False)
        s.log_path = error_log  # from here on, what s.log() and s.reload() read
        self.assertTrue(s.wait_log("ready", timeout=15), s.log())
        self.assertEqual((owner(error_log), os.stat(error_log).st_mode & 0o777), (0, 0o640))
        for _ in range(2):
            self.assertTrue(s.reload(), s.log()[-2000:])
        self.assertNotIn("refused", s.log())
        # Rotated (renamed, then SIGHUP): the run user makes the new file
        # in its folder, and the next reloads keep that one.
        os.rename(error_log, error_log + ".1")
        self.assertTrue(s.reload(), s.log()[-2000:])
        self.assertEqual(owner(error_log), NOBODY)
        self.assertTrue(s.reload(), s.log()[-2000:])
        with open(error_log + ".1") as f:
            self.assertNotIn("reloaded:", f.read().split("SIGHUP")[-1])
        self.assertEqual(curl(s, "/")[0], 200)


@unittest.skipUnless(os.geteuid() == 0, "needs root to start and drop privileges")
class Homes(unittest.TestCase):
    def test_a_home_the_run_user_cannot_read_is_named(self):
        # Homes are opened as root at load; after the drop every request
        # into one only root may enter fails. The start goes on (alice is
        # fine) and says, at start and at each reload, whose home and why.
        s = Server()
        self.addCleanup(s.cleanup)
        s.start()
        warning = ("user reader: home %s cannot be read by run user nobody: Permission denied" % s.home("reader"))
        self.assertNotIn("cannot be read", s.log())
        s.stop()
        os.chown(s.home("reader"), 0, 0)
        os.chmod(s.home("reader"), 0o700)
        s.give_homes = lambda: None  # as the admin left it
        s.start()
        self.assertIn(warning, s.log())
        self.assertNotIn("user alice", s.log())
        self.assertEqual(curl(s, "/")[0], 200)
        self.assertTrue(s.reload())
        self.assertIn(warning, s.log().split("SIGHUP")[-1])


@unittest.skipUnless(os.geteuid() == 0, "needs root to start and drop privileges")
class Hooks(unittest.TestCase):
    """Hooks run, and output folders are written, as the run user, perhaps
    months after the start: one that user may not use is refused by check,
    at start and at reload, with its line and the user's name, rather than
    fail at issuance. The start and the reloads judge alike."""

    def server(self):
        s = Server(certificates=[{"name": "main", "domains": ["localhost"], "acme": False}])
        self.addCleanup(s.cleanup)
        return s

    def config(self, s, hook, output_dir=None):
        cert = '{ name = "main"; domains = ["localhost"]; acme = false; deploy_hook = ["%s"];%s }' % (
            hook, ' output_dir = "%s";' % output_dir if output_dir else "")
        # A CA nobody answers at: only the config's checks matter here.
        s.write_config(s.config_text().replace('{ name = "main"; domains = ["localhost"]; acme = false; }', cert) +
                       'acme = { event_hook = ["%s"]; cas = ( { url = "https://127.0.0.1:9/d"; } ); };\n' % hook)

    def test_hook_the_run_user_may_not_execute_is_refused_alike(self):
        s = self.server()
        hook = harness.root_only_script(s, "event.sh")
        os.chmod(hook, 0o700)
        private = os.path.dirname(hook)
        self.config(s, hook)
        deploy = r'%s:\d+: certificate "main": deploy_hook %s: the run user nobody may not execute it' % (
            s.config_path, hook)
        event = r"%s:\d+: acme.event_hook %s: the run user nobody may not execute it" % (s.config_path, hook)
        out = run("check", "-c", s.config_path)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertRegex(out.stderr, deploy)
        self.assertRegex(out.stderr, event)
        with self.assertRaises(RuntimeError):
            s.start()
        s.stop()
        self.assertRegex(s.log(), deploy)
        # Once the run user may run it, all three take the config.
        os.chmod(private, 0o755)
        os.chmod(hook, 0o755)
        out = run("check", "-c", s.config_path)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        s.start()
        self.assertTrue(s.reload(), s.log()[-2000:])
        # A reload that meets one again keeps the running config.
        os.chmod(hook, 0o700)
        self.assertFalse(s.reload())
        tail = s.log().split("SIGHUP")[-1]
        self.assertRegex(tail, "reload refused: " + deploy)
        self.assertIn("reload refused: the running configuration stays in place", tail)
        self.assertEqual(curl(s, "/")[0], 200)
        # One with no execute bit at all is refused at load, as before.
        os.chmod(hook, 0o600)
        out = run("check", "-c", s.config_path)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("is not an executable file (no execute permission)", out.stdout + out.stderr)

    def test_output_dir_the_run_user_cannot_write_is_refused(self):
        s = self.server()
        hook = "/bin/true"
        rooted = os.path.join(s.dir, "root-out")  # root's, 0755: nobody may not write in it
        os.makedirs(rooted)
        os.chmod(rooted, 0o755)
        for out_dir in (rooted, os.path.join(rooted, "new", "main")):
            with self.subTest(output_dir=out_dir):
                self.config(s, hook, out_dir)
                out = run("check", "-c", s.config_path)
                self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
                self.assertRegex(out.stderr, r'%s:\d+: certificate "main": output_dir %s: the run user nobody '
                                 r"cannot write there \(or create it\)" % (s.config_path, out_dir))
        with self.assertRaises(RuntimeError):
            s.start()
        s.stop()
        self.assertIn("output_dir %s: the run user nobody cannot write" % out_dir, s.log())
        # A file, or a link to nothing, where the folder should be: the first
        # write could never make it.
        afile = os.path.join(s.dir, "a-file")
        dangling = os.path.join(s.dir, "dangling")
        with open(afile, "w") as f:
            f.write("not a folder\n")
        os.chmod(afile, 0o666)
        os.symlink(os.path.join(s.dir, "gone"), dangling)
        for out_dir, at, why in ((afile, afile, "not a folder"), (os.path.join(afile, "sub"), afile, "not a folder"),
                                 (dangling, dangling, "a symbolic link to nothing"),
                                 (os.path.join(dangling, "sub"), dangling, "a symbolic link to nothing")):
            with self.subTest(output_dir=out_dir):
                self.config(s, hook, out_dir)
                out = run("check", "-c", s.config_path)
                self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
                self.assertIn('certificate "main": output_dir %s: %s is %s' % (out_dir, at, why), out.stderr)
        # A folder the run user may create (made at the first write) is fine.
        self.config(s, hook, harness.writable_out_dir(s))
        out = run("check", "-c", s.config_path)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        s.start()
        self.config(s, hook, rooted)
        self.assertFalse(s.reload())
        self.assertIn("reload refused: %s:" % s.config_path, s.log().split("SIGHUP")[-1])


if __name__ == "__main__":
    harness.main()
