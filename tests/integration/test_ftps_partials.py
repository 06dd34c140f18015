"""FTPS interrupted uploads ("partials") beyond plain resumption: a user with
write but no read permission can still ask SIZE how much of its upload
arrived (curl -C -, lftp put -c) but not the size of a complete file; a
partial older than limits.partial_upload_max_age is gone for SIZE, REST+STOR
and APPE, and the sweep shortly after start-up removes stale partials under
every home (never behind a symlink) while fresh ones stay; an APPE or
REST+STOR whose data connection fails before any byte came (never made,
reset before or after its TLS handshake, or already gone) leaves the
partial as it was, to be resumed later; an upload over max_upload_bytes
leaves no temp file (nor its garbage partial) behind. Two resumptions of
one name exclude each other: while one session's APPE holds the name (its
partial, or the file's head it continues from), another's APPE or
REST+STOR gets 450 and the first completes with every byte; a resumption a
killed process left (its claimed name) is recovered as the partial by
SIZE, APPE, STOR and DELE, and swept as a partial when stale."""

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


class WriteOnly(ftps_util.FTPSCase):

    USERS = [{"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]},
             {"name": "writer", "password": "writer-pw", "perms": ["write"]}]

    @classmethod
    def prepare(cls, server):
        with open(os.path.join(server.home("writer"), "done.txt"), "wb") as f:
            f.write(b"complete\n")

    def interrupted(self, name, size, cut):
        """writer's upload of NAME (SIZE random bytes) cut after CUT bytes:
        (its control connection, the data, a local copy of the whole file)."""
        data = os.urandom(size)
        c = self.logged_in("writer")
        r, _ = c.stor(name, data, cut_after=cut)
        self.assertEqual(r.code // 100, 4, r)
        return c, data, self.scratch(name, data)

    def test_size_of_own_partial_then_curl_resume(self):
        name = "drop.bin"
        c, data, src = self.interrupted(name, 1024 * 1024 + 17, 300001)
        self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), "300001")
        out = ftps_util.curl(self.port, "/" + name, ["-C", "-", "-T", src], user="writer")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(self.read_home(name, user="writer")), sha(data))
        self.assertIn("user writer: APPE " + name, self.server.log(), "curl did not resume")

    def test_size_of_partial_then_lftp_put_continue(self):
        name = "lftp-drop.bin"
        c, data, src = self.interrupted(name, 1024 * 1024 + 3, 500000)
        c.expect("QUIT", 221)
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


MAX_AGE = 2  # seconds, for StaleOnContact


