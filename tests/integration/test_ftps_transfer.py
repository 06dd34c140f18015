"""FTPS transfers with real clients (curl, lftp, ftplib) and a strict raw
client: byte-exact uploads and downloads (a few MiB and empty), ASCII mode,
resume both ways (REST+RETR, curl -C -, lftp put -c, REST+STOR, APPE) after
uploads cut without close_notify or with a killed client, listings (MLSD,
MLST, NLST, LIST as lftp parses it), ABOR, 200 files in one lftp session,
and a full disk."""

import ftplib
import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402

HELLO = b"hello\n"
BIG = os.urandom(3 * 1024 * 1024 + 123)
HUGE_SIZE = 64 * 1024 * 1024  # sparse: read by the server, never held by the test
MANY = 200


def sha(b):
    return hashlib.sha256(b).hexdigest()


class Transfers(ftps_util.FTPSCase):

    @classmethod
    def prepare(cls, server):
        home = server.home("alice")
        with open(os.path.join(home, "hello.txt"), "wb") as f:
            f.write(HELLO)
        with open(os.path.join(home, "big.bin"), "wb") as f:
            f.write(BIG)
        with open(os.path.join(home, "empty.txt"), "wb"):
            pass
        with open(os.path.join(home, "huge.bin"), "wb") as f:
            f.truncate(HUGE_SIZE)
        with open(os.path.join(home, "lines.txt"), "wb") as f:
            f.write(b"one\ntwo\n\nthree\n")
        os.makedirs(os.path.join(home, "many"))
        for i in range(MANY):
            with open(os.path.join(home, "many", "f%03d.txt" % i), "wb") as f:
                f.write(b"file %d\n" % i * (i % 7 + 1))
        os.makedirs(os.path.join(home, "listing", "adir"))
        with open(os.path.join(home, "listing", "one.txt"), "wb") as f:
            f.write(b"12345")
        with open(os.path.join(home, "listing", "caf\u00e9 \u00fc.txt".encode("utf-8").decode("utf-8")), "wb") as f:
            f.write(b"x")
        with open(os.path.join(home, "listing", "bad\r\n226 forged.txt"), "wb") as f:
            f.write(b"x")
        with open(os.path.join(server.home("reader"), "r.txt"), "wb") as f:
            f.write(b"r")

    # -- round trips

    def test_ftplib_binary_roundtrip(self):
        f = ftps_util.ftplib_login(self.port)
        self.addCleanup(f.close)
        data = os.urandom(2 * 1024 * 1024 + 7)
        import io
        resp = f.storbinary("STOR ftplib.bin", io.BytesIO(data))
        self.assertTrue(resp.startswith("226"), resp)
        self.assertEqual(sha(self.read_home("ftplib.bin")), sha(data))
        got = []
        resp = f.retrbinary("RETR ftplib.bin", got.append)
        self.assertTrue(resp.startswith("226"), resp)
        self.assertEqual(sha(b"".join(got)), sha(data))
        resp = f.storbinary("STOR ftplib-empty.bin", io.BytesIO(b""))
        self.assertTrue(resp.startswith("226"), resp)
        self.assertEqual(self.read_home("ftplib-empty.bin"), b"")
        got = []
        f.retrbinary("RETR empty.txt", got.append)
        self.assertEqual(b"".join(got), b"")
        self.assertFalse([p for p in self.partials() if "ftplib" in p])

    def test_raw_download_byte_exact_and_close_notify(self):
        c = self.logged_in()
        c.expect("TYPE I", 200)
        data, r, info = c.retr("big.bin")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(data), sha(BIG))
        self.assertTrue(info["resumed"], "the data connection did not resume the control session")
        self.assertTrue(info["close_notify"], "the download ended without a TLS close_notify: %r" % info)
        data, r, info = c.retr("empty.txt")
        self.assertEqual((r.code, data), (226, b""), r)
        self.assertTrue(info["close_notify"], info)

    def test_curl_explicit_roundtrip(self):
        for name, data in (("curl-x.bin", os.urandom(3 * 1024 * 1024 + 1)), ("curl-x-empty.bin", b"")):
            with self.subTest(name=name):
                src = self.scratch(name, data)
                out = ftps_util.curl(self.port, "/" + name, ["-T", src])
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertEqual(sha(self.read_home(name)), sha(data))
                out = ftps_util.curl(self.port, "/" + name)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertEqual(sha(out.stdout), sha(data))
        out = ftps_util.curl(self.port, "/big.bin", ["--ftp-pasv", "--disable-epsv"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(out.stdout), sha(BIG))
        self.assertFalse([p for p in self.partials() if "curl-x" in p])

    def test_curl_implicit_roundtrip(self):
        data = os.urandom(1024 * 1024 + 5)
        src = self.scratch("curl-i.bin", data)
        out = ftps_util.curl(self.iport, "/curl-i.bin", ["-T", src], implicit=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(self.read_home("curl-i.bin")), sha(data))
        out = ftps_util.curl(self.iport, "/big.bin", implicit=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(out.stdout), sha(BIG))

    def test_lftp_roundtrip_both_services(self):
        for implicit in (False, True):
            with self.subTest(implicit=implicit):
                name = "lftp-%s.bin" % ("i" if implicit else "x")
                data = os.urandom(1024 * 1024 + 99)
                src = self.scratch(name, data)
                dst = self.scratch(name + ".back")
                out = ftps_util.lftp(self.iport if implicit else self.port,
                                     "put %s -o %s; get %s -o %s" % (src, name, name, dst), implicit=implicit)
                self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
                self.assertEqual(sha(self.read_home(name)), sha(data))
                with open(dst, "rb") as f:
                    self.assertEqual(sha(f.read()), sha(data))

    # -- ASCII

    def test_ascii_mode(self):
        c = self.logged_in()
        c.expect("TYPE A", 200)
        data, r, _ = c.retr("lines.txt")
        self.assertEqual((r.code, data), (226, b"one\r\ntwo\r\n\r\nthree\r\n"), r)
        r, _ = c.stor("ascii-up.txt", b"alpha\r\nbeta\r\n\r\ngamma\r\n")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(self.read_home("ascii-up.txt"), b"alpha\nbeta\n\ngamma\n")
        c.expect("TYPE I", 200)
        data, r, _ = c.retr("lines.txt")
        self.assertEqual(data, b"one\ntwo\n\nthree\n")
        # curl --use-ascii (TYPE A) the way a user would
        out = ftps_util.curl(self.port, "/lines.txt", ["--use-ascii"])
        self.assertEqual(out.returncode, 0, out.stderr)
        # curl converts CRLF back to LF itself on Unix; only the content is checked
        self.assertEqual(out.stdout.replace(b"\r\n", b"\n"), b"one\ntwo\n\nthree\n")

    def test_ascii_rest_between_cr_and_lf(self):
        # A file that holds a CRLF already: an ASCII resume at its LF sends
        # the LF alone (the client has the CR), one anywhere else as before.
        self.write_home("crlf.txt", b"ab\r\ncd\n")
        c = self.logged_in()
        c.expect("TYPE A", 200)
        whole, r, _ = c.retr("crlf.txt")
        self.assertEqual((r.code, whole), (226, b"ab\r\ncd\r\n"), r)
        for rest, want in ((3, b"\ncd\r\n"), (2, b"\r\ncd\r\n"), (4, b"cd\r\n"), (6, b"\r\n")):
            with self.subTest(rest=rest):
                data, r, _ = c.retr("crlf.txt", rest=rest)
                self.assertEqual((r.code, data), (226, want), r)

    # -- resume

    def test_rest_retr_and_curl_resume_download(self):
        c = self.logged_in()
        c.expect("TYPE I", 200)
        data, r, _ = c.retr("big.bin", rest=1000000)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(data), sha(BIG[1000000:]))
        local = self.scratch("resume-down.bin", BIG[:777777])
        out = ftps_util.curl(self.port, "/big.bin", ["-C", "-", "-o", local])
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(local, "rb") as f:
            self.assertEqual(sha(f.read()), sha(BIG))

    def test_rest_lasts_for_the_next_command_only(self):
        # RFC 3659 5.3: REST applies to the transfer command right after it.
        old, new = os.urandom(3000), os.urandom(2000)
        self.write_home("rest-b.bin", old)
        c = self.logged_in()
        c.expect("REST 1000", 350)
        self.assertEqual(c.cmd("STOR rest-a.bin").code, 425)  # no PASV yet: refused
        r, _ = c.stor("rest-b.bin", new, passive="PASV")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("rest-b.bin")), sha(new))
        # A command between REST and RETR: the whole file.
        data, r, _ = c.retr("rest-b.bin", rest=1000, between=[("NOOP", 200)])
        self.assertEqual((r.code, sha(data or b"")), (226, sha(new)), r)
        # A REST refused as malformed leaves no offset behind.
        data, r, _ = c.retr("rest-b.bin", rest=1000, between=[("REST x", 501)])
        self.assertEqual((r.code, sha(data or b"")), (226, sha(new)), r)
        # The very next one still counts.
        data, r, _ = c.retr("rest-b.bin", rest=1000)
        self.assertEqual((r.code, sha(data or b"")), (226, sha(new[1000:])), r)

    def test_rest_dropped_by_bad_lines(self):
        # A malformed, unknown or overlong line between REST and RETR is
        # the command right after REST too: the offset goes with it.
        data = os.urandom(5000)
        self.write_home("rest-c.bin", data)
        c = self.logged_in()
        for line in (b"RE\x00TR x", "XYZZY 1", "NOOP " + "r" * 5000, "NOOP " + "r" * 40000):
            with self.subTest(line=line[:12]):
                got, r, _ = c.retr("rest-c.bin", rest=1000, between=[(line, 500)])
                self.assertEqual((r.code, sha(got or b"")), (226, sha(data)), r)
        got, r, _ = c.retr("rest-c.bin", rest=1000)
        self.assertEqual((r.code, sha(got or b"")), (226, sha(data[1000:])), r)

    def interrupt_upload(self, name, data, cut, rst=False):
        """A STOR cut after `cut` bytes without close_notify; returns the
        bytes the server says it kept (SIZE)."""
        before = self.read_home(name) if os.path.exists(self.home(name)) else None
        c = self.logged_in()
        c.expect("TYPE I", 200)
        r, info = c.stor(name, data, cut_after=cut, rst=rst)
        self.assertEqual(r.code // 100, 4, "an upload cut without close_notify answered %r" % r)
        if before is None:
            self.assertFalse(os.path.exists(self.home(name)), "the cut upload is visible under its name")
        else:
            self.assertEqual(self.read_home(name), before, "a cut upload changed the file under its name")
        parts = [p for p in self.partials() if name in p]
        self.assertTrue(parts, "no partial kept")
        r = c.expect("SIZE " + name, 213)
        if before is None:
            kept = int(r.text.strip())
        else:
            # SIZE is what RETR sends, the file's (the partial's resumes from it).
            self.assertEqual(int(r.text.strip()), len(before))
            kept = os.path.getsize(self.home(parts[0]))
        if rst:
            self.assertLessEqual(kept, cut)
        else:
            self.assertEqual(kept, cut, "SIZE after a cut upload")
        names = c.listing("NLST").split("\r\n")
        if before is None:
            self.assertNotIn(name, names)
        self.assertFalse([n for n in names if n.startswith(ftps_util.PARTIAL_PREFIX)], names)
        c.expect("QUIT", 221)
        return kept

    def test_cut_upload_then_curl_resume(self):
        data = os.urandom(2 * 1024 * 1024 + 11)
        kept = self.interrupt_upload("cut-curl.bin", data, 1024 * 1024 + 3)
        self.assertGreater(kept, 0)
        src = self.scratch("cut-curl.bin", data)
        out = ftps_util.curl(self.port, "/cut-curl.bin", ["-C", "-", "-T", src])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(self.read_home("cut-curl.bin")), sha(data))
        self.assertFalse([p for p in self.partials() if "cut-curl" in p])

    def test_cut_upload_rst_then_rest_stor(self):
        data = os.urandom(1536 * 1024)
        kept = self.interrupt_upload("cut-rst.bin", data, 1024 * 1024, rst=True)
        c = self.logged_in()
        c.expect("TYPE I", 200)
        r, _ = c.stor("cut-rst.bin", data[kept:], rest=kept)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("cut-rst.bin")), sha(data))
        self.assertFalse([p for p in self.partials() if "cut-rst" in p])

    def test_cut_upload_then_lftp_put_continue(self):
        data = os.urandom(2 * 1024 * 1024 + 5)
        self.interrupt_upload("cut-lftp.bin", data, 700001)
        src = self.scratch("cut-lftp.bin", data)
        out = ftps_util.lftp(self.port, "put -c %s -o cut-lftp.bin" % src)
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        self.assertEqual(sha(self.read_home("cut-lftp.bin")), sha(data))

    def test_cut_upload_over_existing_file_keeps_it(self):
        self.write_home("keep.txt", b"old content\n")
        data = os.urandom(300000)
        self.interrupt_upload("keep.txt", data, 200000)
        self.assertEqual(self.read_home("keep.txt"), b"old content\n")
        # A plain STOR starts over and drops the partial.
        c = self.logged_in()
        r, _ = c.stor("keep.txt", b"new content\n")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(self.read_home("keep.txt"), b"new content\n")
        self.assertEqual(c.expect("SIZE keep.txt", 213).text.strip(), "12")
        self.assertFalse([p for p in self.partials() if "keep.txt" in p])

    def test_dele_drops_partial(self):
        self.interrupt_upload("dropme.bin", os.urandom(100000), 50000)
        c = self.logged_in()
        r = c.cmd("DELE dropme.bin")  # only a partial exists: it goes, and the reply says so
        self.assertEqual(r.code, 250, r)
        self.assertIn("interrupted upload", r.text)
        self.assertFalse([p for p in self.partials() if "dropme" in p])
        self.assertEqual(c.cmd("SIZE dropme.bin").code, 550)

    def test_partial_unreachable_by_name(self):
        self.interrupt_upload("hidden.bin", os.urandom(100000), 60000)
        parts = [p for p in self.partials() if "hidden.bin" in p]
        self.assertTrue(parts)
        c = self.logged_in()
        for p in parts + [".wharf-upload.hidden.bin.partial"]:
            data, r, _ = c.retr(p)
            self.assertEqual(r.code, 550, r)
            r, _ = c.stor(p, b"overwrite")
            self.assertGreaterEqual(r.code, 500, r)
        mlsd = c.listing("MLSD")
        self.assertNotIn(ftps_util.PARTIAL_PREFIX, mlsd)
        self.assertNotIn(ftps_util.PARTIAL_PREFIX, c.listing("LIST"))

    def test_trailing_slash_is_no_file(self):
        # "hello.txt/" names a folder, as Linux and HTTPS read it: RETR of it
        # is 550, STOR and APPE of "new/" are 553 and make no file "new".
        c = self.logged_in()
        data, r, _ = c.retr("hello.txt/")
        self.assertEqual((r.code, data), (550, None), r)
        self.assertIn("/hello.txt: not a folder", r.text)
        data, r, _ = c.retr("listing/")
        self.assertEqual(r.code, 550, r)
        self.assertIn("/listing: not a plain file", r.text)
        for cmd in ("STOR", "APPE"):
            for name in ("slash-new/", "slash-new/.", "hello.txt/"):
                with self.subTest(cmd=cmd, name=name):
                    r, info = c.stor(name, b"DATA", cmd=cmd)
                    self.assertEqual(r.code, 553, r)
                    self.assertIsNone(info["prelim"])
                    self.assertIn(": a file name cannot end in /", r.text)
        self.assertFalse(os.path.lexists(self.home("slash-new")))
        self.assertEqual(self.read_home("hello.txt"), HELLO)
        self.assertFalse([p for p in self.partials() if "slash-new" in p or "hello.txt" in p])
        data, r, _ = c.retr("hello.txt/", cmd="LIST")
        self.assertEqual(r.code, 550, r)
        # A folder named with its slash lists as ever.
        self.assertIn("one.txt", c.listing("NLST", "listing/"))
        self.assertIn("one.txt", c.listing("MLSD", "listing/"))
        c.expect("NOOP", 200)

    def test_names_with_control_characters_are_not_stored(self):
        # A name with a control byte could never be fetched over HTTPS (it
        # refuses those bytes in a path): STOR and APPE of one are 553
        # before any data connection is used, and nothing is made.
        c = self.logged_in()
        before = sorted(os.listdir(self.home()))
        for cmd in ("STOR", "APPE"):
            for name in ("tab\there.txt", "esc\x1b[31mred.txt", "del\x7fx.txt", "ctl\x01x.txt",
                         "listing/new\x1b.txt"):
                with self.subTest(cmd=cmd, name=name):
                    r, info = c.stor(name, b"secret", cmd=cmd)
                    self.assertEqual(r.code, 553, r)
                    self.assertIsNone(info["prelim"])
                    self.assertIn("control character", r.text)
        self.assertEqual(sorted(os.listdir(self.home())), before)
        self.assertFalse([n for n in os.listdir(self.home("listing")) if "new" in n])
        self.server.wait_log("not creating /tab?here.txt: the name holds a control character")
        c.expect("NOOP", 200)

    def test_name_with_a_control_character_made_on_disk_stays_reachable(self):
        # Only making such a name is refused: one put there by other means
        # is fetched, renamed and deleted over FTPS as ever.
        self.write_home("disk\ttab.txt", b"ON DISK")
        c = self.logged_in()
        data, r, _ = c.retr("disk\ttab.txt")
        self.assertEqual((r.code, data), (226, b"ON DISK"), r)
        self.assertEqual(c.expect("SIZE disk\ttab.txt", 213).text.strip(), "7")
        c.expect("RNFR disk\ttab.txt", 350)
        c.expect("RNTO disk-renamed.txt", 250)
        self.assertEqual(self.read_home("disk-renamed.txt"), b"ON DISK")
        self.write_home("disk\ttab.txt", b"AGAIN")
        c.expect("DELE disk\ttab.txt", 250)
        self.assertFalse(os.path.lexists(self.home("disk\ttab.txt")))
        c.expect("DELE disk-renamed.txt", 250)

    def test_long_names_sharing_a_head_keep_their_own_partials(self):
        # Two 250-byte names with the same first 240 bytes: a partial name
        # cannot hold either whole, and each must still get its own.
        head = ("longhead-" + "h" * 240)[:240]
        names = [head + "A" * 10, head + "B" * 10]
        datas = [os.urandom(400000), os.urandom(500000)]
        cuts = [100000, 250000]
        c = self.logged_in()
        for name, data, cut in zip(names, datas, cuts):
            r, _ = c.stor(name, data, cut_after=cut)
            self.assertEqual(r.code // 100, 4, r)
        parts = [p for p in self.partials() if p.startswith(ftps_util.PARTIAL_PREFIX + "longhead-")]
        self.assertEqual(len(parts), 2, parts)
        for p in parts:
            self.assertLessEqual(len(p.encode()), 255, p)
        for name, cut in zip(names, cuts):
            self.assertEqual(c.expect("SIZE " + name, 213).text.strip(), str(cut), name[-12:])
            self.assertFalse(os.path.exists(self.home(name)))
        # One goes on with REST + STOR, the other with APPE.
        r, _ = c.stor(names[0], datas[0][cuts[0]:], rest=cuts[0])
        self.assertEqual(r.code, 226, r)
        r, _ = c.stor(names[1], datas[1][cuts[1]:], cmd="APPE")
        self.assertEqual(r.code, 226, r)
        for name, data in zip(names, datas):
            self.assertEqual(sha(self.read_home(name)), sha(data), name[-12:])
        self.assertFalse([p for p in self.partials() if p.startswith(ftps_util.PARTIAL_PREFIX + "longhead-")])

    def test_killed_client_mid_upload_then_resume(self):
        name = "killed.bin"
        data = os.urandom(4 * 1024 * 1024)
        proc = subprocess.Popen(["curl", "-sS", "-k", "--ssl-reqd", "--max-time", "60", "-u", "alice:alice-pw",
                                 "-T", "-", "ftp://127.0.0.1:%d/%s" % (self.port, name)],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        feed = ftps_util.in_thread(lambda: proc.stdin.write(data[:1024 * 1024]) and proc.stdin.flush())

        def partial_size():
            ps = [p for p in self.partials() if name in p]
            return os.path.getsize(self.home(ps[0])) if ps else 0
        self.assertTrue(harness.wait_until(lambda: partial_size() > 0, timeout=15), "no partial while uploading")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        feed(timeout=10)
        # Wait until the server saw the end (the partial stops growing).
        last = [-1]

        def settled():
            s = partial_size()
            ok = s == last[0] and s > 0
            last[0] = s
            return ok
        self.assertTrue(harness.wait_until(settled, timeout=10, interval=0.5))
        self.assertFalse(os.path.exists(self.home(name)), "a killed upload appeared under its name")
        src = self.scratch(name, data)
        out = ftps_util.curl(self.port, "/" + name, ["-C", "-", "-T", src])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sha(self.read_home(name)), sha(data))

    def test_appe(self):
        self.write_home("log.txt", b"first\n")
        c = self.logged_in()
        c.expect("TYPE I", 200)
        r, _ = c.stor("log.txt", b"second\n", cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(self.read_home("log.txt"), b"first\nsecond\n")
        r, _ = c.stor("appe-new.txt", b"fresh\n", cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(self.read_home("appe-new.txt"), b"fresh\n")
        # The access log tells an append from a fresh upload.
        self.assertTrue(self.server.wait_log(" alice APPE /log.txt ftps 226 "), self.server.log()[-2000:])
        self.assertTrue(self.server.wait_log(" alice APPE /appe-new.txt ftps 226 "), self.server.log()[-2000:])

    def test_stou(self):
        c = self.logged_in()
        before = set(os.listdir(self.home()))
        r, info = c.stor(None, b"unique\n", cmd="STOU")
        self.assertEqual(r.code, 226, r)
        new = set(os.listdir(self.home())) - before
        self.assertEqual(len(new), 1, new)
        name = new.pop()
        self.assertEqual(self.read_home(name), b"unique\n")
        self.assertIn(name, info["prelim"].text + r.text)

    def test_stou_twice_in_a_row(self):
        # Within one second, on one connection: each gets a name of its own.
        c = self.logged_in()
        c.expect("TYPE I", 200)
        before = set(os.listdir(self.home()))
        datas = [os.urandom(100000), os.urandom(120000)]
        names = []
        for data in datas:
            r, info = c.stor(None, data, cmd="STOU")
            self.assertEqual(r.code, 226, r)
            m = re.search(r"FILE: (\S+)", info["prelim"].text)
            self.assertTrue(m, info["prelim"])
            names.append(m.group(1))
        self.assertNotEqual(names[0], names[1])
        self.assertEqual(set(os.listdir(self.home())) - before, set(names))
        for name, data in zip(names, datas):
            self.assertEqual(sha(self.read_home(name)), sha(data), name)

    def test_stou_never_replaces_a_file_made_meanwhile(self):
        # Another session stores under the name STOU announced while the
        # STOU upload is still arriving: that file stays, the STOU fails.
        c, other = self.logged_in(), self.logged_in()
        raw = socket.create_connection(("127.0.0.1", c.epsv()), timeout=10)
        self.addCleanup(raw.close)
        r = c.cmd("STOU")
        self.assertEqual(r.code, 150, r)
        name = re.search(r"FILE: (\S+)", r.text).group(1)
        d = c.wrap_data(raw)
        d.sendall(b"from STOU\n")
        r, _ = other.stor(name, b"made meanwhile\n")
        self.assertEqual(r.code, 226, r)
        d.settimeout(5)
        d.unwrap()
        d.close()
        r = c.read_reply(timeout=30)
        self.assertEqual(r.code, 451, r)
        self.assertEqual(self.read_home(name), b"made meanwhile\n")
        self.assertFalse([n for n in os.listdir(self.home()) if name in n and n != name])
        c.expect("NOOP", 200)

    # -- listings

    def test_mlsd_mlst_facts(self):
        c = self.logged_in()
        text = c.listing("MLSD", "listing")
        entries = {}
        for line in text.split("\r\n"):
            if not line:
                continue
            facts, sep, name = line.partition(" ")
            self.assertEqual(sep, " ", line)
            d = {}
            for f in facts.rstrip(";").split(";"):
                k, _, v = f.partition("=")
                d[k.lower()] = v
            entries[name] = d
        files = {n for n, d in entries.items() if d.get("type") == "file"}
        dirs = {n for n, d in entries.items() if d.get("type") == "dir"}
        self.assertEqual(files, {"one.txt", "caf\u00e9 \u00fc.txt"}, text)
        self.assertEqual(dirs, {"adir"}, text)
        one = entries["one.txt"]
        self.assertEqual(one["size"], "5")
        want = time.strftime("%Y%m%d%H%M%S", time.gmtime(os.stat(self.home("listing", "one.txt")).st_mtime))
        self.assertEqual(one["modify"][:14], want)
        self.assertIn("r", one.get("perm", "r"))
        self.assertNotIn("forged", text)
        r = c.expect("MLST listing/one.txt", 250)
        self.assertEqual(len(r.lines), 3, r)
        self.assertTrue(r.lines[1].startswith(" "), r)
        self.assertIn("type=file", r.lines[1].lower())
        self.assertIn("size=5", r.lines[1].lower())
        self.assertTrue(r.lines[1].endswith(" /listing/one.txt") or r.lines[1].endswith(" listing/one.txt")
                        or r.lines[1].endswith(" one.txt"), r)
        self.assertEqual(c.cmd("MLST listing/missing").code, 550)
        # the perm fact says what reader may not do
        rc = self.logged_in("reader")
        facts = rc.expect("MLST r.txt", 250).lines[1].lower()
        m = re.search(r"perm=([a-z]*)", facts)
        if m:
            self.assertNotIn("w", m.group(1))
            self.assertNotIn("d", m.group(1))
            self.assertIn("r", m.group(1))

    def test_nlst_and_list(self):
        c = self.logged_in()
        names = sorted(n for n in c.listing("NLST", "listing").split("\r\n") if n)
        names = [n.rsplit("/", 1)[-1] for n in names]
        self.assertEqual(sorted(names), sorted(["adir", "one.txt", "caf\u00e9 \u00fc.txt"]))
        text = c.listing("LIST", "listing")
        self.assertTrue(text.endswith("\r\n"), text)
        rx = re.compile(r"^([-dl])[-rwxsStT]{9}\s+\d+\s+\S+\s+\S+\s+(\d+)\s+[A-Z][a-z]{2}\s+\d{1,2}\s+"
                        r"(?:\d{2}:\d{2}|\d{4})\s(.+)$")
        seen = {}
        for line in text.split("\r\n"):
            if not line or line.startswith("total"):
                continue
            m = rx.match(line)
            self.assertTrue(m, "LIST line not in ls -l form: %r" % line)
            seen[m.group(3)] = (m.group(1), int(m.group(2)))
        self.assertEqual(seen.get("one.txt"), ("-", 5), text)
        self.assertEqual(seen.get("adir", ("?",))[0], "d", text)
        self.assertIn("caf\u00e9 \u00fc.txt", seen)
        self.assertNotIn("forged", text)
        c.expect("NOOP", 200)

    def test_lftp_parses_list_and_mlsd(self):
        for mlsd in ("off", "on"):
            with self.subTest(mlsd=mlsd):
                out = ftps_util.lftp(self.port, "cls -l --sort=name listing/",
                                     settings="set ftp:use-mlsd %s; " % mlsd)
                self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
                lines = [l for l in out.stdout.splitlines() if l.strip()]
                byname = {l.split()[-1].rstrip("/").rsplit("/", 1)[-1]: l for l in lines}
                self.assertIn("one.txt", byname, out.stdout)
                self.assertIn("adir", byname, out.stdout)
                self.assertRegex(byname["one.txt"], r"^-\S*\s.*\b5\b", out.stdout)
                self.assertTrue(byname["adir"].startswith("d"), out.stdout)
                self.assertNotIn("forged", out.stdout)

    # -- ABOR

    def test_abor_download(self):
        c = self.logged_in()
        c.expect("TYPE I", 200)
        port = c.epsv()
        import socket
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(raw.close)
        self.assertEqual(c.cmd("RETR huge.bin").code, 150)
        d = c.wrap_data(raw)
        got = 0
        while got < 256 * 1024:
            got += len(d.recv(65536))
        r1 = c.cmd("ABOR", timeout=15)
        self.assertEqual(r1.code, 426, r1)
        r2 = c.read_reply(timeout=15)
        self.assertEqual(r2.code, 226, r2)
        d.close()
        c.expect("NOOP", 200)
        data, r, _ = c.retr("hello.txt")
        self.assertEqual((r.code, data), (226, HELLO), r)

    def test_abor_upload_keeps_partial(self):
        c = self.logged_in()
        c.expect("TYPE I", 200)
        data = os.urandom(1024 * 1024)
        port = c.epsv()
        import socket
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(raw.close)
        self.assertEqual(c.cmd("STOR abor-up.bin").code, 150)
        d = c.wrap_data(raw)
        d.sendall(data[:600000])
        r1 = c.cmd("ABOR", timeout=15)
        self.assertEqual(r1.code, 426, r1)
        r2 = c.read_reply(timeout=15)
        self.assertEqual(r2.code, 226, r2)
        raw.close()
        self.assertFalse(os.path.exists(self.home("abor-up.bin")))
        # ABOR may come before the server read the first byte: then the
        # reply says nothing is kept, else how many bytes are.
        m = re.search(r"(\d+) bytes kept|nothing kept", r1.text)
        self.assertTrue(m, r1)
        kept = int(m.group(1)) if m.group(1) else 0
        self.assertLessEqual(kept, 600000)
        if kept:
            self.assertEqual(int(c.expect("SIZE abor-up.bin", 213).text.strip()), kept)
        else:  # ABOR came before the first byte was read: nothing to keep
            self.assertEqual(c.cmd("SIZE abor-up.bin").code, 550)
        r, _ = c.stor("abor-up.bin", data[kept:], cmd="APPE")
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("abor-up.bin")), sha(data))

    def test_abor_without_transfer(self):
        c = self.logged_in()
        r = c.cmd("ABOR")
        self.assertIn(r.code, (225, 226), r)
        c.expect("NOOP", 200)

    # -- many files

    def test_lftp_mget_200_files(self):
        dst = self.scratch("many")
        os.makedirs(dst, exist_ok=True)
        t0 = time.monotonic()
        out = ftps_util.lftp(self.port, "lcd %s; mget many/*" % dst, timeout=150)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:] + out.stdout[-2000:])
        got = sorted(os.listdir(dst))
        self.assertEqual(len(got), MANY, got[:10])
        for i in range(MANY):
            with open(os.path.join(dst, "f%03d.txt" % i), "rb") as f:
                self.assertEqual(f.read(), b"file %d\n" % i * (i % 7 + 1), i)
        sys.stderr.write("(200 files by lftp mget: %.1f s) " % (time.monotonic() - t0))


