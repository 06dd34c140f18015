"""HTTP logins: password checks run off the event loop, and an address that
keeps failing is banned for a while (limits.max_login_failures and
login_ban_seconds, shared with FTPS).

crypt(3) with yescrypt costs tens of milliseconds at its default cost; a check
on the worker's loop would hold every connection of that worker for as long.
These tests give some users a hash of a much higher cost (about a second, made
here with libcrypt's own crypt_gensalt) so that a check in progress is easy to
tell from one that is over (harness.slow_hash)."""
import os
import subprocess
import threading
import time
import unittest

import harness


ALL = ["read", "write", "delete", "mkdir"]


def pw(name):
    return name + "-pw"


class OneWorker(unittest.TestCase):
    """A fresh server with one worker (or WORKERS): anything run on its loop
    would hold every request. USERS get ordinary hashes, SLOW ones a one-second hash;
    each user's password is pw(name)."""
    USERS = ()
    SLOW = ()
    LIMITS = ""
    WORKERS = 1

    @classmethod
    def setUpClass(cls):
        users = [{"name": n, "password": pw(n), "perms": ALL} for n in cls.USERS]
        users += [{"name": n, "password": pw(n), "hash": harness.slow_hash(pw(n)), "perms": ALL} for n in cls.SLOW]
        cls.server = harness.Server(users=users, workers=cls.WORKERS, extra="limits = { %s };" % cls.LIMITS)
        cls.addClassCleanup(cls.server.cleanup)
        cls.prepare()
        cls.server.start()

    @classmethod
    def prepare(cls):
        pass


