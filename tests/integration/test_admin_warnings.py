"""What an admin is told at start-up and reload when the config asks for
something the running process cannot do: keys only a restart applies, a
config file or trust anchor the run user cannot read, and a state file that
is a folder."""

import grp
import os
import pwd
import shutil
import subprocess
import sys
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


if __name__ == "__main__":
    harness.main()
