"""Symlinks inside a home, in listings (docs/ftps.md, docs/http.md): a link
that resolves beneath the home lists as what it leads to, a file with its
size or a folder, in MLSD, LIST and STAT as in the HTTPS listing, so that
listings, MLST, SIZE and RETR agree and mirrors copy it (lftp mirror over
MLSD and over LIST, rclone copy); a link that dangles, leads outside the
home or has an absolute target stays a link (OS.unix=symlink, 'l' with no
target, "link"), as every request for it is refused; so does one to a
folder the listing is in, which a mirror would go round and round.

Where openat2 is missing every link is refused (transfer/path.c): the
tests skip there."""

import filecmp
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402

RCLONE = shutil.which("rclone")
TOP = b"top\n"
DATA = b"data\n"
A_TIME = 1577934245  # 2020-01-02T03:04:05Z


def facts_of(mlsd):
    """name -> {fact: value} of an MLSD listing (or an MLST line)."""
    out = {}
    for line in mlsd.split("\r\n"):
        if not line.strip():
            continue
        facts, _, name = line.strip().partition(" ")
        out[name.rsplit("/", 1)[-1]] = dict(f.split("=", 1) for f in facts.split(";") if f)
    return out


def long_lines(listing):
    """name -> the LIST line's fields."""
    return {line.split(None, 8)[8]: line.split(None, 8) for line in listing.split("\r\n") if line.strip()}


