"""Changing files over HTTPS: PUT (sized, chunked, 100-continue, over HTTP/1.1
and HTTP/2), DELETE, MKCOL, permissions, the upload size limit, and what an
interrupted upload leaves behind (nothing). Every upload is checked byte for
byte on disk and by downloading it again."""

import hashlib
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

TEMP_PREFIX = ".wharf-upload."
ALICE = harness.basic_auth("alice", "alice-pw")
READER = harness.basic_auth("reader", "reader-pw")


def temp_files(folder):
    return [n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX)]


def sha(data):
    return hashlib.sha256(data).hexdigest()


class UploadBase(unittest.TestCase):
    EXTRA = ""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(extra=cls.EXTRA)
        cls.addClassCleanup(cls.server.cleanup)  # even if setUpClass fails
        cls.server.start()
        cls.n = 0

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def home(self, *parts):
        return os.path.join(self.server.home(), *parts)

    def source(self, data):
        """A file outside every home holding data, for curl -T."""
        type(self).n += 1
        path = os.path.join(self.server.dir, "src-%d" % self.n)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def mkdir_in_home(self, *parts):
        path = self.home(*parts)
        os.makedirs(path)
        os.chmod(path, 0o777)  # the server runs as nobody; the test as root
        return path

    def read_disk(self, *parts):
        with open(self.home(*parts), "rb") as f:
            return f.read()