class OffTheLoop(OneWorker):
    USERS = ("alice",)
    SLOW = ("slow", "up2", "up2s", "up2r", "up1a", "up1b", "gone", "gone1")
    LIMITS = "max_login_failures = 1000;"

    @classmethod
    def prepare(cls):
        with open(os.path.join(cls.server.home("alice"), "small.txt"), "wb") as f:
            f.write(b"small\n")

    def test_slow_check_does_not_hold_other_requests(self):
        # alice's password is checked once, then known to the worker.
        status, _, body = harness.curl(self.server, "/small.txt")
        self.assertEqual((status, body), (200, b"small\n"))
        result = {}

        def slow_login():
            t0 = time.monotonic()
            result["status"] = harness.curl(self.server, "/", user="slow", password="wrong")[0]
            result["seconds"] = time.monotonic() - t0

        t = threading.Thread(target=slow_login)
        t.start()
        # Wait until the check is on the pool: the request has arrived.
        time.sleep(0.25)
        worst = 0.0
        for _ in range(4):
            t0 = time.monotonic()
            status, _, body = harness.curl(self.server, "/small.txt", http="--http2")
            worst = max(worst, time.monotonic() - t0)
            self.assertEqual((status, body), (200, b"small\n"))
        still_checking = t.is_alive()
        t.join(30)
        self.assertEqual(result.get("status"), 401)
        # The refused check really took long, and the others did not wait for it.
        self.assertGreater(result["seconds"], 0.6, result)
        self.assertTrue(still_checking, "the slow check ended before the other requests: nothing was shown")
        self.assertLess(worst, 0.5, "a request waited %.2f s behind another's password check" % worst)

    def upload(self, user, http, extra_args=()):
        data = os.urandom(2 * 1024 * 1024 + 17)
        status, _, _ = harness.curl(self.server, "/%s-%s.bin" % (user, http.strip("-")), user=user,
                                    password=pw(user), http=http,
                                    args=["-T", "-"] + list(extra_args), input=data)
        self.assertEqual(status, 201, "%s upload over %s" % (user, http))
        with open(os.path.join(self.server.home(user), "%s-%s.bin" % (user, http.strip("-"))), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_http2_upload_body_arrives_while_password_is_checked(self):
        # curl sends the DATA frames right behind the HEADERS: they wait,
        # with nghttp2 paused on the stream, until the check is over.
        self.upload("up2", "--http2")
        self.assertRegex(self.server.log(), r"stream \d+: DATA waits for the password check")

    def test_http2_small_upload_whose_only_data_frame_waits(self):
        # One DATA frame with END_STREAM, the last bytes the client sends
        # before it waits: the frame must still end once the check is over.
        data = os.urandom(1000)
        t0 = time.monotonic()
        status, _, _ = harness.curl(self.server, "/small-h2.bin", user="up2s", password=pw("up2s"),
                                    http="--http2", args=["-T", "-"], input=data, timeout=20)
        self.assertEqual(status, 201)
        self.assertLess(time.monotonic() - t0, 10)
        with open(os.path.join(self.server.home("up2s"), "small-h2.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_http2_put_whose_last_frame_waits_raw(self):
        # The same, made certain by hand: the client acknowledges the
        # server's SETTINGS first, so the DATA frame with END_STREAM is the
        # very last thing the server receives before it must answer.
        F = harness.h2_frame
        with harness.RawTLS(self.server, alpn=("h2",)) as c:
            c.send(harness.H2_PREFACE)
            self.assertIn(4, [t for t, _, _ in harness.h2_frames(c, timeout=1)])  # its SETTINGS
            c.send(F(4, 1, 0))  # SETTINGS ACK
            time.sleep(0.2)
            block = b"".join(harness.hpack_literal(k, v) for k, v in (
                (":method", "PUT"), (":scheme", "https"), (":path", "/raw-h2.bin"), (":authority", "localhost"),
                ("authorization", harness.basic_auth("up2r", pw("up2r"))), ("content-length", "5")))
            c.send(F(1, harness.H2_END_HEADERS, 1, block) + F(0, harness.H2_END_STREAM, 1, b"hello"))
            frames = harness.h2_frames(c, timeout=4)
            self.assertIn(1, [t for t, _, sid in frames if sid == 1], frames)  # the answer's HEADERS
        self.assertIn(" up2r PUT /raw-h2.bin HTTP/2 201 ", self.server.log())
        with open(os.path.join(self.server.home("up2r"), "raw-h2.bin"), "rb") as f:
            self.assertEqual(f.read(), b"hello")

    def test_client_leaving_during_the_check_gets_an_access_line(self):
        # The request was never answered, yet an admin reading the access
        # log must see it: nginx's 499, the client closed first.
        F = harness.h2_frame
        with harness.RawTLS(self.server, alpn=("h2",)) as c:
            c.send(harness.H2_PREFACE + F(4, 0, 0))
            block = b"".join(harness.hpack_literal(k, v) for k, v in (
                (":method", "GET"), (":scheme", "https"), (":path", "/left-early"), (":authority", "localhost"),
                ("authorization", harness.basic_auth("gone", pw("gone")))))
            c.send(F(1, harness.H2_END_HEADERS | harness.H2_END_STREAM, 1, block))
            time.sleep(0.2)
        self.assertTrue(self.server.wait_log(" gone GET /left-early HTTP/2 499 0 "), self.server.log()[-3000:])
        # Over HTTP/1.1 the connection is read while the check runs (the
        # bytes kept for later), so the departure is seen there too, not
        # once the answer (a 404) meets a closed socket.
        with harness.RawTLS(self.server) as c:
            c.send("GET /left-early-1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n"
                   % harness.basic_auth("gone1", pw("gone1")))
            time.sleep(0.2)
        self.assertTrue(self.server.wait_log(" gone1 GET /left-early-1 HTTP/1.1 499 0 "), self.server.log()[-3000:])

    def test_http1_upload_with_and_without_100_continue(self):
        # With Expect: 100-continue the body waits for the check; without,
        # it is already in the server's buffers when the check ends.
        self.upload("up1a", "--http1.1")
        self.upload("up1b", "--http1.1", ["-H", "Expect:"])

    def test_many_wrong_passwords_cost_one_check_each_not_the_loop(self):
        # Five distinct wrong passwords at once for the slow user: the
        # answers come back, and a known user is answered meanwhile.
        harness.curl(self.server, "/small.txt")
        codes = []
        threads = [threading.Thread(target=lambda i=i: codes.append(
            harness.curl(self.server, "/", user="slow", password="guess-%d" % i)[0])) for i in range(5)]
        for t in threads:
            t.start()
        time.sleep(0.25)
        t0 = time.monotonic()
        status, _, _ = harness.curl(self.server, "/small.txt")
        self.assertEqual(status, 200)
        self.assertLess(time.monotonic() - t0, 0.5)
        for t in threads:
            t.join(60)
        self.assertEqual(sorted(codes), [401] * 5)
        self.assertGreaterEqual(self.server.log().count('login failed for user "slow"'), 5)


class Busy(OneWorker):
    """limits.max_pending_logins: past it a login is refused unchecked (503),
    so guesses cannot pile up on the offload threads."""
    USERS = ("alice",)
    SLOW = ("slow",)
    LIMITS = "max_login_failures = 1000; max_pending_logins = 2;"

    def test_checks_past_the_limit_are_refused_unchecked(self):
        answers = []

        def guess(i):
            t0 = time.monotonic()
            status, headers, _ = harness.curl(self.server, "/", user="slow", password="guess-%d" % i)
            answers.append((status, headers.get("retry-after"), time.monotonic() - t0))

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        codes = sorted(a[0] for a in answers)
        # Two checks run (about a second each); the guesses that came while
        # they ran were answered at once, unchecked.
        self.assertEqual(codes.count(401) + codes.count(503), 6, answers)
        self.assertGreaterEqual(codes.count(401), 2, answers)
        self.assertGreaterEqual(codes.count(503), 1, answers)
        for status, retry, seconds in answers:
            if status == 503:
                self.assertEqual(retry, "1")
                self.assertLess(seconds, 0.6, answers)
        self.assertEqual(self.server.log().count("refusing new logins unchecked"), 1)
        # Once they drain, logins are checked again.
        status, _, _ = harness.curl(self.server, "/", user="slow")
        self.assertEqual(status, 200)


class Ban(OneWorker):
    BAN = 4
    USERS = ("alice", "bob")
    LIMITS = "max_login_failures = 3; login_ban_seconds = %d;" % BAN

    def test_failed_logins_ban_the_address_then_it_lifts(self):
        self.assertEqual(harness.curl(self.server, "/", user="bob")[0], 200)  # bob's password is known good
        for i in range(3):
            status, _, _ = harness.curl(self.server, "/", user="alice", password="guess-%d" % i)
            self.assertEqual(status, 401)
        self.assertTrue(self.server.wait_log("logins: banning 127.0.0.1 for %d s after 3 failed logins" % self.BAN, 5),
                        self.server.log()[-2000:])
        banned_at = time.monotonic()
        # During the ban even a right password, verified before, gets 429
        # (with the seconds left). A request without credentials still gets 401.
        status, headers, body = harness.curl(self.server, "/", user="bob")
        self.assertEqual(status, 429, body)
        self.assertIn(b"too many failed logins", body)
        self.assertTrue(1 <= int(headers.get("retry-after", "0")) <= self.BAN + 1, headers)
        status, _, _ = harness.curl(self.server, "/", user="alice", http="--http2")
        self.assertEqual(status, 429)
        self.assertEqual(harness.curl(self.server, "/", user=None)[0], 401)
        # Once it lifts, the right password works.
        time.sleep(max(0.0, self.BAN + 1.2 - (time.monotonic() - banned_at)))
        status, _, _ = harness.curl(self.server, "/", user="bob")
        self.assertEqual(status, 200)


class OneCacheForEveryWorker(OneWorker):
    """A password verified on one worker is known to the other (the kernel
    spreads connections between them): no second one-second check. During a
    ban even it gets 429, on every worker: a known password let through
    would tell right guesses from wrong ones."""
    WORKERS = 2
    USERS = ("bob",)
    SLOW = ("slow",)
    LIMITS = "max_login_failures = 3; login_ban_seconds = 30;"

    def test_verified_once_for_both_workers_and_banned_alike(self):
        self.assertEqual(harness.curl(self.server, "/", user="slow")[0], 200)  # checked: about a second
        # Twelve fresh connections: all on the first worker has odds of 1 in 4096.
        slowest = 0.0
        for _ in range(12):
            t0 = time.monotonic()
            self.assertEqual(harness.curl(self.server, "/", user="slow")[0], 200)
            slowest = max(slowest, time.monotonic() - t0)
        self.assertLess(slowest, 0.6, "a worker checked the password again")
        for i in range(3):
            self.assertEqual(harness.curl(self.server, "/", user="bob", password="guess-%d" % i)[0], 401)
        self.assertTrue(self.server.wait_log("logins: banning 127.0.0.1", 5), self.server.log()[-2000:])
        codes = [harness.curl(self.server, "/", user="slow")[0] for _ in range(12)]
        self.assertEqual(codes, [429] * 12)


class BanPerIPv6Slash64(unittest.TestCase):
    """An IPv6 client is banned as its /64 (a host may use any address in
    it); the IPv4 client beside it is another one."""

    def test_ipv6_ban_names_the_64_and_spares_ipv4(self):
        v6 = harness.free_port()
        svc = [{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]},
               {"type": "https", "address": "::1", "port": v6, "certificates": ["main"]}]
        server = harness.Server(users=[{"name": "alice", "password": pw("alice"), "perms": ALL}], services=svc,
                                extra="limits = { max_login_failures = 2; login_ban_seconds = 30; };")
        self.addCleanup(server.cleanup)
        server.start()

        def code(url, password):
            out = subprocess.run(["curl", "-sk", "-g", "-u", "alice:" + password, "-o", "/dev/null", "-w",
                                  "%{http_code}", url], capture_output=True, text=True, timeout=20)
            return out.stdout

        url6 = "https://[::1]:%d/" % v6
        self.assertEqual([code(url6, "guess-%d" % i) for i in range(2)], ["401", "401"])
        self.assertTrue(server.wait_log("logins: banning ::/64 for 30 s after 2 failed logins", 5),
                        server.log()[-2000:])
        self.assertEqual(code(url6, pw("alice")), "429")
        self.assertEqual(code(server.url("/"), pw("alice")), "200")


class BanCountsGivenUpChecks(OneWorker):
    """A guess whose client gives up before the check ends still counts."""
    USERS = ("bob",)
    SLOW = ("slow",)
    LIMITS = "max_login_failures = 3; login_ban_seconds = 30;"

    def test_reset_guesses_are_counted(self):
        for i in range(3):
            # curl gives up (exit 28) long before the one-second check ends.
            subprocess.run(["curl", "-sk", "--http2", "--max-time", "0.3", "-u", "slow:guess-%d" % i,
                            self.server.url("/")], capture_output=True, timeout=10)
        self.assertTrue(self.server.wait_log("logins: banning 127.0.0.1", 15), self.server.log()[-2000:])
        self.assertEqual(self.server.log().count(
            'login failed for user "slow" (the client left before the check ended)'), 3)
        self.assertEqual(harness.curl(self.server, "/", user="bob")[0], 429)


class BanHidesARightGuess(OneWorker):
    """A right password whose check ends after the ban began is not told,
    and not remembered either (the cache is no way around the ban)."""
    USERS = ("alice",)
    SLOW = ("slow",)
    LIMITS = "max_login_failures = 3; login_ban_seconds = 30;"

    def test_right_guess_after_the_ban_began(self):
        result = {}
        t = threading.Thread(target=lambda: result.update(
            status=harness.curl(self.server, "/", user="slow", password="slow-pw")[0]))
        t.start()
        time.sleep(0.2)  # the slow, right guess is being checked
        for i in range(3):  # three quick wrong ones ban the address meanwhile
            self.assertEqual(harness.curl(self.server, "/", user="alice", password="guess-%d" % i)[0], 401)
        self.assertTrue(self.server.wait_log("logins: banning 127.0.0.1", 5))
        t.join(30)
        self.assertEqual(result.get("status"), 429)
        # Asked again: still unchecked, still 429 (it was not remembered as good).
        self.assertEqual(harness.curl(self.server, "/", user="slow", password="slow-pw")[0], 429)


def sha512_hash(password):
    """A sha512-crypt ("$6$", 5000 rounds) hash: a millisecond to check,
    against the tens of a yescrypt one."""
    import ctypes
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    h = lib.crypt(password.encode(), lib.crypt_gensalt(b"$6$", 0, None, 0))
    assert h and h.startswith(b"$6$"), h
    return h.decode()


class UnknownNamesCostAWrongPassword(OneWorker):
    """A name that does not exist is checked against a dummy hash of the
    configured users' kind: with sha512-crypt users, a yescrypt dummy would
    answer an unknown name tens of times slower than a wrong password, and
    tell which names exist."""
    LIMITS = "max_login_failures = 1000;"

    @classmethod
    def setUpClass(cls):
        users = [{"name": n, "password": pw(n), "hash": sha512_hash(pw(n)), "perms": ALL} for n in ("alice", "bob")]
        cls.server = harness.Server(users=users, workers=1, extra="limits = { %s };" % cls.LIMITS)
        cls.addClassCleanup(cls.server.cleanup)
        cls.server.start()

    def answer_time(self, user, password):
        """Seconds from request to answer on a connection already set up
        (each guess is new, so no cache answers it)."""
        with harness.RawTLS(self.server) as c:
            t0 = time.monotonic()
            c.send("GET / HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n"
                   % harness.basic_auth(user, password))
            status = c.read_response()[0]
            seconds = time.monotonic() - t0
        self.assertEqual(status, 401)
        return seconds

    def test_unknown_name_and_wrong_password_take_alike(self):
        unknown, wrong = [], []
        for i in range(9):
            unknown.append(self.answer_time("nobody%d" % i, "guess-%d" % i))
            wrong.append(self.answer_time("alice", "guess-%d" % i))
        unknown.sort()
        wrong.sort()
        ratio = unknown[4] / wrong[4]  # medians
        self.assertLess(ratio, 5, "unknown name %.1f ms, wrong password %.1f ms"
                        % (unknown[4] * 1000, wrong[4] * 1000))
        self.assertGreater(ratio, 0.2, "unknown name %.1f ms, wrong password %.1f ms"
                           % (unknown[4] * 1000, wrong[4] * 1000))


if __name__ == "__main__":
    harness.main()
