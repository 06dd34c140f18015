"""One client may hold only its share of the files HTTP transfers keep
open (transfer/file_budget.h). Here the server runs under an open file
limit of 256: downloads and uploads may hold (256 - 64) / 2 = 96
descriptors in all, and one client (an IPv4 address, or an IPv6 /64) an
eighth of them, 12 (limits.open_files_per_client left at 0). A download
holds one, an upload two (its temp file and its folder).

A client (127.0.0.1) that keeps many HTTP/2 downloads open, reading none
of them past their first window, gets its 12; every further request that
would open a file gets 503 with Retry-After: 1 and a body that says why,
that stream alone: its connection and its other streams go on. Another
client (127.0.0.2) downloads meanwhile, over HTTP/2 and HTTP/1.1. The
error log says so once a minute per client, however many are refused.
Every slot goes back once, however the transfer ends: read to its end,
reset by the client or at send_timeout, its connection closed, an upload
stored, across a reload; afterwards the first client gets its 12 again,
no more. With limits.open_files_per_client set above the whole budget,
the process-wide bound refuses the second client's downloads past the
96."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from h2_util import H2Client  # noqa: E402

NOFILE = 256
BUDGET = (NOFILE - 64) // 2  # 96
SHARE = BUDGET // 8           # 12
OTHER = "127.0.0.2"           # another client: loopback answers for all of 127/8
BIG = 1 << 20                 # more than a stream's first window (64 KiB)
SLOW = 30                     # seconds any one step may take, however loaded the host
SHARE_LINE = "client 127.0.0.1 holds its share of open files for HTTP downloads and uploads"


class Case(unittest.TestCase):
    EXTRA = ""

    def setUp(self):
        self.server = harness.Server(workers=2, extra=self.EXTRA)
        self.addCleanup(self.server.cleanup)
        self.server.nofile = NOFILE
        with open(os.path.join(self.server.home(), "hello.txt"), "wb") as f:
            f.write(b"hello\n")
        self.big = os.urandom(BIG)
        with open(os.path.join(self.server.home(), "big.bin"), "wb") as f:
            f.write(self.big)
        self.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def client(self, source=None, warm=True):
        """An HTTP/2 connection whose password is checked already: its
        requests are then taken in the order they come (a stream waiting
        for its check would be served after the ones behind it)."""
        c = H2Client(self.server, timeout=SLOW, source=source)
        self.addCleanup(c.close)
        if warm:
            self.assertEqual(c.get("/hello.txt", timeout=SLOW), (200, b"hello\n"))
        return c

    def client_again(self):
        """A new connection of 127.0.0.1 once the server has seen its old
        one close: its first GET of a file is answered 200 again."""
        c = self.client(warm=False)
        ok = harness.wait_until(lambda: c.get("/hello.txt", timeout=SLOW)[0] == 200, timeout=SLOW, interval=0.2)
        self.assertTrue(ok, "127.0.0.1 was not given its files back")
        return c

    def held_downloads(self, c, n):
        """n GETs of big.bin whose windows stay shut after 64 KiB: their
        statuses, once every answer's head came."""
        sids = [c.request("GET", "/big.bin", hold=True) for _ in range(n)]
        self.assertTrue(c.wait(lambda: all(c.streams[i].status for i in sids), SLOW),
                        [c.streams[i].status for i in sids])
        return sids, [c.streams[i].status for i in sids]

    def assertRefused(self, c, sid, words):
        s = c.streams[sid]
        self.assertTrue(c.wait(lambda: s.ended or s.reset is not None, SLOW))
        self.assertEqual(s.status, 503, bytes(s.data)[:300])
        self.assertEqual(s.headers.get("retry-after"), "1")
        self.assertIn(words, bytes(s.data))

    def read_whole(self, c, sid):
        """Opens the held stream's window and reads its answer to the end."""
        c.grant(sid, BIG)
        s = c.streams[sid]
        self.assertTrue(c.wait(lambda: s.ended or s.reset is not None, SLOW))
        self.assertTrue(s.ended, s.reset)
        self.assertEqual(bytes(s.data), self.big)

    def other_client_downloads(self):
        st, headers, body = harness.curl(self.server, "/big.bin", http="--http2",
                                         args=["--interface", OTHER], timeout=SLOW)
        self.assertEqual((st, len(body)), (200, BIG))
        self.assertEqual(body, self.big)
        st, headers, body = harness.curl(self.server, "/hello.txt", http="--http1.1",
                                         args=["--interface", OTHER], timeout=SLOW)
        self.assertEqual((st, body), (200, b"hello\n"))

    def share_lines(self):
        return self.server.log().count(SHARE_LINE)


