"""Long paths over HTTPS, as deep as the file system takes them.

A user whose files sit some 3000 bytes deep (fifteen nested folders of 200
bytes each, names of spaces and accented letters, so every link is about
three times as long once percent-encoded) lists the deepest folder, follows
its link to the file, fetches it, stores a new file beside it, and is
redirected to a folder asked for without its slash, over HTTP/1.1 and
HTTP/2 alike; the access log holds the whole target. A path of 4095 bytes,
the longest Linux takes, is stored and fetched too. A path one byte longer,
or a target that names something deeper, gets 414; a malformed one stays
400, however long."""

import json
import os
import re
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

PATH_MAX = 4096  # with its NUL, as Linux counts
# 198 bytes that take three each once encoded ("\u00e9" is two bytes,
# "%C3%A9"), then two digits: 200 bytes a folder, fifteen deep.
SEGS = [("\u00e9 " * 66) + "%02d" % i for i in range(15)]
DEEP = "/".join(SEGS)                      # 3014 bytes
LEAF = "f\u00e9 file.txt"
DATA = b"deep down\n" * 100
# The longest path: fifteen folders of 255 bytes and a file of 255.
LONG_SEGS = [("L%02d" % i) * 85 for i in range(15)]
LONG_LEAF = "z" * 255


def enc(path):
    """The path as the server encodes links: unreserved bytes and '/' kept."""
    return urllib.parse.quote(path.encode(), safe="/-._~")


