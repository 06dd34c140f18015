"""DELE, RMD, MKD and RNTO, and a REST + STOR that cuts an interrupted
upload back, do their filesystem work off the worker's loop (docs/ftps.md).
What a user sees: the same replies and results as ever; commands pipelined
behind one run after it, in order (a MKD inside a folder made just before
it works); QUIT and ABOR behind one are answered after its reply; a client
that closes while they run leaves a tree that is as before or as after
each command, a partial kept whole or cut, and a server that goes on; and
another session on the same worker is answered while one session's batch
of changes runs. An HTTPS DELETE of a folder where an FTPS upload was cut
short removes the hidden partial with it, as RMD does (over HTTP/1.1 and
HTTP/2, with curl), and leaves all of it, with 409, when the folder holds
a name a listing shows or a live upload's temp file.

How long one unlink or fsync takes cannot be forced from here, so no test
depends on one being slow: the one that looks at the other session skips
when the whole batch is too quick to tell.

A job is the server's time, not the client's: with the pool's threads
held by slow password checks (harness.slow_hash), a DELE's job waits longer
than a tiny ftp_idle_timeout and the session is not closed as idle; a REST
+ STOR's cut waits longer than a tiny data_connect_timeout and the data
connection may still be opened once the 150 comes. Each skips when the job
did not wait long enough to tell."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402

SLOW = 30  # seconds any one reply may take, however loaded the host


def partial_name(leaf):
    return ftps_util.PARTIAL_PREFIX + leaf + ".partial"


class TreeChanges(ftps_util.FTPSCase):

    WORKERS = 1  # every session on the same loop
    USERS = [{"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]},
             {"name": "writer", "password": "writer-pw", "perms": ["read", "write", "mkdir"]}]

    # A temp file a process killed mid-upload left, an hour before this one
    # started (the sweep takes such files only past partial_upload_max_age).
    DEAD_TEMP = "d9/.wharf-upload.dead.bin.0123456789abcdef"

    @classmethod
    def prepare(cls, server):
        path = os.path.join(server.home("alice"), cls.DEAD_TEMP)
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as f:
            f.write(b"half an upload")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
        server.give(os.path.dirname(path))
        server.give(path)

    def replies(self, c, n):
        return [c.read_reply(timeout=SLOW) for _ in range(n)]

    def leftovers(self, folder=""):
        """Upload temp files and partials under folder."""
        d = self.home(folder) if folder else self.home()
        return sorted(n for n in os.listdir(d) if n.startswith(ftps_util.PARTIAL_PREFIX))

    # -- the replies, as they always were

    def test_replies_and_results(self):
        self.write_home("t1/a.txt", b"A")
        self.write_home("t1/b.txt", b"B")
        c = self.logged_in()
        r = c.expect("MKD t1/made", 257)
        self.assertEqual(r.text, '"/t1/made" created')
        self.assertTrue(os.path.isdir(self.home("t1/made")))
        self.assertEqual(c.cmd("MKD t1/made").text, "/t1/made: already exists")
        self.assertEqual(c.cmd("MKD t1/none/deep").code, 550)
        self.write_home("t1/made/in.txt", b"x")
        r = c.cmd("RMD t1/made")
        self.assertEqual((r.code, r.text), (550, "/t1/made: folder not empty"))
        os.unlink(self.home("t1/made/in.txt"))
        self.assertEqual(c.expect("RMD t1/made", 250).text, "Removed /t1/made")
        self.assertFalse(os.path.exists(self.home("t1/made")))
        self.assertEqual(c.cmd("RMD t1/made").text, "/t1/made: no such file or folder")

        c.expect("RNFR t1/a.txt", 350)
        self.assertEqual(c.expect("RNTO t1/c.txt", 250).text, "Renamed to /t1/c.txt")
        self.assertEqual(self.read_home("t1/c.txt"), b"A")
        c.expect("RNFR t1/c.txt", 350)
        c.expect("RNTO t1/b.txt", 250)  # alice may replace
        self.assertEqual(self.read_home("t1/b.txt"), b"A")
        self.assertFalse(os.path.exists(self.home("t1/c.txt")))

        self.assertEqual(c.expect("DELE t1/b.txt", 250).text, "Deleted /t1/b.txt")
        self.assertFalse(os.path.exists(self.home("t1/b.txt")))
        r = c.cmd("DELE t1/b.txt")
        self.assertEqual((r.code, r.text), (550, "/t1/b.txt: no such file or folder"))
        os.makedirs(self.home("t1/dir"))
        r = c.cmd("DELE t1/dir")
        self.assertEqual((r.code, r.text), (550, "/t1/dir: is a folder (use RMD)"))
        self.assertTrue(os.path.isdir(self.home("t1/dir")))
        # Only the interrupted upload of a name: DELE drops it.
        self.write_home("t1/" + partial_name("gone.bin"), b"half")
        r = c.expect("DELE t1/gone.bin", 250)
        self.assertEqual(r.text, "Deleted the interrupted upload of /t1/gone.bin")
        self.assertEqual(self.leftovers("t1"), [])
        c.expect("NOOP", 200)

    def test_rename_without_delete_permission(self):
        self.write_home("w-a.txt", b"A", user="writer")
        self.write_home("w-b.txt", b"B", user="writer")
        c = self.logged_in("writer")
        c.expect("RNFR w-a.txt", 350)
        r = c.cmd("RNTO w-b.txt")
        self.assertEqual((r.code, r.text), (550, "/w-b.txt exists: replacing it needs the delete permission"))
        self.assertEqual(self.read_home("w-b.txt", user="writer"), b"B")
        c.expect("RNFR w-a.txt", 350)
        c.expect("RNTO w-c.txt", 250)
        self.assertEqual(self.read_home("w-c.txt", user="writer"), b"A")
        # DELE and RMD need delete: refused by the table, before any job.
        self.assertEqual(c.cmd("DELE w-c.txt").text, "Permission denied: no delete permission")

    def test_confined_as_ever(self):
        outside = os.path.join(self.server.dir, "outside-tc")
        os.makedirs(outside, exist_ok=True)
        with open(os.path.join(outside, "keep.txt"), "wb") as f:
            f.write(b"keep")
        self.server.give(outside)
        link = self.home("out-tc")
        if not os.path.islink(link):
            os.symlink(outside, link)
        c = self.logged_in()
        for line in ("DELE out-tc/keep.txt", "MKD out-tc/new", "RMD out-tc", "DELE ../../outside-tc/keep.txt"):
            r = c.cmd(line)
            self.assertEqual(r.code, 550, (line, r))
        self.write_home("in-tc.txt", b"in")
        c.expect("RNFR in-tc.txt", 350)
        self.assertEqual(c.cmd("RNTO out-tc/in-tc.txt").code, 550)
        self.assertEqual(sorted(os.listdir(outside)), ["keep.txt"])
        self.assertTrue(os.path.islink(link))
        self.assertEqual(self.read_home("in-tc.txt"), b"in")

    # -- RMD of a folder that lists as empty

    def test_rmd_removes_the_partials_nobody_sees(self):
        """An upload cut short parks a hidden partial in its folder; the
        folder lists as empty, so RMD removes the partial with it."""
        c = self.logged_in()
        c.expect("MKD d1", 257)
        r, _ = c.stor("d1/file.bin", os.urandom(200000), cut_after=50000)
        self.assertEqual(r.code, 426, r)
        self.assertEqual(self.leftovers("d1"), [partial_name("file.bin")])
        f = ftps_util.ftplib_login(self.port)
        self.addCleanup(f.close)
        self.assertEqual(list(f.mlsd("d1")), [])
        self.assertEqual(c.listing("LIST", "d1"), "")
        self.assertEqual(f.rmd("d1"), "250 Removed /d1")
        self.assertFalse(os.path.exists(self.home("d1")))
        self.assertNotIn("d1", [name for name, _ in f.mlsd()])
        self.assertIn("RMD /d1: removed 1 interrupted upload left in it: " + partial_name("file.bin"),
                      self.server.log())

        # Several, and lftp's recursive delete of a tree holding them.
        for name in ("a.bin", "b.bin"):
            self.write_home("d2/" + partial_name(name), b"part")
        self.write_home("d2/sub/" + partial_name("c.bin"), b"part")
        self.write_home("d2/sub/kept.txt", b"kept")
        out = ftps_util.lftp(self.port, "rm -r d2")
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        self.assertFalse(os.path.exists(self.home("d2")))

    def test_rmd_leaves_a_folder_with_what_users_see(self):
        self.write_home("d3/" + partial_name("p.bin"), b"part")
        self.write_home("d3/seen.txt", b"seen")
        c = self.logged_in()
        r = c.cmd("RMD d3")
        self.assertEqual((r.code, r.text), (550, "/d3: folder not empty"))
        self.assertEqual(self.leftovers("d3"), [partial_name("p.bin")])
        c.expect("DELE d3/seen.txt", 250)
        self.assertEqual(c.expect("RMD d3", 250).text, "Removed /d3")
        self.assertFalse(os.path.exists(self.home("d3")))

    def test_rmd_removes_a_dead_process_temp_file(self):
        """An upload's temp file that a killed process left (changed last
        before this process started, and untouched for longer than a
        transfer may stall) is no live upload's: RMD takes it with the
        folder rather than saying an upload is under way."""
        c = self.logged_in()
        self.assertEqual(c.listing("NLST", "d9"), "")
        self.assertEqual(c.expect("RMD d9", 250).text, "Removed /d9")
        self.assertFalse(os.path.exists(self.home("d9")))
        self.assertIn("RMD /d9: removed 1 interrupted upload left in it: " + os.path.basename(self.DEAD_TEMP),
                      self.server.log())

    def test_rmd_during_an_upload_into_the_folder(self):
        """A live upload's temp file is never removed: RMD says why it
        cannot, and the upload ends as it would have."""
        self.write_home("d4/" + partial_name("old.bin"), b"part")
        up = self.logged_in()
        raw = socket.create_connection(("127.0.0.1", up.epsv()), timeout=SLOW)
        self.addCleanup(raw.close)
        self.assertEqual(up.cmd("STOR d4/live.bin").code, 150)
        conn = up.wrap_data(raw)
        conn.sendall(b"first half ")
        self.assertTrue(harness.wait_until(lambda: len(self.leftovers("d4")) == 2, timeout=SLOW),
                        self.leftovers("d4"))
        c = self.logged_in()
        r = c.cmd("RMD d4")
        self.assertEqual((r.code, r.text), (550, "/d4: an upload into the folder is under way"))
        self.assertEqual(len(self.leftovers("d4")), 2)
        conn.sendall(b"second half")
        conn.unwrap()
        conn.close()
        self.assertEqual(up.read_reply(timeout=SLOW).code, 226)
        self.assertEqual(self.read_home("d4/live.bin"), b"first half second half")
        r = c.cmd("RMD d4")
        self.assertEqual((r.code, r.text), (550, "/d4: folder not empty"))
        c.expect("DELE d4/live.bin", 250)
        c.expect("RMD d4", 250)
        self.assertFalse(os.path.exists(self.home("d4")))

    def test_rmd_of_what_is_no_folder(self):
        self.write_home("d5/file.txt", b"f")
        os.symlink("d5", self.home("d5-link"))
        c = self.logged_in()
        self.assertEqual(c.cmd("RMD d5/file.txt").text, "/d5/file.txt: not a folder")
        self.assertEqual(c.cmd("RMD d5-link").text, "/d5-link: not a folder")
        self.assertTrue(os.path.islink(self.home("d5-link")))
        self.assertEqual(c.cmd("RMD d5/none").text, "/d5/none: no such file or folder")

    # -- one at a time, in order

    def test_pipelined_lines_wait_for_the_change(self):
        c = self.logged_in()
        # Each line needs the one before it done: were a line read while
        # the change before it ran, MKD p1/p2 or the RNFR would fail.
        lines = ["MKD p1", "MKD p1/p2", "RNFR p1/p2", "RNTO p1/p3", "RMD p1/p3", "RMD p1", "DELE p1",
                 "MKD p1", "NOOP"]
        c.send("".join(l + "\r\n" for l in lines).encode())
        got = [(r.code, r.text) for r in self.replies(c, len(lines))]
        self.assertEqual(got, [(257, '"/p1" created'), (257, '"/p1/p2" created'), (350, "Ready for RNTO"),
                               (250, "Renamed to /p1/p3"), (250, "Removed /p1/p3"), (250, "Removed /p1"),
                               (550, "/p1: no such file or folder"), (257, '"/p1" created'),
                               (200, "NOOP ok")])
        self.assertEqual(os.listdir(self.home("p1")), [])

    def test_quit_and_abor_behind_a_change(self):
        self.write_home("qa-1.txt", b"1")
        self.write_home("qa-2.txt", b"2")
        c = self.logged_in()
        c.send(b"DELE qa-1.txt\r\nABOR\r\nMKD qa-dir\r\nQUIT\r\n")
        got = [r.code for r in self.replies(c, 4)]
        self.assertEqual(got, [250, 225, 257, 221])
        self.assertTrue(c.closed_by_peer(SLOW))
        self.assertFalse(os.path.exists(self.home("qa-1.txt")))
        self.assertTrue(os.path.isdir(self.home("qa-dir")))
        # QUIT right behind a DELE: the DELE's reply, then 221.
        c = self.logged_in()
        c.send(b"DELE qa-2.txt\r\nQUIT\r\n")
        self.assertEqual([r.code for r in self.replies(c, 2)], [250, 221])
        self.assertTrue(c.closed_by_peer(SLOW))
        self.assertFalse(os.path.exists(self.home("qa-2.txt")))

    def test_close_during_pending_deletes(self):
        n = 200
        os.makedirs(self.home("cl"), exist_ok=True)
        for i in range(n):
            self.write_home("cl/f%03d.bin" % i, b"%03d" % i * 100)
            self.write_home("cl/" + partial_name("f%03d.bin" % i), b"half")
        for rnd in range(3):
            c = self.logged_in()
            c.send("".join("DELE cl/f%03d.bin\r\nMKD cl/d%03d\r\n" % (i, i) for i in range(n)).encode())
            time.sleep(0.01 * rnd)  # closes at different points of the batch
            # A reset, not a FIN: the server learns of the close at once.
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()
        # The worker goes on, and the next session sees the tree settled:
        # each name deleted with its partial, or there whole with it.
        d = self.logged_in()
        d.expect("NOOP", 200)
        deadline = time.monotonic() + SLOW
        while time.monotonic() < deadline:
            d.expect("NOOP", 200)
            names = set(os.listdir(self.home("cl")))
            time.sleep(0.2)
            if names == set(os.listdir(self.home("cl"))):
                break
        for i in range(n):
            f, p = "f%03d.bin" % i, partial_name("f%03d.bin" % i)
            self.assertEqual(f in names, p in names, (f, sorted(names)[:10]))
            if f in names:
                self.assertEqual(self.read_home("cl/" + f), b"%03d" % i * 100)
        self.assertFalse(any(".wharf-upload." in x and not x.endswith(".partial") for x in names), names)
        # What is left deletes as ever.
        left = sorted(x for x in names if x.startswith("f"))
        for x in left[:5]:
            self.assertEqual(d.expect("DELE cl/" + x, 250).text, "Deleted /cl/" + x)

    # -- REST + STOR that cuts a partial back

    def test_rest_stor_cuts_the_partial(self):
        head = os.urandom(1000)
        self.write_home("rc/" + partial_name("cut.bin"), head)
        c = self.logged_in()
        c.expect("CWD rc", 250)
        r, _ = c.stor("cut.bin", b"NEW", rest=400)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(self.read_home("rc/cut.bin"), head[:400] + b"NEW")
        self.assertEqual(self.leftovers("rc"), [])
        # Past what is kept: 554, as ever, and the partial stays.
        self.write_home("rc/" + partial_name("cut2.bin"), head)
        r, _ = c.stor("cut2.bin", b"X", rest=5000)
        self.assertEqual(r.code, 554, r)
        self.assertEqual(self.leftovers("rc"), [partial_name("cut2.bin")])
        self.assertEqual(self.read_home("rc/" + partial_name("cut2.bin")), head)
        # REST at its very end: nothing to cut.
        r, _ = c.stor("cut2.bin", b"END", rest=1000)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(self.read_home("rc/cut2.bin"), head + b"END")
        c.expect("NOOP", 200)

    def test_rest_stor_abor_and_close_around_the_cut(self):
        head = os.urandom(1000)
        # ABOR right behind the STOR: the cut, the 150, then the ABOR's 426
        # and 226; the partial is kept, cut to the offset.
        self.write_home("ra/" + partial_name("ab.bin"), head)
        c = self.logged_in()
        c.expect("CWD ra", 250)
        port = c.epsv()
        raw = socket.create_connection(("127.0.0.1", port), timeout=SLOW)
        self.addCleanup(raw.close)
        c.send(b"REST 300\r\nSTOR ab.bin\r\nABOR\r\n")
        self.assertEqual([r.code for r in self.replies(c, 4)], [350, 150, 426, 226])
        c.expect("NOOP", 200)
        self.assertFalse(os.path.exists(self.home("ra/ab.bin")))
        self.assertEqual(self.read_home("ra/" + partial_name("ab.bin")), head[:300])
        # The control connection closed right behind the STOR: the partial
        # stays, whole or cut (however far the cut got), never lost.
        for rnd in range(3):
            self.write_home("ra/" + partial_name("cl.bin"), head)
            c = self.logged_in()
            c.expect("CWD ra", 250)
            port = c.epsv()
            raw = socket.create_connection(("127.0.0.1", port), timeout=SLOW)
            self.addCleanup(raw.close)
            c.send(b"REST 300\r\nSTOR cl.bin\r\n")
            time.sleep(0.01 * rnd)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()
            # The files look settled before the server even read the
            # STOR: a session on the same worker answered means it has
            # seen the reset, and the claim (if any) was made; what is
            # left (the park of a cut let go of) ends on the pool.
            self.logged_in().expect("NOOP", 200)
            want = [partial_name("ab.bin"), partial_name("cl.bin")]
            self.assertTrue(harness.wait_until(lambda: self.leftovers("ra") == want, timeout=SLOW),
                            self.leftovers("ra"))
            kept = self.read_home("ra/" + partial_name("cl.bin"))
            self.assertIn(kept, (head, head[:300]))
        self.assertFalse(os.path.exists(self.home("ra/cl.bin")))
        self.logged_in().expect("NOOP", 200)

    # -- the other sessions of the worker

    def test_other_session_answered_during_a_batch(self):
        n = 400
        other = self.logged_in()
        c = self.logged_in()
        batch = "".join("MKD b%03d\r\nRMD b%03d\r\n" % (i, i) for i in range(n)).encode()
        started = time.monotonic()
        c.send(batch)
        other.expect("NOOP", 200)
        answered = time.monotonic()
        got = self.replies(c, 2 * n)
        done = time.monotonic()
        self.assertEqual([r.code for r in got], [257, 250] * n)
        self.assertEqual([x for x in os.listdir(self.home()) if x.startswith("b") and x[1:].isdigit()], [])
        if done - started < 0.2:
            self.skipTest("the batch took %.3f s: too quick to tell the sessions apart" % (done - started))
        # Answered while the batch ran, not once it was over.
        self.assertLess(answered - started, (done - started) / 2,
                        "the other session waited for the batch (%.3f s of %.3f s)" %
                        (answered - started, done - started))


IDLE = 2  # ftp_idle_timeout and data_connect_timeout of JobsAreNotIdleness


class JobsAreNotIdleness(ftps_util.FTPSCase):

    EXTRA = ("limits = { ftp_idle_timeout = %d; data_connect_timeout = %d; max_login_failures = 1000; };"
             % (IDLE, IDLE))
    USERS = [{"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]},
             # A check of several seconds here, well past IDLE.
             {"name": "slow", "password": "slow-pw", "hash": harness.slow_hash("slow-pw", cost=11),
              "perms": ["read"]}]

    def busy_pool(self):
        """Three wrong passwords of the slow user hold all the pool's
        threads; returns joiners for their 530s."""
        joins = []
        for _ in range(3):
            s = self.control()
            s.auth_tls()
            s.expect("USER slow", 331)
            joins.append(ftps_util.in_thread(s.cmd, "PASS wrong-" + os.urandom(6).hex(), SLOW))
        time.sleep(0.3)  # the three checks are running
        return joins

    def settle(self, joins):
        for join in joins:
            r, err = join(timeout=SLOW + 5)
            self.assertIsNone(err)
            self.assertEqual(r.code, 530, r)

    def held_dele(self, c, name):
        """DELE of a file of its own while the pool is busy: its job waits.
        Returns the busy pool's joiners and how long the DELE took."""
        self.write_home(name, b"x")
        joins = self.busy_pool()
        started = time.monotonic()
        r = c.cmd("DELE " + name, timeout=SLOW)
        waited = time.monotonic() - started
        self.assertEqual((r.code, r.text), (250, "Deleted /" + name))
        self.assertFalse(os.path.exists(self.home(name)))
        return joins, waited

    def test_idle_timer_waits_for_a_job(self):
        c = self.logged_in()
        joins, waited = self.held_dele(c, "idle-dele.txt")
        # The idle time starts afresh after the job: the session goes on.
        c.expect("NOOP", 200)
        self.settle(joins)
        if waited < IDLE + 0.5:
            self.skipTest("the DELE's job waited %.1f s: too short to tell" % waited)

    def test_data_connect_timeout_waits_for_the_cut(self):
        name = "held-cut.bin"
        data = os.urandom(300000)
        c = self.logged_in()
        c.expect("CWD /", 250)
        r, _ = c.stor(name, data, cut_after=200000)
        self.assertEqual(r.code // 100, 4, r)
        port = c.epsv()  # the data connection comes once the 150 does
        joins = self.busy_pool()
        started = time.monotonic()
        c.expect("REST 100000", 350)
        r = c.cmd("STOR " + name, timeout=SLOW)
        waited = time.monotonic() - started
        self.assertEqual(r.code, 150, r)
        self.upload_on(c, port, data[100000:])
        self.assertEqual(self.read_home(name), data)
        self.settle(joins)
        if waited < IDLE + 0.5:
            self.skipTest("the cut waited %.1f s: too short to tell" % waited)

    def upload_on(self, c, port, data):
        """Once STOR's 150 is in: data over a data connection to port, ended
        with close_notify; the upload is stored (226)."""
        raw = socket.create_connection(("127.0.0.1", port), timeout=SLOW)
        self.addCleanup(raw.close)
        conn = c.wrap_data(raw)
        conn.sendall(data)
        conn.settimeout(10)
        conn.unwrap()
        conn.close()
        r = c.read_reply(timeout=SLOW)
        self.assertEqual(r.code, 226, r)

    def stor_after_held(self, held, name):
        """EPSV, then held(c) (a command whose work waits behind the busy
        pool for longer than data_connect_timeout; returns the pool's
        joiners and how long it took), then STOR name: the data channel's
        wait stood still meanwhile (the client could not send the STOR
        before the answer), so the upload goes through."""
        data = os.urandom(50000)
        c = self.logged_in()
        port = c.epsv()
        joins, waited = held(c)
        r = c.cmd("STOR " + name)
        self.assertEqual(r.code, 150, r)
        self.upload_on(c, port, data)
        self.assertEqual(self.read_home(name), data)
        self.settle(joins)
        if waited < IDLE + 0.5:
            self.skipTest("the held command waited %.1f s: too short to tell" % waited)

    def test_data_connect_timeout_waits_for_a_dele(self):
        self.stor_after_held(lambda c: self.held_dele(c, "dele-first.txt"), "after-dele.bin")

    def test_data_connect_timeout_waits_for_a_folder_stat(self):
        def held_stat(c):
            self.write_home("stat-dir/inside.txt", b"x")
            joins = self.busy_pool()
            started = time.monotonic()
            r = c.cmd("STAT /stat-dir", timeout=SLOW)
            waited = time.monotonic() - started
            self.assertEqual(r.code, 213, r)
            self.assertIn("inside.txt", r.text, r)
            return joins, waited
        self.stor_after_held(held_stat, "after-stat.bin")


class DeleteOverHTTPS(ftps_util.FTPSCase):
    """A user who uploaded over FTPS and cleans up over HTTPS: the folder
    where an upload was cut short lists as empty there too, and a DELETE
    of it (curl -X DELETE) removes it with the partial, as RMD does."""

    HTTPS = True
    WORKERS = 1
    DEAD_TEMP = TreeChanges.DEAD_TEMP
    prepare = TreeChanges.prepare
    leftovers = TreeChanges.leftovers
    VERSIONS = (("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2"))

    def cut_upload(self, folder, name="file.bin"):
        """folder made, and an upload of name into it cut after 50000
        bytes: the session, which SIZE shows the partial's bytes."""
        c = self.logged_in()
        c.expect("MKD " + folder, 257)
        r, _ = c.stor("%s/%s" % (folder, name), os.urandom(200000), cut_after=50000)
        self.assertEqual(r.code, 426, r)
        self.assertEqual(c.expect("SIZE %s/%s" % (folder, name), 213).text, "50000")
        self.assertEqual(self.leftovers(folder), [partial_name(name)])
        return c

    def names(self, path, http):
        """The names a JSON listing of path shows."""
        status, _, body = harness.curl(self.server, path, http=http, args=["-H", "Accept: application/json"])
        self.assertEqual(status, 200, body)
        return [e["name"] for e in json.loads(body)["entries"]]

    def delete(self, path, http):
        status, _, body = harness.curl(self.server, path, http=http, args=["-X", "DELETE"])
        return status, body.decode("utf-8", "replace")

    def test_delete_takes_the_partials_nobody_sees(self):
        for (http, version), path in zip(self.VERSIONS, ("/h1", "/h2/")):
            folder = path.strip("/")
            with self.subTest(version=version, path=path):
                c = self.cut_upload(folder)
                self.assertEqual(self.names("/%s/" % folder, http), [])
                self.assertIn(folder, self.names("/", http))
                self.assertEqual(self.delete(path, http), (204, ""))
                self.assertFalse(os.path.exists(self.home(folder)))
                self.assertNotIn(folder, self.names("/", http))
                self.assertEqual(c.cmd("SIZE %s/file.bin" % folder).code, 550)
                self.assertIn("alice: DELETE %s: removed 1 interrupted upload left in it: %s"
                              % (path, partial_name("file.bin")), self.server.log())
                self.assertIn(" alice DELETE %s %s 204 " % (path, version), self.server.log())

    def test_delete_takes_a_dead_process_temp_file(self):
        self.assertEqual(self.names("/d9/", "--http1.1"), [])
        self.assertEqual(self.delete("/d9", "--http1.1"), (204, ""))
        self.assertFalse(os.path.exists(self.home("d9")))

    def test_delete_leaves_a_folder_with_what_users_see(self):
        for (http, version), path in zip(self.VERSIONS, ("/s1", "/s2/")):
            folder = path.strip("/")
            with self.subTest(version=version, path=path):
                c = self.cut_upload(folder)
                r, _ = c.stor(folder + "/seen.txt", b"seen")
                self.assertEqual(r.code, 226, r)
                status, body = self.delete(path, http)
                self.assertEqual(status, 409, body)
                self.assertIn("the folder is not empty", body)
                self.assertEqual(self.leftovers(folder), [partial_name("file.bin")])
                self.assertEqual(c.expect("SIZE %s/file.bin" % folder, 213).text, "50000")
                self.assertEqual(self.read_home(folder + "/seen.txt"), b"seen")
                # Once what users see is gone, the folder goes.
                self.assertEqual(self.delete("/%s/seen.txt" % folder, http), (204, ""))
                self.assertEqual(self.delete(path, http), (204, ""))
                self.assertFalse(os.path.exists(self.home(folder)))

    def test_delete_during_an_upload_into_the_folder(self):
        """A live upload's temp file is never removed: 409 says why, and
        the upload ends as it would have."""
        for http, version in self.VERSIONS:
            folder = "u" + version[-1]
            with self.subTest(version=version):
                self.cut_upload(folder, "old.bin")
                up = self.logged_in()
                raw = socket.create_connection(("127.0.0.1", up.epsv()), timeout=SLOW)
                self.addCleanup(raw.close)
                self.assertEqual(up.cmd("STOR %s/live.bin" % folder).code, 150)
                conn = up.wrap_data(raw)
                conn.sendall(b"first half ")
                self.assertTrue(harness.wait_until(lambda: len(self.leftovers(folder)) == 2, timeout=SLOW),
                                self.leftovers(folder))
                status, body = self.delete("/" + folder, http)
                self.assertEqual(status, 409, body)
                self.assertIn("an upload into the folder is under way", body)
                self.assertEqual(len(self.leftovers(folder)), 2)
                conn.sendall(b"second half")
                conn.unwrap()
                conn.close()
                self.assertEqual(up.read_reply(timeout=SLOW).code, 226)
                self.assertEqual(self.read_home(folder + "/live.bin"), b"first half second half")
                self.assertEqual(self.leftovers(folder), [partial_name("old.bin")])


if __name__ == "__main__":
    harness.main()
