"""What an admin is told at start-up and reload when the config asks for
something the running process cannot do: keys only a restart applies, a
config file or trust anchor the run user cannot read, and a state file that
is a folder."""

import grp
import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import WHARF, Server, curl, tls_peer_cert  # noqa: E402

SECRET = "s3cret-shared-by-every-node-of-this-cluster"


def nobody_group():
    return grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name


def check(config):
    return subprocess.run([WHARF, "check", "-c", config], capture_output=True, text=True, timeout=30)


def since_last_sighup(server):
    return server.log().split("SIGHUP")[-1]


@unittest.skipUnless(os.geteuid() == 0, "needs root to start and drop privileges")
class RestartKeys(unittest.TestCase):
    def setUp(self):
        self.s = Server()
        self.addCleanup(self.s.cleanup)
        self.s.start()

    def test_a_new_run_user_is_said_to_take_a_restart_at_each_reload(self):
        other = "daemon" if "daemon" in {p.pw_name for p in pwd.getpwall()} else "bin"
        self.s.write_config(self.s.config_text().replace('run_user = "nobody";', 'run_user = "%s";' % other))
        for _ in range(2):  # said again while the file and the process differ
            self.assertTrue(self.s.reload(), self.s.log()[-2000:])
            self.assertIn("reload: run_user is now %s, but privileges were dropped at start-up; that takes a "
                          "restart (still running as nobody" % other, since_last_sighup(self.s))
        self.assertEqual(curl(self.s, "/")[0], 200)
        # A run_user the next start would refuse is said so.
        self.s.write_config(self.s.config_text().replace('run_user = "nobody";', 'run_user = "no-such-user-x";'))
        self.assertTrue(self.s.reload(), self.s.log()[-2000:])
        self.assertIn('reload: run_user "no-such-user-x" does not exist, so the next start will be refused; '
                      "this process goes on as nobody", since_last_sighup(self.s))
        # Back as started: nothing to say.
        self.s.write_config()
        self.assertTrue(self.s.reload(), self.s.log()[-2000:])
        self.assertNotIn("restart", since_last_sighup(self.s))
        self.assertNotIn("next start", since_last_sighup(self.s))

    def test_workers_are_said_to_take_a_restart_at_each_reload(self):
        self.s.workers = 3
        self.s.write_config()
        for _ in range(2):
            self.assertTrue(self.s.reload(), self.s.log()[-2000:])
            self.assertIn("reload: workers is 3, but the worker threads were made at start-up; that takes a "
                          "restart (still 2)", since_last_sighup(self.s))


class WebrootRestart(unittest.TestCase):
    def test_a_new_webroot_is_said_to_take_a_restart(self):
        s = Server(certificates=[{"name": "main", "domains": ["localhost"], "acme": False}])
        self.addCleanup(s.cleanup)
        first, second = os.path.join(s.dir, "www1"), os.path.join(s.dir, "www2")
        for d in (first, second):
            os.mkdir(d)
            s.give(d)
        # A CA nobody answers at: no certificate is ordered (acme = false).
        acme = 'acme = { webroot = "%s"; cas = ( { url = "https://127.0.0.1:9/d"; } ); };\n'
        s.write_config(s.config_text() + acme % first)
        s.start()
        self.assertTrue(os.path.exists(os.path.join(first, ".well-known", "acme-challenge", "test.txt")))
        s.write_config(s.config_text() + acme % second)
        for _ in range(2):
            self.assertTrue(s.reload(), s.log()[-2000:])
            self.assertIn("reload: acme.webroot is now %s, but it was set up at start-up; that takes a restart "
                          "(HTTP-01 answers still go under %s)" % (second, first), since_last_sighup(s))
        s.write_config(s.config_text() + acme % first)
        self.assertTrue(s.reload(), s.log()[-2000:])
        self.assertNotIn("webroot", since_last_sighup(s))