def make_tree(home, segs, chown):
    """Makes home/segs... by descriptors, segment by segment: an absolute
    path this deep may be longer than PATH_MAX itself. Returns the fd of
    the deepest folder (the caller closes it)."""
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    for s in segs:
        os.mkdir(s, 0o755, dir_fd=fd)
        if chown:
            os.chown(s, chown[0], chown[1], dir_fd=fd, follow_symlinks=False)
        nfd = os.open(s, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    return fd


def read_beneath(home, rel):
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        parts = rel.split("/")
        for s in parts[:-1]:
            nfd = os.open(s, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        ffd = os.open(parts[-1], os.O_RDONLY, dir_fd=fd)
        with os.fdopen(ffd, "rb") as f:
            return f.read()
    finally:
        os.close(fd)


class LongPathChecks:
    """Mixed into one TestCase per protocol; HTTP is the curl protocol flag."""

    HTTP = None

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server()
        cls.addClassCleanup(cls.server.cleanup)  # even if setUpClass fails
        home = cls.server.home()
        # As root the server runs as nobody; the harness's os.walk cannot
        # reach below PATH_MAX, so the trees are given here.
        chown = None
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("nobody")
            chown = (pw.pw_uid, pw.pw_gid)
        fd = make_tree(home, SEGS, chown)
        ffd = os.open(LEAF, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
        os.write(ffd, DATA)
        os.close(ffd)
        if chown:
            os.chown(LEAF, chown[0], chown[1], dir_fd=fd, follow_symlinks=False)
        os.close(fd)
        os.close(make_tree(home, LONG_SEGS, chown))
        cls.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def curl(self, path, **kw):
        return harness.curl(self.server, path, http=self.HTTP, **kw)

    def test_paths_are_as_long_as_meant(self):
        self.assertEqual(len(DEEP.encode()), 3014)
        self.assertGreater(len(enc(DEEP)), 3 * 2900)
        longest = "/".join(LONG_SEGS + [LONG_LEAF])
        self.assertEqual(len(longest.encode()), PATH_MAX - 1)

    def test_listing_links_to_the_file_and_the_link_serves_it(self):
        status, headers, body = self.curl("/" + enc(DEEP) + "/")
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertEqual(int(headers["content-length"]), len(body))
        links = re.findall(rb'<tr><td><a href="([^"]*)">', body)
        self.assertIn(enc(LEAF).encode(), links)
        # The page's title names the whole folder, escaped once.
        self.assertIn(("Index of /" + DEEP + "/").encode(), body)
        # The link, relative to the folder, leads to the file.
        href = "/" + enc(DEEP) + "/" + links[-1].decode()
        status, headers, got = self.curl(href, binary=True)
        self.assertEqual(status, 200)
        self.assertEqual(got, DATA)

    def test_json_listing_names_the_whole_folder(self):
        status, _, body = self.curl("/" + enc(DEEP) + "/", args=["-H", "Accept: application/json"])
        self.assertEqual(status, 200, body[:300])
        page = json.loads(body)
        self.assertEqual(page["path"], "/" + DEEP + "/")
        self.assertEqual([e["name"] for e in page["entries"]], [LEAF])

    def test_folder_without_slash_is_redirected_whole(self):
        status, headers, _ = self.curl("/" + enc(DEEP))
        self.assertEqual(status, 301)
        self.assertEqual(headers["location"], "/" + enc(DEEP) + "/")

    def test_put_beside_stores_and_says_where(self):
        name = "new %s.txt" % self.HTTP.strip("-")
        target = "/" + enc(DEEP + "/" + name)
        status, headers, body = self.curl(target, args=["-T", "-"], input=b"fresh\n")
        self.assertEqual(status, 201, body)
        self.assertEqual(headers["location"], target)
        self.assertEqual(read_beneath(self.server.home(), DEEP + "/" + name), b"fresh\n")
        status, _, body = self.curl(target, args=["-T", "-"], input=b"again\n")
        self.assertEqual(status, 204, body)
        self.assertEqual(self.curl(target, binary=True)[2], b"again\n")

    def test_the_longest_path_is_stored_and_served(self):
        rel = "/".join(LONG_SEGS + [LONG_LEAF[:-1] + self.HTTP[-1]])
        self.assertEqual(len(rel), PATH_MAX - 1)
        status, headers, body = self.curl("/" + rel, args=["-T", "-"], input=b"at the end\n")
        self.assertEqual(status, 201, body)
        self.assertEqual(headers["location"], "/" + rel)
        status, _, got = self.curl("/" + rel, binary=True)
        self.assertEqual(status, 200)
        self.assertEqual(got, b"at the end\n")
        status, _, body = self.curl("/" + "/".join(LONG_SEGS) + "/")
        self.assertEqual(status, 200)
        self.assertIn(b'<a href="' + rel.rsplit("/", 1)[1].encode() + b'">', body)

    def test_one_byte_more_is_414(self):
        rel = "/".join(LONG_SEGS + [LONG_LEAF + "x"])
        self.assertEqual(len(rel), PATH_MAX)
        for method in ("GET", "PUT"):
            with self.subTest(method=method):
                args = ["-T", "-"] if method == "PUT" else []
                status, _, body = self.curl("/" + rel, args=args, input=b"x" if args else None)
                self.assertEqual(status, 414, body)
                self.assertIn(b"414 URI Too Long", body)

    def test_deeper_than_the_limit_is_414_and_the_server_goes_on(self):
        # Well formed, short enough for the request head, too long a path.
        status, _, body = self.curl("/" + enc(DEEP) + "/" + "y" * 1100)
        self.assertEqual(status, 414, body)
        status, _, _ = self.curl("/" + enc(DEEP) + "/" + enc(LEAF))
        self.assertEqual(status, 200)

    def test_malformed_stays_400_however_long(self):
        status, _, body = self.curl("/" + enc(DEEP) + "/" + "y" * 1100 + "/%zz")
        self.assertEqual(status, 400, body)
        self.assertIn(b"bad path", body)

    def test_access_log_holds_the_whole_target(self):
        target = "/" + enc(DEEP) + "/" + enc(LEAF) + "?log=" + self.HTTP
        self.assertEqual(self.curl(target)[0], 200)
        self.server.wait_log(target)


class LongPathsHttp1(LongPathChecks, unittest.TestCase):
    HTTP = "--http1.1"


class LongPathsHttp2(LongPathChecks, unittest.TestCase):
    HTTP = "--http2"


if __name__ == "__main__":
    harness.main()