class PutChecks:
    """PUT semantics, run once per protocol."""

    HTTP = None

    def put(self, path, data, extra=(), user="alice"):
        return harness.curl(self.server, path, user=user, http=self.HTTP,
                            args=["-T", self.source(data)] + list(extra))

    def name(self, base):
        return "%s-%s" % (self.HTTP.strip("-").replace(".", ""), base)

    def test_put_new_then_overwrite(self):
        name = self.name("new.bin")
        first = os.urandom(5 * 1024 * 1024 + 17)
        status, headers, _ = self.put("/" + name, first)
        self.assertEqual(status, 201)
        self.assertEqual(headers.get("location"), "/" + name)
        self.assertEqual(sha(self.read_disk(name)), sha(first))
        status, _, body = harness.curl(self.server, "/" + name, http=self.HTTP)
        self.assertEqual(status, 200)
        self.assertEqual(sha(body), sha(first))

        second = os.urandom(2 * 1024 * 1024 + 3)
        status, _, body = self.put("/" + name, second)
        self.assertEqual(status, 204)
        self.assertEqual(body, b"")
        self.assertEqual(sha(self.read_disk(name)), sha(second))
        status, _, body = harness.curl(self.server, "/" + name, http=self.HTTP)
        self.assertEqual(sha(body), sha(second))
        self.assertEqual(temp_files(self.home()), [])

    def test_location_names_the_stored_file(self):
        """201's Location is the stored file's own URL: decoded then encoded
        once, no query, and never a "//host" reference."""
        name = self.name("loc a.txt")
        status, headers, _ = self.put("/%s?x=1" % name.replace(" ", "%20"), b"one\n")
        self.assertEqual(status, 201)
        self.assertEqual(headers.get("location"), "/" + name.replace(" ", "%20"))
        self.assertEqual(self.read_disk(name), b"one\n")
        name = self.name("loc-host")
        status, headers, _ = self.put("//%s" % name, b"two\n")
        self.assertEqual(status, 201)
        self.assertEqual(headers.get("location"), "/" + name)
        self.assertEqual(self.read_disk(name), b"two\n")

    def test_put_empty_file(self):
        name = self.name("empty.txt")
        status, _, _ = self.put("/" + name, b"")
        self.assertEqual(status, 201)
        self.assertEqual(self.read_disk(name), b"")
        status, headers, body = harness.curl(self.server, "/" + name, http=self.HTTP)
        self.assertEqual((status, body, headers.get("content-length")), (200, b"", "0"))

    def test_put_into_subfolder_with_escaped_name(self):
        folder = self.name("sub")
        self.mkdir_in_home(folder)
        data = os.urandom(70000)
        status, _, _ = self.put("/%s/with%%20space%%20%%C3%%A9.bin" % folder, data)
        self.assertEqual(status, 201)
        self.assertEqual(self.read_disk(folder, "with space \u00e9.bin"), data)

    def test_put_unknown_length_stream(self):
        """curl -T - reads stdin: chunked over HTTP/1.1, DATA frames without a
        content-length over HTTP/2."""
        name = self.name("stream.bin")
        data = os.urandom(3 * 1024 * 1024 + 999)
        status, _, _ = harness.curl(self.server, "/" + name, http=self.HTTP, input=data,
                                    args=["-T", "-", "-H", "Transfer-Encoding: chunked"]
                                    if self.HTTP == "--http1.1" else ["-T", "-"])
        self.assertEqual(status, 201)
        self.assertEqual(sha(self.read_disk(name)), sha(data))
        self.assertEqual(temp_files(self.home()), [])

    def test_put_into_missing_folder_409(self):
        status, _, _ = self.put("/%s/file.txt" % self.name("missing-folder"), b"data")
        self.assertEqual(status, 409)
        self.assertFalse(os.path.exists(self.home(self.name("missing-folder"))))

    def test_put_onto_folder_405(self):
        folder = self.name("a-folder")
        self.mkdir_in_home(folder)
        # (Not curl -T: with a URL ending in "/", it appends the file's name.)
        put = lambda path: harness.curl(self.server, path, http=self.HTTP,
                                        args=["-X", "PUT", "--data-binary", "not a folder"])
        for path in ("/" + folder, "/" + folder + "/"):
            with self.subTest(path=path):
                status, headers, _ = put(path)
                self.assertEqual(status, 405)
                self.assertNotIn("PUT", headers.get("allow", ""))
                self.assertTrue(os.path.isdir(self.home(folder)))
                self.assertEqual(os.listdir(self.home(folder)), [])
        status, _, _ = put("/")
        self.assertEqual(status, 405)

    def test_405_and_options_say_what_the_target_allows(self):
        """A 405 carries Allow (RFC 9110 15.5.6), listing what the target
        supports, never the refused method; OPTIONS of the same path gives
        the same list. A file: OPTIONS, GET, HEAD, PUT, DELETE; a folder:
        OPTIONS, GET, HEAD, DELETE; the home: OPTIONS, GET, HEAD; nothing:
        OPTIONS, PUT, MKCOL; a link to nothing: OPTIONS, PUT, DELETE."""
        folder, file = self.name("allow-dir"), self.name("allow-file.txt")
        self.mkdir_in_home(folder)
        with open(self.home(file), "wb") as f:
            f.write(b"x")
        FILE, FOLDER, HOME = ({"OPTIONS", "GET", "HEAD", "PUT", "DELETE"}, {"OPTIONS", "GET", "HEAD", "DELETE"},
                              {"OPTIONS", "GET", "HEAD"})

        def ask(method, path):
            args = ["-X", method] + (["--data-binary", "x"] if method == "PUT" else [])
            status, headers, _ = harness.curl(self.server, path, http=self.HTTP, args=args)
            return status, {m.strip() for m in headers.get("allow", "").split(",") if m.strip()}

        for method, path, allowed in (("PUT", "/" + folder, FOLDER), ("PUT", "/%s/" % folder, FOLDER),
                                      ("MKCOL", "/" + folder, FOLDER), ("MKCOL", "/%s/" % folder, FOLDER),
                                      ("MKCOL", "/" + file, FILE), ("PUT", "/", HOME), ("MKCOL", "/", HOME)):
            with self.subTest(method=method, path=path):
                self.assertEqual(ask(method, path), (405, allowed))
                self.assertEqual(ask("OPTIONS", path), (204, allowed))
        self.assertEqual(ask("OPTIONS", "/" + self.name("allow-none")), (204, {"OPTIONS", "PUT", "MKCOL"}))
        # A link to nothing is a name PUT may replace and DELETE remove, but
        # no folder may be made there.
        link = self.name("allow-link")
        os.symlink(self.name("allow-gone"), self.home(link))
        LINK = {"OPTIONS", "PUT", "DELETE"}
        self.assertEqual(ask("MKCOL", "/" + link), (405, LINK))
        self.assertEqual(ask("OPTIONS", "/" + link), (204, LINK))
        self.assertTrue(os.path.islink(self.home(link)))
        self.assertEqual(ask("OPTIONS", "/" + file)[1], FILE)
        self.assertEqual(self.read_disk(file), b"x")
        self.assertEqual(os.listdir(self.home(folder)), [])

    def test_reserved_upload_names_refused(self):
        name = TEMP_PREFIX + "x.0000000000000000"
        status, _, _ = self.put("/" + name, b"sneaky")
        self.assertEqual(status, 404)  # as docs/http.md says: not shown to exist
        self.assertFalse(os.path.exists(self.home(name)))

    def test_reader_cannot_change_anything(self):
        victim = self.name("victim.txt")
        with open(self.home(victim), "wb") as f:
            f.write(b"keep me")
        os.chmod(self.home(victim), 0o666)
        with open(os.path.join(self.server.home("reader"), "own.txt"), "wb") as f:
            f.write(b"reader's own")
        os.chmod(os.path.join(self.server.home("reader"), "own.txt"), 0o666)
        rhome = self.server.home("reader")
        status, _, _ = self.put("/%s" % self.name("new-by-reader.txt"), b"x", user="reader")
        self.assertEqual(status, 403)
        self.assertFalse(os.path.exists(os.path.join(rhome, self.name("new-by-reader.txt"))))
        self.assertEqual(temp_files(rhome), [])
        status, _, _ = self.put("/own.txt", b"overwritten", user="reader")
        self.assertEqual(status, 403)
        status, _, _ = harness.curl(self.server, "/own.txt", user="reader", http=self.HTTP, args=["-X", "DELETE"])
        self.assertEqual(status, 403)
        with open(os.path.join(rhome, "own.txt"), "rb") as f:
            self.assertEqual(f.read(), b"reader's own")
        status, _, _ = harness.curl(self.server, "/newdir", user="reader", http=self.HTTP, args=["-X", "MKCOL"])
        self.assertEqual(status, 403)
        self.assertFalse(os.path.exists(os.path.join(rhome, "newdir")))
        # Reading is still allowed.
        status, _, body = harness.curl(self.server, "/own.txt", user="reader", http=self.HTTP)
        self.assertEqual((status, body), (200, b"reader's own"))

    def test_unauthenticated_put_refused(self):
        name = self.name("anon.txt")
        status, headers, _ = self.put("/" + name, b"anonymous", user=None)
        self.assertEqual(status, 401)
        self.assertIn("Basic", headers.get("www-authenticate", ""))
        self.assertFalse(os.path.exists(self.home(name)))

    def test_delete_and_mkcol(self):
        base = self.name("tree")
        c = lambda path, method: harness.curl(self.server, path, http=self.HTTP, args=["-X", method])[0]
        self.assertEqual(c("/" + base, "MKCOL"), 201)
        self.assertTrue(os.path.isdir(self.home(base)))
        self.assertEqual(c("/" + base, "MKCOL"), 405)
        status, _, _ = harness.curl(self.server, "/%s/with-body" % base, http=self.HTTP,
                                    args=["-X", "MKCOL", "--data-binary", "a body"])
        self.assertEqual(status, 415)
        self.assertFalse(os.path.exists(self.home(base, "with-body")))
        self.assertEqual(c("/%s/missing/child" % base, "MKCOL"), 409)
        self.assertFalse(os.path.exists(self.home(base, "missing")))
        self.assertEqual(c("/%s/child/" % base, "MKCOL"), 201)
        self.assertTrue(os.path.isdir(self.home(base, "child")))

        status, _, _ = self.put("/%s/file.txt" % base, b"content")
        self.assertEqual(status, 201)
        self.assertEqual(c("/" + base, "DELETE"), 409)
        self.assertTrue(os.path.exists(self.home(base, "file.txt")))
        self.assertEqual(c("/%s/file.txt" % base, "DELETE"), 204)
        self.assertFalse(os.path.exists(self.home(base, "file.txt")))
        self.assertEqual(harness.curl(self.server, "/%s/file.txt" % base, http=self.HTTP)[0], 404)
        self.assertEqual(c("/%s/file.txt" % base, "DELETE"), 404)
        self.assertEqual(c("/%s/child" % base, "DELETE"), 204)
        self.assertEqual(c("/" + base, "DELETE"), 204)
        self.assertFalse(os.path.exists(self.home(base)))
        self.assertEqual(c("/", "DELETE"), 403)
        self.assertTrue(os.path.isdir(self.home()))

    def test_delete_below_a_missing_folder_404(self):
        """A DELETE below a folder that does not exist has nothing to remove:
        404, as nginx answers, which sync clients take for "already gone"
        (a PUT there is 409: the client must make the folder first). Below a
        file standing where a folder should be it is 409, as for a PUT."""
        base = self.name("del-missing")
        self.mkdir_in_home(base)
        with open(self.home(base, "file.txt"), "wb") as f:
            f.write(b"a file, not a folder\n")
        c = lambda path: harness.curl(self.server, path, http=self.HTTP, args=["-X", "DELETE"])[0]
        for path, expect in (("/%s-nodir/x" % base, 404), ("/%s/nodir/x" % base, 404),
                             ("/%s/nodir/deeper/x" % base, 404), ("/%s/file.txt/x" % base, 409)):
            with self.subTest(path=path):
                self.assertEqual(c(path), expect)
        self.assertEqual(sorted(os.listdir(self.home(base))), ["file.txt"])
        self.assertEqual(self.put("/%s/nodir/x" % base, b"x")[0], 409)

    def test_trailing_slash_on_a_file_changes_nothing(self):
        """A trailing slash names a folder: when a file has the name, DELETE gets
        409 (as nginx's WebDAV module answers), PUT 405 and MKCOL 405 (it
        exists), GET 404; the file is there after each, as it was."""
        name = self.name("slash.txt")
        with open(self.home(name), "wb") as f:
            f.write(b"keep me\n")
        os.chmod(self.home(name), 0o666)
        before = os.stat(self.home(name))
        c = lambda method, *args: harness.curl(self.server, "/%s/" % name, http=self.HTTP,
                                               args=["-X", method] + list(args))[0]
        for method, args, expect in (("DELETE", (), 409), ("PUT", ("--data-binary", "replaced"), 405),
                                     ("MKCOL", (), 405), ("GET", (), 404)):
            with self.subTest(method=method):
                self.assertEqual(c(method, *args), expect)
                self.assertEqual(self.read_disk(name), b"keep me\n")
                self.assertEqual(os.stat(self.home(name)).st_ino, before.st_ino)
        # Without the slash it is the file's name.
        self.assertEqual(harness.curl(self.server, "/" + name, http=self.HTTP, args=["-X", "DELETE"])[0], 204)
        self.assertFalse(os.path.exists(self.home(name)))
        # And a folder's slash still deletes the (empty) folder.
        folder = self.name("slash-dir")
        self.mkdir_in_home(folder)
        self.assertEqual(harness.curl(self.server, "/%s/" % folder, http=self.HTTP, args=["-X", "DELETE"])[0], 204)
        self.assertFalse(os.path.exists(self.home(folder)))

    def test_put_with_content_range_refused(self):
        """RFC 9110 14.5: a PUT carrying Content-Range gets 400, since the
        body is likely a part sent as if it were the whole; the file stays
        as it was (storing the fragment as the whole file would lose data)."""
        name = self.name("partial.txt")
        original = b"0123456789" * 10
        self.assertEqual(self.put("/" + name, original)[0], 201)
        status, _, _ = harness.curl(self.server, "/" + name, http=self.HTTP,
                                    args=["-X", "PUT", "--data-binary", "ABCDE",
                                          "-H", "Content-Range: bytes 0-4/100"])
        self.assertEqual(self.read_disk(name), original, "a partial PUT replaced the whole file")
        self.assertEqual(status, 400)

    def test_access_log_records_changes(self):
        name = self.name("logged.txt")
        self.put("/" + name, b"x")
        proto = "HTTP/1.1" if self.HTTP == "--http1.1" else "HTTP/2"
        pat = re.compile(r" alice PUT /%s %s 201 " % (re.escape(name), re.escape(proto)))
        self.assertTrue(harness.wait_until(lambda: pat.search(self.server.log()), timeout=5))


