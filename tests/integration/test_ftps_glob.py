"""Wildcards in FTPS listings, HELP of one command, and STAT of a path
before login, as docs/ftps.md describes them (and vsftpd, ProFTPD and
Pure-FTPd answer them):

- NLST *.txt, LIST -la data/*.csv and NLST f?le[0-9].bin list the matching
  entries of that folder; NLST with a folder part gives "data/a.csv", which
  a client's mget then fetches as it is (ftplib, curl -X, lftp ls/nlist);
- a name that holds '*', '?' or '[' is listed by that exact name first;
- no match is an empty listing with 226 (ftplib gets [], curl exits 0), a
  folder part that is not there is 550, MLSD takes no pattern, and a
  wildcard in the folder part is not one;
- '*' lists dot files as the plain listing does;
- STAT -l PATTERN lists the matches on the control connection;
- a filtered listing counts against limits.listing_memory as any other;
- HELP RETR answers 214 with its syntax, HELP of an unknown command 502;
- STAT PATH before login is 530, plain STAT still the status."""

import ftplib
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402

FILES = {
    "notes.txt": b"notes\n",
    "todo.txt": b"todo\n",
    "readme.md": b"readme\n",
    ".hidden.txt": b"dot\n",
    "file1.bin": b"1\n",
    "fole7.bin": b"7\n",
    "file.bin": b"no digit\n",
    "filex.bin": b"x\n",
    "a*b.txt": b"literal star\n",
    "aXb.txt": b"plain\n",
    "data/a.csv": b"a,1\n",
    "data/b.csv": b"b,2\n",
    "data/c.txt": b"c\n",
    "[x]/inside.txt": b"in a folder named [x]\n",
    "x/plain.csv": b"under x\n",
}
BIG = 2000       # names in big/: their NLST lines pass a client's share of 1 MiB / 8
BIG_LEN = 110


def big_names():
    return ["f%04d" % i + "x" * (BIG_LEN - 5) for i in range(BIG)]


