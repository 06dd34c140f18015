"""FTPS commands whose first step takes long run it on the offload pool, so
one big job never holds a worker and every other session on it: with
workers = 1, another session's NOOPs are answered while an APPE copies the
kept part of a large file, and while a LIST reads a large folder. ABOR, QUIT
and a lost control connection during such a copy stop it and leave the file
as it was, with no temp file or partial behind."""

import fcntl
import hashlib
import os
import re
import select
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402

# Sparse: nothing to write here, but the server's copy writes every byte of
# it (about a second), while a NOOP's answer takes a millisecond.
BIG_SIZE = 512 << 20
MANY = 100000  # names in a folder (the listing cap)
FICLONE = 0x40049409
SLOW = 120  # seconds any one slow step may take, however loaded the host


def sha(b):
    return hashlib.sha256(b).hexdigest()


class Offload(ftps_util.FTPSCase):

    WORKERS = 1  # every session on the same loop

    @classmethod
    def prepare(cls, server):
        many = os.path.join(server.home("alice"), "many")
        os.makedirs(many)
        for i in range(MANY):
            os.close(os.open(os.path.join(many, "entry-%06d" % i), os.O_CREAT | os.O_WRONLY, 0o644))

    def big(self, name):
        """A sparse file of BIG_SIZE bytes ending in a known tail."""
        path = self.home(name)
        with open(path, "wb") as f:
            f.truncate(BIG_SIZE - 16)
            f.seek(BIG_SIZE - 16)
            f.write(b"0123456789abcdef")
        self.server.give(path)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        return path

    def skip_if_copies_are_clones(self, path):
        """On a file system with reflinks the copy is instant: nothing to
        see here."""
        probe = path + ".probe"
        try:
            with open(path, "rb") as src, open(probe, "wb") as dst:
                fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
        except OSError:
            return
        finally:
            if os.path.exists(probe):
                os.unlink(probe)
        self.skipTest("this file system clones files: APPE's copy takes no time")

    def temps(self, name):
        """Sizes of the upload temp files for name (not its partial)."""
        prefix = ftps_util.PARTIAL_PREFIX + name + "."
        out = []
        for n in os.listdir(self.home()):
            if n.startswith(prefix) and not n.endswith(".partial"):
                try:
                    out.append(os.stat(self.home(n)).st_size)
                except FileNotFoundError:
                    pass
        return out

    def wait_no_temps(self, name):
        deadline = time.monotonic() + SLOW
        while self.temps(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.temps(name), [], "the copy's temp file stayed")

    def start_appe(self, c, name):
        """APPE name with a data connection up, answered 150; returns the raw socket."""
        port = c.epsv()
        raw = socket.create_connection(("127.0.0.1", port), timeout=SLOW)
        self.addCleanup(raw.close)
        c.send("APPE " + name)
        r = c.read_reply(timeout=SLOW)
        self.assertEqual(r.code, 150, r)
        return raw

    # -- APPE of a large file

    def test_appe_copy_leaves_the_worker_free(self):
        name = "big-appe.bin"
        path = self.big(name)
        self.skip_if_copies_are_clones(path)
        other = self.logged_in()
        c = self.logged_in()
        raw = self.start_appe(c, name)
        # The 150 came as the copy began: the other session is answered
        # while the temp file is still short of what it gets.
        other.expect("NOOP", 200)
        sizes = self.temps(name)
        self.assertEqual(len(sizes), 1, sizes)
        self.assertLess(sizes[0], BIG_SIZE, "the NOOP was answered only once the copy was over")
        r = c.expect("STAT", 211)
        self.assertIn("copying", r.text)
        # The upload goes on once the copy is done.
        tail = os.urandom(1000)
        conn = c.wrap_data(raw)
        conn.settimeout(SLOW)
        conn.sendall(tail)
        conn.unwrap()
        conn.close()
        r = c.read_reply(timeout=SLOW)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(os.path.getsize(path), BIG_SIZE + len(tail))
        with open(path, "rb") as f:
            f.seek(BIG_SIZE - 16)
            self.assertEqual(f.read(), b"0123456789abcdef" + tail)
        self.assertEqual(self.temps(name), [])
        other.expect("NOOP", 200)

    def test_abor_during_the_copy(self):
        name = "big-abor.bin"
        path = self.big(name)
        c = self.logged_in()
        self.start_appe(c, name)
        r = c.cmd("ABOR", timeout=SLOW)
        self.assertEqual(r.code, 426, r)
        r = c.read_reply(timeout=SLOW)
        self.assertEqual(r.code, 226, r)
        c.expect("NOOP", 200)
        self.wait_no_temps(name)
        self.assertEqual(self.partials(), [], "an ABOR before any byte came kept a partial")
        self.assertEqual(os.path.getsize(path), BIG_SIZE)

    def test_quit_or_lost_session_during_the_copy(self):
        for how in ("QUIT", "close"):
            with self.subTest(how=how):
                name = "big-%s.bin" % how.lower()
                path = self.big(name)
                c = self.logged_in()
                raw = self.start_appe(c, name)
                if how == "QUIT":
                    # The upload runs to its end, here the data connection
                    # the client closes before its TLS began: its 425, then
                    # 221 (RFC 959).
                    c.send("QUIT")
                    raw.close()
                    first, second = c.read_reply(timeout=SLOW), c.read_reply(timeout=SLOW)
                    self.assertEqual((first.code, second.code), (425, 221), (first, second))
                    self.assertTrue(c.closed_by_peer(SLOW))
                c.close()
                self.wait_no_temps(name)
                self.assertEqual(os.path.getsize(path), BIG_SIZE)
                self.assertEqual(self.partials(), [])
                self.logged_in().expect("NOOP", 200)

    def test_rest_stor_copies_the_head_off_the_loop(self):
        data = os.urandom(3 * 1024 * 1024 + 5)
        self.write_home("head.bin", data)
        c = self.logged_in()
        r, _ = c.stor("head.bin", b"NEW TAIL", rest=1000000)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("head.bin")), sha(data[:1000000] + b"NEW TAIL"))
        r, _ = c.stor("head.bin", b"+", cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("head.bin")), sha(data[:1000000] + b"NEW TAIL+"))

    # -- listings of a large folder

    def test_listing_leaves_the_worker_free(self):
        other = self.logged_in()
        c = self.logged_in()
        # The data connection is up and secured before the command, as
        # curl does it: the listing's first bytes come as soon as it is read.
        port = c.epsv()
        raw = socket.create_connection(("127.0.0.1", port), timeout=SLOW)
        conn = c.wrap_data(raw)
        self.addCleanup(conn.close)
        # The folder is read before the 150 (a listing the budget stops
        # while read gets 450 instead): the other session is answered
        # meanwhile, before that 150 comes.
        c.send("LIST many")
        other.expect("NOOP", 200)
        readable, _, _ = select.select([c.sock], [], [], 0)
        self.assertFalse(readable or c.buf or c.sock.pending(),
                         "the NOOP was answered only once the folder was read")
        r = c.read_reply(timeout=SLOW)
        self.assertEqual(r.code, 150, r)
        data = b""
        conn.settimeout(SLOW)
        while True:
            try:
                chunk = conn.recv(1 << 16)
            except ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            data += chunk
        r = c.read_reply(timeout=SLOW)
        self.assertEqual(r.code, 226, r)
        lines = data.decode().splitlines()
        self.assertEqual(len(lines), MANY)
        self.assertTrue(lines[0].startswith("-rw"), lines[0])

    def test_stat_and_mlsd_of_a_large_folder(self):
        other = self.logged_in()
        c = self.logged_in()
        r = c.cmd("STAT many", timeout=SLOW)
        self.assertEqual(r.code, 213, r)
        # STAT's reply holds up to 1 MiB of the listing, every line of it
        # (not a fixed number of lines), and its last line says it is cut.
        entries = r.lines[1:-1]
        self.assertTrue(all(re.search(r" entry-\d{6}$", line) for line in entries), entries[:3])
        self.assertGreater(len(entries), 10000)
        self.assertLess(sum(len(line) + 1 for line in entries), 1 << 20)  # indent less, CRLF more
        m = re.search(r"only the first (\d+) entries", r.lines[-1])
        self.assertTrue(m, r.lines[-1])
        self.assertEqual(int(m.group(1)), len(entries))
        other.expect("NOOP", 200)
        data, r, _ = c.retr("many", cmd="MLSD")
        self.assertEqual(r.code, 226, r)
        self.assertNotIn("only the first", r.text)
        names = sorted(l.split("; ", 1)[1] for l in data.decode().splitlines())
        self.assertEqual(len(names), MANY)
        self.assertEqual(names[0], "entry-000000")
        self.assertEqual(names[-1], "entry-%06d" % (MANY - 1))
        # One more than the listing's limit: the 226 says it is not whole.
        extra = self.home("many", "entry-%06d" % MANY)
        os.close(os.open(extra, os.O_CREAT | os.O_WRONLY, 0o644))
        self.addCleanup(os.unlink, extra)
        data, r, _ = c.retr("many", cmd="MLSD")
        self.assertEqual(r.code, 226, r)
        self.assertIn("only the first %d entries of /many are listed" % MANY, r.text)
        self.assertEqual(len(data.decode().splitlines()), MANY)
        c.expect("NOOP", 200)
        other.expect("NOOP", 200)

    def test_abor_or_lost_session_during_a_listing(self):
        # ABOR while the folder is read: 426 for the listing, then 226.
        c = self.logged_in()
        port = c.epsv()
        raw = socket.create_connection(("127.0.0.1", port), timeout=SLOW)
        self.addCleanup(raw.close)
        c.send("LIST many")
        r = c.read_reply(timeout=SLOW)
        self.assertEqual(r.code, 150, r)
        r = c.cmd("ABOR", timeout=SLOW)
        self.assertEqual(r.code, 426, r)
        r = c.read_reply(timeout=SLOW)
        self.assertEqual(r.code, 226, r)
        c.expect("NOOP", 200)
        # Sessions that go away while their listing is read: the jobs end
        # with nobody to tell, and the worker goes on.
        for line in ("LIST many", "STAT many"):
            c = self.logged_in()
            if line.startswith("LIST"):
                c.epsv()
            c.send(line)
            c.close()
        time.sleep(1)
        self.logged_in().expect("NOOP", 200)


if __name__ == "__main__":
    harness.main()
