"""rclone (Go's TLS, jlaffaye/ftp) against the FTPS services: a folder tree
copied up and back, times kept (MFMT), a second sync that finds nothing to
send, deletes. rclone keeps one TLS session cache for all its connections,
so with parallel transfers a data connection offers the ticket another
control connection got: with require_tls_reuse (the default) rclone is run
with --ftp-concurrency 1 (one control connection, whose own tickets its data
connections resume), and a second server with require_tls_reuse off takes
rclone's parallel defaults."""

import filecmp
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402

RCLONE = shutil.which("rclone")

# Name -> (bytes, mtime): names with spaces and UTF-8, a subfolder, an empty
# file, one larger than a TLS record many times over.
TREE = {
    "a.txt": (b"alpha\n", 1262304000),                  # 2010-01-01
    "name with space ü.txt": (b"unicode\n", 1500000000),
    "sub/deeper/b.bin": (os.urandom(3 << 20), 1600000000),
    "sub/empty.dat": (b"", 1700000000),
}


def obscure(password):
    return subprocess.run([RCLONE, "obscure", password], capture_output=True, text=True, timeout=30,
                          check=True).stdout.strip()


@unittest.skipUnless(RCLONE, "rclone is not installed (packaging/install-deps.sh --test installs it)")
class RcloneCase(ftps_util.FTPSCase):

    FLAGS = ()

    def setUp(self):
        self.conf = os.path.join(self.server.dir, "rclone-%s.conf" % type(self).__name__)
        with open(self.conf, "w") as f:
            for name, port, implicit in (("explicit", self.port, False), ("implicit", self.iport, True)):
                f.write("[%s]\ntype = ftp\nhost = 127.0.0.1\nport = %d\nuser = alice\npass = %s\n"
                        "no_check_certificate = true\n%s\n\n" %
                        (name, port, obscure("alice-pw"), "tls = true" if implicit else "explicit_tls = true"))

    def rclone(self, *args, check=True):
        cmd = [RCLONE, "--config", self.conf, "--retries", "1", "--low-level-retries", "1",
               "--contimeout", "10s", "--timeout", "30s"] + list(self.FLAGS) + list(args)
        out = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=120)
        if check:
            self.assertEqual(out.returncode, 0, "%s\n%s" % (" ".join(args), out.stderr[-3000:]))
            self.assertNotIn("ERROR", out.stderr, out.stderr[-3000:])
        return out

    def local_tree(self, name):
        root = self.scratch(name)
        for rel, (data, mtime) in TREE.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (mtime, mtime))
        return root

    def assertSameTree(self, a, b):
        cmp = filecmp.dircmp(a, b)
        if cmp.left_only or cmp.right_only or cmp.diff_files:
            self.fail("%s and %s differ: only in the first %s, only in the second %s, different %s" %
                      (a, b, cmp.left_only, cmp.right_only, cmp.diff_files))
        for rel in TREE:
            self.assertTrue(filecmp.cmp(os.path.join(a, rel), os.path.join(b, rel), shallow=False), rel)

    def roundtrip(self, remote, folder):
        src = self.local_tree(folder + "-src")
        self.rclone("copy", src, "%s:%s" % (remote, folder), "-v")
        home = self.home(folder)
        self.assertSameTree(src, home)
        for rel, (_, mtime) in TREE.items():
            self.assertEqual(int(os.stat(os.path.join(home, rel)).st_mtime), mtime, rel)
        # Times kept, sizes equal: a sync has nothing to send.
        out = self.rclone("sync", src, "%s:%s" % (remote, folder), "-v", "--stats-one-line")
        self.assertNotIn(": Copied", out.stderr, out.stderr)
        # rclone's own listing (MLSD) gives the sizes and times.
        out = self.rclone("lsl", "%s:%s" % (remote, folder))
        listed = {line.split(None, 3)[3]: int(line.split()[0]) for line in out.stdout.splitlines()}
        self.assertEqual(listed, {rel: len(data) for rel, (data, _) in TREE.items()})
        back = self.scratch(folder + "-back")
        self.rclone("copy", "%s:%s" % (remote, folder), back)
        self.assertSameTree(src, back)
        self.rclone("purge", "%s:%s" % (remote, folder))
        self.assertFalse(os.path.exists(home))


class RcloneOneConnection(RcloneCase):
    """require_tls_reuse on (the default): one control connection at a time."""

    FLAGS = ("--ftp-concurrency", "1")

    def test_explicit_roundtrip(self):
        self.roundtrip("explicit", "rc-explicit")

    def test_implicit_roundtrip(self):
        self.roundtrip("implicit", "rc-implicit")


class RcloneParallel(RcloneCase):
    """require_tls_reuse off: rclone's parallel transfers, each data
    connection resuming whatever session its shared cache holds."""

    SERVICE_KEYS = {"require_tls_reuse": False}

    def test_parallel_roundtrip(self):
        self.roundtrip("explicit", "rc-parallel")


if __name__ == "__main__":
    unittest.main(verbosity=2)
