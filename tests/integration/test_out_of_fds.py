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
        self.assertIn("open file limit is %d: one client may hold up to 12864 descriptors" % NOFILE, s.log())
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
        # Downloads held open (their windows shut after 64 KiB), each
        # keeping its file open, until no descriptor is left.
        c = h2_util.H2Client(s)
        self.addCleanup(c.close)
        sids = [c.request("GET", "/big.bin", hold=True) for _ in range(NOFILE + 16)]
        c.wait(lambda: all(c.streams[i].status for i in sids), 20)
        codes = [c.streams[i].status for i in sids]
        self.assertIn(200, codes)
        self.assertIn(503, codes)
        self.assertEqual(set(codes), {200, 503}, codes)
        busy = [c.streams[i] for i in sids if c.streams[i].status == 503]
        self.assertTrue(all(b.headers.get("retry-after") == "1" for b in busy))
        self.assertEqual(s.log().count("refused with 503: Too many open files"), 1, s.log()[-2000:])
        c.close()
        # Once they are let go, the same file comes whole.
        st, _, body = harness.curl(s, "/hello.txt", timeout=20)
        self.assertEqual((st, body), (200, b"hello\n"))


class FtpsOutOfFds(unittest.TestCase):

    def test_file_past_the_descriptors_gets_451(self):
        s = harness.Server(workers=1, services=ftps_util.ftps_services())
        self.addCleanup(s.cleanup)
        self.addCleanup(harness.log_on_failure, self, s)
        s.nofile = NOFILE
        with open(os.path.join(s.home(), "hello.txt"), "wb") as f:
            f.write(b"hello\n")
        s.start()
        # Without HTTPS no connection holds HTTP/2 streams: the warning
        # counts an FTPS session's six (64 x 6), not 64 x 201.
        self.assertIn("open file limit is %d: one client may hold up to 384 descriptors" % NOFILE, s.log())
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