class StaleOnContact(ftps_util.FTPSCase):
    """partial_upload_max_age = 2: a partial idle for longer is absent for
    the commands that meet it, and they remove it."""

    EXTRA = "limits = { partial_upload_max_age = %d; };" % MAX_AGE

    @classmethod
    def prepare(cls, server):
        # A stale partial for the start-up sweep: once it is gone, the sweep
        # has run and cannot take the tests' partials from under them.
        path = os.path.join(server.home("reader"), ".wharf-upload.marker.bin.partial")
        with open(path, "wb") as f:
            f.write(b"x")
        os.utime(path, (time.time() - 3600, time.time() - 3600))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not cls.server.wait_log("removed 1 stale partial uploads older than %d s under" % MAX_AGE, timeout=20):
            raise RuntimeError("no start-up sweep:\n" + cls.server.log()[-3000:])

    def cut(self, c, name, data, cut):
        r, _ = c.stor(name, data, cut_after=cut)
        self.assertEqual(r.code // 100, 4, r)
        self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), str(cut))
        time.sleep(MAX_AGE + 1.5)

    def test_size_and_rest_stor_after_max_age(self):
        name = "stale-rest.bin"
        data = os.urandom(300000)
        c = self.logged_in()
        self.cut(c, name, data, 100000)
        r = c.cmd("SIZE " + name)
        self.assertEqual(r.code, 550, r)
        self.assertFalse([p for p in self.partials() if name in p], "the stale partial is still there")
        self.assertIn("removed the interrupted upload of /%s" % name, self.server.log())
        # Nothing to continue from: REST n + STOR is refused, a plain STOR starts at zero.
        r, _ = c.stor(name, data[100000:], rest=100000)
        self.assertEqual(r.code, 554, r)
        r, _ = c.stor(name, data)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home(name)), sha(data))

    def test_rest_stor_and_appe_start_from_zero(self):
        c = self.logged_in()
        for cmd in ("REST", "APPE"):
            with self.subTest(cmd=cmd):
                name = "zero-%s.bin" % cmd.lower()
                data = os.urandom(200000)
                self.cut(c, name, data, 50000)
                if cmd == "REST":
                    r, _ = c.stor(name, data[50000:], rest=50000)
                    self.assertEqual(r.code, 554, r)
                    r, _ = c.stor(name, b"from zero")
                    self.assertEqual(r.code, 226, r)
                    self.assertEqual(self.read_home(name), b"from zero")
                else:
                    r, _ = c.stor(name, b"from zero", cmd="APPE")
                    self.assertEqual(r.code, 226, r)
                    self.assertEqual(self.read_home(name), b"from zero")
                self.assertFalse([p for p in self.partials() if name in p])

    def test_curl_resume_after_max_age_uploads_everything(self):
        name = "stale-curl.bin"
        data = os.urandom(400000)
        c = self.logged_in()
        self.cut(c, name, data, 150000)
        src = self.scratch(name, data)
        out = ftps_util.curl(self.port, "/" + name, ["-C", "-", "-T", src])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(self.read_home(name)), sha(data))

    def test_fresh_partial_still_resumes(self):
        name = "fresh.bin"
        data = os.urandom(200000)
        c = self.logged_in()
        self.parked(c, name, data, 80000)
        r, _ = c.stor(name, data[80000:], cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home(name)), sha(data))


    def test_pipelined_sizes_around_a_stale_removal(self):
        # The stale partial goes off the loop; the lines behind its SIZE
        # wait for it and are answered in order.
        name = "stale-pipe.bin"
        c = self.logged_in()
        self.write_home("fresh-pipe.bin", b"12345")
        self.cut(c, name, os.urandom(100000), 30000)
        c.send("SIZE %s\r\nSIZE fresh-pipe.bin\r\nNOOP\r\n" % name)
        got = [c.read_reply(timeout=30) for _ in range(3)]
        self.assertEqual([(r.code, r.text) for r in got][1:], [(213, "5"), (200, "NOOP ok")], got)
        self.assertEqual(got[0].code, 550, got)
        self.assertFalse([p for p in self.partials() if name in p])


class ConcurrentResumption(ftps_util.FTPSCase):
    """Two sessions resume one name at once: the second is told to try
    again (450) and nothing changes; the first keeps every byte."""

    def start_appe(self, c, name, first):
        """c's APPE of NAME, its data connection left open after FIRST."""
        raw = socket.create_connection(("127.0.0.1", c.epsv()), timeout=10)
        self.addCleanup(raw.close)
        r = c.cmd("APPE " + name, timeout=30)
        self.assertEqual(r.code, 150, r)
        conn = c.wrap_data(raw)
        self.addCleanup(conn.close)
        conn.sendall(first)
        return conn

    def finish(self, c, conn, rest):
        conn.sendall(rest)
        conn.unwrap()
        conn.close()
        return c.read_reply(timeout=30)

    def refused(self, b, name, rest=None):
        b.epsv()
        if rest is not None:
            b.expect("REST %d" % rest, 350)
        r = b.cmd(("STOR " if rest is not None else "APPE ") + name, timeout=30)
        self.assertEqual(r.code, 450, r)
        self.assertIn("being resumed by another session", r.text)

    def test_second_appe_of_a_partial_waits(self):
        name = "twice.bin"
        data = os.urandom(600000)
        a = self.logged_in()
        self.parked(a, name, data, 200000)
        conn = self.start_appe(a, name, data[200000:300000])
        b = self.logged_in()
        # A writer's SIZE (curl -C -, lftp put -c) is told to wait too: what
        # is kept is in A's hands, and may be parked any moment.
        r = b.cmd("SIZE " + name)
        self.assertEqual(r.code, 450, r)
        self.assertIn("being resumed by another session", r.text)
        self.refused(b, name)
        self.refused(b, name, rest=200000)
        self.assertEqual(self.finish(a, conn, data[300000:]).code, 226)
        self.assertEqual(sha(self.read_home(name)), sha(data))
        self.assertFalse([p for p in self.partials() if name in p], self.partials())
        self.assertIn("resuming /%s refused: another session is resuming it" % name, self.server.log())
        # Once the first is done, the second appends as usual.
        r, _ = b.stor(name, b"tail", cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home(name)), sha(data + b"tail"))

    def test_second_appe_of_a_whole_file_waits(self):
        # No partial: each APPE continues from the file's bytes.
        name = "grows.bin"
        head, more = os.urandom(300000), os.urandom(300000)
        self.write_home(name, head)
        a = self.logged_in()
        conn = self.start_appe(a, name, more[:100000])
        b = self.logged_in()
        self.refused(b, name)
        self.refused(b, name, rest=1000)
        self.assertEqual(self.finish(a, conn, more[100000:]).code, 226)
        self.assertEqual(sha(self.read_home(name)), sha(head + more))
        r, _ = b.stor(name, b"tail", cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home(name)), sha(head + more + b"tail"))
        self.assertFalse([p for p in self.partials() if name in p], self.partials())

    def test_plain_stors_still_race(self):
        # A plain STOR starts over and never waits: while an APPE holds the
        # name, another session's STOR goes ahead (the last commit wins).
        name = "either.bin"
        self.write_home(name, b"old")
        a = self.logged_in()
        conn = self.start_appe(a, name, b"+appended")
        b = self.logged_in()
        r, _ = b.stor(name, b"fresh")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(self.read_home(name), b"fresh")
        self.assertEqual(self.finish(a, conn, b"").code, 226)
        self.assertEqual(self.read_home(name), b"old+appended")


