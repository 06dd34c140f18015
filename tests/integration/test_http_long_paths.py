"""Long paths over HTTPS, as deep as the file system takes them.

A user whose files sit some 3000 bytes deep (fifteen nested folders of 200
bytes each, names of spaces and accented letters, so every link is about
three times as long once percent-encoded) lists the deepest folder, follows
its link to the file, fetches it, stores a new file beside it, and is
redirected to a folder asked for without its slash, over HTTP/1.1 and
HTTP/2 alike; the access log holds the whole target. A path of 4095 bytes,
the longest Linux takes, is stored and fetched too. A path one byte longer,
or a target that names something deeper, gets 414; a malformed one stays
400, however long.

FTPS reaches every path HTTPS serves: a file at the 4095-byte path is
stored, fetched, described and deleted over FTPS, named absolute or relative
to its folder, and each protocol reads what the other stored; a folder at
that length is made, entered and reported whole by PWD. A path one byte
longer is 553 Path too long, as it always was."""

import json
import os
import re
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402

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

    def test_a_name_past_255_bytes(self):
        """A name longer than NAME_MAX (255 bytes) cannot exist: GET, HEAD
        and DELETE of it get 404, as nginx answers; PUT and MKCOL get 400
        saying which limit the name passed. Not 414: the target is short.
        So for such a folder name on the way, and for a leaf of 255 the
        answers are the usual ones."""
        long_name = "n" * 256
        for path in ("/" + long_name, "/%s/x.txt" % long_name, "/%s/%s" % (enc(DEEP), long_name)):
            for method, expect in (("GET", 404), ("HEAD", 404), ("DELETE", 404), ("PUT", 400), ("MKCOL", 400)):
                with self.subTest(path=path[:40], method=method):
                    args = {"GET": [], "HEAD": ["-I"], "DELETE": ["-X", "DELETE"], "PUT": ["-T", "-"],
                            "MKCOL": ["-X", "MKCOL"]}[method]
                    status, _, body = self.curl(path, args=args, input=b"x" if method == "PUT" else None)
                    self.assertEqual(status, expect, body)
                    if expect == 400:
                        self.assertIn(b"a name is longer than 255 bytes", body)
        self.assertEqual(self.curl("/" + "n" * 255)[0], 404)
        self.assertEqual(self.curl("/" + "n" * 255 + "/x.txt", args=["-T", "-"], input=b"x")[0], 409)

    def test_malformed_stays_400_however_long(self):
        status, _, body = self.curl("/" + enc(DEEP) + "/" + "y" * 1100 + "/%zz")
        self.assertEqual(status, 400, body)
        self.assertIn(b"bad path", body)

    def test_access_log_holds_the_whole_target(self):
        target = "/" + enc(DEEP) + "/" + enc(LEAF) + "?log=" + self.HTTP
        self.assertEqual(self.curl(target)[0], 200)
        self.server.wait_log(target)


class LongPathsFtps(unittest.TestCase):
    """The longest paths over FTPS, beside HTTPS on the same server."""

    @classmethod
    def setUpClass(cls):
        https = {"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]}
        cls.server = harness.Server(services=[https] + ftps_util.ftps_services(implicit=False))
        cls.addClassCleanup(cls.server.cleanup)
        chown = None
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("nobody")
            chown = (pw.pw_uid, pw.pw_gid)
        os.close(make_tree(cls.server.home(), LONG_SEGS, chown))
        cls.server.start()
        cls.fport = cls.server.services[1]["port"]
        if not harness.wait_port(cls.fport):
            raise RuntimeError("FTPS port not listening:\n" + cls.server.log()[-3000:])

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def ftps(self):
        c = ftps_util.Control(self.fport)
        self.addCleanup(c.close)
        return c.login("alice")

    def gone(self, rel):
        with self.assertRaises(FileNotFoundError):
            read_beneath(self.server.home(), rel)

    def test_the_longest_path_over_ftps(self):
        folder = "/".join(LONG_SEGS)
        for form in ("absolute", "relative"):
            with self.subTest(form=form):
                leaf = LONG_LEAF[:-1] + form[0]
                rel = folder + "/" + leaf
                self.assertEqual(len(rel.encode()), PATH_MAX - 1)
                c = self.ftps()
                if form == "relative":
                    c.expect("CWD /" + folder, 250)
                    name = leaf
                else:
                    name = "/" + rel
                # Stored over FTPS, served over HTTPS.
                r, info = c.stor(name, b"by ftps\n")
                self.assertEqual(r.code, 226, r)
                self.assertIn("/" + rel, info["prelim"].text)
                status, _, got = harness.curl(self.server, "/" + rel, binary=True)
                self.assertEqual((status, got), (200, b"by ftps\n"))
                # Stored over HTTPS, fetched and described over FTPS.
                status, _, body = harness.curl(self.server, "/" + rel, args=["-T", "-"], input=b"by https\n")
                self.assertEqual(status, 204, body)
                data, r, _ = c.retr(name)
                self.assertEqual((r.code, data), (226, b"by https\n"), r)
                self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), "9")
                c.expect("MDTM " + name, 213)
                r = c.expect("MLST " + name, 250)
                self.assertTrue(r.lines[1].endswith(" /" + rel), r)
                r = c.expect("DELE " + name, 250)
                self.assertTrue(r.text.endswith("/" + rel), r)
                self.gone(rel)

    def test_the_longest_folder_over_ftps(self):
        folder = "/".join(LONG_SEGS)
        leaf = "d" * 255
        c = self.ftps()
        c.expect("CWD /" + folder, 250)
        r = c.expect("MKD " + leaf, 257)
        self.assertTrue(r.text.startswith('"/%s/%s" ' % (folder, leaf)), r)
        r = c.expect("CWD " + leaf, 250)
        r = c.expect("PWD", 257)
        self.assertTrue(r.text.startswith('"/%s/%s" ' % (folder, leaf)), r)
        self.assertEqual(len(r.text.split('"')[1]), PATH_MAX)  # the leading '/' and 4095 bytes
        self.assertEqual(c.listing("NLST"), "")
        c.expect("CDUP", 250)
        c.expect("RMD " + leaf, 250)

    def test_one_byte_more_is_553_over_ftps(self):
        folder = "/".join(LONG_SEGS)
        leaf = LONG_LEAF + "x"
        self.assertEqual(len(folder + "/" + leaf), PATH_MAX)
        c = self.ftps()
        c.expect("CWD /" + folder, 250)
        for name in (leaf, "/" + folder + "/" + leaf):
            for line in ("SIZE", "DELE", "MKD", "RNFR"):
                with self.subTest(name=name[:8], line=line):
                    r = c.cmd(line + " " + name)
                    self.assertEqual((r.code, r.text), (553, "Path too long"))
            for cmd in ("STOR", "RETR"):
                with self.subTest(name=name[:8], cmd=cmd):
                    if cmd == "STOR":
                        r, _ = c.stor(name, b"too deep")
                    else:
                        _, r, _ = c.retr(name)
                    self.assertEqual((r.code, r.text), (553, "Path too long"))
        self.gone(folder + "/" + LONG_LEAF)
        c.expect("NOOP", 200)


class LongPathsHttp1(LongPathChecks, unittest.TestCase):
    HTTP = "--http1.1"


class LongPathsHttp2(LongPathChecks, unittest.TestCase):
    HTTP = "--http2"


if __name__ == "__main__":
    harness.main()
