"""Conditional changes over HTTPS (RFC 9110 13), as a client that guards
against lost updates uses them: If-Match with the ETag a GET gave,
If-None-Match: * to create only, If-Unmodified-Since, on PUT, DELETE and
MKCOL (and GET), over HTTP/1.1 and HTTP/2. A precondition that does not
hold gets 412 and changes nothing; a refused PUT's body is never stored,
and the connection goes on (a small body read and dropped) or closes
cleanly (a large one, or one behind Expect: 100-continue). A file that
changes while an upload comes in is caught when the upload would be
stored: 412, and the other writer's file stays. A field's repeated lines
are joined into one (RFC 9110 5.3): a list of tags, or a list of dates,
which is no date and is ignored."""

import calendar
import email.utils
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from h2_util import H2Client  # noqa: E402

TEMP_PREFIX = ".wharf-upload."
ALICE = harness.basic_auth("alice", "alice-pw")
MTIME = calendar.timegm((2021, 3, 4, 5, 6, 7))


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


class CondBase(harness.SharedServerCase):
    HTTP = None

    def home(self, *parts):
        return os.path.join(self.server.home(), *parts)

    def name(self, base):
        return "%s-%s" % (self.HTTP.strip("-").replace(".", ""), base)

    def write(self, name, data, mtime=MTIME):
        path = self.home(name)
        with open(path + ".new", "wb") as f:
            f.write(data)
        os.utime(path + ".new", (mtime, mtime))
        self.server.give(path + ".new")
        os.replace(path + ".new", path)  # another writer: a new file under the name

    def read(self, name):
        with open(self.home(name), "rb") as f:
            return f.read()

    def temp_files(self):
        return [n for n in os.listdir(self.home()) if n.startswith(TEMP_PREFIX)]

    def curl(self, path, *args, input=None):
        return harness.curl(self.server, path, http=self.HTTP, args=list(args), input=input)

    def etag(self, name):
        status, headers, _ = self.curl("/" + name)
        self.assertEqual(status, 200)
        return headers["etag"]

    def put(self, name, data, *headers):
        args = ["-X", "PUT", "--data-binary", "@-"]
        for h in headers:
            args += ["-H", h]
        return self.curl("/" + name, *args, input=data)[0]

    def method(self, method, name, *headers):
        args = ["-X", method]
        for h in headers:
            args += ["-H", h]
        return self.curl("/" + name, *args)[0]


