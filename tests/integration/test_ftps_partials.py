"""FTPS interrupted uploads ("partials") beyond plain resumption: a user with
write but no read permission can still ask SIZE how much of its upload
arrived (curl -C -, lftp put -c) but not the size of a complete file."""

import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402


def sha(b):
    return hashlib.sha256(b).hexdigest()


class WriteOnly(ftps_util.FTPSCase):

    USERS = [{"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]},
             {"name": "writer", "password": "writer-pw", "perms": ["write"]}]

    @classmethod
    def prepare(cls, server):
        with open(os.path.join(server.home("writer"), "done.txt"), "wb") as f:
            f.write(b"complete\n")

    def test_size_of_own_partial_then_curl_resume(self):
        name = "drop.bin"
        data = os.urandom(1024 * 1024 + 17)
        c = self.logged_in("writer")
        r, _ = c.stor(name, data, cut_after=300001)
        self.assertEqual(r.code // 100, 4, r)
        self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), "300001")
        src = self.scratch(name, data)
        out = ftps_util.curl(self.port, "/" + name, ["-C", "-", "-T", src], user="writer")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(self.read_home(name, user="writer")), sha(data))
        self.assertIn("user writer: APPE " + name, self.server.log(), "curl did not resume")

    def test_size_of_partial_then_lftp_put_continue(self):
        name = "lftp-drop.bin"
        data = os.urandom(1024 * 1024 + 3)
        c = self.logged_in("writer")
        r, _ = c.stor(name, data, cut_after=500000)
        self.assertEqual(r.code // 100, 4, r)
        c.expect("QUIT", 221)
        src = self.scratch(name, data)
        out = ftps_util.lftp(self.port, "put -c %s -o %s" % (src, name), user="writer")
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        self.assertEqual(sha(self.read_home(name, user="writer")), sha(data))
        self.assertIn("user writer: REST 500000", self.server.log(), "lftp did not resume")

    def test_size_of_complete_file_needs_read(self):
        c = self.logged_in("writer")
        r = c.cmd("SIZE done.txt")
        self.assertEqual(r.code, 550, r)
        self.assertIn("read", r.text)
        self.assertEqual(c.cmd("SIZE missing.txt").code, 550)
        data, r, _ = c.retr("done.txt")
        self.assertEqual(r.code, 550, r)
        # A user with read permission gets the size as before.
        a = self.logged_in("alice")
        self.assertEqual(a.cmd("SIZE /").code, 550)
        self.write_home("a.txt", b"12345")
        self.assertEqual(a.expect("SIZE a.txt", 213).text.strip(), "5")


if __name__ == "__main__":
    harness.main()
