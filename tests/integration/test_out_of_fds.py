"""A server out of file descriptors. accept fails with EMFILE while the
listener stays readable: accepts pause (100 ms at a time) instead of
spinning on the failure, the log says so in one line, not one per try, and
once descriptors come free the server answers again. A request whose file
cannot be opened for want of descriptors gets 503 with Retry-After (it is
the server's trouble, for a moment), not 500; over FTPS, 451 (a transient
local error), not 550."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import h2_util  # noqa: E402
import ftps_util  # noqa: E402

NOFILE = 64


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class OutOfFds(unittest.TestCase):

    def setUp(self):
        self.server = harness.Server(workers=1)
        self.addCleanup(self.server.cleanup)
        self.server.nofile = NOFILE
        with open(os.path.join(self.server.home(), "hello.txt"), "wb") as f:
            f.write(b"hello\n")
        with open(os.path.join(self.server.home(), "big.bin"), "wb") as f:
            f.write(os.urandom(1 << 20))
        self.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def test_accepts_pause_then_serve_again(self):
        s = self.server
        # The admin was told at start.
        # 64 connections' sockets and the client's share of open files (2
        # under this limit: transfer/file_budget.h), not 64 x 201 as before
        # the share.
        self.assertIn("open file limit is %d: one client may hold up to 66 descriptors (max_connections_per_ip 64 x 1 "
                      "per connection, and 2 open files of HTTP transfers)" % NOFILE, s.log())
        # More connections than descriptors: each sends the first byte of a
        # TLS record and waits, holding one until header_timeout.
        hogs = []
        for _ in range(NOFILE + 6):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            c.sendall(b"\x16")
            hogs.append(c)
        self.addCleanup(lambda: [c.close() for c in hogs])
        self.assertTrue(s.wait_log("pausing accepts", timeout=10), s.log()[-2000:])
        fds = len(os.listdir("/proc/%d/fd" % s.proc.pid))
        self.assertGreaterEqual(fds, NOFILE - 2)
        cpu0, t0 = cpu_seconds(s.proc.pid), time.monotonic()
        lines0 = s.log().count("pausing accepts")
        time.sleep(3)
        cpu, lines = cpu_seconds(s.proc.pid) - cpu0, s.log().count("pausing accepts") - lines0
        # A retry every 100 ms costs next to nothing; a spin takes a core.
        self.assertLess(cpu, 0.3 * (time.monotonic() - t0), "the server spins on accept: %.2f s of CPU" % cpu)
        self.assertLessEqual(lines, 1, s.log()[-2000:])
        for c in hogs:
            c.close()
        hogs.clear()
        st, _, body = harness.curl(s, "/hello.txt", timeout=20)
        self.assertEqual((st, body), (200, b"hello\n"))

    def test_file_past_the_descriptors_gets_503(self):
        s = self.server
        # One client's downloads stop at its share of the open files
        # (test_http_file_share.py): here the descriptors go to sockets
        # held open past the limit, while a connection made before waits.
        c = h2_util.H2Client(s)
        self.addCleanup(c.close)
        self.assertEqual(c.get("/hello.txt"), (200, b"hello\n"))
        hogs = []
        self.addCleanup(lambda: [h.close() for h in hogs])
        for _ in range(NOFILE + 6):
            h = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            h.sendall(b"\x16")  # accepted once a byte came
            hogs.append(h)
        self.assertTrue(s.wait_log("pausing accepts", timeout=10), s.log()[-2000:])
        sids = [c.request("GET", "/big.bin", hold=True) for _ in range(3)]
        c.wait(lambda: all(c.streams[i].status for i in sids), 20)
        codes = [c.streams[i].status for i in sids]
        self.assertEqual(codes, [503] * 3, codes)
        self.assertTrue(all(c.streams[i].headers.get("retry-after") == "1" for i in sids))
        self.assertEqual(s.log().count("refused with 503: Too many open files"), 1, s.log()[-2000:])
        for h in hogs:
            h.close()
        hogs.clear()
        # Once they are let go, the same file comes whole.
        ok = harness.wait_until(lambda: c.get("/hello.txt", timeout=20) == (200, b"hello\n"), timeout=20,
                                interval=0.5)
        self.assertTrue(ok, "the file did not come once descriptors came free")


class FtpsOutOfFds(unittest.TestCase):

    def test_file_past_the_descriptors_gets_451(self):
        s = harness.Server(workers=1, services=ftps_util.ftps_services())
        self.addCleanup(s.cleanup)
        self.addCleanup(harness.log_on_failure, self, s)
        s.nofile = NOFILE
        with open(os.path.join(s.home(), "hello.txt"), "wb") as f:
            f.write(b"hello\n")
        s.start()
        # Without HTTPS there are no HTTP transfers' files: the warning
        # counts an FTPS session's six (64 x 6).
        self.assertIn("open file limit is %d: one client may hold up to 384 descriptors (max_connections_per_ip 64 x 6 "
                      "per connection, and 0 open files of HTTP transfers)" % NOFILE, s.log())
        c = ftps_util.Control(s.port)
        self.addCleanup(c.close)
        c.login("alice")
        hogs = []
        self.addCleanup(lambda: [h.close() for h in hogs])
        for _ in range(NOFILE + 6):
            hogs.append(socket.create_connection(("127.0.0.1", s.port), timeout=5))
        self.assertTrue(s.wait_log("pausing accepts", timeout=10), s.log()[-2000:])
        r = c.cmd("SIZE hello.txt")
        self.assertEqual(r.code, 451, r)
        self.assertIn("try again", r.text)
        for h in hogs:
            h.close()
        hogs.clear()
        ok = harness.wait_until(lambda: c.cmd("SIZE hello.txt").code == 213, timeout=20, interval=0.5)
        self.assertTrue(ok, "SIZE did not work again once descriptors came free")


if __name__ == "__main__":
    harness.main()
