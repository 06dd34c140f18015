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
no more. An upload's two stay counted until they are closed, even by a
job on the offload pool after its request ended (HeldByJobs). With limits.open_files_per_client set above the whole budget,
the process-wide bound refuses the second client's downloads past the
96."""

import os
import sys
import time
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


class HeldByJobs(Case):
    """An upload's two descriptors stay counted until they are closed,
    by whoever closes them. Once its request ends, that may be a job on
    the offload pool: the commit (fsync, rename) of an upload whose
    client left while it was being stored, or the removal of a cut
    upload's temp file. Held here behind slow password checks on every
    pool thread, those jobs keep the folder and the temp file open a
    while: the client's share stays taken meanwhile, and it cannot open
    new files past its share by cutting uploads and starting others."""

    PER_CLIENT = 4  # two uploads

    def setUp(self):
        alice = {"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]}
        # Cost 10: a check takes two seconds or more, so six of them hold
        # the pool's three threads for four seconds or more.
        slow = {"name": "slow", "password": "slow-pw", "hash": harness.slow_hash("slow-pw", cost=10),
                "perms": ["read"]}
        self.server = harness.Server(users=[alice, slow], workers=1,
                                     extra="limits = { max_login_failures = 1000; open_files_per_client = %d; };"
                                     % self.PER_CLIENT)
        self.addCleanup(self.server.cleanup)
        self.server.nofile = NOFILE
        self.server.put_file("hello.txt", b"hello\n")
        self.server.start()

    def in_home(self):
        """The server's descriptors open on alice's home or a file in it."""
        home = self.server.home()
        fd_dir = "/proc/%d/fd" % self.server.proc.pid
        n = 0
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target == home or target.startswith(home + "/"):
                n += 1
        return n

    def temp_files(self):
        return [n for n in os.listdir(self.server.home()) if n.startswith(".wharf-upload.")]

    def synced(self, c):
        """Everything sent on c before was taken by the server."""
        payload = c.ping()
        self.assertTrue(c.wait(lambda: payload in c.ping_acked, SLOW))

    def test_jobs_on_the_pool_keep_the_share_taken(self):
        home = self.server.home()
        a = self.client()
        base = self.in_home()  # alice's home, held for good
        held = harness.hold_pool(self.server, 6, 2 * SLOW)
        t0 = time.monotonic()
        # One upload cut after 256 KiB reached its temp file: the file's
        # removal waits for the pool, with the folder open.
        cut = a.request("PUT", "/cut.bin", body_follows=True, length=1 << 20)
        a.send_body(cut, os.urandom(256 << 10), timeout=SLOW)
        ok = harness.wait_until(lambda: any(os.path.getsize(os.path.join(home, n)) > 0
                                            for n in self.temp_files()), timeout=SLOW)
        self.assertTrue(ok, self.temp_files())
        a.conn.reset_stream(cut)
        a.flush()
        # One whole upload whose client leaves while it is stored: its
        # commit waits for the pool, with the temp file and folder open.
        whole = a.request("PUT", "/whole.bin", body_follows=True, length=5)
        a.send_body(whole, b"12345", end=True, timeout=SLOW)
        self.synced(a)
        a.conn.reset_stream(whole)
        a.flush()
        self.synced(a)
        # Two more uploads, while those jobs still hold their descriptors.
        more = [a.request("PUT", "/more%d.bin" % i, body_follows=True, length=5) for i in range(2)]
        self.synced(a)
        open_now = self.in_home() - base
        pending = not os.path.exists(os.path.join(home, "whole.bin")) and len(self.temp_files()) >= 2
        took = time.monotonic() - t0
        self.assertTrue(pending, "the pool was not held long enough (%.1f s): %r" % (took, os.listdir(home)))
        self.assertLessEqual(open_now, self.PER_CLIENT,
                             "127.0.0.1 holds %d descriptors, past its share of %d" % (open_now, self.PER_CLIENT))
        for sid in more:
            self.assertRefused(a, sid, b"your address holds its share")
        # The jobs run once the checks end: the share comes back whole.
        for s in held:
            r = s.read_final_response(timeout=2 * SLOW)
            self.assertEqual(r[0], 401, r)
            s.close()
        ok = harness.wait_until(lambda: os.path.exists(os.path.join(home, "whole.bin")) and not self.temp_files()
                                and self.in_home() == base, timeout=SLOW)
        self.assertTrue(ok, (os.listdir(home), self.in_home() - base))
        ups = [a.request("PUT", "/again%d.bin" % i, body_follows=True, length=5) for i in range(3)]
        self.assertRefused(a, ups[2], b"your address holds its share")
        for sid in ups[:2]:
            a.send_body(sid, b"12345", end=True, timeout=SLOW)
        self.assertTrue(a.wait(lambda: all(a.streams[i].ended for i in ups[:2]), SLOW))
        self.assertEqual([a.streams[i].status for i in ups[:2]], [201, 201])


if __name__ == "__main__":
    harness.main()