class ClearData(ftps_util.FTPSCase):
    """require_tls off: PROT C data connections are plain TCP, so one read
    can return a whole 64 KiB chunk of what the client sent."""

    SERVICE_KEYS = {"require_tls": False}

    def test_ascii_upload_cr_held_over_a_full_read(self):
        # Each block ends in a CR that the server must hold back until it
        # sees the next byte; after the pause the next block is 128 KiB with
        # no CR, so the read after the held CR can fill a whole chunk: the
        # converted output is then the chunk plus that CR.
        c = self.logged_in(prot=False)
        c.expect("PBSZ 0", 200)
        c.expect("PROT C", 200)
        c.expect("TYPE A", 200)
        port = c.data_port()
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(raw.close)
        self.assertEqual(c.cmd("STOR ascii-cr.txt").code, 150)
        sent = b""
        for i in range(6):
            # One block opens with the LF that completes the held CR.
            block = (b"\n" if i == 3 else b"") + os.urandom(128 * 1024).replace(b"\r", b"x") + b"\r"
            raw.sendall(block)
            sent += block
            time.sleep(0.1)  # the server reads up to the CR, and holds it
        raw.shutdown(socket.SHUT_WR)
        raw.close()
        r = c.read_reply(timeout=30)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("ascii-cr.txt")), sha(sent.replace(b"\r\n", b"\n")))
        c.expect("NOOP", 200)


    def test_abor_sent_as_urgent_data(self):
        # Python's ftplib (plain FTP) sends "ABOR\r\n" with MSG_OOB: its LF
        # is TCP urgent data, which must stay in the stream for the line
        # to end.
        self.write_home("urgent.bin", os.urandom(8 << 20))
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", self.port, timeout=15)
        self.addCleanup(ftp.close)
        ftp.login("alice", "alice-pw")
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("RETR urgent.bin")
        self.addCleanup(conn.close)
        got = 0
        while got < 256 * 1024:
            got += len(conn.recv(65536))
        r = ftp.abort()
        self.assertIn(r[:3], ("426", "226"), r)
        if r.startswith("426"):
            self.assertTrue(ftp.getresp().startswith("226"))
        conn.close()
        self.assertTrue(ftp.voidcmd("NOOP").startswith("200"))