class FileShare(Case):

    def test_downloads_past_the_share_get_503_and_slots_come_back(self):
        s = self.server
        a = self.client()
        sids, codes = self.held_downloads(a, 3 * SHARE)
        self.assertEqual(codes.count(200), SHARE, codes)
        self.assertEqual(codes.count(503), 2 * SHARE, codes)
        refused = [i for i in sids if a.streams[i].status == 503]
        for i in refused:
            self.assertRefused(a, i, b"your address holds its share")
        # The connection goes on, and so do its downloads: one read whole.
        self.assertFalse(a.closed)
        held = [i for i in sids if a.streams[i].status == 200]
        self.assertTrue(all(a.streams[i].reset is None for i in held))
        self.read_whole(a, held[0])
        # Its slot came back: taken again, and no more.
        _, codes = self.held_downloads(a, 2)
        self.assertEqual(codes, [200, 503])
        # Over HTTP/1.1 too, the same client is at its share, while another
        # client downloads whole.
        st, headers, body = harness.curl(s, "/hello.txt", timeout=SLOW)
        self.assertEqual((st, headers.get("retry-after")), (503, "1"), body)
        self.other_client_downloads()
        b = self.client(source=OTHER)
        _, codes = self.held_downloads(b, SHARE)
        self.assertEqual(codes, [200] * SHARE)
        b.close()
        # One line for the client, for all its refusals.
        self.assertTrue(s.wait_log(SHARE_LINE, timeout=SLOW), s.log()[-3000:])
        self.assertEqual(self.share_lines(), 1, s.log()[-3000:])
        self.assertIn("limits.open_files_per_client, by default an eighth of the %d set aside for HTTP "
                      "transfers: %d" % (BUDGET, SHARE), s.log())
        # Its streams end (the connection closed under them): every slot
        # is back, and the share is what it was, no more.
        a.close()
        a2 = self.client_again()
        _, codes = self.held_downloads(a2, SHARE + 1)
        self.assertEqual(codes, [200] * SHARE + [503])
        self.assertEqual(self.share_lines(), 1, s.log()[-3000:])

    def test_uploads_count_two_and_go_back_however_they_end(self):
        s = self.server
        a = self.client()
        half = SHARE // 2
        ups = [a.request("PUT", "/up%d.bin" % i, body_follows=True, length=5) for i in range(half)]
        # Each upload now holds its temp file and folder (the streams are
        # taken in order): the share is full.
        extra = a.request("PUT", "/more.bin", body_follows=True, length=5)
        self.assertRefused(a, extra, b"your address holds its share")
        sid = a.request("GET", "/big.bin", hold=True)
        self.assertRefused(a, sid, b"your address holds its share")
        self.assertTrue(all(a.streams[i].status is None for i in ups), [a.streams[i].status for i in ups])
        # Two reset by the client, two stored: four uploads' slots back.
        for i in ups[:2]:
            a.conn.reset_stream(i)
        a.flush()
        for i in ups[2:4]:
            a.send_body(i, b"12345", end=True)
        self.assertTrue(a.wait(lambda: all(a.streams[i].ended for i in ups[2:4]), SLOW))
        self.assertEqual([a.streams[i].status for i in ups[2:4]], [201, 201])
        _, codes = self.held_downloads(a, 8 + 1)
        self.assertEqual(codes, [200] * 8 + [503])
        self.other_client_downloads()
        # A reload in between: what was taken before it comes back after.
        s.reload()
        a.close()
        a2 = self.client_again()
        _, codes = self.held_downloads(a2, SHARE + 1)
        self.assertEqual(codes, [200] * SHARE + [503])
        self.assertEqual(self.share_lines(), 1, s.log()[-3000:])


class StalledStreams(Case):
    # A download held shut is reset at send_timeout (2 s here), as one
    # below limits.min_rate is: its slot comes back with the reset.
    EXTRA = "limits = { send_timeout = 2; };"

    def test_timed_out_streams_give_their_files_back(self):
        a = self.client()
        sids, codes = self.held_downloads(a, SHARE + 1)
        self.assertEqual(codes, [200] * SHARE + [503])
        self.assertTrue(a.wait(lambda: all(a.streams[i].reset is not None for i in sids[:SHARE]), SLOW))
        self.assertFalse(a.closed)
        _, codes = self.held_downloads(a, SHARE + 1)
        self.assertEqual(codes, [200] * SHARE + [503])


class WholeBudget(Case):
    # Each client may hold 60, above a half of the 96: the second one
    # meets the bound of them all.
    EXTRA = "limits = { open_files_per_client = 60; };"

    def test_past_the_whole_budget(self):
        s = self.server
        a = self.client()
        _, codes = self.held_downloads(a, 61)
        self.assertEqual(codes, [200] * 60 + [503])
        b = self.client(source=OTHER)
        sids, codes = self.held_downloads(b, 40)
        self.assertEqual(codes, [200] * (BUDGET - 60) + [503] * (40 - (BUDGET - 60)))
        self.assertRefused(b, sids[-1], b"all in use")
        self.assertTrue(s.wait_log("hold all %d open files set aside for them" % BUDGET, timeout=SLOW))
        self.assertEqual(s.log().count("hold all %d open files set aside for them" % BUDGET), 1)
        self.assertIn("(limits.open_files_per_client, 60; an upload counts two)", s.log())
        a.close()
        # a's files given back, b gets the rest of its own share.
        ok = harness.wait_until(lambda: b.get("/hello.txt", timeout=SLOW)[0] == 200, timeout=SLOW, interval=0.2)
        self.assertTrue(ok)


if __name__ == "__main__":
    harness.main()