@unittest.skipUnless(os.geteuid() == 0, "needs root to start and drop privileges")
class ConfigTheRunUserCannotRead(unittest.TestCase):
    def setUp(self):
        self.s = Server()
        self.addCleanup(self.s.cleanup)

    def hint(self, path):
        return "make it readable by nobody, e.g. chown root:%s %s && chmod 0640 %s" % (nobody_group(), path, path)

    def test_root_only_config_is_named_at_start_and_by_check(self):
        path = self.s.config_path
        os.chmod(path, 0o600)
        warning = ("run user nobody cannot read the config file %s (Permission denied): every reload (SIGHUP) "
                   "will be refused; %s" % (path, self.hint(path)))
        out = check(path)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("%s: warning: %s" % (path, warning), out.stderr)
        self.assertIn("configuration is valid", out.stdout)
        self.s.start()
        self.assertEqual(self.s.log().count(warning), 1, self.s.log()[-3000:])
        self.assertEqual(curl(self.s, "/")[0], 200)
        # As it says: then reloads work, and nothing is said.
        os.chown(path, 0, pwd.getpwnam("nobody").pw_gid)
        os.chmod(path, 0o640)
        self.assertTrue(self.s.reload(), self.s.log()[-2000:])
        out = check(path)
        self.assertEqual((out.returncode, out.stderr), (0, ""))

    def test_root_only_include_is_named(self):
        inc = os.path.join(self.s.dir, "limits.conf")
        with open(inc, "w") as f:
            f.write("limits = { idle_timeout = 61; };\n")
        os.chmod(inc, 0o600)
        self.s.write_config(self.s.config_text() + '@include "limits.conf"\n')
        warning = ("run user nobody cannot read the @include'd file %s (Permission denied): every reload "
                   "(SIGHUP) will be refused; %s" % (inc, self.hint(inc)))
        self.assertIn(warning, check(self.s.config_path).stderr)
        self.s.start()
        self.assertIn(warning, self.s.log())
        self.assertFalse(self.s.reload())

    def test_readable_config_says_nothing(self):
        self.s.start()
        self.assertNotIn("cannot read", self.s.log())
        self.assertEqual(check(self.s.config_path).stderr, "")


@unittest.skipUnless(os.geteuid() == 0, "needs root to start and drop privileges")
class CaBundleTheRunUserCannotRead(unittest.TestCase):
    """An ACME CA's ca_bundle only root may read: refused at start and by
    check, naming the file; one not there yet is left to the CA's requests."""

    def setUp(self):
        self.s = Server(certificates=[{"name": "main", "domains": ["localhost"]}],
                        services=[{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]},
                                  {"type": "acme-http", "address": "127.0.0.1", "port": None, "https_port": 443}],
                        extra='acme = { retry_interval = 1; cas = ( { url = "https://127.0.0.1:9/dir"; '
                              'ca_bundle = "ca-bundle.pem"; } ); };\n')
        self.addCleanup(self.s.cleanup)
        self.ca = os.path.join(self.s.dir, "ca-bundle.pem")

    def make_bundle(self):
        subprocess.run(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-keyout", os.path.join(self.s.dir, "ca.key"), "-out", self.ca,
                        "-days", "2", "-subj", "/CN=acme ca"], capture_output=True, check=True, timeout=30)
        os.chmod(self.ca, 0o600)  # root's, as openssl left it

    def test_start_is_refused_with_the_file_and_the_reason(self):
        self.make_bundle()
        line = ("acme.cas[0].ca_bundle %s: run user nobody cannot read it (Permission denied), so no request to "
                "https://127.0.0.1:9/dir could be trusted; make it readable by nobody, e.g. chown root:%s %s && "
                "chmod 0640 %s" % (self.ca, nobody_group(), self.ca, self.ca))
        self.s.start(wait=False)
        self.s.proc.wait(timeout=15)
        self.assertNotEqual(self.s.proc.returncode, 0)
        self.assertEqual(self.s.log().count(line), 1, self.s.log()[-3000:])
        out = check(self.s.config_path)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("%s:%d: %s" % (self.s.config_path, config_line(self.s, "ca_bundle ="), line), out.stderr)

    def test_a_bundle_not_there_yet_does_not_stop_the_start(self):
        self.s.start()
        self.assertIsNone(self.s.proc.poll())
        self.assertNotIn("ca_bundle", self.s.log().split("ready")[0])

    def test_a_bundle_not_there_names_it_at_each_request(self):
        # libcurl's own words ("Problem with the SSL CA cert (path? access
        # rights?)") name no file: the failure line adds it. A listener
        # that never answers takes the request as far as the TLS set-up.
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        # tls-alpn-01: no pre-flight of port 80 stands before the request.
        self.s.write_config(self.s.config_text().replace("127.0.0.1:9/dir",
                                                         "127.0.0.1:%d/dir" % listener.getsockname()[1])
                            .replace('domains = ["localhost"]; }', 'domains = ["localhost"]; challenge = "tls-alpn-01"; }'))
        self.s.start()
        self.assertTrue(self.s.wait_log("Problem with the SSL CA cert", 15), self.s.log()[-3000:])
        line = [l for l in self.s.log().splitlines() if "Problem with the SSL CA cert" in l][0]
        self.assertIn(self.ca, line)


def config_line(server, text):
    """The number of the config's one line holding text."""
    with open(server.config_path) as f:
        hits = [i + 1 for i, l in enumerate(f.read().splitlines()) if text in l]
    assert len(hits) == 1, hits
    return hits[0]


