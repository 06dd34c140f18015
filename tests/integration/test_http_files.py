"""Downloads over HTTPS, as a user sees them, over both HTTP/1.1 and HTTP/2:
authentication, GET/HEAD with validators and content types, conditional
requests, byte ranges, folder redirects and listings (HTML and JSON), the
access log. The same checks run once per protocol (see the two classes at the
end), each against its own server."""

import calendar
import email.utils
import base64
import hashlib
import json
import urllib.parse
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

# A fixed, past modification time, so Last-Modified can be checked exactly.
MTIME = calendar.timegm((2021, 3, 4, 5, 6, 7))
HIDDEN = ".wharf-upload.secret.txt.0123456789abcdef"


def http_date_to_epoch(value):
    return int(email.utils.parsedate_to_datetime(value).timestamp())


class FilesChecks:
    """Mixed into one TestCase per protocol; HTTP is the curl protocol flag."""

    HTTP = None
    VERSION = None

    @classmethod
    def setUpClass(cls):
        # Logins are refused on purpose here, more often than the default
        # per-address ban allows; test_http_login.py covers the ban.
        cls.server = harness.Server(extra="limits = { max_login_failures = 1000; };")
        cls.addClassCleanup(cls.server.cleanup)  # even if setUpClass fails
        home = cls.server.home()
        cls.big = os.urandom(3 * 1024 * 1024 + 123)
        cls.files = {
            "small.txt": b"hello, wharf\n",
            "page.html": b"<!doctype html><title>x</title>\n",
            "pic.png": b"\x89PNG\r\n\x1a\n" + os.urandom(200),
            "style.css": b"body { color: red }\n",
            "noext": b"no extension here\n",
            "big.bin": cls.big,
            "hello world.txt": b"a name with a space\n",
            "\u00fcn\u00efc\u00f6de.txt".encode(): b"utf-8 name\n",
        }
        for name, data in cls.files.items():
            path = os.path.join(home.encode(), name if isinstance(name, bytes) else name.encode())
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (MTIME, MTIME))
        # Names that need escaping in HTML and JSON, and in a Location.
        cls.tricky = '<b>x<i> & "q" \\ \'s.txt'
        with open(os.path.join(home, cls.tricky), "wb") as f:
            f.write(b"tricky")
        os.makedirs(os.path.join(home, "a dir"))
        open(os.path.join(home, "empty.txt"), "wb").close()
        os.makedirs(os.path.join(home, "dir", "sub"))
        cls.dir_files = {"one.txt": b"1" * 10, "two.json": b'{"two": 2}\n'}
        for name, data in cls.dir_files.items():
            with open(os.path.join(home, "dir", name), "wb") as f:
                f.write(data)
        # An upload temp file as a crashed upload would leave it: never shown.
        with open(os.path.join(home, "dir", HIDDEN), "wb") as f:
            f.write(b"half an upload")
        with open(os.path.join(cls.server.home("reader"), "readme.txt"), "wb") as f:
            f.write(b"for the reader\n")
        # A folder the server may read but not search (r-- for its user):
        # readdir gives the names, a stat of each EACCES.
        cls.unsearchable = os.path.join(home, "unsearchable")
        os.makedirs(os.path.join(cls.unsearchable, "deeper"))
        with open(os.path.join(cls.unsearchable, "inside.txt"), "wb") as f:
            f.write(b"out of reach\n")
        # A file dated a day ahead (a skewed clock, an unpacked archive).
        cls.future = os.path.join(home, "future.txt")
        with open(cls.future, "wb") as f:
            f.write(b"from tomorrow\n")
        cls.server.start()  # gives the homes to the server's user
        os.chmod(cls.unsearchable, 0o644)
        cls.addClassCleanup(os.chmod, cls.unsearchable, 0o755)  # so the cleanup can remove it

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def curl(self, path, **kw):
        kw.setdefault("http", self.HTTP)
        return harness.curl(self.server, path, **kw)

    # --- protocol -----------------------------------------------------------

    def test_protocol_negotiated(self):
        version, code = harness.curl_http_version(self.server, "/small.txt", http=self.HTTP)
        self.assertEqual(code, 200)
        self.assertEqual(version, self.VERSION)

    # --- authentication -----------------------------------------------------

    def test_no_credentials_401(self):
        status, headers, body = self.curl("/small.txt", user=None)
        self.assertEqual(status, 401)
        self.assertTrue(headers.get("www-authenticate", "").startswith("Basic "), headers)
        self.assertIn('realm="', headers["www-authenticate"])
        self.assertNotIn(b"hello, wharf", body)

    def test_wrong_password_401(self):
        status, headers, body = self.curl("/small.txt", user="alice", password="not-the-password")
        self.assertEqual(status, 401)
        self.assertIn("Basic", headers.get("www-authenticate", ""))
        self.assertNotIn(b"hello, wharf", body)

    def test_unknown_user_401(self):
        status, headers, body = self.curl("/small.txt", user="mallory", password="alice-pw")
        self.assertEqual(status, 401)
        self.assertIn("Basic", headers.get("www-authenticate", ""))

    def test_malformed_authorization_401(self):
        for value in ("Basic !!!not-base64!!!", "Bearer abc.def.ghi", "Basic " + "QQ==",
                      harness.basic_auth("alice", "").replace("Basic", "Digest")):
            with self.subTest(authorization=value):
                status, headers, _ = self.curl("/small.txt", user=None, args=["-H", "Authorization: " + value])
                self.assertEqual(status, 401)
                self.assertIn("Basic", headers.get("www-authenticate", ""))

    def test_other_user_sees_own_home(self):
        status, _, body = self.curl("/readme.txt", user="reader")
        self.assertEqual((status, body), (200, b"for the reader\n"))
        # alice's files are not in reader's home.
        status, _, body = self.curl("/small.txt", user="reader")
        self.assertEqual(status, 404)
        self.assertNotIn(b"hello, wharf", body)

    # --- GET / HEAD ---------------------------------------------------------

    def test_get_small_file_with_validators(self):
        status, headers, body = self.curl("/small.txt")
        self.assertEqual(status, 200)
        self.assertEqual(body, self.files["small.txt"])
        self.assertEqual(int(headers["content-length"]), len(self.files["small.txt"]))
        self.assertEqual(http_date_to_epoch(headers["last-modified"]), MTIME)
        self.assertRegex(headers["etag"], r'^(W/)?"[^"]+"$')
        self.assertEqual(headers.get("accept-ranges"), "bytes")
        # The validator is stable for an unchanged file.
        self.assertEqual(self.curl("/small.txt")[1]["etag"], headers["etag"])

    def test_content_type_by_extension(self):
        expect = {
            "/small.txt": "text/plain",
            "/page.html": "text/html",
            "/pic.png": "image/png",
            "/style.css": "text/css",
            "/noext": "application/octet-stream",
            "/big.bin": "application/octet-stream",
            "/dir/two.json": "application/json",
        }
        for path, ctype in expect.items():
            with self.subTest(path=path):
                status, headers, _ = self.curl(path)
                self.assertEqual(status, 200)
                self.assertEqual(headers["content-type"].split(";")[0].strip(), ctype)
        # A user's HTML must not run script on the server's origin.
        self.assertIn("sandbox", self.curl("/page.html")[1].get("content-security-policy", ""))

    def test_names_needing_escapes(self):
        status, _, body = self.curl("/hello%20world.txt")
        self.assertEqual((status, body), (200, b"a name with a space\n"))
        status, _, body = self.curl("/%C3%BCn%C3%AFc%C3%B6de.txt")
        self.assertEqual((status, body), (200, b"utf-8 name\n"))

    def test_big_file_byte_identical(self):
        status, headers, body = self.curl("/big.bin")
        self.assertEqual(status, 200)
        self.assertEqual(int(headers["content-length"]), len(self.big))
        self.assertEqual(hashlib.sha256(body).hexdigest(), hashlib.sha256(self.big).hexdigest())

    def test_head_has_get_headers_and_no_body(self):
        _, get_headers, _ = self.curl("/big.bin")
        status, headers, body = self.curl("/big.bin", args=["-I", "-o", os.devnull])
        self.assertEqual(status, 200)
        self.assertEqual(body.strip(), b"")
        for name in ("content-length", "etag", "last-modified", "content-type"):
            self.assertEqual(headers.get(name), get_headers.get(name), name)

    def test_missing_file_404(self):
        status, _, _ = self.curl("/no-such-file.txt")
        self.assertEqual(status, 404)
        status, _, _ = self.curl("/no-such-dir/file.txt")
        self.assertEqual(status, 404)

    def test_file_with_trailing_slash_is_not_a_folder(self):
        status, _, body = self.curl("/small.txt/")
        self.assertEqual(status, 404)
        self.assertNotIn(b"hello, wharf", body)

    # --- conditional requests -----------------------------------------------

    def test_if_none_match(self):
        etag = self.curl("/small.txt")[1]["etag"]
        status, headers, body = self.curl("/small.txt", args=["-H", "If-None-Match: " + etag])
        self.assertEqual(status, 304)
        self.assertEqual(body, b"")
        self.assertEqual(headers.get("etag"), etag)
        status, _, body = self.curl("/small.txt", args=["-H", 'If-None-Match: "something-else", ' + etag])
        self.assertEqual(status, 304)
        status, _, body = self.curl("/small.txt", args=["-H", "If-None-Match: W/" + etag])
        self.assertEqual(status, 304, "weak comparison applies to If-None-Match")
        status, _, body = self.curl("/small.txt", args=["-H", "If-None-Match: *"])
        self.assertEqual(status, 304)
        status, _, body = self.curl("/small.txt", args=["-H", 'If-None-Match: "something-else"'])
        self.assertEqual((status, body), (200, self.files["small.txt"]))

    def test_if_modified_since(self):
        lm = self.curl("/small.txt")[1]["last-modified"]
        status, _, body = self.curl("/small.txt", args=["-H", "If-Modified-Since: " + lm])
        self.assertEqual((status, body), (304, b""))
        later = email.utils.formatdate(MTIME + 3600, usegmt=True)
        self.assertEqual(self.curl("/small.txt", args=["-H", "If-Modified-Since: " + later])[0], 304)
        earlier = email.utils.formatdate(MTIME - 86400, usegmt=True)
        status, _, body = self.curl("/small.txt", args=["-H", "If-Modified-Since: " + earlier])
        self.assertEqual((status, body), (200, self.files["small.txt"]))
        # An unparseable date is ignored, not an error.
        status, _, body = self.curl("/small.txt", args=["-H", "If-Modified-Since: yesterday-ish"])
        self.assertEqual((status, body), (200, self.files["small.txt"]))

    def test_future_mtime_is_sent_as_the_date(self):
        """RFC 9110 8.8.2.1: no Last-Modified later than the Date; a file
        dated in the future is sent as modified at the Date. Conditionals
        judge its own time, later than any date sent: If-Modified-Since
        with that Last-Modified is no 304, and If-Range with it (a date the
        Date equals is a weak validator, 8.8.2.2) gives the whole file."""
        ahead = int(time.time()) + 86400
        os.utime(self.future, (ahead, ahead))
        status, headers, body = self.curl("/future.txt")
        self.assertEqual((status, body), (200, b"from tomorrow\n"))
        lm, date = http_date_to_epoch(headers["last-modified"]), http_date_to_epoch(headers["date"])
        self.assertLessEqual(lm, date)
        self.assertLess(lm, ahead - 3600)
        status, _, body = self.curl("/future.txt", args=["-H", "If-Modified-Since: " + headers["last-modified"]])
        self.assertEqual((status, body), (200, b"from tomorrow\n"))
        status, h2, body = self.curl("/future.txt", args=["-r", "0-3", "-H", "If-Range: " + headers["last-modified"]])
        self.assertEqual((status, body), (200, b"from tomorrow\n"))
        status, _, body = self.curl("/future.txt", args=["-r", "0-3", "-H", "If-Range: " + headers["etag"]])
        self.assertEqual((status, body), (206, b"from"))
        # A file from the past keeps its own date.
        _, headers, _ = self.curl("/small.txt")
        self.assertEqual(http_date_to_epoch(headers["last-modified"]), MTIME)

    def test_if_none_match_wins_over_if_modified_since(self):
        lm = self.curl("/small.txt")[1]["last-modified"]
        status, _, body = self.curl("/small.txt", args=["-H", 'If-None-Match: "other"',
                                                        "-H", "If-Modified-Since: " + lm])
        self.assertEqual((status, body), (200, self.files["small.txt"]))

    def test_etag_changes_with_content(self):
        path = os.path.join(self.server.home(), "changing-%s.txt" % self.VERSION)
        with open(path, "wb") as f:
            f.write(b"version one\n")
        os.chmod(path, 0o644)
        status, headers, body = self.curl("/" + os.path.basename(path))
        self.assertEqual((status, body), (200, b"version one\n"))
        old = headers["etag"]
        with open(path, "wb") as f:
            f.write(b"version two, longer\n")
        status, headers, body = self.curl("/" + os.path.basename(path), args=["-H", "If-None-Match: " + old])
        self.assertEqual((status, body), (200, b"version two, longer\n"))
        self.assertNotEqual(headers["etag"], old)

    # --- ranges ---------------------------------------------------------------

    def range_get(self, spec, extra=()):
        return self.curl("/big.bin", args=["-H", "Range: " + spec] + list(extra))

    def test_range_closed(self):
        size = len(self.big)
        status, headers, body = self.range_get("bytes=100-1099")
        self.assertEqual(status, 206)
        self.assertEqual(headers["content-range"], "bytes 100-1099/%d" % size)
        self.assertEqual(int(headers["content-length"]), 1000)
        self.assertEqual(body, self.big[100:1100])

    def test_field_of_one_value_twice_400(self):
        # Which line counts is for a proxy in front to guess: a wrong
        # password then the right one, or two ranges, are refused, over
        # either protocol alike.
        pw = {u["name"]: u["password"] for u in self.server.users}["alice"]
        good = base64.b64encode(("alice:" + pw).encode()).decode()
        bad = base64.b64encode(b"alice:nope").decode()
        for first, second in ((bad, good), (good, bad)):
            status, _, body = self.curl("/small.txt", user=None, args=[
                "-H", "Authorization: Basic " + first, "-H", "Authorization: Basic " + second])
            self.assertEqual(status, 400, body)
            self.assertIn(b"authorization twice", body)
        status, _, body = self.curl("/small.txt", args=["-H", "Range: bytes=0-1", "-H", "Range: bytes=4-5"])
        self.assertEqual(status, 400, body)
        self.assertNotIn(b"hello", body)
        # A list field's lines are one list: Accept twice is fine.
        status, headers, _ = self.curl("/", args=["-H", "Accept: text/plain", "-H", "Accept: application/json"])
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("application/json"), headers)

    def test_options_asterisk(self):
        # OPTIONS * asks about the server as a whole (RFC 9110 9.3.7); no
        # other method takes * as its target.
        status, headers, _ = self.curl("/", args=["-X", "OPTIONS", "--request-target", "*"])
        self.assertEqual(status, 204)
        self.assertIn("PUT", headers.get("allow", ""))
        if self.HTTP == "--http1.1":  # nghttp2 resets such an HTTP/2 stream itself
            status, _, _ = self.curl("/", args=["--request-target", "*"])
            self.assertEqual(status, 400)

    def test_range_across_large_offsets(self):
        size = len(self.big)
        start, end = 1024 * 1024 - 7, 3 * 1024 * 1024 + 5
        status, headers, body = self.range_get("bytes=%d-%d" % (start, end))
        self.assertEqual(status, 206)
        self.assertEqual(headers["content-range"], "bytes %d-%d/%d" % (start, end, size))
        self.assertEqual(body, self.big[start:end + 1])

    def test_range_suffix(self):
        size = len(self.big)
        status, headers, body = self.range_get("bytes=-500")
        self.assertEqual(status, 206)
        self.assertEqual(headers["content-range"], "bytes %d-%d/%d" % (size - 500, size - 1, size))
        self.assertEqual(body, self.big[-500:])

    def test_range_open_ended_and_clamped(self):
        size = len(self.big)
        status, headers, body = self.range_get("bytes=%d-" % (size - 10))
        self.assertEqual(status, 206)
        self.assertEqual(body, self.big[-10:])
        self.assertEqual(headers["content-range"], "bytes %d-%d/%d" % (size - 10, size - 1, size))
        status, headers, body = self.range_get("bytes=%d-%d" % (size - 3, size + 1000))
        self.assertEqual(status, 206)
        self.assertEqual(body, self.big[-3:])
        self.assertEqual(headers["content-range"], "bytes %d-%d/%d" % (size - 3, size - 1, size))

    def test_range_unsatisfiable_416(self):
        size = len(self.big)
        for spec in ("bytes=%d-" % size, "bytes=%d-%d" % (size + 5, size + 10)):
            with self.subTest(spec=spec):
                status, headers, body = self.range_get(spec)
                self.assertEqual(status, 416)
                self.assertEqual(headers.get("content-range"), "bytes */%d" % size)
                self.assertNotIn(self.big[:64], body)

    def test_invalid_range_is_ignored(self):
        for spec in ("bytes=500-100", "items=0-10", "bytes=0-1,5-6"):
            with self.subTest(spec=spec):
                status, headers, body = self.range_get(spec)
                self.assertEqual(status, 200)
                self.assertNotIn("content-range", headers)
                self.assertEqual(len(body), len(self.big))

    def test_if_range(self):
        _, headers, _ = self.curl("/big.bin", args=["-I", "-o", os.devnull])
        etag, lm = headers["etag"], headers["last-modified"]
        status, _, body = self.range_get("bytes=0-9", ["-H", "If-Range: " + etag])
        self.assertEqual((status, body), (206, self.big[:10]))
        status, _, body = self.range_get("bytes=0-9", ["-H", "If-Range: " + lm])
        self.assertEqual((status, body), (206, self.big[:10]))
        # A stale validator: the whole, current file instead.
        status, headers2, body = self.range_get("bytes=0-9", ["-H", 'If-Range: "stale-etag"'])
        self.assertEqual(status, 200)
        self.assertNotIn("content-range", headers2)
        self.assertEqual(hashlib.sha256(body).digest(), hashlib.sha256(self.big).digest())
        stale_date = email.utils.formatdate(MTIME - 60, usegmt=True)
        status, _, body = self.range_get("bytes=0-9", ["-H", "If-Range: " + stale_date])
        self.assertEqual(status, 200)
        self.assertEqual(len(body), len(self.big))

    # --- folders ----------------------------------------------------------------

    def test_folder_without_slash_redirects(self):
        status, headers, _ = self.curl("/dir")
        self.assertEqual(status, 301)
        self.assertEqual(headers.get("location"), "/dir/")
        status, headers, _ = self.curl("/dir/sub")
        self.assertEqual(status, 301)
        self.assertEqual(headers.get("location"), "/dir/sub/")

    def test_redirect_location_is_escaped(self):
        status, headers, _ = self.curl("/a%20dir")
        self.assertEqual(status, 301)
        self.assertEqual(headers.get("location"), "/a%20dir/")
        status, _, body = self.curl("/a%20dir/")
        self.assertEqual(status, 200)
        # The query goes along, as the client sent it (nginx keeps it too).
        status, headers, _ = self.curl("/a%20dir?sort=name&q=%22x%22")
        self.assertEqual(status, 301)
        self.assertEqual(headers.get("location"), "/a%20dir/?sort=name&q=%22x%22")

    def test_listing_escapes_names(self):
        status, _, body = self.curl("/")
        self.assertEqual(status, 200)
        self.assertNotIn(b"<b>x<i>", body, "a file name became markup")
        self.assertIn(b"&lt;b&gt;x&lt;i&gt;", body)
        doc = self.json_listing("/")
        self.assertIn(self.tricky, [e["name"] for e in doc["entries"]])

    def test_range_on_empty_file_416(self):
        status, headers, body = self.curl("/empty.txt", args=["-H", "Range: bytes=0-0"])
        self.assertEqual(status, 416)
        self.assertEqual(headers.get("content-range"), "bytes */0")
        status, headers, body = self.curl("/empty.txt")
        self.assertEqual((status, body, headers.get("content-length")), (200, b"", "0"))

    def test_html_listing(self):
        status, headers, body = self.curl("/dir/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"), headers)
        text = body.decode("utf-8")
        for name in self.dir_files:
            self.assertIn('href="%s"' % name, text)
        self.assertIn('href="sub/"', text)
        self.assertNotIn(".wharf-upload", text)
        self.assertNotIn("secret", text)

    def json_listing(self, path):
        status, headers, body = self.curl(path, args=["-H", "Accept: application/json"])
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"].split(";")[0], "application/json")
        return json.loads(body)

    def test_json_listing(self):
        doc = self.json_listing("/dir/")
        entries = {e["name"]: e for e in doc["entries"]}
        self.assertEqual(set(entries), set(self.dir_files) | {"sub"})
        for name, data in self.dir_files.items():
            self.assertEqual(entries[name]["size"], len(data))
            self.assertEqual(entries[name]["type"], "file")
        self.assertEqual(entries["sub"]["type"], "dir")
        self.assertFalse(doc.get("truncated"))

    def test_json_listing_of_home(self):
        doc = self.json_listing("/")
        entries = {e["name"]: e for e in doc["entries"]}
        for name, data in self.files.items():
            name = name.decode() if isinstance(name, bytes) else name
            self.assertIn(name, entries)
            self.assertEqual(entries[name]["size"], len(data))
        self.assertEqual(entries["dir"]["type"], "dir")
        self.assertFalse([n for n in entries if n.startswith(".wharf-upload")])

    def test_json_href_fetches_every_listed_file(self):
        # A name that is not UTF-8 shows as U+FFFD in "name", which names
        # another file; "href" has the raw bytes, as the HTML link does.
        # Before, JSON had no way to fetch such a file.
        home = self.server.home("alice")
        raw_name = b"bad\xff\xfe name.txt"
        with open(os.path.join(os.fsencode(home), raw_name), "wb") as f:
            f.write(b"latin bytes")
        self.addCleanup(os.unlink, os.path.join(os.fsencode(home), raw_name))
        doc = self.json_listing("/")
        entries = {e["name"]: e for e in doc["entries"]}
        shown = "bad\ufffd\ufffd name.txt"
        self.assertEqual(entries[shown]["href"], "bad%FF%FE%20name.txt")
        self.assertEqual(entries["dir"]["href"], "dir/")
        self.assertEqual(entries[self.tricky]["href"], urllib.parse.quote(self.tricky, safe=""))
        status, _, body = self.curl("/" + entries[shown]["href"])
        self.assertEqual((status, body), (200, b"latin bytes"))

    def test_listing_of_an_unsearchable_folder(self):
        """A folder the server may read but not search (mode r--) lists, its
        entries left out since none can be examined, as nginx's autoindex
        and the FTPS listings leave them: not a 500. Its entries stay out of
        reach (403)."""
        doc = self.json_listing("/unsearchable/")
        self.assertEqual(doc["entries"], [])
        status, headers, body = self.curl("/unsearchable/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"), headers)
        self.assertNotIn(b"inside.txt", body)
        self.assertEqual(self.curl("/unsearchable/inside.txt")[0], 403)

    def test_accept_quality_picks_format(self):
        status, headers, _ = self.curl("/dir/", args=["-H", "Accept: application/json;q=0.5, text/html"])
        self.assertTrue(headers["content-type"].startswith("text/html"), headers)
        status, headers, body = self.curl("/dir/", args=["-H", "Accept: text/html;q=0.1, application/json"])
        self.assertEqual(headers["content-type"].split(";")[0], "application/json")
        json.loads(body)

    def test_upload_temp_names_unreachable(self):
        status, _, body = self.curl("/dir/" + HIDDEN)
        self.assertEqual(status, 404)
        self.assertNotIn(b"half an upload", body)
        # In any case: a case-insensitive folder would find the server's file.
        status, _, _ = self.curl("/dir/" + HIDDEN.upper())
        self.assertEqual(status, 404)
        status, _, _ = self.curl("/dir/.Wharf-Upload.mine.txt", args=["-T", "-"], input=b"x")
        self.assertEqual(status, 404)
        self.assertNotIn(".Wharf-Upload.mine.txt", os.listdir(os.path.join(self.server.home(), "dir")))

    # --- access log -----------------------------------------------------------

    def test_access_log_lines(self):
        probe = "/log-probe-%s-%d.txt" % (self.VERSION, os.getpid())
        self.curl(probe)
        self.curl("/small.txt", user="alice", password="bad")
        proto = "HTTP/1.1" if self.VERSION == "1.1" else "HTTP/2"
        line_re = re.compile(r" alice GET %s %s 404 " % (re.escape(probe), re.escape(proto)))
        self.assertTrue(harness.wait_until(lambda: line_re.search(self.server.log()), timeout=5),
                        self.server.log()[-2000:])
        # A failed login is logged as such, and never as the user it claimed.
        self.assertTrue(harness.wait_until(
            lambda: re.search(r" - GET /small\.txt %s 401 " % re.escape(proto), self.server.log()), timeout=5))


