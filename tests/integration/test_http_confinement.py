"""Path confinement: whatever the request-target says, a user reads and
changes only what lies beneath their home. Targets are sent unnormalised
(curl --path-as-is, and raw bytes over a TLS socket), and symlinks inside the
home point at /etc, at another user's home and at a folder the server could
write to, so a failure of confinement would show as content or a change."""

import hashlib
import json
import os
import pwd
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

ALICE = harness.basic_auth("alice", "alice-pw")
OUTSIDE_SECRET = b"OUTSIDE-SECRET-CONTENT"
READER_SECRET = b"READER-PRIVATE-CONTENT"

# Targets that try to climb out of the home by their text alone.
ESCAPES = [
    "/../reader/secret.txt",
    "/../../../../../../etc/passwd",
    "/%2e%2e/reader/secret.txt",
    "/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    "/.%2e/.%2e/etc/passwd",
    "/a/%2e%2e/%2e%2e/etc/passwd",
    "/sub/../../reader/secret.txt",
    "/sub/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2f..%2fetc/passwd",
    "/%2fetc%2fpasswd",
    "/sub%2f..%2f..%2freader/secret.txt",
    "/%2e%2e%2freader%2fsecret.txt",
    "/..\\..\\..\\etc\\passwd",
    "/%5c..%5c..%5cetc%5cpasswd",
    "//etc/passwd",
    "///../etc/passwd",
    "/etc/passwd%00.txt",
    "/%252e%252e/%252e%252e/etc/passwd",
    "/./../reader/secret.txt",
]

# Symlinks in alice's home that lead out of it.
LINK_ESCAPES = [
    "/evil/passwd",
    "/evil/",
    "/evil",
    "/evil2/secret.txt",
    "/evil2/",
    "/evil3",
    "/outlink/secret.txt",
    "/outlink/",
    "/outfile",
    "/sub/deeper/up",
    "/sub/deeper/up/secret.txt",
]


