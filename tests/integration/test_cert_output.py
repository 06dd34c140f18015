"""Certificate files for other servers (certbot's layout), against Pebble:
after an issuance the output folder holds cert, chain, fullchain, privkey and
HAProxy's combined file, with the right modes and contents; the deploy hook
is told where; a restart rewrites nothing that did not change, and puts back
what is missing."""

import os
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from pebble import AcmeCase, hook_script, verify_chain, wait_file_text, wait_issued  # noqa: E402

FILES = ("cert.pem", "chain.pem", "fullchain.pem", "privkey.pem", "combined.pem")


def read(path):
    with open(path) as f:
        return f.read()


def pubkey(kind, text):
    """The public key of a certificate (kind "x509") or of a private key ("pkey")."""
    args = ["x509", "-pubkey", "-noout"] if kind == "x509" else ["pkey", "-pubout"]
    return subprocess.run(["openssl"] + args, input=text, capture_output=True, text=True, timeout=20).stdout


class OutputFiles(AcmeCase):
    def test_files_written_once_and_restored(self):
        self.pebble.start()
        s = self.make_server()
        out_dir = harness.writable_out_dir(s)
        deploy, deploy_log = hook_script(s, "deploy")
        s.certificates[0]["output_dir"] = out_dir
        s.certificates[0]["deploy_hook"] = "@DEPLOY@"
        s.write_config(s.config_text().replace('deploy_hook = "@DEPLOY@";', 'deploy_hook = ["%s"];' % deploy))
        s.start()
        served = wait_issued(s, "wharf.test")
        hook_env = wait_file_text(deploy_log, "WHARF_EVENT=issued")
        self.assertIn("WHARF_OUTPUT_DIR=%s" % out_dir, hook_env)
        # What a hook written for certbot copies: the chain and the key apart.
        self.assertIn("WHARF_CERT_FILE=%s " % os.path.join(out_dir, "fullchain.pem"), hook_env)
        self.assertIn("WHARF_KEY_FILE=%s " % os.path.join(out_dir, "privkey.pem"), hook_env)
        # None of the server's sockets (its listeners, its connection to
        # the CA) went with it: a daemon the hook starts would hold them.
        self.assertIn("HOOK_SOCKETS=0 ", hook_env)
        self.assertTrue(s.wait_log("wrote cert.pem, chain.pem, fullchain.pem, privkey.pem and combined.pem", 10))

        f = {n: read(os.path.join(out_dir, n)) for n in FILES}
        # The leaf is the certificate served; fullchain is leaf + chain; the
        # chain verifies against Pebble's root for the name.
        self.assertEqual(f["cert.pem"].count("BEGIN CERTIFICATE"), 1)
        self.assertGreaterEqual(f["chain.pem"].count("BEGIN CERTIFICATE"), 1)
        self.assertEqual(f["fullchain.pem"], f["cert.pem"] + f["chain.pem"])
        self.assertEqual(pubkey("x509", f["cert.pem"]), pubkey("x509", served))
        ok, why = verify_chain(self.pebble, f["fullchain.pem"], "wharf.test")
        self.assertTrue(ok, why)
        # The key matches the certificate; combined is key + full chain (HAProxy).
        self.assertIn("PRIVATE KEY", f["privkey.pem"])
        self.assertEqual(pubkey("pkey", f["privkey.pem"]), pubkey("x509", f["cert.pem"]))
        self.assertTrue(f["combined.pem"].startswith(f["privkey.pem"].rstrip("\n")))
        self.assertTrue(f["combined.pem"].endswith(f["fullchain.pem"]))
        for n, mode in (("privkey.pem", 0o600), ("combined.pem", 0o600), ("cert.pem", 0o644),
                        ("chain.pem", 0o644), ("fullchain.pem", 0o644)):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(out_dir, n)).st_mode), mode, n)
        self.assertEqual(stat.S_IMODE(os.stat(out_dir).st_mode), 0o700)
        self.assertEqual([n for n in os.listdir(out_dir) if n not in FILES], [], "temp files left behind")

        # A restart rewrites nothing unchanged; a missing file comes back.
        before = {n: os.stat(os.path.join(out_dir, n)).st_ino for n in FILES}
        os.unlink(os.path.join(out_dir, "chain.pem"))
        s.stop()
        s.start()
        self.assertTrue(harness.wait_until(lambda: os.path.exists(os.path.join(out_dir, "chain.pem")), 15),
                        "chain.pem not restored:\n" + s.log()[-3000:])
        self.assertEqual(read(os.path.join(out_dir, "chain.pem")), f["chain.pem"])
        after = {n: os.stat(os.path.join(out_dir, n)).st_ino for n in FILES}
        for n in FILES:
            if n != "chain.pem":
                self.assertEqual(after[n], before[n], "%s was rewritten though unchanged" % n)


    def test_full_disk_replaces_no_file(self):
        """Room for four of the five files: none is replaced, so a service
        never finds a new key beside an old certificate, and no temp file is
        left; the certificate is served all the same."""
        if os.geteuid() != 0:
            raise unittest.SkipTest("mounting a small tmpfs needs root")
        self.pebble.start()
        s = self.make_server()
        mnt = os.path.join(s.dir, "out")
        os.makedirs(mnt)
        # Each file takes one 4 KiB page: four fit, the fifth does not.
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,mode=0777", "tmpfs", mnt],
                             capture_output=True, text=True, timeout=20)
        if out.returncode != 0:
            raise unittest.SkipTest("cannot mount a tmpfs: " + out.stderr.strip())
        self.addCleanup(lambda: subprocess.run(["umount", "-l", mnt], timeout=20))
        out_dir = os.path.join(mnt, "main")
        deploy, deploy_log = hook_script(s, "deploy")
        s.certificates[0]["output_dir"] = out_dir
        s.certificates[0]["deploy_hook"] = "@DEPLOY@"
        s.write_config(s.config_text().replace('deploy_hook = "@DEPLOY@";', 'deploy_hook = ["%s"];' % deploy))
        s.start()
        wait_issued(s, "wharf.test")
        self.assertTrue(s.wait_log("output files in %s not updated (try 1): cannot write" % out_dir, 10), s.log()[-3000:])
        self.assertEqual(os.listdir(out_dir), [])
        # The deploy hook would reload a service onto the old files: not run.
        self.assertTrue(s.wait_log("deploy hook not run: the output files were not updated", 10))
        self.assertFalse(os.path.exists(deploy_log))


if __name__ == "__main__":
    unittest.main(verbosity=2)