class BrokenCaEntry(unittest.TestCase):
    """A CA entry no request could use is refused by check, with its line:
    a URL with no host or with a space, a ca_bundle with no PEM
    certificate; libcurl would say so at every order, naming no file."""

    def test_each_is_named_with_its_line(self):
        s = Server(certificates=[{"name": "main", "domains": ["localhost"]}],
                   services=[{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]},
                             {"type": "acme-http", "address": "127.0.0.1", "port": None, "https_port": 443}])
        self.addCleanup(s.cleanup)
        with open(os.path.join(s.dir, "not-pem.pem"), "w") as f:
            f.write("not a certificate\n")
        open(os.path.join(s.dir, "empty.pem"), "w").close()
        entries = ['{ url = "https://"; }', '{ url = "https:// bad url/dir"; }',
                   '{ url = "https://127.0.0.1:9/dir"; ca_bundle = "not-pem.pem"; }',
                   '{ url = "https://127.0.0.1:9/dir"; ca_bundle = "empty.pem"; }',
                   '{ url = "https://127.0.0.1:9/dir"; ca_bundle = "/etc/ssl/certs/ca-certificates.crt"; }']
        s.write_config(s.config_text() + "acme = { cas = (\n" + ",\n".join(entries) + "\n); };\n")
        with open(s.config_path) as f:
            first = f.read().splitlines().index(entries[0] + ",") + 1
        out = check(s.config_path)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        for line, what in ((first, 'acme url "https://" has no host'),
                           (first + 1, 'acme url "https:// bad url/dir" holds a space or a control character'),
                           (first + 2, "acme.cas[2].ca_bundle %s holds no PEM certificate"
                            % os.path.join(s.dir, "not-pem.pem")),
                           (first + 3, "acme.cas[3].ca_bundle %s holds no PEM certificate (it is empty)"
                            % os.path.join(s.dir, "empty.pem"))):
            self.assertIn("%s:%d: %s" % (s.config_path, line, what), out.stderr)
        self.assertEqual(len(out.stderr.splitlines()), 4, out.stderr)  # the system's bundle is fine


@unittest.skipUnless(os.geteuid() == 0, "a file only root may read, and a run user")
class ControllerCaTheRunUserCannotRead(unittest.TestCase):
    def setUp(self):
        self.s = Server(certificates=[{"name": "main", "domains": ["localhost"]}],
                        extra='cluster = { role = "follower"; secret = "%s"; controller = "https://localhost:9"; '
                              'controller_ca = "controller-ca.pem"; poll_interval = 30; };\n' % SECRET)
        self.addCleanup(self.s.cleanup)
        self.ca = os.path.join(self.s.dir, "controller-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-keyout", os.path.join(self.s.dir, "ca.key"), "-out", self.ca,
                        "-days", "2", "-subj", "/CN=controller"], capture_output=True, check=True, timeout=30)
        os.chmod(self.ca, 0o600)  # root's, as openssl left it
        self.line = ("cluster.controller_ca %s: run user nobody cannot read it (Permission denied), so no answer "
                     "of the controller could be trusted; make it readable by nobody, e.g. chown root:%s %s && "
                     "chmod 0640 %s" % (self.ca, nobody_group(), self.ca, self.ca))

    def test_start_is_refused_with_the_file_and_the_reason(self):
        self.s.start(wait=False)
        self.s.proc.wait(timeout=15)
        self.assertNotEqual(self.s.proc.returncode, 0)
        self.assertEqual(self.s.log().count(self.line), 1, self.s.log()[-3000:])
        self.assertNotIn("ready", self.s.log())
        out = check(self.s.config_path)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("%s:%d: %s" % (self.s.config_path, config_line(self.s, "controller_ca ="), self.line),
                      out.stderr)

    def test_a_file_made_unreadable_later_is_blamed_not_the_controller(self):
        # A controller that takes connections and closes them at once: each
        # poll fails fast, first as the controller's fault (it is).
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        self.addCleanup(listener.close)

        def close_each():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                conn.close()
        threading.Thread(target=close_each, daemon=True).start()
        self.s.write_config(self.s.config_text()
                            .replace("https://localhost:9", "https://127.0.0.1:%d" % listener.getsockname()[1])
                            .replace("poll_interval = 30", "poll_interval = 1"))
        self.s.give(self.ca)
        self.s.start()
        self.assertTrue(self.s.wait_log("unreachable", 10), self.s.log()[-2000:])
        os.chown(self.ca, 0, 0)
        line = "cluster: certificate main: cluster.controller_ca %s cannot be used (" % self.ca
        self.assertTrue(self.s.wait_log(line, 10), self.s.log()[-2000:])
        self.assertIn("so the controller cannot be verified; make it a PEM file the run user can read",
                      self.s.log().split(line)[1])

    def test_reload_is_refused_and_the_running_config_stays(self):
        self.s.give(self.ca)
        self.s.start()
        self.assertEqual(check(self.s.config_path).returncode, 0)
        os.chown(self.ca, 0, 0)
        self.assertFalse(self.s.reload())
        self.assertIn("reload refused: %s:%d: %s" % (self.s.config_path, config_line(self.s, "controller_ca ="),
                                                     self.line), since_last_sighup(self.s))
        self.assertIsNone(self.s.proc.poll())


