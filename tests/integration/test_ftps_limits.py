"""FTPS limits on one client address: failed logins are slowed down, then the
address is banned (421 on connect, one log line) for login_ban_seconds, after
which logging in works again; and max_connections_per_ip caps the control
connections one address holds. A fresh server with small limits."""

import os
import random
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402
from ftps_util import Control  # noqa: E402

BAN = 3


class Limits(ftps_util.FTPSCase):
    EXTRA = "limits = { max_login_failures = 3; login_ban_seconds = %d; max_connections_per_ip = 4; };" % BAN

    def fail_login(self, c):
        c.auth_tls()
        c.expect("USER alice", 331)
        r = c.cmd("PASS wrong-password", timeout=15)
        self.assertEqual(r.code, 530, r)
        return r

    def test_a_failed_logins_ban_the_address(self):
        # Three failures at once, from three connections (each waits ~1 s).
        conns = [self.control() for _ in range(3)]
        joins = [ftps_util.in_thread(self.fail_login, c) for c in conns]
        for j in joins:
            _, err = j(timeout=20)
            if err:
                raise err
        for c in conns:
            c.close()
        t_ban = time.monotonic()
        self.assertTrue(harness.wait_until(lambda: re.search(r"127\.0\.0\.1.*ban|ban.*127\.0\.0\.1",
                                                             self.server.log(), re.I), timeout=5),
                        "no log line names the banned address")
        line = [l for l in self.server.log().splitlines() if "127.0.0.1" in l and "ban" in l.lower()][0]
        self.assertIn(str(BAN), line)
        # Banned: a new connection gets 421 and is closed, on both services.
        for implicit in (False, True):
            with self.subTest(implicit=implicit):
                try:
                    c = Control(self.iport if implicit else self.port, implicit=implicit)
                except (ftps_util.Closed, OSError) as e:
                    # implicit: the server may close before the handshake ends
                    self.assertTrue(implicit, "explicit port: no 421 banner (%s)" % e)
                    continue
                self.addCleanup(c.close)
                self.assertEqual(c.banner.code, 421, c.banner)
                self.assertTrue(c.closed_by_peer(), "a banned connection was left open")
        # After the ban, alice logs in again.
        deadline = t_ban + BAN + 5
        while True:
            c = Control(self.port)
            if c.banner.code == 220:
                break
            c.close()
            self.assertLess(time.monotonic(), deadline, "still banned %d s after the ban" % (BAN + 5))
            time.sleep(0.3)
        self.addCleanup(c.close)
        self.assertGreaterEqual(time.monotonic() - t_ban, BAN - 1.5, "the ban ended too early")
        c.login("alice")
        c.expect("NOOP", 200)

    def test_b_max_connections_per_ip(self):
        # The previous test's connections may still count until the server
        # has read their close: wait until four are admitted together.
        def four():
            cs = [self.control() for _ in range(4)]
            if all(c.banner.code == 220 for c in cs):
                return cs
            for c in cs:
                c.close()
            return None
        held = None
        deadline = time.monotonic() + 10
        while held is None and time.monotonic() < deadline:
            held = four()
            if held is None:
                time.sleep(0.2)
        self.assertIsNotNone(held, "four connections were never admitted together")
        extra = self.control()
        self.assertEqual(extra.banner.code, 421, extra.banner)
        self.assertTrue(extra.closed_by_peer())
        held[0].expect("QUIT", 221)
        held[0].close()

        def admitted():
            c = Control(self.port)
            ok = c.banner.code == 220
            if ok:
                held.append(c)
                self.addCleanup(c.close)
            else:
                c.close()
            return ok
        self.assertTrue(harness.wait_until(admitted, timeout=5, interval=0.2),
                        "a slot freed by QUIT was not given back")
        held[1].login("alice")
        held[1].expect("NOOP", 200)


