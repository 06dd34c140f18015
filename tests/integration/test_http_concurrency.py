"""Many clients at once: parallel downloads and uploads over both protocols
(curl in threads), and h2load / h2load --h1 load with many streams. Every byte
is checked; the server must stay up and leave no temp files behind."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def sha(data):
    return hashlib.sha256(data).hexdigest()


def run_threads(n, fn):
    results, errors = [None] * n, []

    def work(i):
        try:
            results[i] = fn(i)
        except Exception as e:  # reported by the test, with its index
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


class Concurrency(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # h2load's wrong passwords would get the address banned (429) before
        # the last check with the right one; test_http_login.py covers bans.
        cls.server = harness.Server(workers=2, extra="limits = { max_login_failures = 1000; };")
        cls.addClassCleanup(cls.server.cleanup)  # even if setUpClass fails
        cls.files = {}
        for i in range(5):
            data = os.urandom(512 * 1024 * (i + 1) + i)
            cls.files["f%d.bin" % i] = data
            with open(os.path.join(cls.server.home(), "f%d.bin" % i), "wb") as f:
                f.write(data)
        with open(os.path.join(cls.server.home(), "small.txt"), "wb") as f:
            f.write(b"small and often\n")
        os.makedirs(os.path.join(cls.server.home(), "up"))
        os.chmod(os.path.join(cls.server.home(), "up"), 0o777)
        cls.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)
        self.assertIsNone(self.server.proc.poll(), "the server exited")

    def test_20_concurrent_downloads(self):
        names = sorted(self.files)

        def download(i):
            name = names[i % len(names)]
            http = "--http2" if i % 2 else "--http1.1"
            status, _, body = harness.curl(self.server, "/" + name, http=http, timeout=60)
            return status, sha(body), sha(self.files[name])

        results, errors = run_threads(20, download)
        self.assertEqual(errors, [])
        for i, (status, got, want) in enumerate(results):
            self.assertEqual(status, 200, i)
            self.assertEqual(got, want, "download %d corrupted" % i)

    def test_10_concurrent_uploads(self):
        payloads = [os.urandom(700 * 1024 + 13 * i) for i in range(10)]
        srcs = []
        for i, data in enumerate(payloads):
            path = os.path.join(self.server.dir, "up-src-%d" % i)
            with open(path, "wb") as f:
                f.write(data)
            srcs.append(path)

        def upload(i):
            http = "--http2" if i % 2 else "--http1.1"
            return harness.curl(self.server, "/up/u%d.bin" % i, http=http, args=["-T", srcs[i]], timeout=60)[0]

        results, errors = run_threads(10, upload)
        self.assertEqual(errors, [])
        self.assertEqual(results, [201] * 10)
        for i, data in enumerate(payloads):
            with open(os.path.join(self.server.home(), "up", "u%d.bin" % i), "rb") as f:
                self.assertEqual(sha(f.read()), sha(data), "upload %d corrupted" % i)
        self.assertEqual(sorted(os.listdir(os.path.join(self.server.home(), "up"))),
                         sorted("u%d.bin" % i for i in range(10)))

    def test_uploads_and_downloads_of_the_same_names(self):
        """Readers racing writers always see one whole version of a file."""
        versions = [os.urandom(300 * 1024) for _ in range(4)]
        with open(os.path.join(self.server.home(), "race.bin"), "wb") as f:
            f.write(versions[0])
        os.chmod(os.path.join(self.server.home(), "race.bin"), 0o666)
        srcs = []
        for i, data in enumerate(versions):
            path = os.path.join(self.server.dir, "race-src-%d" % i)
            with open(path, "wb") as f:
                f.write(data)
            srcs.append(path)
        valid = {sha(v) for v in versions}

        def work(i):
            if i % 3 == 0:
                return ("put", harness.curl(self.server, "/race.bin", args=["-T", srcs[i % 4]],
                                            http="--http2" if i % 2 else "--http1.1")[0])
            status, _, body = harness.curl(self.server, "/race.bin", http="--http2" if i % 2 else "--http1.1")
            return ("get", status, sha(body))

        results, errors = run_threads(18, work)
        self.assertEqual(errors, [])
        for r in results:
            if r[0] == "put":
                self.assertIn(r[1], (201, 204))
            else:
                self.assertEqual(r[1], 200)
                self.assertIn(r[2], valid, "a reader saw a partial or mixed file")
        self.assertEqual([n for n in os.listdir(self.server.home()) if n.startswith(".wharf-upload.")], [])

    def h2load(self, extra):
        exe = shutil.which("h2load")
        if not exe:
            self.skipTest("h2load is not installed")
        cmd = [exe, "-n", "200", "-c", "10", "-t", "2",
               "-H", "Authorization: " + harness.basic_auth("alice", "alice-pw")] + extra + [
            "https://127.0.0.1:%d/small.txt" % self.server.port]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        text = out.stdout + out.stderr
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                      r"(\d+) errored", text)
        self.assertIsNotNone(m, text)
        total, _, done, succeeded, failed, errored = map(int, m.groups())
        self.assertEqual((done, succeeded, failed, errored), (200, 200, 0, 0), text)
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
        self.assertEqual(codes.groups(), ("200", "0", "0", "0"), text)
        return text

    def test_h2load_http2_many_streams(self):
        text = self.h2load(["-m", "10"])
        self.assertRegex(text, r"Application protocol: h2\b")
        self.assertTrue(harness.wait_until(
            lambda: len(re.findall(r" alice GET /small\.txt HTTP/2 200 ", self.server.log())) >= 200, timeout=5))

    def test_h2load_http1(self):
        text = self.h2load(["--h1"])
        self.assertRegex(text, r"Application protocol: http/1\.1")

    def test_h2load_wrong_password_all_401(self):
        exe = shutil.which("h2load")
        if not exe:
            self.skipTest("h2load is not installed")
        cmd = [exe, "-n", "50", "-c", "5", "-m", "5", "-H",
               "Authorization: " + harness.basic_auth("alice", "wrong"),
               "https://127.0.0.1:%d/small.txt" % self.server.port]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out.stdout)
        self.assertIsNotNone(codes, out.stdout + out.stderr)
        ok, redirect, refused, failed = map(int, codes.groups())
        # Every answer is a refusal (the server may also cut a guessing
        # connection short, so not every request need get an answer).
        self.assertEqual((ok, redirect, failed), (0, 0, 0), out.stdout)
        self.assertGreater(refused, 0, out.stdout)
        status, _, body = harness.curl(self.server, "/small.txt", http="--http2")
        self.assertEqual((status, body), (200, b"small and often\n"))


if __name__ == "__main__":
    harness.main()