class CondChecks:
    """Run once per protocol (HTTP: curl's flag)."""

    def test_put_if_match_refuses_a_lost_update(self):
        """Two clients read the file; the first one's PUT with the ETag it
        read is stored, the second one's (same ETag, now stale) is 412 and
        does not overwrite the first one's."""
        name = self.name("shared.txt")
        self.write(name, b"version 1\n")
        seen = self.etag(name)
        self.assertEqual(self.put(name, b"first writer\n", "If-Match: " + seen), 204)
        self.assertEqual(self.read(name), b"first writer\n")
        self.assertEqual(self.put(name, b"second writer\n", "If-Match: " + seen), 412)
        self.assertEqual(self.read(name), b"first writer\n")
        # With the ETag the file has now, the second writer goes through.
        self.assertEqual(self.put(name, b"second writer\n", "If-Match: " + self.etag(name)), 204)
        self.assertEqual(self.read(name), b"second writer\n")
        self.assertEqual(self.temp_files(), [])
        self.assertTrue(harness.wait_until(lambda: " PUT /%s " % name in self.server.log()
                                           and " 412 " in self.server.log(), timeout=5))

    def test_put_if_none_match_star_creates_only(self):
        name = self.name("create-only.txt")
        self.assertEqual(self.put(name, b"created\n", "If-None-Match: *"), 201)
        self.assertEqual(self.read(name), b"created\n")
        self.assertEqual(self.put(name, b"overwritten\n", "If-None-Match: *"), 412)
        self.assertEqual(self.read(name), b"created\n")
        self.assertEqual(self.temp_files(), [])

    def test_put_if_match_needs_a_file(self):
        """If-Match, even "*", is not met by a name nothing holds: the PUT
        creates nothing (the file the client meant to replace is gone)."""
        for value in ("*", '"a72bb8-5-18eac0a9ab456ee3"'):
            with self.subTest(value=value):
                name = self.name("gone.txt")
                self.assertEqual(self.put(name, b"resurrected\n", "If-Match: " + value), 412)
                self.assertFalse(os.path.exists(self.home(name)))
        self.assertEqual(self.temp_files(), [])

    def test_put_if_unmodified_since(self):
        name = self.name("dated.txt")
        self.write(name, b"old\n")
        self.assertEqual(self.put(name, b"new\n", "If-Unmodified-Since: " + http_date(MTIME - 60)), 412)
        self.assertEqual(self.read(name), b"old\n")
        self.assertEqual(self.put(name, b"new\n", "If-Unmodified-Since: " + http_date(MTIME)), 204)
        self.assertEqual(self.read(name), b"new\n")

    def test_malformed_if_match_changes_nothing(self):
        name = self.name("malformed.txt")
        self.write(name, b"keep\n")
        etag = self.etag(name)
        for value in (etag.strip('"'), "*, " + etag, "W/" + etag):  # unquoted; * in a list; weak never matches
            with self.subTest(value=value):
                self.assertEqual(self.put(name, b"changed\n", "If-Match: " + value), 412)
                self.assertEqual(self.method("DELETE", name, "If-Match: " + value), 412)
                self.assertEqual(self.read(name), b"keep\n")

    def test_delete_if_match(self):
        name = self.name("delete-me.txt")
        self.write(name, b"x\n")
        etag = self.etag(name)
        self.write(name, b"changed by someone else\n", mtime=MTIME + 1)
        self.assertEqual(self.method("DELETE", name, "If-Match: " + etag), 412)
        self.assertEqual(self.read(name), b"changed by someone else\n")
        self.assertEqual(self.method("DELETE", name, "If-Match: " + self.etag(name)), 204)
        self.assertFalse(os.path.exists(self.home(name)))
        # Nothing there: 404 as without the precondition (RFC 9110 13.2.1).
        self.assertEqual(self.method("DELETE", name, "If-Match: *"), 404)

    def test_delete_if_unmodified_since_and_if_none_match(self):
        name = self.name("delete-dated.txt")
        self.write(name, b"x\n")
        self.assertEqual(self.method("DELETE", name, "If-Unmodified-Since: " + http_date(MTIME - 1)), 412)
        self.assertEqual(self.method("DELETE", name, "If-None-Match: " + self.etag(name)), 412)
        self.assertEqual(self.method("DELETE", name, "If-None-Match: *"), 412)
        self.assertTrue(os.path.exists(self.home(name)))
        self.assertEqual(self.method("DELETE", name, "If-Unmodified-Since: " + http_date(MTIME)), 204)
        self.assertFalse(os.path.exists(self.home(name)))

    def test_delete_folder_if_match_star(self):
        folder = self.name("cond-folder")
        os.mkdir(self.home(folder))
        self.server.give(self.home(folder))
        # A folder has no ETag: a tag never matches it, "*" does.
        self.assertEqual(self.method("DELETE", folder + "/", 'If-Match: "x"'), 412)
        self.assertTrue(os.path.isdir(self.home(folder)))
        self.assertEqual(self.method("DELETE", folder + "/", "If-Match: *"), 204)
        self.assertFalse(os.path.exists(self.home(folder)))

    def test_mkcol_preconditions(self):
        folder = self.name("cond-mkcol")
        self.assertEqual(self.method("MKCOL", folder, "If-Match: *"), 412)
        self.assertFalse(os.path.exists(self.home(folder)))
        self.assertEqual(self.method("MKCOL", folder, "If-None-Match: *"), 201)
        self.assertTrue(os.path.isdir(self.home(folder)))
        # Taken: 405 as without the precondition.
        self.assertEqual(self.method("MKCOL", folder, "If-Match: *"), 405)

    def test_get_if_match(self):
        name = self.name("get.txt")
        self.write(name, b"body\n")
        etag = self.etag(name)
        status, _, body = self.curl("/" + name, "-H", "If-Match: " + etag)
        self.assertEqual((status, body), (200, b"body\n"))
        status, _, body = self.curl("/" + name, "-H", 'If-Match: "stale"')
        self.assertEqual(status, 412)
        self.assertNotIn(b"body", body)
        status, _, _ = self.curl("/" + name, "-H", "If-Unmodified-Since: " + http_date(MTIME - 1))
        self.assertEqual(status, 412)
        status, _, _ = self.curl("/" + name, "-H", "If-None-Match: " + etag)
        self.assertEqual(status, 304)


    def test_repeated_lines_are_one_list(self):
        """RFC 9110 5.3: If-Match and If-None-Match lines are joined, in
        order, into one list: a tag on a later line counts as one on the
        first, the lines of the two fields may come interleaved, and "*"
        beside a tag is malformed."""
        name = self.name("repeated.txt")
        self.write(name, b"v1\n")
        etag = self.etag(name)
        status, _, _ = self.curl("/" + name, "-H", 'If-None-Match: "other"', "-H", "If-None-Match: " + etag)
        self.assertEqual(status, 304)
        self.assertEqual(self.method("DELETE", name, 'If-None-Match: "other"', "If-None-Match: " + etag), 412)
        self.assertEqual(self.read(name), b"v1\n")
        self.assertEqual(self.put(name, b"v2\n", 'If-Match: "stale"', "If-Match: " + etag), 204)
        self.assertEqual(self.read(name), b"v2\n")
        etag = self.etag(name)
        self.assertEqual(self.put(name, b"v3\n", "If-Match: *", "If-Match: " + etag), 412)
        self.assertEqual(self.put(name, b"v3\n", 'If-Match: "stale"', 'If-None-Match: "x"',
                                  "If-Match: " + etag, 'If-None-Match: "y"'), 204)
        self.assertEqual(self.read(name), b"v3\n")
        etag = self.etag(name)
        self.assertEqual(self.put(name, b"v4\n", 'If-Match: "stale"', 'If-None-Match: "x"',
                                  "If-Match: " + etag, "If-None-Match: " + etag), 412)
        self.assertEqual(self.read(name), b"v3\n")
        self.assertEqual(self.temp_files(), [])

    def test_repeated_date_lines_are_ignored(self):
        """Two If-Unmodified-Since lines join into a list of dates, which
        is no HTTP-date, and is ignored (RFC 9110 13.1.4; Apache does the
        same), whatever either line says; so are two If-Modified-Since
        lines (13.1.3)."""
        name = self.name("two-dates.txt")
        self.write(name, b"old\n")
        self.assertEqual(self.put(name, b"new\n", "If-Unmodified-Since: " + http_date(MTIME - 60),
                                  "If-Unmodified-Since: " + http_date(MTIME)), 204)
        self.assertEqual(self.read(name), b"new\n")
        self.write(name, b"old\n")
        status, _, body = self.curl("/" + name, "-H", "If-Modified-Since: " + http_date(MTIME - 60),
                                    "-H", "If-Modified-Since: " + http_date(MTIME))
        self.assertEqual((status, body), (200, b"old\n"))


