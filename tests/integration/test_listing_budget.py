"""Folder listings share one memory budget, HTTP and FTPS alike, and one
client may hold only an eighth of it (limits.listing_memory; a client is an
IPv4 address or an IPv6 /64). Here the budget is 3 MiB, so a client's share
is 384 KiB, and big/ holds 2000 names of 110 bytes: one listing of it holds
about 320 KiB (an HTTP listing's entries and names; an FTPS NLST's lines),
two do not fit in one share.

A client (127.0.0.1) that keeps a listing unread (an HTTP/2 stream whose
window it never opens; an FTPS NLST whose data connection it never opens)
is refused a second one, on either protocol: HTTP 503 with Retry-After: 1
and a body that says why, FTPS 450 before any 150. Meanwhile another client
(127.0.0.2) lists the same folder whole. Once the first client has read its
listing, its memory is given back and it lists again."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402
from h2_util import H2Client  # noqa: E402
import h2.settings  # noqa: E402  (h2_util says how to install it)

NAMES = 2000
NAME_LEN = 110
OTHER = "127.0.0.2"  # another client: loopback answers for all of 127/8
SLOW = 60            # seconds any one step may take, however loaded the host


def names():
    return ["f%04d" % i + "x" * (NAME_LEN - 5) for i in range(NAMES)]


class ListingBudget(ftps_util.FTPSCase):
    HTTPS = True
    EXTRA = 'limits = { listing_memory = "3M"; data_connect_timeout = 300; };'

    @classmethod
    def prepare(cls, server):
        big = os.path.join(server.home(), "big")
        os.makedirs(big)
        for n in names():
            os.close(os.open(os.path.join(big, n), os.O_CREAT | os.O_WRONLY, 0o644))
        with open(os.path.join(server.home(), "hello.txt"), "wb") as f:
            f.write(b"hello\n")

    # -- helpers

    def shut_h2(self):
        """An HTTP/2 connection of 127.0.0.1 whose streams' windows are shut."""
        c = H2Client(self.server, timeout=SLOW)
        self.addCleanup(c.close)
        self.assertEqual(c.get("/hello.txt", timeout=SLOW), (200, b"hello\n"))
        c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        c.flush()
        return c

    def held_h2_listing(self):
        """A listing of big/ built and held unread: its 200's head came."""
        c = self.shut_h2()
        sid = c.request("GET", "/big/", hold=True)
        s = c.streams[sid]
        self.assertTrue(c.wait(lambda: s.status is not None, SLOW))
        self.assertEqual(s.status, 200, bytes(s.data)[:300])
        self.assertEqual(s.data, b"")
        return c, sid

    def assertWholePage(self, body):
        got = re.findall(rb'<tr><td><a href="([^"]*)">', body)
        self.assertEqual([g.decode() for g in got[1:]], names())  # after ../
        self.assertTrue(body.endswith(b"</html>\n"))

    def other_client_lists_http(self):
        status, headers, body = harness.curl(self.server, "/big/", http="--http2",
                                             args=["--interface", OTHER], timeout=SLOW)
        self.assertEqual(status, 200, body[:300])
        self.assertWholePage(body)

    def other_client_lists_ftps(self):
        c = self.logged_in(source=OTHER)
        port = c.epsv()
        self.assertEqual(c.cmd("NLST big", timeout=SLOW).code, 150)
        self.read_held_ftps(c, port, source=OTHER)

    def held_ftps_listing(self):
        """An NLST of big built and held: its 150 came, its data connection
        never opened (data_connect_timeout is long)."""
        c = self.logged_in()
        port = c.epsv()
        r = c.cmd("NLST big", timeout=SLOW)
        self.assertEqual(r.code, 150, r)
        return c, port

    def read_held_ftps(self, c, port, source=None):
        raw = ftps_util.socket.create_connection(("127.0.0.1", port), timeout=SLOW,
                                                 source_address=(source, 0) if source else None)
        conn = c.wrap_data(raw)
        data = b""
        while True:
            try:
                chunk = conn.recv(1 << 16)
            except ftps_util.ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            data += chunk
        conn.close()
        self.assertEqual(c.read_reply(timeout=SLOW).code, 226)
        self.assertEqual(sorted(data.decode().split("\r\n")[:-1]), names())

    def assertRefusedHttp(self, c, sid):
        s = c.streams[sid]
        self.assertTrue(c.wait(lambda: s.status is not None, SLOW))
        self.assertEqual(s.status, 503, bytes(s.data)[:300])
        self.assertEqual(s.headers.get("retry-after"), "1")
        c.grant(sid, 1 << 20)
        self.assertTrue(c.wait(lambda: s.ended, SLOW))
        self.assertIn(b"share of the memory set aside", bytes(s.data))

    def assertRefusedFtps(self, c):
        r = c.cmd("NLST big", timeout=SLOW)
        self.assertEqual(r.code, 450, r)
        self.assertIn("share of the memory set aside", r.text)

    def setUp(self):
        """What an earlier test held is given back as the server sees its
        connections close, a moment after the test closed them: 127.0.0.1
        can measure big/ again (a HEAD holds the listing only while it is
        measured)."""
        deadline = time.monotonic() + SLOW
        while True:
            status, _, _ = harness.curl(self.server, "/big/", args=["-I"], timeout=SLOW)
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(status, 200)

    def assertLoggedOnce(self):
        """Refusals of a kind are logged a line a minute at most, whatever
        the protocol (the tests take seconds)."""
        log = self.server.log()
        self.assertRegex(log, r"listings: (HTTP|FTPS) 127\.0\.0\.1's listings not yet sent hold its share")
        self.assertEqual(log.count("listings not yet sent hold its share"), 1, log[-3000:])

    # -- tests

    def test_http_listing_held_unread_refuses_the_next(self):
        c, sid = self.held_h2_listing()
        # The same client's next listing, on the same connection (its
        # per-connection limit, two, is not what refuses it) ...
        again = c.request("GET", "/big/", hold=True)
        self.assertRefusedHttp(c, again)
        # ... and over FTPS: one accounting for both.
        f = self.logged_in()
        f.epsv()
        self.assertRefusedFtps(f)
        # Another client lists it whole, over either.
        self.other_client_lists_http()
        self.other_client_lists_ftps()
        # The first page read, its memory is back: the client lists again.
        c.grant(sid, 16 << 20)
        s = c.streams[sid]
        self.assertTrue(c.wait(lambda: s.ended, SLOW))
        self.assertWholePage(bytes(s.data))
        third = c.request("GET", "/big/", hold=True)
        c.grant(third, 16 << 20)  # its window too starts shut
        self.assertTrue(c.wait(lambda: c.streams[third].ended, SLOW))
        self.assertEqual(c.streams[third].status, 200, bytes(c.streams[third].data)[:300])
        self.assertWholePage(bytes(c.streams[third].data))
        self.assertLoggedOnce()

    def test_ftps_listing_held_unread_refuses_the_next(self):
        c, port = self.held_ftps_listing()
        # The same client's next listing, from another session: 450, no 150.
        second = self.logged_in()
        second.epsv()
        self.assertRefusedFtps(second)
        # And over HTTP.
        h = self.shut_h2()
        self.assertRefusedHttp(h, h.request("GET", "/big/", hold=True))
        # Another client lists it whole, over either.
        self.other_client_lists_ftps()
        self.other_client_lists_http()
        # The first read whole, its memory is back: the client lists again.
        self.read_held_ftps(c, port)
        got = second.listing("NLST", "big")
        self.assertEqual(sorted(got.split("\r\n")[:-1]), names())
        self.assertLoggedOnce()

    def test_small_listings_are_not_held_up(self):
        """A client at its share lists nothing more, but a listing of its
        that holds little still fits: the share is of memory, not of
        listings."""
        c, sid = self.held_h2_listing()
        os.makedirs(os.path.join(self.server.home(), "small"), exist_ok=True)
        status, _, body = harness.curl(self.server, "/small/", http="--http2", timeout=SLOW)
        self.assertEqual(status, 200, body[:300])
        c.grant(sid, 16 << 20)
        self.assertTrue(c.wait(lambda: c.streams[sid].ended, SLOW))


if __name__ == "__main__":
    unittest.main()
