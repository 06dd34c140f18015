"""An overwrite cut short: the name still holds the old file, and the
interrupted upload of the new one is kept to be resumed. For a user who
can read the file, SIZE is what RETR sends (RFC 3659 4), so curl and lftp
download the old file as before; and a resumption goes on from that size:
curl -C - (SIZE, then APPE) and lftp put -c (SIZE, then REST+STOR) store
the new file whole, never the kept head with the rest appended twice. A
kept head shorter than the old file cannot go on from its size: APPE says
so, names what is kept, and REST at that offset resumes."""

import hashlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import ftps_util  # noqa: E402

OLD, NEW = 1000000, 3000000


def sha(b):
    return hashlib.sha256(b).hexdigest()


class OverwriteResume(ftps_util.FTPSCase):
    def overwrite_cut(self, name, cut):
        """NAME holds OLD bytes; an upload of NEW bytes over it is cut after
        CUT: (the old data, the new data, a local copy of the new)."""
        old, new = os.urandom(OLD), os.urandom(NEW)
        self.write_home(name, old)
        c = self.logged_in()
        r, _ = c.stor(name, new, cut_after=cut)
        self.assertEqual(r.code // 100, 4, r)
        self.assertEqual(len([p for p in self.partials() if name in p]), 1, self.partials())
        c.expect("QUIT", 221)
        return old, new, self.scratch(name, new)

    def test_size_and_downloads_are_the_old_file(self):
        old, _, _ = self.overwrite_cut("dl.bin", 1500000)
        c = self.logged_in()
        self.assertEqual(c.expect("SIZE dl.bin", 213).text.strip(), str(OLD))
        out = ftps_util.curl(self.port, "/dl.bin")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(out.stdout), sha(old))
        local = self.scratch("dl-local.bin")
        out = ftps_util.lftp(self.port, "get dl.bin -o %s" % local)
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        with open(local, "rb") as f:
            self.assertEqual(sha(f.read()), sha(old))

    def test_curl_resume_stores_the_new_file(self):
        _, new, src = self.overwrite_cut("curl.bin", 1500000)
        out = ftps_util.curl(self.port, "/curl.bin", ["-C", "-", "-T", src])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(self.read_home("curl.bin")), sha(new))
        self.assertIn("APPE curl.bin", self.server.log(), "curl did not resume")
        self.assertEqual([p for p in self.partials() if "curl.bin" in p], [])

    def test_lftp_put_continue_stores_the_new_file(self):
        _, new, src = self.overwrite_cut("lftp.bin", 1500000)
        out = ftps_util.lftp(self.port, "put -c %s -o lftp.bin" % src)
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        self.assertEqual(sha(self.read_home("lftp.bin")), sha(new))
        self.assertIn("REST %d" % OLD, self.server.log(), "lftp did not resume")

    def test_head_shorter_than_the_old_file(self):
        old, new, _ = self.overwrite_cut("short.bin", 300000)
        c = self.logged_in()
        r = c.cmd("SIZE short.bin")
        self.assertEqual(r.text.strip(), str(OLD))
        r, _ = c.stor("short.bin", new[OLD:], cmd="APPE")
        self.assertEqual(r.code, 550, r)
        self.assertIn("kept 300000 bytes", r.text)
        self.assertEqual(sha(self.read_home("short.bin")), sha(old))
        self.assertEqual(len([p for p in self.partials() if "short.bin" in p]), 1, "the kept head went")
        r, _ = c.stor("short.bin", new[300000:], rest=300000)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("short.bin")), sha(new))

    def test_a_link_to_a_file_is_the_file(self):
        # A link beneath the home is what RETR sends and listings show:
        # SIZE tells its target's size too, not the cut upload's.
        target = os.urandom(1000)
        self.write_home("target.bin", target)
        os.symlink("target.bin", self.home("link.bin"))
        c = self.logged_in()
        r, _ = c.stor("link.bin", os.urandom(300000), cut_after=150000)
        self.assertEqual(r.code // 100, 4, r)
        self.assertEqual(c.expect("SIZE link.bin", 213).text.strip(), "1000")
        out = ftps_util.curl(self.port, "/link.bin")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(out.stdout), sha(target))


if __name__ == "__main__":
    unittest.main(verbosity=2)