class FilesHTTP1(FilesChecks, unittest.TestCase):
    HTTP = "--http1.1"
    VERSION = "1.1"

    def test_head_then_get_on_one_connection(self):
        """HEAD must not send a body: the next response on the connection
        would be corrupted if it did."""
        auth = harness.basic_auth("alice", "alice-pw")
        with harness.RawTLS(self.server) as c:
            c.send("HEAD /small.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n"
                   "GET /small.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n" % (auth, auth))
            status, headers, _ = c.read_response(head=True)
            self.assertEqual(status, 200)
            self.assertEqual(int(headers["content-length"]), len(self.files["small.txt"]))
            status, _, body = c.read_response()
            self.assertEqual((status, body), (200, self.files["small.txt"]))


    def test_raw_utf8_target(self):
        """A client that sends a non-ASCII name unencoded (RFC 9112 asks
        for percent-encoding; HTTP/2 carries it raw) gets the same file."""
        auth = harness.basic_auth("alice", "alice-pw")
        with harness.RawTLS(self.server) as c:
            c.send(b"GET /\xc3\xbcn\xc3\xafc\xc3\xb6de.txt HTTP/1.1\r\nHost: localhost\r\n"
                   b"Authorization: " + auth.encode() + b"\r\n\r\n")
            status, _, body = c.read_response()
            self.assertEqual((status, body), (200, b"utf-8 name\n"))
            # A raw control byte is still refused, and the connection with it.
            c.send(b"GET /a\x01b HTTP/1.1\r\nHost: localhost\r\n\r\n")
            status, _, _ = c.read_response()
            self.assertEqual(status, 400)


