"""The FTPS control connection as docs/ftps.md describes it: explicit (AUTH
TLS) and implicit login, what require_tls refuses, FEAT/SYST/PWD/CWD/CDUP,
well-formed multi-line replies, folders, renames and deletes, permission
denials, confinement to the home (../ and symlinks), bytes injected after AUTH
TLS, garbage and overlong lines, and active mode being off."""

import os
import random
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402

HELLO = b"hello\n"
SECRET = b"READER-PRIVATE-CONTENT\n"
OUTSIDE = b"OUTSIDE-SECRET\n"


class Session(ftps_util.FTPSCase):

    @classmethod
    def prepare(cls, server):
        home = server.home("alice")
        with open(os.path.join(home, "hello.txt"), "wb") as f:
            f.write(HELLO)
        os.makedirs(os.path.join(home, "docs", "sub"))
        with open(os.path.join(server.home("reader"), "secret.txt"), "wb") as f:
            f.write(SECRET)
        with open(os.path.join(server.home("reader"), "shared.txt"), "wb") as f:
            f.write(b"for readers\n")
        os.makedirs(os.path.join(server.home("reader"), "adir"))
        outside = os.path.join(server.dir, "outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "secret.txt"), "wb") as f:
            f.write(OUTSIDE)
        os.chmod(outside, 0o777)  # a confinement failure would show as a write here
        server.give(outside)
        os.symlink("/etc", os.path.join(home, "etc-link"))
        os.symlink(outside, os.path.join(home, "outlink"))
        os.symlink(os.path.join(outside, "secret.txt"), os.path.join(home, "outfile"))
        os.symlink("../../reader", os.path.join(home, "docs", "up"))
        # A drop box the user may enter but not list, and its opposite.
        for name, mode in (("dropbox", 0o311), ("namesonly", 0o644)):
            os.makedirs(os.path.join(home, name))
            with open(os.path.join(home, name, "known.txt"), "wb") as f:
                f.write(HELLO)
            os.chmod(os.path.join(home, name), mode)
            cls.addClassCleanup(os.chmod, os.path.join(home, name), 0o755)

    # -- login

    def test_explicit_login(self):
        c = self.control()
        self.assertEqual(c.banner.code, 220, c.banner)
        self.assertFalse(c.banner.faults, c.banner)
        c.auth_tls()
        self.assertIn(c.sock.version(), ("TLSv1.2", "TLSv1.3"))
        c.expect("USER alice", 331)
        c.expect("PASS alice-pw", 230)
        r = c.expect("PWD", 257)
        self.assertTrue(r.text.startswith('"/"'), r)
        c.expect("QUIT", 221)
        self.assertTrue(c.closed_by_peer(), "QUIT did not close the connection")

    def test_auth_ssl_also_accepted(self):
        c = self.control()
        r = c.cmd("AUTH SSL")
        self.assertEqual(r.code, 234, r)
        c.sock = c.ctx.wrap_socket(c.sock, server_hostname="localhost")
        c.tls = True
        c.login("alice")
        c.expect("NOOP", 200)

    def test_implicit_login(self):
        c = self.control(implicit=True)
        self.assertEqual(c.banner.code, 220, c.banner)
        c.login("alice")
        r = c.expect("PWD", 257)
        self.assertTrue(r.text.startswith('"/"'), r)
        data, r, _ = c.retr("hello.txt")
        self.assertEqual((r.code, data), (226, HELLO), r)

    def test_implicit_port_speaks_tls_from_first_byte(self):
        """A plain client on the implicit port gets no plain-text banner."""
        with socket.create_connection(("127.0.0.1", self.iport), timeout=5) as s:
            s.settimeout(2)
            try:
                got = s.recv(100)
            except (socket.timeout, TimeoutError, ConnectionResetError):
                got = b""
            self.assertFalse(got.startswith(b"220"), got)

    def test_wrong_password(self):
        c = self.control()
        c.auth_tls()
        c.expect("USER alice", 331)
        t0 = time.monotonic()
        r = c.cmd("PASS not-the-password", timeout=15)
        self.assertEqual(r.code, 530, r)
        self.assertGreaterEqual(time.monotonic() - t0, 0.8, "530 Login incorrect came without a delay")
        c.expect("USER nosuchuser", 331)  # same answer for unknown users
        r = c.cmd("PASS whatever", timeout=15)
        self.assertEqual(r.code, 530, r)

    def test_user_before_auth_tls_530(self):
        c = self.control()
        r = c.cmd("USER alice")
        self.assertEqual(r.code, 530, r)
        self.assertIn("AUTH TLS", r.text)
        r = c.cmd("PASS alice-pw")
        self.assertEqual(r.code, 530, r)
        c.auth_tls()
        c.login("alice")

    def test_commands_before_login_530(self):
        c = self.control()
        c.auth_tls()
        for line in ("PWD", "CWD /", "RETR hello.txt", "LIST", "MKD x", "EPSV", "PASV", "SIZE hello.txt"):
            with self.subTest(line=line):
                r = c.cmd(line)
                self.assertEqual(r.code, 530, r)
        # allowed before login
        self.assertEqual(c.cmd("NOOP").code, 200)
        self.assertEqual(c.cmd("SYST").code, 215)
        self.assertEqual(c.cmd("FEAT").code, 211)
        self.assertEqual(c.cmd("PBSZ 0").code, 200)
        self.assertEqual(c.cmd("PROT P").code, 200)
        self.assertFalse(os.path.exists(self.home("x")))

    def test_data_before_prot_p_refused(self):
        c = self.control()
        c.login("alice", prot=False)
        # The refusal may come at EPSV or at RETR: either way a 5xx and no bytes.
        r = c.cmd("EPSV")
        if r.code == 229:
            port = int(re.search(r"\|(\d+)\|", r.text).group(1))
            with socket.create_connection(("127.0.0.1", port), timeout=5) as d:
                r = c.cmd("RETR hello.txt")
                self.assertGreaterEqual(r.code, 500, r)
                d.settimeout(3)
                try:
                    got = d.recv(100)
                except (socket.timeout, TimeoutError, ConnectionResetError):
                    got = b""
                self.assertNotIn(HELLO, got)
        else:
            self.assertGreaterEqual(r.code, 500, r)
            r = c.cmd("RETR hello.txt")
            self.assertGreaterEqual(r.code, 500, r)
        c.expect("NOOP", 200)

    def test_prot_c_refused(self):
        c = self.control()
        c.login("alice", prot=False)
        c.expect("PBSZ 0", 200)
        r = c.cmd("PROT C")
        self.assertEqual(r.code, 534, r)
        c.expect("PROT P", 200)
        c.protected = True
        c.expect("TYPE I", 200)
        data, r, _ = c.retr("hello.txt")
        self.assertEqual((r.code, data), (226, HELLO), r)

    # -- replies and simple commands

    def test_feat(self):
        c = self.control()
        c.auth_tls()
        r = c.expect("FEAT", 211)
        self.assertTrue(r.multi, r)
        self.assertFalse(r.faults, r)
        feats = [l for l in r.lines[1:-1]]
        for l in feats:
            self.assertTrue(l.startswith(" "), "FEAT line without its leading space: %r" % l)
        names = {l.strip().split(" ")[0].upper() for l in feats}
        for f in ("AUTH", "PBSZ", "PROT", "EPSV", "MLST", "SIZE", "MDTM", "MFMT", "REST", "UTF8"):
            self.assertIn(f, names, r)
        self.assertIn("AUTH TLS", [l.strip().upper() for l in feats])
        self.assertIn("REST STREAM", [l.strip().upper() for l in feats])
        mlst = [l.strip() for l in feats if l.strip().upper().startswith("MLST ")][0]
        for fact in ("type*", "size*", "modify*"):
            self.assertIn(fact, mlst.lower())
        c.expect("NOOP", 200)  # still in step after the multi-line reply

    def test_syst_noop_help_stat(self):
        c = self.logged_in()
        r = c.expect("SYST", 215)
        self.assertTrue(r.text.startswith("UNIX"), r)
        c.expect("NOOP", 200)
        for line, code in (("HELP", 214), ("STAT", 211)):
            r = c.expect(line, code)
            self.assertFalse(r.faults, r)
        c.expect("OPTS UTF8 ON", 200)
        c.expect("TYPE I", 200)
        c.expect("TYPE A", 200)
        c.expect("MODE S", 200)
        c.expect("STRU F", 200)
        self.assertEqual(c.cmd("TYPE E").code // 100, 5)
        self.assertEqual(c.cmd("MODE B").code // 100, 5)
        c.expect("NOOP", 200)
        # An empty folder (or one with only hidden files) lists as nothing;
        # under the sanitizers this once stopped the server.
        os.makedirs(self.home("stat-empty"), exist_ok=True)
        self.server.give(self.home("stat-empty"))
        r = c.expect("STAT stat-empty", 213)
        self.assertEqual(len(r.lines), 2, r)
        c.expect("NOOP", 200)

    def test_multiline_replies_well_formed(self):
        c = self.logged_in()
        for line, code in (("FEAT", 211), ("HELP", 214), ("STAT", 211), ("MLST hello.txt", 250),
                           ("MLST /docs", 250)):
            with self.subTest(line=line):
                r = c.expect(line, code)
                self.assertTrue(r.multi, r)
                self.assertFalse(r.faults, r)
                for l in r.lines[1:-1]:
                    self.assertTrue(l.startswith(" "), "continuation line not indented: %r" % l)
                # Nothing left over: the next reply is NOOP's.
                c.expect("NOOP", 200)

    def test_pwd_cwd_cdup(self):
        c = self.logged_in()
        self.assertTrue(c.expect("PWD", 257).text.startswith('"/"'))
        c.expect("CWD docs", 250)
        self.assertTrue(c.expect("PWD", 257).text.startswith('"/docs"'))
        c.expect("CWD sub", 250)
        self.assertTrue(c.expect("PWD", 257).text.startswith('"/docs/sub"'))
        r = c.cmd("CDUP")
        self.assertIn(r.code, (200, 250), r)
        self.assertTrue(c.expect("PWD", 257).text.startswith('"/docs"'))
        self.assertEqual(c.cmd("CWD missing").code, 550)
        self.assertEqual(c.cmd("CWD /hello.txt").code, 550)
        self.assertTrue(c.expect("PWD", 257).text.startswith('"/docs"'))
        c.expect("XPWD", 257)
        c.expect("CWD /docs/sub", 250)
        self.assertTrue(c.expect("PWD", 257).text.startswith('"/docs/sub"'))
        c.expect("CWD /", 250)
        r = c.cmd("CDUP")  # at the top: stays there
        self.assertIn(r.code, (200, 250, 550), r)
        self.assertTrue(c.expect("PWD", 257).text.startswith('"/"'))

    def test_xcup_is_cdup(self):
        # RFC 775's name for CDUP, beside XCWD, XPWD, XMKD and XRMD.
        c = self.logged_in()
        c.expect("CWD /docs/sub", 250)
        r = c.expect("XCUP", 250)
        self.assertEqual(r.text, "Folder changed to /docs")
        self.assertTrue(c.expect("XPWD", 257).text.startswith('"/docs"'))

    def test_pwd_quotes_doubled(self):
        name = 'say "hi"'
        os.makedirs(self.home(name), exist_ok=True)
        self.server.give(self.home(name))
        c = self.logged_in()
        c.expect("CWD " + name, 250)
        r = c.expect("PWD", 257)
        self.assertTrue(r.text.startswith('"/say ""hi"""'), r)

    def test_257_whole_for_deep_folders(self):
        # Over 2 KiB of path, quotes doubled: the 257 still holds it whole,
        # closing quote and all (RFC 959 appendix II).
        names = [('deep%02d "q" ' % i) + "d" * 228 for i in range(15)]
        path = self.home()
        for n in names:
            path = os.path.join(path, n)
            os.makedirs(path, exist_ok=True)
            self.server.give(path)
        want = "/" + "/".join(names)
        self.assertGreater(len(want.replace('"', '""')), 3000)

        def quoted(text):
            """The path inside a 257's leading quotes, undoubled; None if unclosed."""
            if not text.startswith('"'):
                return None
            out, i = "", 1
            while i < len(text):
                if text[i] == '"':
                    if text[i + 1:i + 2] == '"':
                        out, i = out + '"', i + 2
                        continue
                    return out
                out, i = out + text[i], i + 1
            return None
        c = self.logged_in()
        for n in names:
            c.expect("CWD " + n, 250)
        r = c.expect("PWD", 257)
        self.assertEqual(quoted(r.text), want, r)
        r = c.expect("MKD made-deep", 257)
        self.assertEqual(quoted(r.text), want + "/made-deep", r)
        self.assertTrue(os.path.isdir(os.path.join(path, "made-deep")))
        c.expect("NOOP", 200)

    def test_size_mdtm(self):
        c = self.logged_in()
        c.expect("TYPE I", 200)
        r = c.expect("SIZE hello.txt", 213)
        self.assertEqual(r.text.strip(), str(len(HELLO)))
        r = c.expect("MDTM hello.txt", 213)
        want = time.strftime("%Y%m%d%H%M%S", time.gmtime(os.stat(self.home("hello.txt")).st_mtime))
        self.assertEqual(r.text.strip()[:14], want)
        self.assertEqual(c.cmd("SIZE missing.txt").code, 550)

    def test_epsv_protocols(self):
        # On an IPv4 control connection only protocol 1 is offered; RFC
        # 2428's 522 names the ones that are. What is no protocol number
        # at all is a syntax error: 501.
        c = self.logged_in()
        for arg in ("2", "3"):
            with self.subTest(arg=arg):
                r = c.cmd("EPSV " + arg)
                self.assertEqual(r.code, 522, r)
                self.assertIn("(1)", r.text)
        for arg in ("x", "1x", "1234", "-1"):
            with self.subTest(arg=arg):
                self.assertEqual(c.cmd("EPSV " + arg).code, 501)
        self.assertEqual(c.cmd("EPSV 1").code, 229)
        data, r, _ = c.retr("hello.txt")
        self.assertEqual((r.code, data), (226, HELLO), r)

    def test_mfmt_sets_the_modification_time(self):
        # What FileZilla, WinSCP, lftp and rclone send after an upload to
        # keep the source's time (draft-somers-ftp-mfxx): the file's mtime
        # changes, MDTM and MLST then give it, the reply names it.
        path = self.write_home("stamped.txt", b"stamp\n")
        c = self.logged_in()
        r = c.expect("MFMT 20200506070809 stamped.txt", 213)
        self.assertEqual(r.text.strip(), "Modify=20200506070809; /stamped.txt", r)
        want = 1588748889  # date -u -d "2020-05-06 07:08:09" +%s
        self.assertEqual(os.stat(path).st_mtime, want)
        self.assertEqual(c.expect("MDTM stamped.txt", 213).text.strip()[:14], "20200506070809")
        self.assertIn("modify=20200506070809", c.expect("MLST stamped.txt", 250).lines[1].lower())
        c.expect("MFMT 19991231235959.25 /stamped.txt", 213)
        self.assertEqual(os.stat(path).st_mtime_ns, (946684799 * 10**9) + 250000000)
        self.assertEqual(self.read_home("stamped.txt"), b"stamp\n")  # the content is untouched
        os.makedirs(self.home("stamped-dir"), exist_ok=True)
        self.server.give(self.home("stamped-dir"))
        c.expect("MFMT 20010203040506 stamped-dir", 213)
        self.assertEqual(os.stat(self.home("stamped-dir")).st_mtime, 981173106)
        for line in ("MFMT 2020 stamped.txt", "MFMT 20200230000000 stamped.txt", "MFMT 20200506070809",
                     "MFMT stamped.txt", "MFMT 20200506070809.x stamped.txt"):
            with self.subTest(line=line):
                self.assertEqual(c.cmd(line).code, 501)
        self.assertEqual(c.cmd("MFMT 20200506070809 missing.txt").code, 550)
        # A final symlink to a file outside the home: its time stays.
        before = os.stat(os.path.join(self.server.dir, "outside", "secret.txt")).st_mtime
        self.assertEqual(c.cmd("MFMT 20200506070809 outfile").code, 550)
        self.assertEqual(c.cmd("MFMT 20200506070809 outlink/secret.txt").code, 550)
        self.assertEqual(os.stat(os.path.join(self.server.dir, "outside", "secret.txt")).st_mtime, before)
        # Changing a file's time is writing: a read-only user may not.
        reader = self.logged_in("reader")
        r = reader.cmd("MFMT 20200506070809 shared.txt")
        self.assertEqual(r.code, 550, r)
        self.assertIn("write", r.text)
        self.assertNotEqual(os.stat(os.path.join(self.server.home("reader"), "shared.txt")).st_mtime, want)

    def test_lftp_put_keeps_the_source_time(self):
        # lftp sends MFMT after a put when FEAT lists it (else SITE UTIME,
        # which gets 502 and leaves the upload's own time).
        src = self.scratch("old.txt", b"from long ago\n")
        os.utime(src, (1262304000, 1262304000))  # 2010-01-01
        out = ftps_util.lftp(self.port, "put %s -o lftp-old.txt" % src)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(self.read_home("lftp-old.txt"), b"from long ago\n")
        self.assertEqual(os.stat(self.home("lftp-old.txt")).st_mtime, 1262304000)

    # -- changing the tree

    def assert_mkd_and_rnto_refused(self, c, name, source, why):
        """Neither MKD nor RNTO (after RNFR source) makes name: each gets
        553, its text saying why."""
        r = c.cmd("MKD " + name)
        self.assertEqual(r.code, 553, r)
        self.assertIn(why, r.text)
        c.expect("RNFR " + source, 350)
        r = c.cmd("RNTO " + name)
        self.assertEqual(r.code, 553, r)
        self.assertIn(why, r.text)

    def test_mkdir_rmdir(self):
        c = self.logged_in()
        r = c.expect("MKD made", 257)
        self.assertIn('"/made"', r.text)
        self.assertTrue(os.path.isdir(self.home("made")))
        self.assertEqual(c.cmd("MKD made").code, 550)  # exists
        self.assertEqual(c.cmd("MKD nowhere/deep").code, 550)
        c.expect("CWD made", 250)
        c.expect("MKD inner", 257)
        self.assertTrue(os.path.isdir(self.home("made", "inner")))
        c.expect("CWD /", 250)
        self.assertEqual(c.cmd("RMD made").code, 550)  # not empty
        c.expect("RMD made/inner", 250)
        c.expect("RMD made", 250)
        self.assertFalse(os.path.exists(self.home("made")))
        self.assertEqual(c.cmd("RMD made").code, 550)

    def test_rnto_after_the_source_folder_went(self):
        # The source's folder goes between RNFR and RNTO: the 550 names
        # the source, not the target.
        self.write_home("going/src.txt", b"x")
        c = self.logged_in()
        c.expect("RNFR going/src.txt", 350)
        shutil.rmtree(self.home("going"))
        r = c.cmd("RNTO kept.txt")
        self.assertEqual(r.code, 550, r)
        self.assertIn("/going/src.txt", r.text)
        self.assertNotIn("kept.txt", r.text)

    def test_mfmt_answers_the_time_stored(self):
        # The draft: "the server responds with the modification time it
        # set". A file system may store another than the one asked for
        # (ext4 clamps past 2446-05-10): the reply is what MDTM then reads.
        self.write_home("far-future.txt", b"f\n")
        c = self.logged_in()
        r = c.expect("MFMT 99991231235959 far-future.txt", 213)
        stored = c.expect("MDTM far-future.txt", 213).text.strip()
        self.assertEqual(r.text, "Modify=%s; /far-future.txt" % stored)
        self.assertIn("modify=%s;" % stored, c.expect("MLST far-future.txt", 250).lines[1])

    def test_reserved_names_are_not_made(self):
        # The server's own names for uploads under way (.wharf-upload.*,
        # in any case): making one is refused as what it is, as HTTPS's 403.
        c = self.logged_in()
        for name in (".wharf-upload.mine.txt", ".WHARF-Upload.x.partial", "docs/.wharf-upload.y"):
            with self.subTest(name=name):
                r, info = c.stor(name, b"x")
                self.assertEqual((r.code, r.text), (553, "/%s: reserved name (the server's, for uploads under way)"
                                                    % name), r)
                self.assertIsNone(info["prelim"])
                self.assert_mkd_and_rnto_refused(c, name, "hello.txt", "reserved name")
                self.assertFalse(os.path.lexists(self.home(name)))
        self.assertEqual(self.read_home("hello.txt"), HELLO)
        # One in a path that goes on is no folder that exists: 550 as ever.
        r = c.cmd("MKD .wharf-upload.d/inner")
        self.assertEqual((r.code, r.text), (550, "/.wharf-upload.d/inner: no such file or folder"))
        # Naming one to read it finds nothing, as ever.
        self.assertEqual(c.cmd("SIZE .wharf-upload.mine.txt").text, "/.wharf-upload.mine.txt: no such file or folder")

    def test_rnto_folder_into_itself(self):
        self.write_home("mv/inner/f.txt", b"f")
        os.symlink("mv", self.home("mv-link"))
        c = self.logged_in()
        for to in ("mv/inner/mv", "mv/x", "mv-link/inner/mv"):  # the last seen through a link
            with self.subTest(to=to):
                c.expect("RNFR mv", 350)
                r = c.cmd("RNTO " + to)
                self.assertEqual((r.code, r.text), (550, "/%s: a folder cannot be moved into itself" % to), r)
        self.assertEqual(self.read_home("mv/inner/f.txt"), b"f")
        # A file is no folder: moving one under its own name is no such case.
        self.write_home("mvf", b"f")
        c.expect("RNFR mvf", 350)
        self.assertNotIn("into itself", c.cmd("RNTO mvf/x").text)
        # A sibling that shares the name's start is elsewhere.
        c.expect("RNFR mv", 350)
        c.expect("RNTO mv2", 250)
        self.assertEqual(self.read_home("mv2/inner/f.txt"), b"f")

    def test_rename_and_delete(self):
        self.write_home("ren-a.txt", b"AAA")
        self.write_home("ren-b.txt", b"BBB")
        c = self.logged_in()
        c.expect("RNFR ren-a.txt", 350)
        c.expect("RNTO renamed.txt", 250)
        self.assertFalse(os.path.exists(self.home("ren-a.txt")))
        self.assertEqual(self.read_home("renamed.txt"), b"AAA")
        # onto an existing file (alice has delete)
        c.expect("RNFR renamed.txt", 350)
        c.expect("RNTO ren-b.txt", 250)
        self.assertEqual(self.read_home("ren-b.txt"), b"AAA")
        self.assertEqual(c.cmd("RNTO x.txt").code, 503)  # RNTO without RNFR
        self.assertEqual(c.cmd("RNFR missing.txt").code, 550)
        # into a folder
        c.expect("RNFR ren-b.txt", 350)
        c.expect("RNTO docs/moved.txt", 250)
        self.assertEqual(self.read_home("docs/moved.txt"), b"AAA")
        c.expect("DELE docs/moved.txt", 250)
        self.assertFalse(os.path.exists(self.home("docs/moved.txt")))
        self.assertEqual(c.cmd("DELE docs/moved.txt").code, 550)
        self.assertEqual(c.cmd("DELE docs").code, 550)  # a folder is not DELE'd

    def test_trailing_slash_names_a_folder(self):
        # "f.txt/" is not the file f.txt, as Linux (ENOTDIR) and HTTPS (404,
        # 409, 405) read it: a command on a file refuses it and changes
        # nothing; a command on a folder takes "dir/" as ever.
        self.write_home("slash.txt", b"SLASH")
        os.makedirs(self.home("slashdir", "inner"), exist_ok=True)
        self.server.give(self.home("slashdir"))
        self.server.give(self.home("slashdir", "inner"))
        mtime = os.stat(self.home("slash.txt")).st_mtime_ns
        c = self.logged_in()
        for line in ("DELE slash.txt/", "DELE slash.txt/.", "DELE /slash.txt//", "SIZE slash.txt/",
                     "MDTM slash.txt/", "MFMT 20000101000000 slash.txt/", "MLST slash.txt/",
                     "RNFR slash.txt/"):
            with self.subTest(line=line):
                r = c.cmd(line)
                self.assertEqual(r.code, 550, r)
                self.assertIn("/slash.txt: not a folder", r.text)
        self.assertEqual(c.cmd("RNTO elsewhere.txt").code, 503)  # the RNFR failed: no source
        self.assertEqual(self.read_home("slash.txt"), b"SLASH")
        self.assertEqual(os.stat(self.home("slash.txt")).st_mtime_ns, mtime)
        self.assertEqual(c.cmd("DELE missing-slash.txt/").code, 550)
        # A file renamed to a folder's name form keeps its name.
        c.expect("RNFR slash.txt", 350)
        r = c.cmd("RNTO renamed/")
        self.assertEqual(r.code, 553, r)
        self.assertIn("/renamed/: a file name cannot end in /", r.text)
        self.assertFalse(os.path.lexists(self.home("renamed")))
        self.assertEqual(self.read_home("slash.txt"), b"SLASH")
        # Folders, named with a slash, as ever.
        r = c.expect("CWD slashdir/", 250)
        self.assertTrue(c.expect("PWD", 257).text.startswith('"/slashdir"'))
        c.expect("CWD /", 250)
        r = c.expect("MKD made-slash/", 257)
        self.assertIn('"/made-slash"', r.text)
        self.assertTrue(os.path.isdir(self.home("made-slash")))
        c.expect("RMD made-slash/", 250)
        self.assertFalse(os.path.exists(self.home("made-slash")))
        c.expect("MDTM slashdir/", 213)
        c.expect("RNFR slashdir/inner/", 350)
        c.expect("RNTO slashdir/moved/", 250)
        self.assertTrue(os.path.isdir(self.home("slashdir", "moved")))
        r = c.cmd("DELE slashdir/moved/")
        self.assertEqual(r.code, 550, r)
        self.assertIn("is a folder", r.text)
        self.assertEqual(c.cmd("SIZE slashdir/").code, 550)
        c.expect("RMD slashdir/moved/", 250)
        c.expect("RMD slashdir/", 250)
        self.assertFalse(os.path.exists(self.home("slashdir")))

    def test_names_with_control_characters_are_not_made(self):
        # HTTPS refuses a control byte in a path, so a name holding one could
        # never be fetched there: MKD and RNTO make none (553), and say so
        # in the log once.
        self.write_home("ctl-src.txt", b"CTL")
        c = self.logged_in()
        before = sorted(os.listdir(self.home()))
        before_docs = sorted(os.listdir(self.home("docs")))
        for name in ("dir\tx", "esc\x1b[31mred", "del\x7fx", "ctl\x01x", "docs/in\x1fner"):
            with self.subTest(name=name):
                self.assert_mkd_and_rnto_refused(c, name, "ctl-src.txt", "control character")
        self.assertEqual(sorted(os.listdir(self.home())), before)
        self.assertEqual(sorted(os.listdir(self.home("docs"))), before_docs)
        self.assertEqual(self.read_home("ctl-src.txt"), b"CTL")
        self.server.wait_log("not creating /esc?[31mred: the name holds a control character")
        # Other bytes are names like any: spaces, quotes, UTF-8, a backslash.
        name = 'ok "\u00e9" \\ ~'
        c.expect("MKD " + name, 257)
        self.assertTrue(os.path.isdir(self.home(name)))
        c.expect("RMD " + name, 250)

    def test_rnfr_dropped_by_any_other_line(self):
        # RFC 959: RNTO must come right after RNFR. Whatever line comes in
        # between (one refused, malformed, unknown or too long, a failed
        # RNFR, a refused RNTO) drops the pending source: the RNTO after it
        # gets 503 and renames nothing.
        c = self.logged_in()
        between = [
            ("MKD", 501),                       # refused: no argument
            ("STOR x.txt", 425),                # refused: no PASV
            ("XYZZY", 500),                     # unknown
            (b"NO\x00OP", 500),                 # malformed
            ("NOOP " + "n" * 20000, 500),       # too long
            ("RNFR rn-missing.txt", 550),       # a failed RNFR
            ("RNTO", 501),                      # a refused RNTO
            ("NOOP", 200),                      # even a harmless one
        ]
        for line, code in between:
            with self.subTest(line=line[:20]):
                self.write_home("rn-src.txt", b"SRC")
                if os.path.exists(self.home("rn-dst.txt")):
                    os.unlink(self.home("rn-dst.txt"))
                c.expect("RNFR rn-src.txt", 350)
                r = c.cmd(line)
                self.assertEqual(r.code, code, r)
                r = c.cmd("RNTO rn-dst.txt")
                self.assertEqual(r.code, 503, r)
                self.assertFalse(os.path.exists(self.home("rn-dst.txt")))
                self.assertEqual(self.read_home("rn-src.txt"), b"SRC")
        # Right after it, RNTO still renames.
        c.expect("RNFR rn-src.txt", 350)
        c.expect("RNTO rn-dst.txt", 250)
        self.assertEqual(self.read_home("rn-dst.txt"), b"SRC")

    def test_long_paths_whole_in_every_reply(self):
        # A path past 2 KiB goes whole into 250, 550 and 150 replies
        # alike: a path cut short would name another file.
        names = [("long%02d " % i) + "e" * 240 for i in range(14)]
        path = self.home()
        for n in names:
            path = os.path.join(path, n)
            os.makedirs(path, exist_ok=True)
            self.server.give(path)
        deep = "/" + "/".join(names)
        self.assertGreater(len(deep), 3000)
        c = self.logged_in()
        r = c.expect("CWD " + deep, 250)
        self.assertIn(deep, r.text)
        self.assertTrue(r.text.endswith(deep), r)
        r = c.cmd("MDTM missing.bin")
        self.assertEqual(r.code, 550, r)
        self.assertIn(deep + "/missing.bin: no such file or folder", r.text)
        r, info = c.stor("up.bin", b"x" * 100)
        self.assertEqual(r.code, 226, r)
        self.assertIn(deep + "/up.bin", info["prelim"].text)
        r = c.expect("DELE up.bin", 250)
        self.assertTrue(r.text.endswith(deep + "/up.bin"), r)
        c.expect("NOOP", 200)

    def test_read_only_user_denied(self):
        c = self.logged_in("reader")
        data, r, _ = c.retr("shared.txt")
        self.assertEqual((r.code, data), (226, b"for readers\n"), r)
        before = sorted(os.listdir(self.server.home("reader")))
        r, _ = c.stor("new.txt", b"nope")
        self.assertEqual(r.code, 550, r)
        self.assertIn("Permission denied", r.text)
        r, _ = c.stor("shared.txt", b"nope", cmd="APPE")
        self.assertEqual(r.code, 550, r)
        for line in ("DELE shared.txt", "MKD newdir", "RMD adir"):
            with self.subTest(line=line):
                r = c.cmd(line)
                self.assertEqual(r.code, 550, r)
                self.assertIn("Permission denied", r.text)
        r, _ = c.stor(None, b"nope", cmd="STOU")
        self.assertEqual(r.code, 550, r)
        r = c.cmd("RNFR shared.txt")
        if r.code == 350:
            r = c.cmd("RNTO moved.txt")
        self.assertEqual(r.code, 550, r)
        self.assertEqual(sorted(os.listdir(self.server.home("reader"))), before)
        with open(os.path.join(self.server.home("reader"), "shared.txt"), "rb") as f:
            self.assertEqual(f.read(), b"for readers\n")
        c.expect("NOOP", 200)

    def test_cwd_needs_search_not_read(self):
        """CWD asks what chdir(2) asks (vsftpd's answer): a --x drop box
        may be entered and its files fetched by name, though not listed; an
        r-- folder may be listed from outside but not entered."""
        c = self.logged_in()
        c.expect("CWD /dropbox", 250)
        data, r, _ = c.retr("known.txt")
        self.assertEqual((r.code, data), (226, HELLO), r)
        _, r, _ = c.retr(None, cmd="MLSD")
        self.assertEqual(r.code, 550, r)
        self.assertIn("permission denied", r.text.lower())
        r = c.cmd("CWD /namesonly")
        self.assertEqual(r.code, 550, r)
        self.assertIn("permission denied", r.text.lower())
        r = c.expect("PWD", 257)
        self.assertTrue(r.text.startswith('"/dropbox"'), r)

    # -- confinement

    def test_dotdot_stays_in_home(self):
        c = self.logged_in()
        for target in ("..", "../..", "../../..", "/../../..", "docs/../../.."):
            with self.subTest(target=target):
                r = c.cmd("CWD " + target)
                self.assertIn(r.code, (250, 550), r)
                self.assertTrue(c.expect("PWD", 257).text.startswith('"/"'), target)
                c.expect("CWD /", 250)
        c.expect("CWD docs/sub", 250)
        for name in ("../../../reader/secret.txt", "../../../../../../etc/passwd", "/../reader/secret.txt",
                     "/../../etc/passwd", "../../up/secret.txt", "..\\..\\..\\etc\\passwd"):
            with self.subTest(name=name):
                data, r, _ = c.retr(name)
                self.assertEqual(r.code, 550, r)
                self.assertIsNone(data)
                self.assertEqual(c.cmd("SIZE " + name).code, 550)
        # ../ that stays inside is fine
        data, r, _ = c.retr("../../hello.txt")
        self.assertEqual((r.code, data), (226, HELLO), r)

    def test_symlinks_out_of_home_550(self):
        c = self.logged_in()
        self.assertEqual(c.cmd("CWD etc-link").code, 550)
        self.assertTrue(c.expect("PWD", 257).text.startswith('"/"'))
        for name in ("etc-link/passwd", "outfile", "outlink/secret.txt", "docs/up/secret.txt"):
            with self.subTest(name=name):
                data, r, _ = c.retr(name)
                self.assertEqual(r.code, 550, r)
                self.assertIsNone(data)
        for cmd in ("LIST", "MLSD", "NLST"):
            with self.subTest(cmd=cmd):
                data, r, _ = c.retr("etc-link", cmd=cmd)
                if data is not None:
                    self.assertNotIn(b"passwd", data)
                    self.assertNotIn(b"hostname", data)
                else:
                    self.assertEqual(r.code, 550, r)
        r = c.cmd("MLST etc-link/passwd")
        self.assertEqual(r.code, 550, r)
        # A final symlink to a file outside: not even its size or date.
        for line in ("SIZE outfile", "MDTM outfile", "SIZE etc-link/passwd"):
            with self.subTest(line=line):
                r = c.cmd(line)
                self.assertEqual(r.code, 550, r)
                self.assertNotIn(str(len(OUTSIDE)), r.text)
        r, _ = c.stor("outlink/planted.txt", b"planted")
        self.assertEqual(r.code, 550, r)
        self.assertFalse(os.path.exists(os.path.join(self.server.dir, "outside", "planted.txt")))
        self.assertEqual(c.cmd("MKD outlink/newdir").code, 550)
        self.assertFalse(os.path.exists(os.path.join(self.server.dir, "outside", "newdir")))
        self.assertEqual(c.cmd("DELE outlink/secret.txt").code, 550)
        self.assertTrue(os.path.exists(os.path.join(self.server.dir, "outside", "secret.txt")))
        c.expect("RNFR hello.txt", 350)
        self.assertEqual(c.cmd("RNTO outlink/stolen.txt").code, 550)
        self.assertEqual(self.read_home("hello.txt"), HELLO)

    def test_symlinked_folder_inside_home_lists(self):
        """A link inside the home is what it points at: CWD enters a linked
        folder and every listing lists it; RETR, SIZE, MDTM, MFMT and MLST
        take a linked file. Uploads never go through a link, and one that
        leads out of the home is refused as ever, listings and MLST alike."""
        if not os.path.isdir(self.home("real")):
            self.write_home("real/x.txt", b"x\n")
            self.write_home("real/inner/y.txt", b"y\n")
            os.symlink("real", self.home("lnk"))
            os.symlink("real/x.txt", self.home("flink"))
            os.symlink(self.home("real"), self.home("abs-lnk"))
        c = self.logged_in()
        if c.cmd("CWD lnk").code != 250:
            self.skipTest("every symlink is refused here (no openat2: the stricter walk)")
        c.expect("CWD /", 250)
        want = ["inner", "x.txt"]

        f = ftps_util.ftplib_login(self.port)
        self.addCleanup(f.close)
        for path in ("lnk", "/lnk", "lnk/"):
            with self.subTest(path=path):
                facts = dict(f.mlsd(path, facts=["type"]))
                self.assertEqual(sorted(facts), want)
                self.assertEqual(facts["inner"]["type"], "dir")
                self.assertEqual(sorted(f.nlst(path)), want)
        lines = []
        f.retrlines("LIST lnk", lines.append)
        self.assertEqual(sorted(line.split()[-1] for line in lines), want)
        f.cwd("lnk")
        self.assertEqual(sorted(name for name, _ in f.mlsd()), want)
        f.cwd("/")

        r = c.expect("MLST lnk", 250)
        self.assertIn("type=dir;", r.lines[1])
        self.assertTrue(r.lines[1].endswith(" /lnk"), r)
        r = c.expect("STAT lnk", 213)
        self.assertEqual(sorted(line.split()[-1] for line in r.lines[1:-1]), want)
        c.expect("CWD lnk", 250)
        r = c.expect("STAT .", 213)
        self.assertEqual(sorted(line.split()[-1] for line in r.lines[1:-1]), want)
        self.assertEqual(sorted(c.listing("NLST").split()), want)
        c.expect("CWD /", 250)
        data, r, _ = c.retr("lnk/x.txt")
        self.assertEqual((r.code, data), (226, b"x\n"), r)
        # The home's own listing shows the link as the folder it leads to
        # (tests/integration/test_ftps_links.py), an escaping one as a link.
        mlsd = c.listing("MLSD").split("\r\n")
        self.assertIn("type=dir;", [x for x in mlsd if x.endswith(" lnk")][0])
        self.assertIn("type=OS.unix=symlink", [x for x in mlsd if x.endswith(" outlink")][0])

        # A link to a file inside the home is that file, as over HTTPS:
        # FileZilla fetches a listed link with RETR once CWD fails.
        self.assertEqual(c.cmd("CWD flink").code, 550)
        data, r, _ = c.retr("flink")
        self.assertEqual((r.code, data), (226, b"x\n"), r)
        self.assertEqual(c.expect("SIZE flink", 213).text, "2")
        self.assertEqual(c.expect("MDTM flink", 213).text, c.expect("MDTM real/x.txt", 213).text)
        r = c.expect("MLST flink", 250)
        self.assertIn("type=file;", r.lines[1])
        self.assertIn("size=2;", r.lines[1])
        self.assertEqual(c.listing("NLST flink").split(), ["flink"])
        c.expect("MFMT 20010203040506 flink", 213)
        self.assertEqual(os.stat(self.home("real/x.txt")).st_mtime, 981173106)
        # An upload never goes through one: APPE would replace the link
        # with a file and leave its target as it was.
        r, _ = c.stor("flink", b"more\n", cmd="APPE")
        self.assertEqual((r.code, r.text), (550, "/flink: a symbolic link that is not followed here"), r)
        self.assertEqual(self.read_home("real/x.txt"), b"x\n")
        self.assertTrue(os.path.islink(self.home("flink")))

        # Links out of the home: refused, with the reason, by every listing.
        for name in ("outlink", "etc-link", "docs/up"):
            refused = "/%s: leads outside your home" % name
            for cmd in ("LIST", "NLST", "MLSD"):
                with self.subTest(name=name, cmd=cmd):
                    data, r, _ = c.retr(name, cmd=cmd)
                    self.assertEqual((r.code, r.text, data), (550, refused, None))
            for cmd in ("STAT", "MLST"):
                with self.subTest(name=name, cmd=cmd):
                    r = c.cmd("%s %s" % (cmd, name))
                    self.assertEqual((r.code, r.text), (550, refused))
        self.assertEqual(c.cmd("CWD outlink").text, "/outlink: leads outside your home")
        # An absolute target is refused even when it names a folder inside:
        # RESOLVE_BENEATH allows no absolute step, and CWD agrees.
        self.assertEqual(c.cmd("CWD abs-lnk").code, 550)
        data, r, _ = c.retr("abs-lnk", cmd="MLSD")
        self.assertEqual((r.code, data), (550, None), r)

    def test_fifo_in_home_never_blocks(self):
        # A FIFO someone made in a home: opening it to read would wait for
        # a writer and hold the whole worker.
        path = self.home("pipe")
        os.mkfifo(path)
        self.server.give(path)

        def unblock():
            # Were a worker stuck opening it, a writer lets it go on.
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        self.addCleanup(unblock)
        c = self.logged_in()
        t0 = time.monotonic()
        data, r, _ = c.retr("pipe")
        self.assertEqual(r.code, 550, r)
        self.assertIsNone(data)
        self.assertEqual(c.cmd("SIZE pipe", timeout=5).code, 550)
        self.assertEqual(c.cmd("MDTM pipe", timeout=5).code // 100, 2)
        self.assertEqual(c.cmd("MLST pipe", timeout=5).code, 250)
        data, r, _ = c.retr("pipe", cmd="LIST")
        self.assertEqual(r.code, 226, r)
        self.assertTrue(data.startswith(b"p"), data)
        r, _ = c.stor("pipe", b"more", cmd="APPE")  # would copy what the FIFO holds first
        self.assertEqual(r.code, 550, r)
        self.assertLess(time.monotonic() - t0, 5)
        c.expect("NOOP", 200)
        other = self.logged_in()
        data, r, _ = other.retr("hello.txt")
        self.assertEqual((r.code, data), (226, HELLO), r)

    # -- hostile input

    def test_gnutls_cli_auth_tls_exchange(self):
        """gnutls-cli does the RFC 4217 exchange itself (--starttls-proto=ftp:
        AUTH TLS, 234, handshake), then logs in over the TLS session."""
        script = b"USER alice\r\nPASS alice-pw\r\nPWD\r\nQUIT\r\n"
        proc = subprocess.Popen(["gnutls-cli", "--insecure", "--starttls-proto=ftp", "-p", str(self.port),
                                 "127.0.0.1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            out, _ = proc.communicate(script, timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate(timeout=5)
        text = out.decode("utf-8", "replace")
        self.assertIn("Handshake was completed", text)
        self.assertRegex(text, r"\(TLS1\.[23]-X\.509\)")
        self.assertIn("230 Logged in as alice", text)
        self.assertIn('257 "/" is the current folder', text)
        self.assertIn("221 Goodbye", text)

    def test_bytes_after_auth_tls_are_dropped(self):
        """A man in the middle appends commands after AUTH TLS in plain text
        (CVE-2011-0411 class): they must not run inside the TLS session."""
        c = self.control()
        c.send(b"AUTH TLS\r\nUSER alice\r\nPASS alice-pw\r\n")
        r = c.read_reply()
        self.assertEqual(r.code, 234, r)
        c.buf = b""
        c.sock = c.ctx.wrap_socket(c.sock, server_hostname="localhost")
        c.tls = True
        r = c.cmd("PWD")
        self.assertEqual(r.code, 530, "an injected USER/PASS logged in: %r" % r)
        c.login("alice")

    def test_overlong_line_500(self):
        c = self.logged_in()
        r = c.cmd("NOOP " + "A" * 5000)
        self.assertEqual(r.code, 500, r)
        r = c.cmd("RETR " + "b" * 8000)
        self.assertEqual(r.code, 500, r)
        c.expect("NOOP", 200)
        self.assertEqual(c.cmd("XYZZY").code, 500)
        c.expect("NOOP", 200)

    def test_many_pipelined_commands_all_answered(self):
        # A client that sends far more lines than the server takes at once
        # (about 100 KB here) before it reads any reply: reading pauses
        # while 64 KiB of replies wait, and must resume once they are sent,
        # with lines still held in the input buffer.
        n = 20000
        c = self.logged_in()
        # One thread sends and reads, as a TLS connection may not be used by
        # two at once (a reader thread beside sendall broke its records).
        pending = b"PWD\r\n" * n + b"NOOP\r\n"
        c.sock.setblocking(False)
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            select.select([c.sock], [c.sock], [], 1)
            try:
                pending = pending[c.sock.send(pending[:16384]):]
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
            try:
                chunk = c.sock.recv(65536)
                self.assertTrue(chunk, "closed with %d bytes unsent" % len(pending))
                c.buf += chunk
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
        c.sock.setblocking(True)
        self.assertEqual(pending, b"", "the server stopped reading")
        codes = {}
        for i in range(n + 1):
            r = c.read_reply(timeout=30)
            codes[r.code] = codes.get(r.code, 0) + 1
        self.assertEqual(codes, {257: n, 200: 1})
        c.expect("NOOP", 200)

    def test_site_502(self):
        # SITE is known but none of its subcommands is offered: 502 (not
        # implemented), not 500 (not understood); lftp sends SITE UTIME.
        c = self.logged_in()
        for line in ("SITE UTIME 20250101000000 hello.txt", "SITE CHMOD 644 hello.txt", "site help"):
            r = c.cmd(line)
            self.assertEqual(r.code, 502, r)
        c.expect("NOOP", 200)
        self.assertEqual(self.control().cmd("SITE HELP").code, 530)

    def test_garbage_flood_closes_with_421(self):
        for tls in (False, True):
            with self.subTest(tls=tls):
                c = self.control()
                if tls:
                    c.login("alice")
                codes = []
                for i in range(40):
                    try:
                        c.send(b"\x00\xff\x01garbage\x00 %d\r\n" % i)
                        r = c.read_reply()
                    except (ftps_util.Closed, OSError):
                        break
                    codes.append(r.code)
                    if r.code == 421:
                        break
                self.assertIn(421, codes, codes)
                self.assertTrue(set(codes[:-1]) <= {500, 501}, codes)
                self.assertLessEqual(len(codes), 12, codes)
                self.assertTrue(c.closed_by_peer(), "not closed after 421")
        self.logged_in().expect("NOOP", 200)

    # -- active mode is off

    def test_active_mode_off_by_default(self):
        c = self.logged_in()
        with socket.socket() as ls:
            ls.bind(("127.0.0.1", 0))
            ls.listen(1)
            port = ls.getsockname()[1]
            r = c.cmd("PORT 127,0,0,1,%d,%d" % (port // 256, port % 256))
            self.assertEqual(r.code, 502, r)
            r = c.cmd("EPRT |1|127.0.0.1|%d|" % port)
            self.assertEqual(r.code, 502, r)
            r = c.cmd("PORT 10,9,8,7,0,21")  # a bounce target
            self.assertEqual(r.code, 502, r)
            ls.settimeout(0.5)
            self.assertRaises((socket.timeout, TimeoutError), ls.accept)
        data, r, _ = c.retr("hello.txt")
        self.assertEqual((r.code, data), (226, HELLO), r)

    def test_pasv_and_epsv_replies(self):
        c = self.logged_in()
        host, port = c.pasv()
        self.assertEqual(host, "127.0.0.1")
        self.assertTrue(0 < port < 65536)
        port2 = c.epsv()
        self.assertTrue(0 < port2 < 65536)
        data, r, _ = c.retr("hello.txt", passive="PASV")
        self.assertEqual((r.code, data), (226, HELLO), r)
        data, r, _ = c.retr("hello.txt", passive="EPSV")
        self.assertEqual((r.code, data), (226, HELLO), r)

    def test_epsv_all(self):
        c = self.logged_in()
        c.expect("EPSV ALL", 200)
        for line in ("PASV", "PORT 127,0,0,1,4,1", "EPRT |1|127.0.0.1|1025|"):
            with self.subTest(line=line):
                r = c.cmd(line)
                self.assertEqual(r.code // 100, 5, r)
        data, r, _ = c.retr("hello.txt", passive="EPSV")
        self.assertEqual((r.code, data), (226, HELLO), r)

    def test_data_connection_from_other_address_ignored(self):
        """The first connection to a passive port from another address is
        closed (and logged); the client's own still gets the transfer."""
        c = self.logged_in()
        port = c.epsv()
        stranger = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0))
        self.addCleanup(stranger.close)
        stranger.settimeout(5)
        try:
            got = stranger.recv(100)
        except (socket.timeout, TimeoutError):
            self.fail("a data connection from 127.0.0.2 was kept open")
        except ConnectionResetError:
            got = b""
        self.assertEqual(got, b"")
        self.assertTrue(harness.wait_until(lambda: "127.0.0.2" in self.server.log(), timeout=5),
                        "the refused data connection was not logged")
        d = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.addCleanup(d.close)
        r = c.cmd("RETR hello.txt")
        self.assertEqual(r.code, 150, r)
        t = c.wrap_data(d)
        data = b""
        for _ in range(100):
            chunk = t.recv(65536)
            if not chunk:
                break
            data += chunk
        self.assertEqual(data, HELLO)
        self.assertEqual(c.read_reply().code, 226)


class PassivePortRange(ftps_util.FTPSCase):
    """passive_port_min/max bound the ports PASV and EPSV announce."""
    LOW = random.Random().randrange(40000, 59000)
    SERVICE_KEYS = {"passive_port_min": LOW, "passive_port_max": LOW + 99}

    @classmethod
    def prepare(cls, server):
        with open(os.path.join(server.home("alice"), "hello.txt"), "wb") as f:
            f.write(HELLO)

    def test_ports_in_range(self):
        c = self.logged_in()
        for i in range(5):
            port = c.epsv()
            self.assertTrue(self.LOW <= port <= self.LOW + 99, port)
            self.assertTrue(self.LOW <= c.pasv()[1] <= self.LOW + 99)
        for i in range(3):
            data, r, _ = c.retr("hello.txt")
            self.assertEqual((r.code, data), (226, HELLO), r)


if __name__ == "__main__":
    harness.main()
