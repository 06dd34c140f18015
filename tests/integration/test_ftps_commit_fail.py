"""FTPS uploads whose commit fails after every byte came: a folder made
under the file's name while the upload ran (a real fault: the rename onto
it fails with EISDIR). The file was whole on disk, so its bytes are kept as
an interrupted upload's are, resumed (APPE, REST+STOR) or fresh (STOR): the
451 says why and how to resume, the log says it in one line, and once the
folder is gone curl -C - and lftp put -c finish the file. All but the last
byte is kept, so these clients, which compare sizes, send that byte rather
than call the upload done with nothing stored. (A commit whose fsync fails
drops the bytes, as they may not be on disk: tests/unit/test_upload.c
injects that fault, which no real peer can make.)"""

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


class CommitFails(ftps_util.FTPSCase):

    def partial(self, name):
        """What the partial of NAME holds (its length and hash), or None."""
        path = self.home(ftps_util.PARTIAL_PREFIX + name + ".partial")
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            got = f.read()
        return len(got), sha(got)

    def folder_takes_the_name(self, c, name, body, cmd="STOR", rest=None, after_last_byte=False):
        """c's upload of BODY to NAME, during which a folder is made under
        NAME (before its last bytes, or after all of them came); the upload
        then ends whole (close_notify): its final reply."""
        raw = socket.create_connection(("127.0.0.1", c.epsv()), timeout=10)
        self.addCleanup(raw.close)
        if rest is not None:
            c.expect("REST %d" % rest, 350)
        r = c.cmd("%s %s" % (cmd, name), timeout=30)
        self.assertEqual(r.code, 150, r)
        conn = c.wrap_data(raw)
        self.addCleanup(conn.close)
        conn.sendall(body if after_last_byte else body[:-1000])
        if after_last_byte:
            time.sleep(1)  # the server has them all: the folder is newer than the last byte
        os.mkdir(self.home(name))
        self.server.give(self.home(name))
        if not after_last_byte:
            conn.sendall(body[-1000:])
        conn.settimeout(10)
        conn.unwrap()
        conn.close()
        return c.read_reply(timeout=30)

    def check_kept(self, r, name, data):
        """The reply and the log say why and what is kept: all but the last byte."""
        kept = len(data) - 1
        self.assertEqual(r.code, 451, r)
        self.assertEqual(self.partial(name), (kept, sha(data[:kept])), "the bytes were not kept")
        self.assertIn("/%s not stored: a folder now stands under that name" % name, r.text)
        self.assertIn("the %d bytes kept stay: resume with REST %d and STOR, or APPE" % (kept, kept), r.text)
        self.assertFalse([p for p in self.partials() if p.startswith(ftps_util.PARTIAL_PREFIX + name)
                          and not p.endswith(".partial")], self.partials())
        line = "upload of /%s could not be stored: a folder now stands under that name; its %d bytes were " \
               "whole on disk, the first %d kept for REST/APPE" % (name, len(data), kept)
        self.assertTrue(self.server.wait_log(line, timeout=5), "no log line")
        self.assertEqual(self.server.log().count("upload of /%s could not be stored" % name), 1)

    def clear_the_folder(self, c, name):
        c.expect("RMD " + name, 250)

    def test_appe_then_curl_resumes(self):
        name = "appe.bin"
        data = os.urandom(700000)
        c = self.logged_in()
        self.parked(c, name, data, 250000)
        r = self.folder_takes_the_name(c, name, data[250000:], cmd="APPE")
        self.check_kept(r, name, data)
        self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), str(len(data) - 1))
        self.clear_the_folder(c, name)
        out = ftps_util.curl(self.port, "/" + name, ["-C", "-", "-T", self.scratch(name, data)])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(self.read_home(name)), sha(data))
        self.assertIn("user alice: APPE " + name, self.server.log(), "curl did not resume")
        self.assertIsNone(self.partial(name))

    def test_rest_stor_then_lftp_resumes(self):
        name = "rest.bin"
        data = os.urandom(600000)
        c = self.logged_in()
        self.parked(c, name, data, 200000)
        r = self.folder_takes_the_name(c, name, data[200000:], rest=200000)
        self.check_kept(r, name, data)
        self.clear_the_folder(c, name)
        c.expect("QUIT", 221)
        out = ftps_util.lftp(self.port, "put -c %s -o %s" % (self.scratch(name, data), name))
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        self.assertEqual(sha(self.read_home(name)), sha(data))
        self.assertIn("user alice: REST %d" % (len(data) - 1), self.server.log(), "lftp did not resume")
        self.assertIsNone(self.partial(name))

    def test_fresh_stor_is_kept_like_a_cut_one(self):
        # A plain STOR cut short is parked; one whole on disk that the name
        # did not take is too.
        name = "fresh.bin"
        data = os.urandom(500000)
        c = self.logged_in()
        r = self.folder_takes_the_name(c, name, data)
        self.check_kept(r, name, data)
        self.clear_the_folder(c, name)
        r, _ = c.stor(name, data[-1:], cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home(name)), sha(data))
        self.assertIsNone(self.partial(name))

    def test_folder_made_after_the_last_byte(self):
        # Between the last byte and the rename (the fsync of a large file
        # takes a while): the folder is newer than the partial, yet no file
        # replaced the upload. A resumption while it stands (lftp retrying
        # at once) is refused and keeps the partial; once it is gone, the
        # file is finished.
        name = "late.bin"
        data = os.urandom(400000)
        c = self.logged_in()
        self.parked(c, name, data, 150000)
        r = self.folder_takes_the_name(c, name, data[150000:], cmd="APPE", after_last_byte=True)
        self.check_kept(r, name, data)
        self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), str(len(data) - 1))
        src = self.scratch(name, data)
        out = ftps_util.lftp(self.port, "put -c %s -o %s" % (src, name))
        self.assertNotEqual(out.returncode, 0, out.stderr + out.stdout)
        self.assertEqual(self.partial(name), (len(data) - 1, sha(data[:-1])), "the partial went")
        self.clear_the_folder(c, name)
        out = ftps_util.lftp(self.port, "put -c %s -o %s" % (src, name))
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        self.assertEqual(sha(self.read_home(name)), sha(data))
        self.assertIsNone(self.partial(name))

    def test_resuming_while_the_folder_stands_keeps_the_partial(self):
        # Refused up front, the partial untouched: resumable once the name is free.
        name = "twice.bin"
        data = os.urandom(300000)
        c = self.logged_in()
        self.parked(c, name, data, 100000)
        r = self.folder_takes_the_name(c, name, data[100000:], cmd="APPE")
        self.assertEqual(r.code, 451, r)
        for rest in (None, len(data) - 1):
            r, _ = c.stor(name, data[-1:], cmd="APPE" if rest is None else "STOR", rest=rest)
            self.assertEqual(r.code, 550, r)
            self.assertIn("a folder has that name", r.text)
            self.assertEqual(self.partial(name), (len(data) - 1, sha(data[:-1])))
        self.clear_the_folder(c, name)
        r, _ = c.stor(name, data[-1:], rest=len(data) - 1)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home(name)), sha(data))


if __name__ == "__main__":
    harness.main()