class CommitInFlight(ftps_util.FTPSCase):
    """An upload's commit (fsync and rename) runs on the offload pool; three
    slow password checks (about a second each, harness.slow_hash) hold all
    of its threads (two that take any job, oldest first, and the logins'
    own), so the commit waits behind them long enough for a command to
    arrive meanwhile."""

    EXTRA = "limits = { max_login_failures = 1000; };"
    USERS = [{"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]},
             {"name": "slow", "password": "slow-pw", "hash": harness.slow_hash("slow-pw"), "perms": ["read"]}]

    def busy_pool(self):
        """Three wrong passwords of the slow user on the pool; returns joiners."""
        joins = []
        for _ in range(3):
            s = self.control()
            s.auth_tls()
            s.expect("USER slow", 331)
            joins.append(ftps_util.in_thread(s.cmd, "PASS wrong-" + os.urandom(6).hex(), 20))
        time.sleep(0.3)  # the three checks are running
        return joins

    def upload_held_in_its_commit(self, name):
        """An upload of NAME sent whole while the pool is busy: its commit
        waits. Returns (control, data, joiners of the busy checks)."""
        c = self.logged_in()
        data = os.urandom(300000)
        raw = socket.create_connection(("127.0.0.1", c.epsv()), timeout=10)
        self.addCleanup(raw.close)
        self.assertEqual(c.cmd("STOR " + name).code, 150)
        d = c.wrap_data(raw)
        d.sendall(data)
        joins = self.busy_pool()
        d.settimeout(5)
        d.unwrap()  # close_notify: the upload is whole, its commit is queued
        d.close()
        time.sleep(0.2)
        return c, data, joins

    def test_abor_during_commit_answers_after_the_transfer(self):
        c, data, joins = self.upload_held_in_its_commit("commit-abor.bin")
        c.send("ABOR")
        first, second = c.read_reply(timeout=20), c.read_reply(timeout=20)
        # The transfer's own reply first, then ABOR's.
        self.assertEqual(first.code, 226, (first, second))
        self.assertIn("Transfer complete", first.text, (first, second))
        self.assertEqual(second.code, 226, (first, second))
        self.assertIn("ABOR", second.text, (first, second))
        self.assertEqual(sha(self.read_home("commit-abor.bin")), sha(data))
        c.expect("NOOP", 200)
        for join in joins:
            r, err = join(timeout=30)
            self.assertIsNone(err)
            self.assertEqual(r.code, 530, r)

    def test_quit_during_commit_answers_after_the_transfer(self):
        # RFC 959: QUIT during a transfer gets the transfer's reply first,
        # so the client learns its file was stored; then 221 and the close.
        # Lines sent after QUIT (STAT would run during a transfer) are not
        # answered.
        c, data, joins = self.upload_held_in_its_commit("commit-quit.bin")
        c.send("QUIT\r\nSTAT\r\nNOOP\r\n")
        first, second = c.read_reply(timeout=20), c.read_reply(timeout=20)
        self.assertEqual((first.code, second.code), (226, 221), (first, second))
        self.assertIn("Transfer complete", first.text, (first, second))
        self.assertTrue(c.closed_by_peer(), "the connection stays open after 221")
        self.assertEqual(c.buf, b"", "a reply after 221")
        self.assertEqual(sha(self.read_home("commit-quit.bin")), sha(data))
        for join in joins:
            r, err = join(timeout=30)
            self.assertIsNone(err)
            self.assertEqual(r.code, 530, r)


class QuitBehindTheData(ftps_util.FTPSCase):
    """A client may send QUIT as soon as it has closed its data connection,
    before the server has read the last bytes. RFC 959 keeps the connection
    open for the transfer's reply: the upload runs to its end, its 226
    comes first, then 221. Before, the QUIT cut it: 221 alone, and the file
    was never stored (its first bytes parked as an interrupted upload)."""

    USERS = [{"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]}]

    def test_upload_sent_whole_before_quit_is_stored(self):
        for size in (200000, 8000000):
            with self.subTest(size=size):
                name = "quit-behind-%d.bin" % size
                data = os.urandom(size)
                c = self.logged_in()
                port = c.epsv()
                raw = socket.create_connection(("127.0.0.1", port), timeout=10)
                self.addCleanup(raw.close)
                r = c.cmd("STOR " + name)
                self.assertEqual(r.code, 150, r)
                d = c.wrap_data(raw)
                d.sendall(data)
                d.setblocking(False)
                try:
                    d.unwrap()  # close_notify sent; the server's is not waited for
                except ssl.SSLWantReadError:
                    pass
                c.send("QUIT")
                first, second = c.read_reply(timeout=20), c.read_reply(timeout=20)
                self.assertEqual((first.code, second.code), (226, 221), (first, second))
                self.assertTrue(c.closed_by_peer(), "the connection stays open after 221")
                d.close()
                self.assertEqual(sha(self.read_home(name)), sha(data))

    def test_quit_then_a_cut_data_connection(self):
        # The client leaves mid-upload: the cut is the upload's end (426,
        # what arrived kept for a resumption), then 221.
        c = self.logged_in()
        port = c.epsv()
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(raw.close)
        r = c.cmd("STOR quit-cut.bin")
        self.assertEqual(r.code, 150, r)
        d = c.wrap_data(raw)
        d.sendall(b"x" * 100000)
        c.send("QUIT")
        time.sleep(0.3)
        d.close()  # no close_notify
        first, second = c.read_reply(timeout=20), c.read_reply(timeout=20)
        self.assertEqual((first.code, second.code), (426, 221), (first, second))
        self.assertTrue(c.closed_by_peer())
        self.assertFalse(os.path.exists(os.path.join(self.server.home("alice"), "quit-cut.bin")))


class DiskFull(ftps_util.FTPSCase):
    """A user whose home is a 4 MiB tmpfs: an upload that does not fit gets
    452 with the reason; what was there stays intact."""

    USERS = [{"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]}]

    @classmethod
    def prepare(cls, server):
        if os.geteuid() != 0:
            raise unittest.SkipTest("mounting a small tmpfs needs root")
        home = server.home("alice")
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", home],
                             capture_output=True, text=True, timeout=20)
        if out.returncode != 0:
            raise unittest.SkipTest("cannot mount a tmpfs: " + out.stderr.strip())
        cls.addClassCleanup(lambda: subprocess.run(["umount", "-l", home], timeout=20))
        with open(os.path.join(home, "early.txt"), "wb") as f:
            f.write(b"written before the disk filled\n")

    def test_disk_full_452(self):
        c = self.logged_in()
        c.expect("TYPE I", 200)
        first = os.urandom(1024 * 1024)
        r, _ = c.stor("first.bin", first)
        self.assertEqual(r.code, 226, r)
        r, info = c.stor("toobig.bin", os.urandom(8 * 1024 * 1024))
        self.assertIn(r.code, (451, 452, 552), r)
        self.assertRegex(r.text.lower(), r"space|full|quota", r)
        self.assertFalse(os.path.exists(self.home("toobig.bin")))
        self.assertEqual(self.read_home("first.bin"), first)
        self.assertEqual(self.read_home("early.txt"), b"written before the disk filled\n")
        c.expect("NOOP", 200)
        data, r, _ = c.retr("first.bin")
        self.assertEqual((r.code, sha(data or b"")), (226, sha(first)), r)

    def test_interrupted_upload_whose_tail_does_not_fit_keeps_the_rest(self):
        """The disk has exactly 1 MiB free; an upload sends 1 MiB + 64 KiB
        and its data connection is cut without close_notify. The first
        1 MiB is written as it comes; the last 64 KiB, written when the
        upload is put aside for resumption, do not fit: the partial keeps
        the 1 MiB (SIZE says so, the log says what was lost and why), and
        once there is room again REST + STOR completes the file."""
        filler = self.leave_free(1 << 20)
        data = os.urandom((1 << 20) + (64 << 10))
        c = self.logged_in()
        c.expect("TYPE I", 200)
        r, _ = c.stor("tail.bin", data, cut_after=len(data))
        self.assertEqual(r.code, 426, r)
        self.assertIn("%d bytes kept" % (1 << 20), r.text, r)
        self.assertTrue(self.server.wait_log("its last %d bytes could not be written (No space left on device), "
                                             "%d bytes kept" % (64 << 10, 1 << 20), timeout=10))
        self.assertEqual(c.cmd("SIZE tail.bin").text.strip(), str(1 << 20))
        self.assertFalse(os.path.exists(self.home("tail.bin")))
        os.unlink(filler)
        r, _ = c.stor("tail.bin", data[1 << 20:], rest=1 << 20)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("tail.bin")), sha(data))
        os.unlink(self.home("tail.bin"))

    def leave_free(self, nbytes):
        """Fills the disk with a file of its own until nbytes are free;
        returns its path (removed at the test's end if still there)."""
        st = os.statvfs(self.home())
        filler = self.home("filler-%d.bin" % nbytes)
        with open(filler, "wb") as f:
            f.write(b"\0" * (st.f_bavail * st.f_frsize - nbytes))
        self.addCleanup(lambda: os.path.exists(filler) and os.unlink(filler))
        st = os.statvfs(self.home())
        self.assertEqual(st.f_bavail * st.f_frsize, nbytes)
        return filler

    def test_resumed_upload_that_fills_the_disk_keeps_its_partial(self):
        """An upload cut after 512 KiB leaves a partial of 512 KiB (426,
        '524288 bytes kept'). Its APPE of 2 MiB more fills the disk: 452,
        and the partial stays with all that was written (more than the
        512 KiB; the reply and SIZE say how much), so once there is room
        the client resumes from there and gets the whole file."""
        data = os.urandom(2560 << 10)
        c = self.logged_in()
        c.expect("TYPE I", 200)
        r, _ = c.stor("resumed-full.bin", data, cut_after=512 << 10)
        self.assertEqual(r.code, 426, r)
        self.assertIn("%d bytes kept" % (512 << 10), r.text, r)
        filler = self.leave_free(1 << 20)
        r, _ = c.stor("resumed-full.bin", data[512 << 10:], cmd="APPE")
        self.assertEqual(r.code, 452, r)
        m = re.search(r"the (\d+) bytes kept stay: resume with REST (\d+) and STOR", r.text)
        self.assertIsNotNone(m, r)
        kept = int(m.group(1))
        self.assertEqual(int(m.group(2)), kept)
        self.assertGreater(kept, 512 << 10)
        self.assertLessEqual(kept, (512 << 10) + (1 << 20))
        self.assertEqual(c.cmd("SIZE resumed-full.bin").text.strip(), str(kept))
        self.assertFalse(os.path.exists(self.home("resumed-full.bin")))
        os.unlink(filler)
        r, _ = c.stor("resumed-full.bin", data[kept:], rest=kept)
        self.assertEqual(r.code, 226, r)
        self.assertEqual(sha(self.read_home("resumed-full.bin")), sha(data))
        os.unlink(self.home("resumed-full.bin"))

if __name__ == "__main__":
    harness.main()