ORPHAN = 3600  # seconds since the last write of the claimed names a "killed process" left


class OrphanedResumption(ftps_util.FTPSCase):
    """A process killed mid-resumption leaves the resumed bytes under the
    name's claimed name. Made before the server starts (so changed before
    its start) and written an hour ago, past the orphan age (send_timeout
    = 1: 2 * (1 + 10) s), such a name is recovered as the partial: SIZE
    tells its size, APPE and REST+STOR go on from it, a plain STOR and
    DELE remove it. One made since (a live resumption, of another node
    say) refuses a resumption with 450."""

    EXTRA = "limits = { send_timeout = 1; };"
    KEPT = {name: os.urandom(100000 + i) for i, name in
            enumerate(("sized.bin", "appended.bin", "rest.bin", "replaced.bin", "deleted.bin", "both.bin"))}

    @classmethod
    def prepare(cls, server):
        now = time.time()
        for name, data in cls.KEPT.items():
            path = os.path.join(server.home(), ftps_util.PARTIAL_PREFIX + name + ".claimed")
            with open(path, "wb") as f:
                f.write(data[:50000])
            os.utime(path, (now - ORPHAN, now - ORPHAN))
        # both.bin: a partial parked later than the claimed name: it stays.
        path = os.path.join(server.home(), ftps_util.PARTIAL_PREFIX + "both.bin.partial")
        with open(path, "wb") as f:
            f.write(cls.KEPT["both.bin"][:70000])
        os.utime(path, (now - 60, now - 60))

    def claimed(self, name):
        return ftps_util.PARTIAL_PREFIX + name + ".claimed"

    def test_size_then_appe_resumes_from_it(self):
        name, data = "sized.bin", self.KEPT["sized.bin"]
        c = self.logged_in()
        self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), "50000")
        self.assertNotIn(self.claimed(name), self.partials())
        self.assertIn("recovered the interrupted resumption of /%s" % name, self.server.log())
        r, _ = c.stor(name, data[50000:], cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home(name)), sha(data))
        self.assertFalse([p for p in self.partials() if name in p], self.partials())

    def test_appe_and_rest_stor_resume_from_it(self):
        c = self.logged_in()
        for name, rest in (("appended.bin", None), ("rest.bin", 50000)):
            with self.subTest(name=name):
                data = self.KEPT[name]
                if rest is None:
                    r, _ = c.stor(name, data[50000:], cmd="APPE")
                else:
                    r, _ = c.stor(name, data[rest:], rest=rest)
                self.assertEqual(r.code, 226, r)
                self.assertEqual(sha(self.read_home(name)), sha(data))
                self.assertFalse([p for p in self.partials() if name in p], self.partials())

    def test_newer_partial_wins(self):
        name, data = "both.bin", self.KEPT["both.bin"]
        c = self.logged_in()
        self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), "70000")
        self.assertEqual([p for p in self.partials() if name in p], [ftps_util.PARTIAL_PREFIX + name + ".partial"])
        r, _ = c.stor(name, data[70000:], cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home(name)), sha(data))

    def test_stor_and_dele_remove_it(self):
        c = self.logged_in()
        r, _ = c.stor("replaced.bin", b"fresh")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(self.read_home("replaced.bin"), b"fresh")
        self.assertEqual(c.expect("SIZE replaced.bin", 213).text.strip(), "5")
        r = c.cmd("DELE deleted.bin")
        self.assertEqual(r.code, 250, r)
        self.assertFalse([p for p in self.partials() if "replaced" in p or "deleted" in p], self.partials())
        self.assertEqual(c.cmd("SIZE deleted.bin").code, 550)

    def test_live_claimed_name_refuses(self):
        # Made now (after the server's start): a resumption in someone's
        # hands however old its last write, never taken over.
        name = "busy.bin"
        path = self.write_home(self.claimed(name), b"theirs")
        os.utime(path, (time.time() - ORPHAN, time.time() - ORPHAN))
        c = self.logged_in()
        c.epsv()
        r = c.cmd("APPE " + name, timeout=30)
        self.assertEqual(r.code, 450, r)
        self.assertEqual(self.read_home(self.claimed(name)), b"theirs")
        self.assertEqual(c.cmd("SIZE " + name).code, 450)  # in someone's hands: try again later


RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # SO_LINGER on, 0 s: close() resets


class FailedDataConnection(ftps_util.FTPSCase):
    """data_connect_timeout = 1: an APPE or REST + STOR that resumes a
    partial, but whose data connection fails before any byte came, gets
    its 425 (or 426) and leaves the partial as it was (cut, for a REST
    short of its end: the cut is the command's); a proper resume then
    completes the file. A plain STOR that fails so leaves nothing."""

    EXTRA = "limits = { data_connect_timeout = 1; };"

    def partial_of(self, c, name, data, cut):
        r, _ = c.stor(name, data, cut_after=cut)
        self.assertEqual(r.code // 100, 4, r)
        self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), str(cut))

    def kept(self, name):
        parts = [p for p in self.partials() if p == ftps_util.PARTIAL_PREFIX + name + ".partial"]
        return self.read_home(parts[0]) if parts else None

    def resume_and_check(self, c, name, data):
        """A proper APPE completes the file from what is kept."""
        held = len(self.kept(name))
        r, _ = c.stor(name, data[held:], cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home(name)), sha(data))
        self.assertFalse([p for p in self.partials() if name in p])

    def test_no_data_connection_keeps_the_partial(self):
        for how, rest, kept in (("APPE", None, 100000), ("REST at its end", 100000, 100000),
                                ("REST short of its end", 60000, 60000)):
            with self.subTest(how=how):
                name = "never-%d.bin" % len(how)
                data = os.urandom(300000)
                c = self.logged_in()
                self.partial_of(c, name, data, 100000)
                c.epsv()  # and never connect
                if rest is not None:
                    c.expect("REST %d" % rest, 350)
                r = c.cmd(("APPE " if rest is None else "STOR ") + name, timeout=30)
                self.assertEqual(r.code, 150, r)
                r = c.read_reply(timeout=30)
                self.assertEqual(r.code, 425, r)
                self.assertIn("%d bytes kept" % kept, r.text)
                self.assertEqual(self.kept(name), data[:kept], "the partial was not kept as it was")
                self.assertFalse(os.path.exists(self.home(name)))
                self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), str(kept))
                self.resume_and_check(c, name, data)

    def test_reset_data_connection_keeps_the_partial(self):
        for when in ("before the command", "before its TLS handshake", "after its TLS handshake"):
            with self.subTest(when=when):
                name = "reset-%d.bin" % len(when)
                data = os.urandom(300000)
                c = self.logged_in()
                self.partial_of(c, name, data, 120000)
                raw = socket.create_connection(("127.0.0.1", c.epsv()), timeout=10)
                self.addCleanup(raw.close)
                if when == "before the command":
                    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
                    raw.close()
                    time.sleep(0.3)  # the server saw it go
                    r = c.cmd("APPE " + name, timeout=30)
                    self.assertEqual(r.code, 425, r)
                else:
                    r = c.cmd("APPE " + name, timeout=30)
                    self.assertEqual(r.code, 150, r)
                    conn = c.wrap_data(raw) if when == "after its TLS handshake" else raw
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
                    conn.close()
                    r = c.read_reply(timeout=30)
                    # A reset may beat the client's last handshake bytes to
                    # the server, whose handshake then fails: 425 or 426.
                    self.assertIn(r.code, (425,) if when == "before its TLS handshake" else (425, 426), r)
                    self.assertIn("120000 bytes kept", r.text)
                self.assertEqual(self.kept(name), data[:120000], "the partial was not kept as it was")
                self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), "120000")
                # Resumed with REST + STOR this time.
                r, _ = c.stor(name, data[120000:], rest=120000)
                self.assertEqual(r.code, 226, r)
                self.assertEqual(sha(self.read_home(name)), sha(data))
                self.assertFalse([p for p in self.partials() if name in p])

    def test_data_handshake_never_finished_says_so(self):
        # The client connects the data connection but never sends its
        # ClientHello: the connection was never open, so the transfer gets
        # 425 (RFC 959: cannot open the data connection) saying the
        # handshake ran out of time (not that it failed, which would send
        # the admin looking at certificates), and a resumed upload's
        # partial stays as it was.
        name = "stalled.bin"
        data = os.urandom(300000)
        c = self.logged_in()
        self.partial_of(c, name, data, 100000)
        for cmd in ("APPE " + name, "RETR " + name):
            with self.subTest(cmd=cmd):
                raw = socket.create_connection(("127.0.0.1", c.epsv()), timeout=10)
                self.addCleanup(raw.close)
                if cmd.startswith("RETR"):
                    self.write_home(name, data)
                r = c.cmd(cmd, timeout=30)
                self.assertEqual(r.code, 150, r)
                r = c.read_reply(timeout=30)
                self.assertEqual(r.code, 425, r)
                self.assertIn("TLS handshake did not finish within 1 s", r.text)
                if cmd.startswith("APPE"):
                    self.assertIn("100000 bytes kept", r.text)
                    self.assertEqual(self.kept(name), data[:100000], "the partial was not kept as it was")
                raw.settimeout(10)
                self.assertEqual(raw.recv(100), b"", "the data connection was not closed")
        c.expect("NOOP", 200)

    def test_fresh_stor_without_data_connection_leaves_nothing(self):
        c = self.logged_in()
        c.epsv()
        r = c.cmd("STOR fresh-none.bin", timeout=30)
        self.assertEqual(r.code, 150, r)
        r = c.read_reply(timeout=30)
        self.assertEqual(r.code, 425, r)
        self.assertNotIn("kept", r.text)
        self.assertFalse([p for p in self.partials() if "fresh-none" in p])
        self.assertFalse(os.path.exists(self.home("fresh-none.bin")))
        c.expect("NOOP", 200)

    def test_upload_cut_before_any_byte_keeps_no_partial(self):
        # A STOR over a whole file, cut before its first byte: no empty
        # partial is kept, so SIZE still gives the whole file's size, which
        # a download's resume (curl -C -) asks for.
        whole = os.urandom(1000)
        self.write_home("whole.bin", whole)
        c = self.logged_in()
        r, _ = c.stor("whole.bin", b"", cut_after=0)
        self.assertEqual(r.code, 426, r)
        self.assertIn("nothing kept: send the whole file again", r.text)
        self.assertFalse([p for p in self.partials() if "whole" in p])
        self.assertEqual(c.expect("SIZE whole.bin", 213).text.strip(), "1000")
        self.assertEqual(self.read_home("whole.bin"), whole)
        local = self.scratch("whole.local", whole[:500])
        out = ftps_util.curl(self.port, "/whole.bin", ["-C", "-", "-o", local])
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(local, "rb") as f:
            self.assertEqual(f.read(), whole)