class CondHTTP1(CondChecks, CondBase):
    HTTP = "--http1.1"

    def raw_put(self, c, name, length, *fields, body=b""):
        c.send(("PUT /%s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\nContent-Length: %d\r\n%s\r\n"
                % (name, ALICE, length, "".join(f + "\r\n" for f in fields))).encode() + body)

    def test_refused_small_body_is_dropped_and_the_connection_goes_on(self):
        """The body (here shaped like a request) is read and dropped, never
        stored nor taken for the next request; the connection serves on."""
        name = self.name("small-body.txt")
        self.write(name, b"keep\n")
        body = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        with harness.RawTLS(self.server) as c:
            self.raw_put(c, name, len(body), 'If-Match: "stale"', body=body)
            status, headers, _ = c.read_response(timeout=10)
            self.assertEqual(status, 412)
            self.assertNotEqual(headers.get("connection", "").lower(), "close")
            c.send("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n" % ALICE)
            status, _, body = c.read_response(timeout=10)
            self.assertEqual((status, body), (200, b"hello\n"))
        self.assertEqual(self.read(name), b"keep\n")
        self.assertEqual(self.temp_files(), [])

    def test_refused_large_body_is_answered_before_it_comes(self):
        """412 comes with only the head sent (10 MiB announced), and the
        connection closes: the body is neither waited for nor stored."""
        name = self.name("large-body.txt")
        self.write(name, b"keep\n")
        with harness.RawTLS(self.server) as c:
            self.raw_put(c, name, 10 << 20, "If-None-Match: *")
            status, headers, _ = c.read_response(timeout=10)
            self.assertEqual(status, 412)
            self.assertEqual(headers.get("connection", "").lower(), "close")
            self.assertTrue(c.closed_by_peer(timeout=5))
        self.assertEqual(self.read(name), b"keep\n")
        self.assertEqual(self.temp_files(), [])

    def test_refused_with_expect_100_continue_gets_no_continue(self):
        name = self.name("expect.txt")
        self.write(name, b"keep\n")
        with harness.RawTLS(self.server) as c:
            self.raw_put(c, name, 100000, "Expect: 100-continue", 'If-Match: "stale"')
            status, headers, _ = c.read_response(timeout=10)
            self.assertEqual(status, 412)
            self.assertTrue(c.closed_by_peer(timeout=5))
        self.assertEqual(self.read(name), b"keep\n")

    def test_file_replaced_while_the_upload_comes_in(self):
        """If-Match held when the PUT began; another writer replaces the
        file before the body is all in: 412 when it would be stored, and
        the other writer's file stays."""
        name = self.name("raced.txt")
        self.write(name, b"original\n")
        etag = self.etag(name)
        data = os.urandom(300000)
        with harness.RawTLS(self.server) as c:
            self.raw_put(c, name, len(data), "If-Match: " + etag, body=data[:200000])
            self.assertTrue(harness.wait_until(self.temp_files, timeout=10))
            self.write(name, b"the other writer's\n", mtime=MTIME + 5)
            c.send(data[200000:])
            status, _, _ = c.read_response(timeout=20)
            self.assertEqual(status, 412)
        self.assertEqual(self.read(name), b"the other writer's\n")
        self.assertTrue(harness.wait_until(lambda: not self.temp_files(), timeout=5), self.temp_files())

    def test_name_taken_while_a_create_only_upload_comes_in(self):
        name = self.name("raced-create.txt")
        data = os.urandom(300000)
        with harness.RawTLS(self.server) as c:
            self.raw_put(c, name, len(data), "If-None-Match: *", body=data[:200000])
            self.assertTrue(harness.wait_until(self.temp_files, timeout=10))
            self.write(name, b"got there first\n")
            c.send(data[200000:])
            status, _, _ = c.read_response(timeout=20)
            self.assertEqual(status, 412)
        self.assertEqual(self.read(name), b"got there first\n")
        self.assertTrue(harness.wait_until(lambda: not self.temp_files(), timeout=5), self.temp_files())