class Links(ftps_util.FTPSCase):

    HTTPS = True

    @classmethod
    def prepare(cls, server):
        home = server.home("alice")
        ml = os.path.join(home, "ml")
        os.makedirs(os.path.join(ml, "real"))
        with open(os.path.join(ml, "a.txt"), "wb") as f:
            f.write(TOP)
        os.utime(os.path.join(ml, "a.txt"), (A_TIME, A_TIME))
        with open(os.path.join(ml, "real", "f.txt"), "wb") as f:
            f.write(DATA)
        os.symlink("a.txt", os.path.join(ml, "link_file"))
        os.symlink("real", os.path.join(ml, "link_dir"))
        os.symlink("../top.txt", os.path.join(ml, "link_up"))  # climbs, yet stays inside
        with open(os.path.join(home, "top.txt"), "wb") as f:
            f.write(b"at the top\n")
        # Links no request follows.
        odd = os.path.join(home, "odd")
        os.makedirs(odd)
        outside = os.path.join(server.dir, "outside.txt")
        with open(outside, "wb") as f:
            f.write(b"OUTSIDE\n")
        server.give(outside)
        os.symlink("none.txt", os.path.join(odd, "dangling"))
        os.symlink(os.path.relpath(outside, odd), os.path.join(odd, "out"))
        os.symlink(os.path.join(home, "top.txt"), os.path.join(odd, "abs"))
        os.symlink("/etc/passwd", os.path.join(odd, "passwd"))
        # Links to folders a listing of cyc is in: a mirror would go round.
        cyc = os.path.join(home, "cyc")
        os.makedirs(os.path.join(cyc, "sub"))
        with open(os.path.join(cyc, "sub", "f.txt"), "wb") as f:
            f.write(DATA)
        os.symlink(".", os.path.join(cyc, "self"))
        os.symlink("..", os.path.join(cyc, "sub", "back"))

    def setUp(self):
        c = self.logged_in()
        if c.cmd("SIZE ml/link_file").code != 213:
            self.skipTest("every symlink is refused here (no openat2: the stricter walk)")

    def test_mlsd_list_and_stat_show_what_a_link_leads_to(self):
        c = self.logged_in()
        facts = facts_of(c.listing("MLSD", "ml"))
        self.assertEqual((facts["link_file"]["type"], facts["link_file"]["size"]), ("file", "4"), facts)
        self.assertEqual(facts["link_file"]["modify"], "20200102030405")
        self.assertEqual(facts["link_file"]["perm"], facts["a.txt"]["perm"])
        self.assertEqual(facts["link_dir"]["type"], "dir", facts)
        self.assertEqual(facts["link_dir"]["perm"], facts["real"]["perm"])
        self.assertEqual((facts["link_up"]["type"], facts["link_up"]["size"]), ("file", "11"))
        # MLST, SIZE, MDTM and RETR say the same of it.
        mlst = facts_of(c.expect("MLST ml/link_file", 250).lines[1])["link_file"]
        for fact in ("type", "size", "modify", "perm"):
            self.assertEqual(mlst[fact], facts["link_file"][fact], fact)
        self.assertEqual(c.expect("SIZE ml/link_file", 213).text, "4")
        self.assertEqual(c.expect("MDTM ml/link_file", 213).text, "20200102030405")
        data, r, _ = c.retr("ml/link_file")
        self.assertEqual((r.code, data), (226, TOP), r)

        # LIST as ls -lL shows it: the target's type, mode and size.
        lines = long_lines(c.listing("LIST", "ml"))
        self.assertEqual(lines["link_file"][0], lines["a.txt"][0])
        self.assertEqual(lines["link_file"][0][0], "-")
        self.assertEqual(lines["link_file"][4], "4")
        self.assertEqual(lines["link_dir"][0], lines["real"][0])
        self.assertEqual(lines["link_dir"][0][0], "d")
        self.assertEqual(lines["link_up"][4], "11")
        stat = long_lines("\r\n".join(c.expect("STAT ml", 213).lines[1:-1]))
        self.assertEqual(stat["link_file"][0][0], "-")
        self.assertEqual(stat["link_dir"][0][0], "d")

    def test_links_no_request_follows_stay_links(self):
        c = self.logged_in()
        facts = facts_of(c.listing("MLSD", "odd"))
        lines = long_lines(c.listing("LIST", "odd"))
        self.assertEqual(sorted(facts), ["abs", "dangling", "out", "passwd"])
        for name in facts:
            with self.subTest(name=name):
                self.assertEqual(facts[name]["type"], "OS.unix=symlink")
                self.assertNotIn("size", facts[name])
                # 'l', and the name alone: no "-> target", which would tell
                # where outside the home a link leads.
                self.assertEqual(lines[name][0][0], "l")
                self.assertEqual(lines[name][8], name)
                self.assertEqual(c.cmd("SIZE odd/" + name).code, 550)
        listing = c.listing("LIST", "odd")
        self.assertNotIn("->", listing)
        self.assertNotIn("passwd ", listing)
        self.assertNotIn(self.server.dir, listing)

    def test_links_to_a_folder_the_listing_is_in_stay_links(self):
        c = self.logged_in()
        self.assertEqual(facts_of(c.listing("MLSD", "cyc"))["self"]["type"], "OS.unix=symlink")
        self.assertEqual(facts_of(c.listing("MLSD", "cyc/sub"))["back"]["type"], "OS.unix=symlink")
        self.assertEqual(long_lines(c.listing("LIST", "cyc/self"))["self"][0][0], "l")
        # The link itself is still what it leads to, named alone.
        self.assertEqual(facts_of(c.expect("MLST cyc/self", 250).lines[1])["self"]["type"], "dir")
        # A mirror copies the tree once, and ends.
        local = self.scratch("mirror-cyc")
        shutil.rmtree(local, ignore_errors=True)
        out = ftps_util.lftp(self.port, "mirror cyc %s" % local, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        got = sorted(os.path.relpath(os.path.join(r, n), local) for r, ds, fs in os.walk(local) for n in fs)
        self.assertEqual(got, ["sub/f.txt"])
        status, _, body = harness.curl(self.server, "/cyc/", args=["-H", "Accept: application/json"])
        self.assertEqual({e["name"]: e["type"] for e in json.loads(body)["entries"]}, {"self": "link", "sub": "dir"})

    def test_lftp_mirror_copies_linked_files_and_folders(self):
        for settings in ("", "set ftp:use-mlsd off; "):
            with self.subTest(settings=settings or "MLSD"):
                local = self.scratch("mirror-%d" % len(settings))
                shutil.rmtree(local, ignore_errors=True)
                out = ftps_util.lftp(self.port, "mirror ml %s" % local, settings=settings)
                self.assertEqual(out.returncode, 0, out.stderr[-2000:])
                for rel, want in (("a.txt", TOP), ("link_file", TOP), ("real/f.txt", DATA),
                                  ("link_dir/f.txt", DATA), ("link_up", b"at the top\n")):
                    path = os.path.join(local, rel)
                    self.assertTrue(os.path.isfile(path) and not os.path.islink(path), rel)
                    with open(path, "rb") as f:
                        self.assertEqual(f.read(), want, rel)

    @unittest.skipUnless(RCLONE, "rclone is not installed (packaging/install-deps.sh --test installs it)")
    def test_rclone_copy_copies_linked_files_and_folders(self):
        conf = os.path.join(self.server.dir, "rclone-links.conf")
        password = subprocess.run([RCLONE, "obscure", "alice-pw"], capture_output=True, text=True, timeout=30,
                                  check=True).stdout.strip()
        with open(conf, "w") as f:
            f.write("[w]\ntype = ftp\nhost = 127.0.0.1\nport = %d\nuser = alice\npass = %s\n"
                    "no_check_certificate = true\nexplicit_tls = true\n" % (self.port, password))
        local = self.scratch("rclone-ml")
        shutil.rmtree(local, ignore_errors=True)
        out = subprocess.run([RCLONE, "--config", conf, "--ftp-concurrency", "1", "--retries", "1",
                              "--low-level-retries", "1", "--contimeout", "10s", "--timeout", "30s",
                              "copy", "w:ml", local], capture_output=True, text=True, errors="replace",
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])
        self.assertNotIn("ERROR", out.stderr, out.stderr[-3000:])
        self.assertTrue(filecmp.cmp(os.path.join(local, "link_file"), self.home("ml", "a.txt"), shallow=False))
        self.assertTrue(filecmp.cmp(os.path.join(local, "link_dir", "f.txt"), self.home("ml", "real", "f.txt"),
                                    shallow=False))

    def test_https_listing_shows_links_alike(self):
        status, _, body = harness.curl(self.server, "/ml/", args=["-H", "Accept: application/json"])
        self.assertEqual(status, 200, body)
        entries = {e["name"]: e for e in json.loads(body)["entries"]}
        self.assertEqual((entries["link_file"]["type"], entries["link_file"]["size"]), ("file", 4))
        self.assertEqual(entries["link_file"]["mtime"], "2020-01-02T03:04:05Z")
        self.assertEqual(entries["link_dir"]["type"], "dir")
        self.assertEqual((entries["link_up"]["type"], entries["link_up"]["size"]), ("file", 11))
        status, _, body = harness.curl(self.server, "/odd/", args=["-H", "Accept: application/json"])
        self.assertEqual(status, 200, body)
        entries = {e["name"]: e for e in json.loads(body)["entries"]}
        for name in ("abs", "dangling", "out", "passwd"):
            self.assertEqual((entries[name]["type"], entries[name]["size"]), ("link", 0), name)
        status, _, body = harness.curl(self.server, "/ml/")
        self.assertEqual(status, 200)
        self.assertIn(b'<a href="link_dir/">link_dir/</a>', body)
        # And what the listing says is what a GET gets.
        status, _, body = harness.curl(self.server, "/ml/link_file")
        self.assertEqual((status, body), (200, TOP))


if __name__ == "__main__":
    unittest.main()