class LoginDeadline(ftps_util.FTPSCase):
    """A client that never logs in is closed at ftp_login_timeout, however
    often it sends something; one that logged in is not."""

    EXTRA = "limits = { ftp_login_timeout = 2; };"

    def test_no_login_is_closed_in_time(self):
        c = self.control()
        self.assertEqual(c.banner.code, 220, c.banner)
        start = time.monotonic()
        reply = None
        while time.monotonic() - start < 8:
            try:
                r = c.cmd("NOOP", timeout=5)
            except ftps_util.Closed:
                break
            if r.code == 421:
                reply = r
                break
            time.sleep(0.4)
        elapsed = time.monotonic() - start
        self.assertIsNotNone(reply, "still open after 8 s of NOOPs without a login")
        self.assertIn("Login not completed within 2 s", reply.text)
        self.assertLess(elapsed, 5.0)
        self.assertTrue(self.server.wait_log("no login within 2 s: closing", 5))
        # Logged in, the deadline is over: still served after it.
        c = self.logged_in()
        time.sleep(2.5)
        c.expect("NOOP", 200)


class BusyLogins(ftps_util.FTPSCase):
    """limits.max_pending_logins, shared with HTTPS: one check at a time here,
    and a slow hash (about a second), so a second PASS meanwhile is refused
    unchecked with 421 and the connection closed."""
    EXTRA = "limits = { max_pending_logins = 1; max_login_failures = 1000; };"
    USERS = [{"name": "slow", "password": "slow-pw", "hash": harness.slow_hash("slow-pw"),
              "perms": ["read"]}]

    def test_a_second_check_while_one_runs_gets_421(self):
        first, second = self.control(), self.control()
        for c in (first, second):
            c.auth_tls()
            c.expect("USER slow", 331)
        join = ftps_util.in_thread(lambda: first.cmd("PASS wrong-password", timeout=20))
        time.sleep(0.3)  # the first check is on the pool
        t0 = time.monotonic()
        r = second.cmd("PASS slow-pw", timeout=20)
        self.assertEqual(r.code, 421, r)
        self.assertLess(time.monotonic() - t0, 0.5)
        self.assertTrue(second.closed_by_peer())
        r, err = join(timeout=30)
        if err:
            raise err
        self.assertEqual(r.code, 530, r)
        self.assertIn("refusing new logins unchecked", self.server.log())
        # Once it is over, the right password is checked and accepted.
        c = self.control()
        c.login("slow", password="slow-pw")
        c.expect("NOOP", 200)


class PassiveShare(ftps_util.FTPSCase):
    """One client may hold half of the passive port range at once (here 4 of
    8): past it PASV and EPSV get 425, one log line a minute says so, and
    other clients still get ports. Every way a listener closes gives its
    port back: a data connection, ABOR, a second PASV, data_connect_timeout,
    QUIT, a dropped control connection."""
    LOW = random.Random().randrange(40000, 59000)
    SERVICE_KEYS = {"passive_port_min": LOW, "passive_port_max": LOW + 7}
    EXTRA = "limits = { data_connect_timeout = 3; };"
    ATTACKER = "127.0.3.1"
    HELLO = b"hello, passive\n"

    @classmethod
    def prepare(cls, server):
        with open(os.path.join(server.home("alice"), "hello.txt"), "wb") as f:
            f.write(cls.HELLO)

    def sessions(self, n, source):
        return [self.logged_in(source=source) for _ in range(n)]

    def refused(self, c, cmd="PASV"):
        r = c.cmd(cmd)
        self.assertEqual(r.code, 425, r)
        self.assertIn("Too many passive ports held by your address", r.text)

    def wait_admitted(self, c, cmd="PASV"):
        """The server has given a port back when c's PASV gets one (a
        close is read by the server a moment after the client makes it)."""
        def ok():
            return c.cmd(cmd).code in (227, 229)
        self.assertTrue(harness.wait_until(ok, timeout=5, interval=0.2), "no port given back")

    def fetch(self, c):
        data, r, _ = c.retr("hello.txt")
        self.assertEqual((r.code, data), (226, self.HELLO), r)

    def test_a_share_is_half_the_range(self):
        held = self.sessions(4, self.ATTACKER)
        for c in held:
            c.pasv()
        extra = self.sessions(2, self.ATTACKER)
        before = self.server.log().count("passive ports already")
        for i in range(5):
            self.refused(extra[0], "PASV" if i % 2 else "EPSV")
        self.refused(extra[1])
        # One line for the six refusals (a line a minute per client).
        self.assertTrue(self.server.wait_log("holds 4 passive ports already", 5))
        time.sleep(0.3)
        self.assertEqual(self.server.log().count("passive ports already") - before, 1)
        # Another client gets ports and transfers meanwhile.
        other = self.logged_in()
        for _ in range(3):
            self.fetch(other)
        # A second PASV on a session closes its first listener: still 4.
        for c in held:
            c.pasv()
        self.refused(extra[0])
        # ABOR closes the listener: its port is the next session's.
        held[0].expect("ABOR", 225)
        extra[0].pasv()
        self.refused(extra[1])
        # A data connection takes the listener's port back too.
        self.fetch(held[1])
        extra[1].pasv()
        self.refused(held[1])

    def test_b_every_end_gives_ports_back(self):
        src = "127.0.4.1"
        held = self.sessions(4, src)
        for c in held:
            c.pasv()
        late = self.logged_in(source=src)
        self.refused(late)
        # QUIT, and a control connection dropped without one.
        held[0].expect("QUIT", 221)
        self.wait_admitted(late)
        self.refused(self.logged_in(source=src))
        held[1].close()
        again = self.logged_in(source=src)
        self.wait_admitted(again, "EPSV")
        # data_connect_timeout (3 s) closes the unused listeners.
        last = self.logged_in(source=src)
        self.refused(last)
        time.sleep(3.5)
        for _ in range(3):
            last.pasv()
        # Once they are all gone, the client has its whole share again.
        for c in held + [late, again, last]:
            c.close()
        fresh = self.sessions(4, src)
        for c in fresh:
            self.wait_admitted(c)
        self.refused(self.logged_in(source=src))
        for c in fresh:
            c.close()
        c = self.logged_in(source=src)

        def fetched():
            try:
                data, r, _ = c.retr("hello.txt")
            except AssertionError:  # EPSV refused: a close not read yet
                return False
            return r.code == 226 and data == self.HELLO
        self.assertTrue(harness.wait_until(fetched, timeout=5, interval=0.2), "no transfer once all closed")