class CondHTTP2(CondChecks, CondBase):
    HTTP = "--http2"

    def test_joined_lines_among_other_fields(self):
        """A line joined onto a field kept earlier moves it past the fields
        kept since: those (Range here, and Accept) are read as sent."""
        name = self.name("h2-joined.txt")
        self.write(name, b"0123456789\n")
        etag = self.etag(name)
        c = H2Client(self.server)
        try:
            sid = c.request("GET", "/" + name, headers=[
                ("if-match", '"stale"'), ("range", "bytes=2-5"), ("if-none-match", '"x"'),
                ("accept", "text/plain"), ("if-match", ""), ("if-none-match", '"y"'), ("if-match", etag)])
            s = c.streams[sid]
            self.assertTrue(c.wait(lambda: s.ended or s.reset is not None, 10), "no answer")
            self.assertEqual((s.status, bytes(s.data)), (206, b"2345"))
        finally:
            c.close()

    def test_joined_lines_are_bounded(self):
        """HTTP/2 sends each line as a field of its own: together they
        count toward max_header_bytes (16K) as the whole block does, and
        past it the request gets 431, its change not made; the connection
        goes on."""
        name = self.name("h2-many-lines.txt")
        self.write(name, b"keep\n")
        etag = self.etag(name)
        c = H2Client(self.server)
        try:
            lines = [("if-match", '"%s"' % ("s%02d" % i * 100)) for i in range(50)]  # 50 x 302 bytes
            sid = c.request("DELETE", "/" + name, headers=lines + [("if-match", etag)])
            s = c.streams[sid]
            self.assertTrue(c.wait(lambda: s.ended or s.reset is not None, 10), "no answer")
            self.assertEqual(s.status, 431)
            # Fewer lines that fit: the tag on the last one counts.
            sid = c.request("DELETE", "/" + name, headers=lines[:20] + [("if-match", etag)])
            s = c.streams[sid]
            self.assertTrue(c.wait(lambda: s.ended or s.reset is not None, 10), "no answer")
            self.assertEqual(s.status, 204)
        finally:
            c.close()
        self.assertFalse(os.path.exists(self.home(name)))

    def test_refused_put_stream_leaves_the_connection_usable(self):
        name = self.name("h2-refused.txt")
        self.write(name, b"keep\n")
        c = H2Client(self.server)
        try:
            data = b"x" * 100000
            sid = c.request("PUT", "/" + name, body_follows=True, length=len(data),
                            headers=[("if-match", '"stale"')])
            s = c.streams[sid]
            self.assertTrue(c.wait(lambda: s.status is not None, 10), "no answer to the PUT")
            self.assertEqual(s.status, 412)
            # Whatever of the body goes out (the stream may be reset meanwhile) is dropped.
            try:
                c.send_body(sid, data, end=True, timeout=5)
            except Exception:
                pass
            self.assertEqual(c.get("/hello.txt"), (200, b"hello\n"))
        finally:
            c.close()
        self.assertEqual(self.read(name), b"keep\n")
        self.assertEqual(self.temp_files(), [])

    def test_file_replaced_while_the_upload_comes_in(self):
        name = self.name("h2-raced.txt")
        self.write(name, b"original\n")
        etag = self.etag(name)
        data = os.urandom(300000)
        c = H2Client(self.server)
        try:
            sid = c.request("PUT", "/" + name, body_follows=True, length=len(data),
                            headers=[("if-match", etag)])
            c.send_body(sid, data[:50000])
            self.assertTrue(harness.wait_until(self.temp_files, timeout=10))
            self.write(name, b"the other writer's\n", mtime=MTIME + 5)
            c.send_body(sid, data[50000:], end=True, timeout=20)
            s = c.streams[sid]
            self.assertTrue(c.wait(lambda: s.ended or s.reset is not None, 20))
            self.assertEqual(s.status, 412)
            self.assertEqual(c.get("/hello.txt"), (200, b"hello\n"))
        finally:
            c.close()
        self.assertEqual(self.read(name), b"the other writer's\n")
        self.assertTrue(harness.wait_until(lambda: not self.temp_files(), timeout=5), self.temp_files())


if __name__ == "__main__":
    harness.main()