class PutHTTP1(PutChecks, UploadBase):
    HTTP = "--http1.1"

    def test_expect_100_continue_with_curl(self):
        data = os.urandom(2 * 1024 * 1024)
        status, _, _ = self.put("/expect-curl.bin", data, extra=["-H", "Expect: 100-continue"])
        self.assertEqual(status, 201)
        self.assertEqual(sha(self.read_disk("expect-curl.bin")), sha(data))

    def test_expect_100_continue_raw(self):
        """The server says 100 Continue before the client sends any body."""
        data = os.urandom(300000)
        with harness.RawTLS(self.server) as c:
            c.send("PUT /expect-raw.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                   "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (ALICE, len(data)))
            status, _, _ = c.read_response(timeout=5)
            self.assertEqual(status, 100)
            c.send(data)
            status, _, _ = c.read_response(timeout=10)
            self.assertEqual(status, 201)
        self.assertEqual(self.read_disk("expect-raw.bin"), data)

    def test_expect_refused_without_continue(self):
        """A PUT the server refuses gets its final answer instead of 100."""
        with harness.RawTLS(self.server) as c:
            c.send("PUT /nope/x.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                   "Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n" % ALICE)
            status, _, _ = c.read_response(timeout=5)
            self.assertEqual(status, 409)

    def test_unknown_expectation_417(self):
        with harness.RawTLS(self.server) as c:
            c.send("PUT /x417.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                   "Content-Length: 5\r\nExpect: something-else\r\n\r\nhello" % ALICE)
            status, _, _ = c.read_response(timeout=5)
            self.assertEqual(status, 417)
        self.assertFalse(os.path.exists(self.home("x417.bin")))

    def test_put_without_a_length_411_and_the_file_stays(self):
        """A PUT with neither Content-Length nor chunked framing has no body
        by the protocol: a client streaming until it closes would have the
        file replaced by an empty one. 411, the file kept, the connection
        closed (what follows cannot be framed)."""
        name = self.name("kept-411.txt")
        self.assertEqual(self.put("/" + name, b"precious\n")[0], 201)
        for version in ("1.0", "1.1"):
            with self.subTest(version=version), harness.RawTLS(self.server) as c:
                c.send("PUT /%s HTTP/%s\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n"
                       "streamed until close" % (name, version, ALICE))
                status, _, _ = c.read_response(timeout=5)
                self.assertEqual(status, 411)
                self.assertTrue(c.closed_by_peer(timeout=5))
        self.assertEqual(self.read_disk(name), b"precious\n")
        self.assertTrue(self.server.wait_log("PUT /%s without Content-Length or chunked framing: 411" % name),
                        self.server.log()[-2000:])

    def test_raw_chunked_upload_with_extensions_and_trailer(self):
        body = (b"5;ext=1\r\nhello\r\n"
                b"7\r\n, world\r\n"
                b"0\r\nX-Trailer: yes\r\n\r\n")
        with harness.RawTLS(self.server) as c:
            c.send(b"PUT /chunked-raw.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + ALICE.encode() +
                   b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
            status, _, _ = c.read_response()
            self.assertEqual(status, 201)
        self.assertEqual(self.read_disk("chunked-raw.txt"), b"hello, world")

    def test_overwrite_is_atomic_while_uploading(self):
        """Until a replacement is complete, readers get the old file whole."""
        old = os.urandom(100000)
        new = os.urandom(2 * 1024 * 1024)
        self.assertEqual(self.put("/atomic.bin", old)[0], 201)
        with harness.RawTLS(self.server) as c:
            c.send("PUT /atomic.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (ALICE, len(new)))
            c.send(new[:1024 * 1024])
            self.assertTrue(harness.wait_until(lambda: temp_files(self.home()), timeout=5))
            status, _, body = harness.curl(self.server, "/atomic.bin")
            self.assertEqual((status, sha(body)), (200, sha(old)))
            c.send(new[1024 * 1024:])
            status, _, _ = c.read_response(timeout=10)
            self.assertEqual(status, 204)
        status, _, body = harness.curl(self.server, "/atomic.bin")
        self.assertEqual(sha(body), sha(new))

    def test_aborted_upload_leaves_nothing(self):
        """Client sends 1 MB of a declared 10 MB, then disappears."""
        folder = self.mkdir_in_home("abort-h1")
        with harness.RawTLS(self.server) as c:
            c.send("PUT /abort-h1/cut.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (ALICE, 10 * 1024 * 1024))
            c.send(os.urandom(1024 * 1024))
            # The upload is under way (so the check below means something).
            self.assertTrue(harness.wait_until(lambda: temp_files(folder), timeout=5))
        self.assertTrue(harness.wait_until(lambda: not os.listdir(folder), timeout=5),
                        "left behind: %r" % os.listdir(folder))
        self.assertFalse(os.path.exists(os.path.join(folder, "cut.bin")))
        self.assertTrue(harness.wait_until(lambda: "cut short" in self.server.log(), timeout=5))
        # The server is fine afterwards.
        self.assertEqual(harness.curl(self.server, "/abort-h1/")[0], 200)

    def test_large_upload_made_durable_on_the_way(self):
        """Past 64 MiB the arrived part is made durable off the loop while more
        comes (the final fsync then has little left); the file is whole, and
        a client that vanishes after that leaves nothing either."""
        data = os.urandom(150 * 1024 * 1024 + 7)
        status, _, _ = self.put("/" + self.name("large.bin"), data)
        self.assertIn(status, (200, 201, 204))
        with open(os.path.join(self.server.home(), self.name("large.bin")), "rb") as f:
            self.assertEqual(sha(f.read()), sha(data))
        self.assertRegex(self.server.log(), r"upload %s: making its first \d+ bytes durable off the loop"
                         % re.escape(self.name("large.bin")))
        folder = self.mkdir_in_home("abort-large")
        with harness.RawTLS(self.server) as c:
            c.send("PUT /abort-large/cut.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (ALICE, len(data) * 2))
            c.send(data[:100 * 1024 * 1024])
            # Gone while (or just after) its own early sync runs.
            self.assertTrue(harness.wait_until(lambda: "upload cut.bin: making" in self.server.log(), timeout=30))
        self.assertTrue(harness.wait_until(lambda: not os.listdir(folder), timeout=10),
                        "left behind: %r" % os.listdir(folder))
        self.assertEqual(harness.curl(self.server, "/abort-large/")[0], 200)

    def test_aborted_chunked_upload_leaves_nothing(self):
        folder = self.mkdir_in_home("abort-chunked")
        with harness.RawTLS(self.server) as c:
            c.send("PUT /abort-chunked/cut.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n" % ALICE)
            chunk = os.urandom(65536)
            for _ in range(8):
                c.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            self.assertTrue(harness.wait_until(lambda: temp_files(folder), timeout=5))
        self.assertTrue(harness.wait_until(lambda: not os.listdir(folder), timeout=5),
                        "left behind: %r" % os.listdir(folder))

    def test_short_body_then_close_stores_nothing(self):
        """A sized body that ends early, all in one write with its head."""
        folder = self.mkdir_in_home("short-body")
        with harness.RawTLS(self.server) as c:
            c.send("PUT /short-body/f.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                   "Content-Length: 100\r\n\r\nonly this much" % ALICE)
        self.assertTrue(harness.wait_until(lambda: not os.listdir(folder), timeout=5),
                        "left behind: %r" % os.listdir(folder))

    def test_refused_put_body_is_not_read_as_a_request(self):
        """A PUT refused before its body is read (403 no write permission, 409,
        405, 413 by Content-Length) must not leave the body on the connection
        to be parsed as the next request (RFC 9112 9.3: read and discard it, or
        close). Here the body is a whole GET request; the server must not
        answer it. (Regression test: the first version of exchange.c did.)"""
        rhome = self.server.home("reader")
        with open(os.path.join(rhome, "smuggled.txt"), "wb") as f:
            f.write(b"SMUGGLED")
        os.chmod(os.path.join(rhome, "smuggled.txt"), 0o644)
        inner = ("GET /smuggled.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n" % READER)
        with harness.RawTLS(self.server) as c:
            c.send("PUT /x.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n%s"
                   % (READER, len(inner), inner))
            status, _, _ = c.read_response()
            self.assertEqual(status, 403)
            # Either the connection ends, or the next response is to the next
            # request this client really sends.
            if not c.closed_by_peer(timeout=1.0):
                c.send("GET /nothing-here HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n" % READER)
                status, _, body = c.read_response(timeout=5)
                self.assertNotEqual(body, b"SMUGGLED", "the PUT body was executed as a request")
                self.assertEqual(status, 404)

    def test_put_onto_home_body_not_read_as_request(self):
        """As above, through the 405 refusal of a PUT onto the home folder."""
        with open(self.home("smuggled2.txt"), "wb") as f:
            f.write(b"SMUGGLED")
        os.chmod(self.home("smuggled2.txt"), 0o644)
        inner = "GET /smuggled2.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n" % ALICE
        with harness.RawTLS(self.server) as c:
            # 405: a PUT onto the home folder, refused before the body.
            c.send("PUT / HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n%s"
                   % (ALICE, len(inner), inner))
            status, _, _ = c.read_response()
            self.assertEqual(status, 405)
            if not c.closed_by_peer(timeout=1.0):
                c.send("GET /nothing-here HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n" % ALICE)
                status, _, body = c.read_response(timeout=5)
                self.assertNotEqual(body, b"SMUGGLED", "the PUT body was executed as a request")
                self.assertEqual(status, 404)


class PutHTTP2(PutChecks, UploadBase):
    HTTP = "--http2"

    def test_aborted_upload_leaves_nothing(self):
        """curl uploading slowly over HTTP/2 is killed midway."""
        folder = self.mkdir_in_home("abort-h2")
        src = self.source(os.urandom(8 * 1024 * 1024))
        cmd = ["curl", "-sS", "-k", "--http2", "--limit-rate", "512k", "--max-time", "60",
               "--resolve", "localhost:%d:127.0.0.1" % self.server.port, "-u", "alice:alice-pw",
               "-T", src, "https://localhost:%d/abort-h2/cut.bin" % self.server.port]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.assertTrue(harness.wait_until(lambda: temp_files(folder), timeout=10))
        finally:
            proc.kill()
            proc.wait(timeout=10)
        self.assertTrue(harness.wait_until(lambda: not os.listdir(folder), timeout=5),
                        "left behind: %r" % os.listdir(folder))


class UploadLimit(UploadBase):
    EXTRA = 'limits = { max_upload_bytes = "1M"; };'
    LIMIT = 1024 * 1024

    def check_clean(self, folder, name):
        self.assertTrue(harness.wait_until(lambda: not temp_files(folder), timeout=5),
                        "temp files left: %r" % temp_files(folder))
        self.assertFalse(os.path.exists(os.path.join(folder, name)))

    def test_exactly_the_limit_is_allowed(self):
        for http in ("--http1.1", "--http2"):
            with self.subTest(http=http):
                data = os.urandom(self.LIMIT)
                name = "at-limit%s.bin" % http.strip("-")
                status, _, _ = harness.curl(self.server, "/" + name, http=http, args=["-T", self.source(data)])
                self.assertEqual(status, 201)
                self.assertEqual(sha(self.read_disk(name)), sha(data))

    def test_sized_upload_over_limit_413(self):
        for http in ("--http1.1", "--http2"):
            with self.subTest(http=http):
                name = "sized%s.bin" % http.strip("-")
                status, _, _ = harness.curl(self.server, "/" + name, http=http,
                                            args=["-T", self.source(os.urandom(self.LIMIT + 1))])
                self.assertEqual(status, 413)
                self.check_clean(self.home(), name)

    def test_streamed_upload_over_limit_413(self):
        """Without a length the limit can only be found midway."""
        for http in ("--http1.1", "--http2"):
            with self.subTest(http=http):
                name = "streamed%s.bin" % http.strip("-")
                args = ["-T", "-"] + (["-H", "Transfer-Encoding: chunked"] if http == "--http1.1" else [])
                status, _, _ = harness.curl(self.server, "/" + name, http=http, args=args,
                                            input=os.urandom(2 * self.LIMIT))
                self.assertEqual(status, 413)
                self.check_clean(self.home(), name)

    def test_server_still_serves_after_refusals(self):
        status, _, _ = harness.curl(self.server, "/after.txt", args=["-T", self.source(b"fine")])
        self.assertEqual(status, 201)
        self.assertEqual(harness.curl(self.server, "/after.txt")[2], b"fine")


class SlowUploadBesideTheSweep(UploadBase):
    """The sweep of temp files a dead process left must never take one a
    live upload holds, however slowly its client sends: with max_age and
    send_timeout of 2 s, the first sweep (5 s after start) runs mid-upload,
    when the temp file's mtime is seconds old (data comes in 200-byte
    pieces, staged in memory). A stale partial planted before the start
    shows when the sweep ran. min_rate is off: the pace (500 bytes/s) is
    below its default, and this is about the sweep, not about that floor."""
    EXTRA = "limits = { partial_upload_max_age = 2; send_timeout = 2; min_rate = 0; };"

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(extra=cls.EXTRA)
        cls.addClassCleanup(cls.server.cleanup)
        planted = os.path.join(cls.server.home(), ".wharf-upload.old.bin.partial")
        with open(planted, "wb") as f:
            f.write(b"old")
        os.utime(planted, (1, 1))
        cls.server.start()
        cls.n = 0

    def test_slow_upload_survives_the_sweep(self):
        import time
        n, swept_at = 6000, None
        with harness.RawTLS(self.server) as t:
            t.send(("PUT /slow.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                    "Content-Length: %d\r\n\r\n" % (ALICE, n)).encode())
            sent = 0
            while sent < n:
                t.send(b"x" * 200)
                sent += 200
                time.sleep(0.4)
                if swept_at is None and "removed 1 stale partial uploads" in self.server.log():
                    swept_at = sent
            status = t.read_response()[0]
        self.assertIsNotNone(swept_at, "no sweep ran during the upload")
        self.assertLess(swept_at, n)
        self.assertEqual(status, 201, self.server.log()[-2000:])
        self.assertEqual(self.read_disk("slow.bin"), b"x" * n)
        self.assertNotIn("upload temp files", self.server.log())


class RefusedBodyTrickle(UploadBase):
    """A refused request's small body is read to be dropped, and those bytes
    are no progress: a client without a password that trickles it a byte at
    a time is cut at send_timeout, as a stalled transfer is, instead of
    holding the connection for as long as 64 KiB take at that pace."""
    EXTRA = "limits = { send_timeout = 2; };"

    def test_trickled_refused_body_is_cut(self):
        import time
        with harness.RawTLS(self.server) as t:
            t.send(b"PUT /t.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: 65536\r\n\r\n")
            start, closed = time.monotonic(), False
            while time.monotonic() - start < 10 and not closed:
                try:
                    t.send(b"x")
                except OSError:
                    closed = True
                    break
                closed = t.closed_by_peer(timeout=0.5)
            took = time.monotonic() - start
        self.assertTrue(closed, "a byte every 0.5 s kept the refused request's connection for 10 s")
        self.assertLess(took, 6)
        self.assertIn("transfer stalled for 2 s", self.server.log())


if __name__ == "__main__":
    harness.main()