class Confinement(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server()
        cls.addClassCleanup(cls.server.cleanup)  # even if setUpClass fails
        home = cls.server.home()
        os.makedirs(os.path.join(home, "sub", "deeper"))
        with open(os.path.join(home, "sub", "ok.txt"), "wb") as f:
            f.write(b"inside the home")
        with open(os.path.join(cls.server.home("reader"), "secret.txt"), "wb") as f:
            f.write(READER_SECRET)
        os.symlink("/etc", os.path.join(home, "evil"))
        os.symlink("../reader", os.path.join(home, "evil2"))
        os.symlink("/etc/passwd", os.path.join(home, "evil3"))
        os.symlink("../../../reader", os.path.join(home, "sub", "deeper", "up"))
        os.symlink("sub/ok.txt", os.path.join(home, "inlink"))
        # A folder outside every home that the server's user could write to:
        # only confinement keeps requests away from it.
        cls.outside = os.path.join(cls.server.dir, "outside")
        os.makedirs(cls.outside)
        with open(os.path.join(cls.outside, "secret.txt"), "wb") as f:
            f.write(OUTSIDE_SECRET)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
            for p in (cls.outside, os.path.join(cls.outside, "secret.txt")):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        os.symlink(cls.outside, os.path.join(home, "outlink"))
        os.symlink(os.path.join(cls.outside, "secret.txt"), os.path.join(home, "outfile"))
        os.symlink(os.path.join(cls.outside, "secret.txt"), os.path.join(home, "outfile2"))
        with open("/etc/passwd", "rb") as f:
            cls.passwd_sha = hashlib.sha256(f.read()).hexdigest()
        cls.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def assertNothingLeaked(self, status, body, allowed=(400, 403, 404)):
        self.assertIn(status, allowed)
        self.assertNotIn(b"root:x:", body)
        self.assertNotIn(b"root:", body)
        self.assertNotIn(OUTSIDE_SECRET, body)
        self.assertNotIn(READER_SECRET, body)
        self.assertNotIn(b"passwd", body.replace(b"/etc/passwd", b""))  # no listing of /etc

    def assertOutsideUntouched(self):
        self.assertEqual(sorted(os.listdir(self.outside)), ["secret.txt"])
        with open(os.path.join(self.outside, "secret.txt"), "rb") as f:
            self.assertEqual(f.read(), OUTSIDE_SECRET)
        self.assertEqual(sorted(os.listdir(self.server.home("reader"))), ["secret.txt"])
        with open(os.path.join(self.server.home("reader"), "secret.txt"), "rb") as f:
            self.assertEqual(f.read(), READER_SECRET)
        with open("/etc/passwd", "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), self.passwd_sha)
        if os.geteuid() == 0:
            self.assertNotEqual(os.stat("/etc/passwd").st_uid, pwd.getpwnam("nobody").pw_uid)

    def raw(self, method, target, body=b""):
        """One request with exactly this request-target, over HTTP/1.1."""
        with harness.RawTLS(self.server) as c:
            head = ("%s %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\nConnection: close\r\n"
                    "Content-Length: %d\r\n\r\n" % (method, target, ALICE, len(body)))
            c.send(head.encode("latin-1") + body)
            status, _, rbody = c.read_response()
            return status, rbody

    # --- reading --------------------------------------------------------------

    def test_sanity_inside_home_works(self):
        status, body = self.raw("GET", "/sub/ok.txt")
        self.assertEqual((status, body), (200, b"inside the home"))
        status, body = self.raw("GET", "/sub/../sub/./ok.txt")
        self.assertEqual((status, body), (200, b"inside the home"))

    def test_dot_segments_raw(self):
        for target in ESCAPES:
            with self.subTest(target=target):
                status, body = self.raw("GET", target)
                self.assertNothingLeaked(status, body)

    def test_dot_segments_curl_path_as_is(self):
        for http in ("--http1.1", "--http2"):
            for target in ESCAPES:
                if "\\" in target:
                    continue  # not a valid URL for curl; covered raw
                with self.subTest(http=http, target=target):
                    status, _, body = harness.curl(self.server, target, http=http, args=["--path-as-is"])
                    self.assertNothingLeaked(status, body)

    def test_climbing_out_is_a_bad_request(self):
        """Leaving the home is refused outright, not clamped to the home."""
        for target in ("/../reader/secret.txt", "/%2e%2e/reader/secret.txt", "/a/%2e%2e/%2e%2e/etc/passwd",
                       "/..%2f..%2fetc/passwd"):
            with self.subTest(target=target):
                status, body = self.raw("GET", target)
                self.assertEqual(status, 400)
                self.assertNothingLeaked(status, body)

    def test_absolute_form_and_odd_targets(self):
        # The absolute form is taken (RFC 9112 3.2.2) and its path confined
        # as any other.
        status, body = self.raw("GET", "https://localhost:%d/sub/ok.txt" % self.server.port)
        self.assertEqual((status, body), (200, b"inside the home"))
        for target in ("https://localhost/../../etc/passwd", "http://localhost/etc/passwd",
                       "https://localhost/%2e%2e/%2e%2e/etc/passwd", "https://x@localhost/etc/passwd",
                       "etc/passwd", "*", "../../etc/passwd", "/etc/passwd#/../..", "/%zz/../../etc/passwd"):
            with self.subTest(target=target):
                status, body = self.raw("GET", target)
                self.assertNothingLeaked(status, body)

    def test_symlinks_leading_out_refused(self):
        for http in ("--http1.1", "--http2"):
            for target in LINK_ESCAPES:
                with self.subTest(http=http, target=target):
                    status, headers, body = harness.curl(self.server, target, http=http,
                                                         args=["-H", "Accept: application/json"])
                    if status == 301:  # "/evil" -> "/evil/": follow it once by hand
                        self.assertEqual(headers.get("location"), target + "/")
                        status, _, body = harness.curl(self.server, target + "/", http=http)
                    self.assertEqual(status, 403, target)
                    self.assertNothingLeaked(status, body)
        self.assertIn("refused path leaving the home", self.server.log())

    def test_symlink_within_home(self):
        """A link that stays in the home may be followed (openat2) or refused
        (the stricter fallback walk), never anything else."""
        status, _, body = harness.curl(self.server, "/inlink")
        self.assertIn(status, (200, 403))
        if status == 200:
            self.assertEqual(body, b"inside the home")

    def test_listing_shows_links_without_following(self):
        status, _, body = harness.curl(self.server, "/", args=["-H", "Accept: application/json"])
        self.assertEqual(status, 200)
        entries = {e["name"]: e for e in json.loads(body)["entries"]}
        self.assertEqual(entries["evil"]["type"], "link")
        self.assertEqual(entries["evil3"]["size"], 0)
        self.assertNotIn(b"root:", body)

    def test_range_and_head_through_links(self):
        for target in ("/evil3", "/outfile", "/evil2/secret.txt"):
            with self.subTest(target=target):
                status, _, body = harness.curl(self.server, target, args=["-H", "Range: bytes=0-3"])
                self.assertNothingLeaked(status, body, allowed=(403,))
                status, headers, _ = harness.curl(self.server, target, args=["-I", "-o", os.devnull])
                self.assertEqual(status, 403)
                self.assertNotIn("etag", headers)

    # --- changing ------------------------------------------------------------------

    def test_writes_through_escaping_links_refused(self):
        attempts = [
            ("PUT", "/evil2/pwned.txt"),
            ("PUT", "/outlink/pwned.txt"),
            ("PUT", "/evil/pwned.txt"),
            ("PUT", "/sub/deeper/up/pwned.txt"),
            ("DELETE", "/evil2/secret.txt"),
            ("DELETE", "/outlink/secret.txt"),
            ("DELETE", "/sub/deeper/up/secret.txt"),
            ("MKCOL", "/evil2/newdir"),
            ("MKCOL", "/outlink/newdir"),
            ("MKCOL", "/evil/newdir"),
        ]
        for http in ("--http1.1", "--http2"):
            for method, target in attempts:
                with self.subTest(http=http, method=method, target=target):
                    args = ["-X", method]
                    if method == "PUT":
                        args += ["--data-binary", "pwned"]
                    status, _, _ = harness.curl(self.server, target, http=http, args=args)
                    self.assertEqual(status, 403)
                    self.assertOutsideUntouched()

    def test_writes_with_dot_segments_refused(self):
        for method, target in [("PUT", "/../reader/pwned.txt"), ("PUT", "/%2e%2e/reader/pwned.txt"),
                               ("PUT", "/sub/%2e%2e/%2e%2e/reader/pwned.txt"), ("PUT", "/..%2freader%2fpwned.txt"),
                               ("DELETE", "/../reader/secret.txt"), ("DELETE", "/%2e%2e/reader/secret.txt"),
                               ("MKCOL", "/../reader/newdir"), ("MKCOL", "/%2e%2e/outside"),
                               ("DELETE", "/.."), ("DELETE", "/%2e%2e"), ("PUT", "/%2e%2e")]:
            with self.subTest(method=method, target=target):
                status, _ = self.raw(method, target, b"pwned" if method == "PUT" else b"")
                self.assertIn(status, (400, 403, 404, 405, 409))
                self.assertOutsideUntouched()
                self.assertFalse(os.path.exists(os.path.join(self.server.dir, "home", "pwned.txt")))

    def test_put_replacing_a_link_never_writes_its_target(self):
        """PUT onto the name of a link replaces the name in the home; the file
        the link pointed to (outside) stays as it was."""
        status, _, _ = harness.curl(self.server, "/outfile2", args=["--data-binary", "replaced", "-X", "PUT"])
        self.assertIn(status, (201, 204, 403))
        self.assertOutsideUntouched()
        if status in (201, 204):
            self.assertFalse(os.path.islink(os.path.join(self.server.home(), "outfile2")))
            with open(os.path.join(self.server.home(), "outfile2"), "rb") as f:
                self.assertEqual(f.read(), b"replaced")


if __name__ == "__main__":
    harness.main()