class IssuedFolder(unittest.TestCase):
    def test_a_folder_for_issued_pem_is_named_and_the_provisional_serves(self):
        s = Server()
        self.addCleanup(s.cleanup)
        s.start()
        provisional = tls_peer_cert(s.port, "localhost")
        s.stop()
        folder = os.path.join(s.state_dir, "certs", "main", "issued.pem")
        os.mkdir(folder)
        s.start()
        self.assertEqual(s.log().count(
            "certificate main: %s is not a regular file (a folder); it is not read, nor can a new one be stored "
            "there until it is moved aside" % folder), 1, s.log()[-3000:])
        self.assertNotIn("issued.pem/issued.pem", s.log())
        self.assertNotIn("Invalid argument", s.log())
        self.assertEqual(tls_peer_cert(s.port, "localhost"), provisional)
        self.assertEqual(curl(s, "/")[0], 200)
        shutil.rmtree(folder)


@unittest.skipUnless(os.geteuid() == 0, "needs root to start and drop privileges")
class CheckSaysWhatServeWould(unittest.TestCase):
    """What the start refuses, check refuses in the same words, from the
    key's FILE:LINE; what the start warns of, check warns of."""

    def setUp(self):
        self.s = Server(certificates=[{"name": "main", "domains": ["localhost"], "acme": False}])
        self.addCleanup(self.s.cleanup)

    def both(self, text):
        self.s.write_config(text)
        out = check(self.s.config_path)
        serve = subprocess.run([WHARF, "serve", "-c", self.s.config_path], capture_output=True, text=True,
                               timeout=30)
        return out, serve

    def test_refusals_of_the_start_are_refused_by_check(self):
        base = self.s.config_text()
        www = "/nonexistent/www"
        acme = 'acme = { webroot = "%s"; cas = ( { url = "https://127.0.0.1:9/d"; } ); };\n' % www
        cases = [
            (base.replace('run_user = "nobody";', 'run_user = "root";'), 'run_user = "root";',
             "refusing to serve files as root: set run_user to an unprivileged user, or allow_root = true"),
            (base.replace('run_user = "nobody";', 'run_user = "nosuchuser";'), 'run_user = "nosuchuser";',
             'run_user "nosuchuser" does not exist'),
            (base.replace('log = { level = "debug"; };', 'log = { level = "debug"; error_log = "/nonexistent/dir/err.log"; };'),
             "error_log", "cannot open error log /nonexistent/dir/err.log: No such file or directory"),
            (base + acme, "webroot", "cannot write into the webroot %s" % www),
        ]
        for text, key, words in cases:
            out, serve = self.both(text)
            line = [i + 1 for i, l in enumerate(text.splitlines()) if key in l][0]
            self.assertEqual(out.returncode, 1, (key, out.stdout, out.stderr))
            self.assertIn("%s:%d: %s" % (self.s.config_path, line, words), out.stderr)
            self.assertNotIn("configuration is valid", out.stdout)
            self.assertEqual(serve.returncode, 1, (key, serve.stderr[-2000:]))
            self.assertIn(words, serve.stderr)
            self.assertFalse(os.path.exists("/nonexistent"))

    def test_a_home_the_run_user_cannot_read_is_a_warning(self):
        home = self.s.home("alice")
        os.chmod(home, 0o700)  # root's: nobody cannot enter it
        out = check(self.s.config_path)
        line = [i + 1 for i, l in enumerate(self.s.config_text().splitlines()) if 'name = "alice"' in l][0]
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("%s:%d: warning: user alice: home %s cannot be read by run user nobody: Permission denied"
                      % (self.s.config_path, line, home), out.stderr)
        self.assertIn("configuration is valid", out.stdout)

    def test_a_log_file_not_there_is_not_left_behind(self):
        path = os.path.join(self.s.dir, "err.log")
        self.s.write_config(self.s.config_text().replace('log = { level = "debug"; };',
                                                         'log = { level = "debug"; error_log = "%s"; };' % path))
        out = check(self.s.config_path)
        self.assertEqual((out.returncode, out.stderr), (0, ""))
        self.assertFalse(os.path.exists(path))

    def test_the_running_servers_port_is_no_problem(self):
        # An admin checks before a reload: the running server holds the port.
        self.s.start()
        out = check(self.s.config_path)
        self.assertEqual((out.returncode, out.stderr), (0, ""))


if __name__ == "__main__":
    harness.main()
