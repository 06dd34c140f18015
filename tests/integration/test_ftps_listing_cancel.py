"""A LIST's folder is read on the offload pool before its 150 (docs/ftps.md).
Meanwhile the session runs no other command, but it still reads the control
connection, so what ends the listing ends it at once, not once the folder is
read: a client that leaves has its listing cancelled (and its place among
the client's two listings being built given back), an ABOR gets the
listing's 426 and its own 226 (no 150, nothing on the data connection), a
QUIT its 221 and the close, within send_timeout when the client reads no
replies. A LIST on a data connection that failed already gets its 425 at
once, not once the folder is read.

The read is held back for seconds: three slow password checks (a yescrypt
hash of cost 10, harness.slow_hash) hold every thread of the pool, so the
listing's first step waits behind them. The log says when each check ends
('login as "slow" refused'): an answer that comes before the first does
came while the folder could not have been read yet."""

import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402

BIG = 20000      # names in big/: five steps of the listing job
SLOW = 60        # seconds any one slow step may take, however loaded the host
CHECKS = 3       # the pool's threads: two take any job, one only password checks
REFUSED = 'login as "slow" refused'
ACCESS_CUT = " alice %s /big ftps 426 0 "  # the access-log line of a listing of big/ cut short


class ListingCancel(ftps_util.FTPSCase):

    WORKERS = 1  # every session on the same loop
    SEND_TIMEOUT = 10
    EXTRA = "limits = { max_login_failures = 1000; send_timeout = %d; };" % SEND_TIMEOUT
    USERS = [{"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]},
             {"name": "slow", "password": "slow-pw", "hash": harness.slow_hash("slow-pw", cost=10),
              "perms": ["read"]}]

    @classmethod
    def prepare(cls, server):
        big = os.path.join(server.home("alice"), "big")
        os.makedirs(big)
        for i in range(BIG):
            os.close(os.open(os.path.join(big, "entry-%05d" % i), os.O_CREAT | os.O_WRONLY, 0o644))

    # -- the pool, held

    def busy_pool(self):
        """Wrong passwords of the slow user on every pool thread. Returns
        their joiners (each gets its 530) and the count of checks the log
        says ended before them."""
        ended = self.server.log().count(REFUSED)
        joins = []
        for _ in range(CHECKS):
            s = self.control()
            s.auth_tls()
            s.expect("USER slow", 331)
            joins.append(ftps_util.in_thread(s.cmd, "PASS wrong-" + os.urandom(6).hex(), SLOW))
        time.sleep(0.3)  # the checks are running
        return joins, ended

    def queued_listing(self, c, line):
        """Sends the listing command line while busy_pool holds the pool:
        its job waits. Returns busy_pool's answer."""
        joins, ended = self.busy_pool()
        c.send(line)
        time.sleep(0.3)  # the command is taken: its job waits for the pool
        return joins, ended

    def pool_held(self, ended):
        """None of busy_pool's checks has ended: no listing step has run."""
        return self.server.log().count(REFUSED) == ended

    def settle(self, joins):
        for join in joins:
            r, err = join(timeout=SLOW + 5)
            self.assertIsNone(err)
            self.assertEqual(r.code, 530, r)

    # -- listings

    def data_ready(self, c):
        """A data connection, secured before any transfer command."""
        raw = socket.create_connection(("127.0.0.1", c.epsv()), timeout=SLOW)
        self.addCleanup(raw.close)
        conn = c.wrap_data(raw)
        self.addCleanup(conn.close)
        return conn

    def drain(self, conn):
        """Every byte the data connection brings until it ends."""
        data = b""
        conn.settimeout(SLOW)
        deadline = time.monotonic() + SLOW
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(1 << 16)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
        else:
            raise AssertionError("the data connection did not end within %d s" % SLOW)
        return data

    def queues(self, c):
        """The server's side of control connection c: its TCP state (1:
        established), the bytes it has sent that the client has not taken,
        and those the client sent that it has not read (/proc/net/tcp)."""
        cport = c.sock.getsockname()[1]
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == self.port and int(fields[2].split(":")[1], 16) == cport:
                    tx, rx = fields[4].split(":")
                    return int(fields[3], 16), int(tx, 16), int(rx, 16)
        raise AssertionError("no server socket for port %d" % cport)

    def back_up(self, c):
        """The client reads no more: HELPs, as long as the server reads
        them at once, until its socket takes no more of their replies."""
        deadline = time.monotonic() + SLOW
        last, same = -1, 0
        while same < 2:
            self.assertLess(time.monotonic(), deadline, "the server's send queue kept growing")
            c.send(b"HELP\r\n" * 20)
            time.sleep(0.05)
            _, unsent, unread = self.queues(c)
            self.assertEqual(unread, 0, "the server stopped reading commands")
            same = same + 1 if unsent == last else 0
            last = unsent

    def assertWholeListing(self, data):
        names = sorted(line.rsplit(" ", 1)[1] for line in data.decode().splitlines())
        self.assertEqual(names, ["entry-%05d" % i for i in range(BIG)])

    # -- the tests

    def test_client_leaving_gives_its_listing_back(self):
        other = self.logged_in()
        c = self.logged_in()
        c.epsv()
        joins, ended = self.queued_listing(c, "LIST big")
        c.close()
        # Seen at once, while the folder still waits to be read.
        self.assertTrue(self.server.wait_log("LIST /big: cancelled while its folder was read "
                                             "(the control connection closed)", timeout=SLOW),
                        "the listing of a client that left was not cancelled")
        self.assertTrue(self.pool_held(ended), "the client's leaving was seen only once the pool was free")
        other.expect("NOOP", 200)
        self.settle(joins)

        # Its place among the client's two listings being built is back:
        # the same client lists twice at once, both reads queued behind a
        # busy pool again, and gets both listings whole.
        pairs = []
        for _ in range(2):
            s = self.logged_in()
            pairs.append((s, self.data_ready(s)))
        joins, ended = self.busy_pool()
        # A command sent behind a LIST still waits for its 150: no reply
        # comes ahead of it.
        pairs[0][0].send(b"LIST big\r\nNOOP\r\n")
        pairs[1][0].send("LIST big")
        for s, conn in pairs:
            r = s.read_reply(timeout=SLOW)
            self.assertEqual(r.code, 150, r)
            self.assertWholeListing(self.drain(conn))
        r = pairs[0][0].read_reply(timeout=SLOW), pairs[0][0].read_reply(timeout=SLOW)
        self.assertEqual(sorted(x.code for x in r), [200, 226], r)
        self.assertEqual(pairs[1][0].read_reply(timeout=SLOW).code, 226)
        self.settle(joins)
        other.expect("NOOP", 200)
        self.assertNotIn("Listing not made", self.server.log())

    def test_abor_while_the_folder_is_read(self):
        c = self.logged_in()
        conn = self.data_ready(c)
        logged = self.server.log().count(ACCESS_CUT % "LIST")
        joins, ended = self.queued_listing(c, "LIST big")
        c.send("ABOR")
        # The listing's own reply, then the ABOR's (RFC 959), both while
        # the folder could not have been read yet; no 150 before them.
        first = c.read_reply(timeout=SLOW)
        second = c.read_reply(timeout=SLOW)
        answered_held = self.pool_held(ended)
        self.assertEqual(first.code, 426, (first, second))
        self.assertIn("aborted", first.text)
        self.assertEqual(second.code, 226, (first, second))
        self.assertIn("ABOR", second.text)
        self.assertTrue(answered_held, "ABOR was answered only once the pool was free")
        # The data connection ends with nothing on it.
        self.assertEqual(self.drain(conn), b"")
        self.assertIn("LIST /big: cancelled while its folder was read (ABOR)", self.server.log())
        # The access log has the listing, as it has a transfer cut after its 150.
        self.assertEqual(self.server.log().count(ACCESS_CUT % "LIST"), logged + 1)
        # Once the pool is free, no listing comes after all: the next reply
        # is the NOOP's, and the session lists again.
        self.settle(joins)
        c.expect("NOOP", 200)
        data, r, _ = c.retr("big", cmd="LIST")
        self.assertEqual(r.code, 226, r)
        self.assertWholeListing(data)

    def test_quit_while_the_folder_is_read(self):
        other = self.logged_in()
        c = self.logged_in()
        c.epsv()
        logged = self.server.log().count(ACCESS_CUT % "MLSD")
        joins, ended = self.queued_listing(c, "MLSD big")
        c.send("QUIT")
        r = c.read_reply(timeout=SLOW)
        self.assertEqual(r.code, 221, r)
        self.assertTrue(c.closed_by_peer(timeout=5), "the session did not close after its 221")
        self.assertTrue(self.pool_held(ended), "QUIT was answered only once the pool was free")
        self.assertIn("MLSD /big: cancelled while its folder was read (QUIT)", self.server.log())
        self.assertEqual(self.server.log().count(ACCESS_CUT % "MLSD"), logged + 1)
        other.expect("NOOP", 200)
        self.settle(joins)
        other.expect("NOOP", 200)

    def test_list_on_a_failed_data_connection_is_refused_at_once(self):
        # The data connection fails before the LIST: its TLS handshake
        # gets bytes that are no ClientHello.
        c = self.logged_in()
        raw = socket.create_connection(("127.0.0.1", c.epsv()), timeout=SLOW)
        raw.sendall(b"not a TLS hello\r\n" * 8)
        raw.settimeout(SLOW)
        try:
            while raw.recv(4096):  # an alert, then the server's close
                pass
        except ConnectionResetError:
            pass
        raw.close()
        joins, ended = self.busy_pool()
        c.send("LIST big")
        r = c.read_reply(timeout=SLOW)
        answered_held = self.pool_held(ended)
        self.assertEqual(r.code, 425, r)
        # The folder nobody would see was not read first.
        self.assertTrue(answered_held, "the 425 waited for the folder to be read")
        self.settle(joins)
        data, r, _ = c.retr("big", cmd="LIST")
        self.assertEqual(r.code, 226, r)
        self.assertWholeListing(data)

    def test_quit_with_its_reply_unread_closes_in_time(self):
        # A client that stops reading its replies: the 221 of a QUIT that
        # cancels a listing cannot go out, and the session still closes
        # once send_timeout passes (before, it had no timer at all while
        # the folder was read, and none after the QUIT).
        cancelled = "LIST /big: cancelled while its folder was read (QUIT)"
        for attempt in range(4):
            c = self.logged_in(rcvbuf=4096)
            c.epsv()
            self.back_up(c)
            joins, ended = self.busy_pool()
            # About 60 KiB more replies, which the session holds (short of
            # the 64 KiB at which it stops reading commands), the LIST
            # behind them in the same record, and the QUIT in the next.
            # Only when the QUIT is read in the same turn as the LIST (the
            # connection reads no more once its replies wait) does the
            # session hold a 221 it cannot send; else try again.
            count = self.server.log().count(cancelled)
            c.send(b"HELP\r\n" * 215 + b"LIST big\r\n")
            c.send("QUIT")
            time.sleep(1)
            state, unsent, _ = self.queues(c)
            held = self.server.log().count(cancelled) > count and state == 1
            self.settle(joins)
            if held:
                break
            c.close()
        else:
            self.skipTest("the QUIT was never read in the same turn as the LIST")
        self.assertTrue(self.server.wait_log("its last replies not read within %d s: closing" % self.SEND_TIMEOUT,
                                             timeout=self.SEND_TIMEOUT + 10),
                        "a session whose QUIT reply was not read stayed open")

    def reply_within(self, c, seconds):
        """The reply c gets within seconds, or None when none comes."""
        try:
            return c.read_reply(timeout=seconds)
        except AssertionError:
            return None

    def test_client_leaving_with_its_share_queued_lists_again_at_once(self):
        # The client's two listings being built (its share) both wait for
        # the held pool when it leaves: their jobs never ran a step, and
        # what they hold goes back at once, not once the pool reaches them.
        cancelled = "LIST /big: cancelled while its folder was read (the control connection closed)"
        count = self.server.log().count(cancelled)
        sessions = [self.logged_in() for _ in range(2)]
        for s in sessions:
            s.epsv()
        joins, ended = self.busy_pool()
        for s in sessions:
            s.send("LIST big")
        time.sleep(0.3)  # the commands are taken: their jobs wait for the pool
        for s in sessions:
            s.close()
        self.assertTrue(self.server.wait_log(cancelled, timeout=SLOW, count=count + 2),
                        "the listings of a client that left were not cancelled")
        # The client comes straight back and lists, the pool still held:
        # its listing is queued, not refused with 450.
        c = self.logged_in()
        conn = self.data_ready(c)
        c.send("LIST big")
        r = self.reply_within(c, 2)
        held = self.pool_held(ended)
        self.assertIsNone(r, "a listing of the client that left, sent while the pool was held, got %r" % (r,))
        self.assertTrue(held, "the pool was free before the listing was tried")
        # Once the pool is free, the listing comes whole.
        self.settle(joins)
        r = c.read_reply(timeout=SLOW)
        self.assertEqual(r.code, 150, r)
        self.assertWholeListing(self.drain(conn))
        self.assertEqual(c.read_reply(timeout=SLOW).code, 226)
        c.expect("NOOP", 200)

if __name__ == "__main__":
    harness.main()