class TooLarge(ftps_util.FTPSCase):
    """max_upload_bytes = 1M: an upload past it gets 552 and leaves no temp
    file behind (removed off the loop, so a moment later); one resuming a
    partial past it takes the partial along (it could never be stored)."""

    EXTRA = 'limits = { max_upload_bytes = "1M"; };'

    def no_leftovers(self, name):
        return harness.wait_until(lambda: not [p for p in self.partials() if name in p], timeout=30)

    def test_over_the_limit(self):
        c = self.logged_in()
        r, _ = c.stor("big.bin", os.urandom(2 << 20))
        self.assertEqual(r.code, 552, r)
        self.assertTrue(self.no_leftovers("big.bin"), self.partials())
        self.assertFalse(os.path.exists(self.home("big.bin")))
        data = os.urandom(800 << 10)
        r, _ = c.stor("grow.bin", data, cut_after=600 << 10)
        self.assertEqual(r.code // 100, 4, r)
        r, _ = c.stor("grow.bin", data[600 << 10:] + os.urandom(400 << 10), cmd="APPE")
        self.assertEqual(r.code, 552, r)
        self.assertTrue(self.no_leftovers("grow.bin"), self.partials())
        self.assertEqual(c.cmd("SIZE grow.bin").code, 550)
        c.expect("NOOP", 200)


DAY = 86400


class StartupSweep(ftps_util.FTPSCase):
    """The default age (7 days): shortly after start-up the sweep removes
    partials older than that under every home, at any depth, and leaves
    fresh ones, users' files and anything behind a symlink."""

    STALE = [("alice", ".wharf-upload.old.bin.partial", 8 * DAY),
             ("alice", "sub/deeper/.wharf-upload.deep.bin.partial", 30 * DAY),
             ("reader", ".wharf-upload.r.bin.partial", 10 * DAY),
             # A temp file a killed process left, in no upload's hands.
             ("alice", "sub/.wharf-upload.dead.bin.0123456789abcdef", 30 * DAY),
             # A resumption a killed process left: a partial, stale as one.
             ("alice", ".wharf-upload.gone.bin.claimed", 8 * DAY)]
    KEPT = [("alice", ".wharf-upload.fresh.bin.partial", 1 * DAY),
            # Not stale yet: resumed later (SIZE recovers it as the partial).
            ("alice", ".wharf-upload.recent.bin.claimed", 1 * DAY),
            ("alice", "sub/old-file.txt", 300 * DAY),
            ("alice", ".wharf-upload.inflight.bin.0123456789abcdef", 60)]

    @classmethod
    def prepare(cls, server):
        now = time.time()
        for user, rel, age in cls.STALE + cls.KEPT:
            path = os.path.join(server.home(user), rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(b"12345")
            os.utime(path, (now - age, now - age))
        # A symlink out of the home, to a folder with a stale partial: not followed.
        outside = os.path.join(server.dir, "outside")
        os.makedirs(outside)
        cls.outside_partial = os.path.join(outside, ".wharf-upload.theirs.partial")
        with open(cls.outside_partial, "wb") as f:
            f.write(b"x")
        os.utime(cls.outside_partial, (now - 30 * DAY, now - 30 * DAY))
        os.symlink(outside, os.path.join(server.home("alice"), "link"))

    def test_startup_sweep(self):
        log = "stale partial uploads older than 604800 s under "
        self.assertTrue(self.server.wait_log("removed 3 " + log + self.server.home("alice"), timeout=20),
                        "no sweep of alice's home")
        self.assertTrue(self.server.wait_log("removed 1 " + log + self.server.home("reader"), timeout=5),
                        "no sweep of reader's home")
        self.assertTrue(self.server.wait_log("removed 1 upload temp files left by an earlier process under "
                                             + self.server.home("alice"), timeout=5))
        for user, rel, _ in self.STALE:
            self.assertFalse(os.path.exists(self.home(rel, user=user)), rel)
        for user, rel, _ in self.KEPT:
            self.assertTrue(os.path.exists(self.home(rel, user=user)), rel)
        self.assertTrue(os.path.exists(self.outside_partial), "the sweep followed a symlink out of the home")
        # The fresh partial still serves its resumption.
        c = self.logged_in()
        self.assertEqual(c.expect("SIZE fresh.bin", 213).text.strip(), "5")
        self.assertEqual(c.cmd("SIZE old.bin").code, 550)
        self.assertEqual(c.expect("SIZE recent.bin", 213).text.strip(), "5")
        self.assertTrue(os.path.exists(self.home(".wharf-upload.recent.bin.partial")))


if __name__ == "__main__":
    harness.main()
