"""An upload that replaces a file keeps the file's permission bits (a
0755 script stays executable, a 0600 file stays private), over FTPS and
HTTPS alike, while a new file gets the usual 0644; set-id bits are not
carried over."""

import os
import stat
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import ftps_util  # noqa: E402
import harness  # noqa: E402


class UploadMode(ftps_util.FTPSCase):
    HTTPS = True

    @classmethod
    def prepare(cls, server):
        for name, mode in (("run.sh", 0o755), ("private.txt", 0o600), ("setid.sh", 0o4755),
                           ("web.txt", 0o750)):
            path = os.path.join(server.home(), name)
            with open(path, "w") as f:
                f.write("old\n")
            server.give(path)
            os.chmod(path, mode)
        # A sticky folder where root's read-only file cannot be replaced by
        # the run user: the commit's rename fails (EPERM).
        shared = os.path.join(server.home(), "shared")
        os.mkdir(shared)
        os.chmod(shared, 0o1777)
        with open(os.path.join(shared, "ro.bin"), "w") as f:
            f.write("root's\n")
        os.chmod(os.path.join(shared, "ro.bin"), 0o444)

    def mode(self, name):
        return stat.S_IMODE(os.stat(os.path.join(self.server.home(), name)).st_mode)

    def content(self, name):
        with open(os.path.join(self.server.home(), name)) as f:
            return f.read()

    def test_ftps_stor_keeps_the_mode(self):
        with self.control() as c:
            c.login()
            for name, mode in (("run.sh", 0o755), ("private.txt", 0o600), ("setid.sh", 0o755)):
                with self.subTest(name=name):
                    c.stor(name, b"new\n")
                    self.assertEqual(self.content(name), "new\n")
                    self.assertEqual(oct(self.mode(name)), oct(mode))
            c.stor("fresh.txt", b"new\n")
            umask = os.umask(0)
            os.umask(umask)  # the server's, inherited from the test
            self.assertEqual(oct(self.mode("fresh.txt")), oct(0o644 & ~umask))

    def test_https_put_keeps_the_mode(self):
        src = os.path.join(self.server.dir, "put-src")
        with open(src, "w") as f:
            f.write("put\n")
        status, _, _ = harness.curl(self.server, "/web.txt", args=["-T", src])
        self.assertEqual(status, 204)
        self.assertEqual(self.content("web.txt"), "put\n")
        self.assertEqual(oct(self.mode("web.txt")), oct(0o750))

    @unittest.skipUnless(os.geteuid() == 0, "a file of root's that the run user cannot replace")
    def test_a_read_only_file_that_is_not_replaced_keeps_the_upload(self):
        # The mode copied from the file would not let the upload be parked
        # if its rename fails: the bytes are kept all the same, as a
        # partial of the server's own mode.
        shared = os.path.join(self.server.home(), "shared")
        os.chown(shared, 0, 0)  # root's after the start gave the home to the run user
        os.chown(os.path.join(shared, "ro.bin"), 0, 0)
        with self.control() as c:
            c.login()
            r, _ = c.stor("shared/ro.bin", b"new content\n")
            self.assertEqual(r.code, 451, r)
            self.assertIn("bytes kept stay", r.text)
        partials = [n for n in os.listdir(os.path.join(self.server.home(), "shared")) if n.endswith(".partial")]
        self.assertEqual(len(partials), 1, partials)
        self.assertEqual(oct(self.mode(os.path.join("shared", partials[0]))), oct(0o644))
        self.assertEqual(self.content(os.path.join("shared", "ro.bin")), "root's\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