class WarningFloods(ftps_util.FTPSCase):
    """Warnings a client can repeat at will are logged once a minute per
    client: a PASV that finds the port range full (a client pipelining
    hundreds), and a connection to a passive port from another address than
    its session's (no login needed to make those)."""
    LOW = random.Random().randrange(40000, 59000)
    SERVICE_KEYS = {"passive_port_min": LOW, "passive_port_max": LOW + 3}
    HELLO = b"hello, floods\n"

    @classmethod
    def prepare(cls, server):
        with open(os.path.join(server.home("alice"), "hello.txt"), "wb") as f:
            f.write(cls.HELLO)

    def test_a_full_range_is_logged_once_a_minute(self):
        # The whole range taken by something else on this host.
        squatters = []
        for port in range(self.LOW, self.LOW + 4):
            s = socket.socket()
            self.addCleanup(s.close)
            try:
                s.bind(("127.0.0.1", port))
                s.listen(1)
            except OSError:
                pass  # taken already: by what the server cannot bind either
            squatters.append(s)
        c = self.logged_in()
        before = self.server.log().count("no passive port free")
        n = 200
        c.send(b"PASV\r\n" * n)
        codes = [c.read_reply().code for _ in range(n)]
        self.assertEqual(set(codes), {425})
        c.expect("NOOP", 200)
        self.assertEqual(self.server.log().count("no passive port free") - before, 1)
        # Once a port is free, PASV gets it.
        squatters[2].close()
        self.assertEqual(c.pasv()[1], self.LOW + 2)

    def test_b_stranger_connections_are_logged_once_a_minute(self):
        c = self.logged_in()
        port = c.epsv()
        stranger = "127.0.0.9"
        before = self.server.log().count("data connection from %s refused" % stranger)

        def knock():
            s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(stranger, 0))
            s.close()
        knock()
        self.assertTrue(self.server.wait_log("data connection from %s refused" % stranger, 5,
                                             count=before + 1))
        for _ in range(60):
            knock()
        time.sleep(0.5)  # the server accepts and refuses them meanwhile
        self.assertEqual(self.server.log().count("data connection from %s refused" % stranger) - before, 1)
        # The session's own data connection still gets the transfer.
        data, r, _ = c.retr("hello.txt")
        self.assertEqual((r.code, data), (226, self.HELLO), r)


if __name__ == "__main__":
    harness.main()