class Glob(ftps_util.FTPSCase):
    EXTRA = 'limits = { listing_memory = "1M"; };'

    @classmethod
    def prepare(cls, server):
        home = server.home("alice")
        for rel, data in FILES.items():
            path = os.path.join(home, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        os.makedirs(os.path.join(home, "d*"))  # a folder literally named "d*", empty
        big = os.path.join(home, "big")
        os.makedirs(big)
        for n in big_names():
            os.close(os.open(os.path.join(big, n), os.O_CREAT | os.O_WRONLY, 0o644))

    def ftp(self):
        f = ftps_util.ftplib_login(self.port)
        self.addCleanup(f.close)
        return f

    def lines(self, f, cmd):
        out = []
        f.retrlines(cmd, out.append)
        return out

    # -- NLST and LIST with a pattern

    def test_nlst_star_lists_only_the_matches(self):
        f = self.ftp()
        self.assertEqual(sorted(f.nlst("*.txt")), [".hidden.txt", "a*b.txt", "aXb.txt", "notes.txt", "todo.txt"])
        self.assertEqual(sorted(f.nlst("*.md")), ["readme.md"])

    def test_nlst_question_mark_and_class(self):
        f = self.ftp()
        self.assertEqual(sorted(f.nlst("f?le[0-9].bin")), ["file1.bin", "fole7.bin"])
        self.assertEqual(sorted(f.nlst("file[!0-9].bin")), ["filex.bin"])
        self.assertEqual(sorted(f.nlst("file[^0-9].bin")), ["filex.bin"])

    def test_list_la_folder_pattern(self):
        f = self.ftp()
        got = self.lines(f, "LIST -la data/*.csv")
        self.assertEqual(len(got), 2, got)
        for line in got:
            self.assertRegex(line, r"^-rw")  # ls -l lines, as a plain LIST gives
        self.assertEqual(sorted(line.split(" ")[-1] for line in got), ["a.csv", "b.csv"])

    def test_nlst_folder_pattern_names_what_retr_fetches(self):
        """As `ls data/*.csv` and ProFTPD: "data/a.csv", so an mget that sends
        NLST data/*.csv and then RETR for each name gets the files."""
        f = self.ftp()
        names = sorted(f.nlst("data/*.csv"))
        self.assertEqual(names, ["data/a.csv", "data/b.csv"])
        for n in names:
            got = []
            f.retrbinary("RETR " + n, got.append)
            self.assertEqual(b"".join(got), FILES[n])
        self.assertEqual(f.nlst("/data/c*"), ["/data/c.txt"])

    def test_star_shows_dot_files_as_the_plain_listing_does(self):
        f = self.ftp()
        everything = sorted(f.nlst())
        self.assertIn(".hidden.txt", everything)
        self.assertEqual(sorted(f.nlst("*")), everything)

    def test_literal_name_before_the_pattern(self):
        f = self.ftp()
        # "a*b.txt" is a file: it alone, not aXb.txt as well.
        self.assertEqual(f.nlst("a*b.txt"), ["a*b.txt"])
        # "[x]" is a folder: its contents, not the entry "x" the class matches.
        self.assertEqual(f.nlst("[x]"), ["inside.txt"])
        # A pattern that is no file's name matches both.
        self.assertEqual(sorted(f.nlst("a?b.txt")), ["a*b.txt", "aXb.txt"])

    def test_no_match_is_an_empty_listing(self):
        f = self.ftp()
        self.assertEqual(f.nlst("*.nothing"), [])
        self.assertEqual(self.lines(f, "LIST *.nothing"), [])
        self.assertEqual(f.nlst("data/*.nothing"), [])
        # A folder that is not there is not an empty match: 550.
        with self.assertRaises(ftplib.error_perm) as e:
            f.nlst("nodir/*.txt")
        self.assertTrue(str(e.exception).startswith("550"), e.exception)

    def test_patterns_only_where_they_belong(self):
        f = self.ftp()
        # MLSD's argument is a folder (RFC 3659): "*.txt" names none.
        with self.assertRaises(ftplib.error_perm) as e:
            self.lines(f, "MLSD *.txt")
        self.assertTrue(str(e.exception).startswith("550"), e.exception)
        # A wildcard in the folder part is a name: "d*" is the (empty) folder of that name ...
        self.assertEqual(f.nlst("d*/*.csv"), [])
        # ... and "?" names no folder, so nothing is looked for in data/ or x/.
        with self.assertRaises(ftplib.error_perm) as e:
            f.nlst("?/*.csv")
        self.assertTrue(str(e.exception).startswith("550"), e.exception)
        # While the last segment is one.
        self.assertEqual(f.nlst("x/*.csv"), ["x/plain.csv"])

    def test_stat_lists_the_matches(self):
        c = self.logged_in()
        r = c.expect("STAT -la *.md", 213)
        self.assertFalse(r.faults, r)
        entries = [l for l in r.lines[1:-1]]
        self.assertEqual(len(entries), 1, r)
        self.assertTrue(entries[0].rstrip().endswith(" readme.md"), r)

    def test_filtered_listing_counts_against_the_budget(self):
        """big/'s NLST lines pass a client's share (1 MiB / 8): "big/*" is
        refused as "big" is (450), while a pattern matching ten of them
        lists those ten: what counts is what is listed."""
        c = self.logged_in()
        c.epsv()
        r = c.cmd("NLST big/*", timeout=60)
        self.assertEqual(r.code, 450, r)
        self.assertIn("share of the memory set aside", r.text)
        got = c.listing("NLST", "big/f000?x*")
        self.assertEqual(sorted(got.split("\r\n")[:-1]), ["big/" + n for n in big_names()[:10]])

    # -- real clients

    def test_curl_custom_nlst_pattern(self):
        out = ftps_util.curl(self.port, "/", ["-X", "NLST *.txt"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sorted(out.stdout.decode().split()),
                         [".hidden.txt", "a*b.txt", "aXb.txt", "notes.txt", "todo.txt"])
        out = ftps_util.curl(self.port, "/", ["-X", "LIST data/*.csv"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sorted(l.split(" ")[-1] for l in out.stdout.decode().splitlines()),
                         ["a.csv", "b.csv"])
        # No match: curl succeeds with nothing, as for an empty folder.
        out = ftps_util.curl(self.port, "/", ["-X", "NLST *.nothing"])
        self.assertEqual((out.returncode, out.stdout), (0, b""), out.stderr)

    @unittest.skipUnless(shutil.which("lftp"), "lftp not installed")
    def test_lftp_ls_and_nlist_patterns(self):
        """lftp sends ls and nlist arguments as they are (its mget and cls
        match names themselves, over a plain listing of the folder). With
        cmd:fail-exit, a 550 would stop the script: a pattern matching
        nothing lists nothing and the script goes on."""
        out = ftps_util.lftp(self.port, "ls data/*.csv; nlist f?le[0-9].bin; ls *.nothing; nlist data/*.csv")
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertEqual(len(lines), 6, out.stdout)
        self.assertEqual(sorted(l.split(" ")[-1] for l in lines[:2]), ["a.csv", "b.csv"])
        self.assertTrue(all(l.startswith("-rw") for l in lines[:2]), out.stdout)
        self.assertEqual(sorted(lines[2:4]), ["file1.bin", "fole7.bin"])
        self.assertEqual(sorted(lines[4:]), ["data/a.csv", "data/b.csv"])

    # -- HELP and STAT

    def test_help_of_one_command(self):
        c = self.control()
        c.auth_tls()
        r = c.expect("HELP RETR", 214)
        self.assertEqual(r.text, "Syntax: RETR <sp> pathname")
        r = c.expect("help stor", 214)
        self.assertEqual(r.text, "Syntax: STOR <sp> pathname")
        r = c.cmd("HELP FROB")
        self.assertEqual(r.code, 502, r)
        r = c.expect("HELP", 214)  # plain HELP: the list, as before
        self.assertTrue(r.multi, r)
        self.assertIn("RETR", r.text)

    def test_stat_path_before_login(self):
        c = self.control()
        c.auth_tls()
        r = c.cmd("STAT /data")
        self.assertEqual(r.code, 530, r)
        r = c.cmd("STAT")
        self.assertEqual(r.code, 211, r)
        self.assertIn("not logged in", r.text)
        c.login("alice")
        r = c.expect("STAT /data", 213)
        self.assertIn(" a.csv", r.text)


if __name__ == "__main__":
    harness.main()
