"""TLS on FTPS data connections: with require_tls_reuse (the default) a data
connection must resume its own control connection's session. Checked with
TLS 1.3 tickets, TLS 1.2 tickets and TLS 1.2 session IDs; plain ftplib (which
does not reuse) gets a clear 425; and a thief that reaches the passive port
first, with a full handshake or with a session from ANOTHER control
connection, gets nothing. A second server turns require_tls_reuse off and
active mode on: ftplib without reuse works, and PORT/EPRT go only to the
client's own address."""

import ftplib
import io
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402
from ftps_util import client_context  # noqa: E402

SECRET = os.urandom(200000)
HELLO = b"hello\n"

VARIANTS = [("1.3", True), ("1.2", True), ("1.2", False)]  # (version, tickets)


def variant_name(version, tickets):
    return "TLS%s-%s" % (version, "tickets" if tickets else "session-ids")


class ReuseRequired(ftps_util.FTPSCase):

    @classmethod
    def prepare(cls, server):
        with open(os.path.join(server.home("alice"), "secret.bin"), "wb") as f:
            f.write(SECRET)
        with open(os.path.join(server.home("alice"), "hello.txt"), "wb") as f:
            f.write(HELLO)
        with open(os.path.join(server.home("reader"), "r.txt"), "wb") as f:
            f.write(b"reader's\n")

    def test_resumption_each_version(self):
        for version, tickets in VARIANTS:
            with self.subTest(variant_name(version, tickets)):
                c = self.logged_in(ctx=client_context(version, tickets))
                self.assertEqual(c.sock.version(), "TLSv" + version)
                for i in range(3):  # the same session resumes again and again
                    data, r, info = c.retr("secret.bin")
                    self.assertEqual(r.code, 226, r)
                    self.assertTrue(info["resumed"], "data connection %d did not resume" % i)
                    self.assertEqual(data, SECRET)
                up = os.urandom(100000)
                r, info = c.stor("up-%s.bin" % variant_name(version, tickets), up)
                self.assertEqual(r.code, 226, r)
                self.assertTrue(info["resumed"])
                self.assertEqual(self.read_home("up-%s.bin" % variant_name(version, tickets)), up)

    def test_implicit_resumption(self):
        for version in ("1.3", "1.2"):
            with self.subTest(version=version):
                c = self.logged_in(implicit=True, ctx=client_context(version))
                data, r, info = c.retr("hello.txt")
                self.assertEqual((r.code, data, info["resumed"]), (226, HELLO, True), r)

    def test_ftplib_with_reuse(self):
        for version in ("1.3", "1.2"):
            with self.subTest(version=version):
                f = ftps_util.ftplib_login(self.port, ctx=client_context(version))
                self.addCleanup(f.close)
                got = []
                self.assertTrue(f.retrbinary("RETR secret.bin", got.append).startswith("226"))
                self.assertEqual(b"".join(got), SECRET)
                self.assertTrue(f.storbinary("STOR ftplib-%s.bin" % version, io.BytesIO(b"x" * 5000))
                                .startswith("226"))
                self.assertIn("secret.bin", f.nlst())
                f.quit()

    def test_ftplib_without_reuse_gets_425(self):
        for version in ("1.3", "1.2"):
            with self.subTest(version=version):
                f = ftps_util.ftplib_login(self.port, cls=ftplib.FTP_TLS, ctx=client_context(version))
                self.addCleanup(f.close)
                got = []
                reply = None
                try:
                    f.retrbinary("RETR secret.bin", got.append)
                except ftplib.error_temp as e:
                    reply = str(e)
                except (ssl.SSLError, OSError, EOFError):
                    reply = _read_reply(f)
                self.assertEqual(b"".join(got), b"")
                self.assertIsNotNone(reply, "RETR without session reuse was not refused")
                self.assertTrue(reply.startswith("425"), reply)
                self.assertIn(ftps_util.REUSE_425, reply)
                self.assertTrue(f.voidcmd("NOOP").startswith("200"))

    # -- thieves

    def thief_connects_first(self, version, thief_ctx, thief_session):
        """alice's control asks for secret.bin; a thief reached the passive
        port first. Returns (alice's final reply, bytes the thief got, the
        thief's handshake outcome)."""
        c = self.logged_in(ctx=client_context(version))
        c.expect("TYPE I", 200)
        port = c.epsv()
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(raw.close)

        def steal():
            s = thief_ctx.wrap_socket(raw, server_hostname="localhost", session=thief_session,
                                      suppress_ragged_eofs=False)
            out = {"resumed": s.session_reused, "session": s.session, "data": b""}
            for _ in range(1000):
                try:
                    chunk = s.recv(65536)
                except (ssl.SSLError, OSError):
                    break
                if not chunk:
                    break
                out["data"] += chunk
            return out
        join = ftps_util.in_thread(steal)
        r = c.cmd("RETR secret.bin", timeout=20)
        final = r
        if r.code < 200:
            final = c.read_reply(timeout=20)
        result, error = join(timeout=25)
        got = (result or {}).get("data", b"")
        return c, r, final, got, result, error

    def assertNotStolen(self, c, first, final, got, result):
        self.assertNotIn(SECRET[:1000], got)
        self.assertEqual(len(got), 0, "the thief received %d bytes" % len(got))
        self.assertEqual(final.code, 425, (first, final))
        self.assertIn(ftps_util.REUSE_425, final.text)
        if result:
            self.assertFalse(result["resumed"], "the thief's handshake resumed a session")
        # alice is still served
        data, r, info = c.retr("secret.bin")
        self.assertEqual((r.code, data == SECRET), (226, True), r)

    def test_thief_full_handshake(self):
        for version in ("1.3", "1.2"):
            with self.subTest(version=version):
                tctx = client_context(version)
                c, first, final, got, result, error = self.thief_connects_first(version, tctx, None)
                self.assertNotStolen(c, first, final, got, result)
                self.assertIn("does not resume this control connection's session", final.text)
                # A full handshake on a data port must hand out nothing resumable.
                if result and result["session"] is not None:
                    c2, first, final, got, result2, error = self.thief_connects_first(
                        version, tctx, result["session"])
                    self.assertNotStolen(c2, first, final, got, result2)

    def test_thief_with_session_of_another_control_connection(self):
        for version, tickets in VARIANTS:
            with self.subTest(variant_name(version, tickets)):
                tctx = client_context(version, tickets)
                other = self.logged_in("reader", ctx=tctx)  # the thief's own, legitimate login
                data, r, info = other.retr("r.txt")
                self.assertEqual((r.code, info["resumed"]), (226, True), r)
                c, first, final, got, result, error = self.thief_connects_first(
                    version, tctx, other.session)
                self.assertNotStolen(c, first, final, got, result)
                # A ticket offered is named as another connection's, so the
                # admin of a client with one session cache for all its
                # connections reads what happened (a TLS 1.2 session ID
                # cannot be told from a fresh one).
                if tickets:
                    self.assertIn("is another connection's, not this control connection's", final.text)
                    self.assertIn("is another connection's", self.server.log())

    def test_thief_with_session_of_another_control_connection_same_user(self):
        """Even alice's own second control connection cannot take over the
        data connection of her first."""
        tctx = client_context("1.3")
        other = self.logged_in("alice", ctx=tctx)
        other.retr("hello.txt")
        c, first, final, got, result, error = self.thief_connects_first("1.3", tctx, other.session)
        self.assertNotStolen(c, first, final, got, result)


