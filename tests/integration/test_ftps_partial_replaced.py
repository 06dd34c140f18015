"""An interrupted FTPS upload's partial is resumed only while it is newer
than what its name holds: once a file is put under the name another way (an
HTTPS PUT, an FTPS RNTO onto it), SIZE reports that file and APPE appends to
it, as RFC 959 says APPE does, instead of swapping it for the partial's
older bytes."""

import hashlib
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402


def sha(b):
    return hashlib.sha256(b).hexdigest()


class PartialReplaced(ftps_util.FTPSCase):

    HTTPS = True

    def interrupted(self, name, size=100000, cut=30000):
        """alice's upload of NAME cut after CUT bytes; its control connection."""
        c = self.logged_in()
        r, info = c.stor(name, os.urandom(size), cut_after=cut)
        self.assertEqual(info["prelim"] and info["prelim"].code, 150, (r, info))
        self.assertEqual(r.code // 100, 4, r)
        # SIZE is what RETR would send: the file, when the name holds one.
        there = os.path.exists(self.home(name))
        size = os.path.getsize(self.home(name)) if there else cut
        self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), str(size))
        self.assertEqual(os.path.getsize(self.home(ftps_util.PARTIAL_PREFIX + name + ".partial")), cut)
        return c

    def test_https_put_then_appe(self):
        c = self.interrupted("log.txt")
        new = os.urandom(200000)
        st, _, _ = harness.curl(self.server, "/log.txt", args=["-T", "-"], input=new)
        self.assertIn(st, (201, 204))
        self.assertEqual(c.expect("SIZE log.txt", 213).text.strip(), str(len(new)))
        r, _ = c.stor("log.txt", b"TAIL", cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("log.txt")), sha(new + b"TAIL"))
        self.assertIn("removed the interrupted upload of /log.txt: the file was replaced after it",
                      self.server.log())
        self.assertEqual([n for n in os.listdir(self.home()) if "log.txt" in n], ["log.txt"])

    def test_rnto_then_size_and_appe(self):
        c = self.interrupted("x.txt")
        y = os.urandom(200000)
        r, _ = c.stor("y.txt", y)
        self.assertEqual(r.code, 226, r)
        c.expect("RNFR y.txt", 350)
        c.expect("RNTO x.txt", 250)
        self.assertEqual(c.expect("SIZE x.txt", 213).text.strip(), str(len(y)))
        r, _ = c.stor("x.txt", b"TAIL", cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("x.txt")), sha(y + b"TAIL"))

    def test_rest_stor_continues_the_new_file(self):
        c = self.interrupted("r.bin")
        new = os.urandom(50000)
        st, _, _ = harness.curl(self.server, "/r.bin", args=["-T", "-"], input=new)
        self.assertIn(st, (201, 204))
        r, _ = c.stor("r.bin", b"END", rest=40000)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("r.bin")), sha(new[:40000] + b"END"))

    def test_an_older_file_leaves_the_partial_resumable(self):
        # The usual case: the name held a complete file before the upload
        # that was cut; the partial is newer and resumes.
        self.write_home("keep.bin", b"old version\n")
        c = self.interrupted("keep.bin", size=80000, cut=20000)
        r, _ = c.stor("keep.bin", b"more", rest=20000)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(os.path.getsize(self.home("keep.bin")), 20004)

    def test_whole_upload_before_the_cut_session_parks(self):
        # The client's network drops mid-STOR; it reconnects and, finding
        # nothing to resume, sends the file whole. Only then does the old
        # session see its connection cut and park the 40000 bytes it had:
        # they are older than the file, whenever they were flushed.
        data = os.urandom(300000)
        a = self.logged_in()
        raw = socket.create_connection(("127.0.0.1", a.epsv()), timeout=10)
        self.addCleanup(raw.close)
        self.assertEqual(a.cmd("STOR re.bin", timeout=30).code, 150)
        conn = a.wrap_data(raw)
        conn.sendall(data[:40000])
        time.sleep(0.5)
        b = self.logged_in()
        self.assertEqual(b.cmd("SIZE re.bin").code, 550)
        r, _ = b.stor("re.bin", data)
        self.assertEqual(r.code, 226, r)
        conn.shutdown(socket.SHUT_RDWR)  # cut: no close_notify
        self.assertEqual(a.read_reply(timeout=30).code // 100, 4)
        self.assertTrue(harness.wait_until(lambda: any("re.bin.partial" in n for n in os.listdir(self.home())),
                                           timeout=10), os.listdir(self.home()))
        self.assertEqual(b.expect("SIZE re.bin", 213).text.strip(), str(len(data)))
        self.assertEqual(sha(self.read_home("re.bin")), sha(data))
        self.assertEqual([n for n in os.listdir(self.home()) if "re.bin" in n], ["re.bin"])

    def test_https_delete_takes_the_partial(self):
        # A file deleted over HTTPS is gone for FTPS too: its partial goes
        # with it, as with DELE, so SIZE finds nothing and APPE starts anew.
        self.write_home("gone.bin", b"complete\n")
        c = self.interrupted("gone.bin")
        st, _, _ = harness.curl(self.server, "/gone.bin", args=["-X", "DELETE"])
        self.assertEqual(st, 204)
        self.assertEqual(c.cmd("SIZE gone.bin").code, 550)
        self.assertEqual([n for n in os.listdir(self.home()) if "gone.bin" in n], [])
        r, _ = c.stor("gone.bin", b"new", cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(self.read_home("gone.bin"), b"new")
        # A DELETE of a name with only a partial finds nothing, and keeps it.
        c2 = self.interrupted("only.bin")
        st, _, _ = harness.curl(self.server, "/only.bin", args=["-X", "DELETE"])
        self.assertEqual(st, 404)
        self.assertEqual(c2.expect("SIZE only.bin", 213).text.strip(), "30000")


if __name__ == "__main__":
    harness.main()