class FilesHTTP2(FilesChecks, unittest.TestCase):
    HTTP = "--http2"
    VERSION = "2"

    def test_many_streams_on_one_connection(self):
        """curl sends several URLs over one HTTP/2 connection in parallel."""
        out_dir = os.path.join(self.server.dir, "h2-out")
        os.makedirs(out_dir, exist_ok=True)
        cmd = ["curl", "-sS", "-k", "--http2", "--parallel", "--parallel-max", "8", "--max-time", "30",
               "--resolve", "localhost:%d:127.0.0.1" % self.server.port, "-u", "alice:alice-pw",
               "-w", "%{http_version} %{http_code} %{num_connects}\n"]
        for i in range(8):
            cmd += ["-o", os.path.join(out_dir, "r%d" % i),
                    "https://localhost:%d/%s" % (self.server.port, "big.bin" if i % 2 else "small.txt")]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        lines = out.stdout.split()
        self.assertEqual(out.returncode, 0, out.stderr)
        for i in range(8):
            with open(os.path.join(out_dir, "r%d" % i), "rb") as f:
                self.assertEqual(f.read(), self.big if i % 2 else self.files["small.txt"])
        self.assertEqual(lines[0::3], ["2"] * 8)
        self.assertEqual(lines[1::3], ["200"] * 8)


if __name__ == "__main__":
    harness.main()