def _read_reply(f):
    try:
        return f.getresp()
    except ftplib.Error as e:
        return str(e)


class ReuseOffActiveOn(ftps_util.FTPSCase):
    SERVICE_KEYS = {"require_tls_reuse": False, "active_mode": True}

    @classmethod
    def prepare(cls, server):
        with open(os.path.join(server.home("alice"), "hello.txt"), "wb") as f:
            f.write(HELLO)

    def test_ftplib_without_reuse_works(self):
        f = ftps_util.ftplib_login(self.port, cls=ftplib.FTP_TLS)
        self.addCleanup(f.close)
        got = []
        self.assertTrue(f.retrbinary("RETR hello.txt", got.append).startswith("226"))
        self.assertEqual(b"".join(got), HELLO)
        self.assertTrue(f.storbinary("STOR noreuse.bin", io.BytesIO(b"abc")).startswith("226"))
        self.assertEqual(self.read_home("noreuse.bin"), b"abc")

    def test_active_mode_own_address(self):
        f = ftps_util.ftplib_login(self.port)
        self.addCleanup(f.close)
        f.set_pasv(False)
        got = []
        self.assertTrue(f.retrbinary("RETR hello.txt", got.append).startswith("226"))
        self.assertEqual(b"".join(got), HELLO)
        self.assertTrue(f.storbinary("STOR active.bin", io.BytesIO(b"active")).startswith("226"))
        self.assertEqual(self.read_home("active.bin"), b"active")

    def test_bounce_refused(self):
        c = self.logged_in()
        with socket.socket() as ls:
            ls.bind(("127.0.0.2", 0))
            ls.listen(1)
            port = ls.getsockname()[1]
            for line in ("PORT 127,0,0,2,%d,%d" % (port // 256, port % 256),
                         "EPRT |1|127.0.0.2|%d|" % port,
                         "PORT 10,1,2,3,0,25",
                         "EPRT |1|192.0.2.1|25|",
                         "EPRT |2|::1|%d|" % port):
                with self.subTest(line=line):
                    r = c.cmd(line)
                    self.assertEqual(r.code // 100, 5, r)
                    if not line.startswith("EPRT |2|"):
                        self.assertEqual(r.code, 504, r)
                    # and no transfer goes there
                    r = c.cmd("RETR hello.txt")
                    self.assertNotIn(r.code, (150, 125), r)
                    if r.code < 200:
                        c.read_reply()
            ls.settimeout(0.5)
            self.assertRaises((socket.timeout, TimeoutError), ls.accept)
        c.expect("NOOP", 200)


if __name__ == "__main__":
    harness.main()
