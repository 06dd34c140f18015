"""`wharf cert fetch`, for nodes that share a key and run no ACME: it takes
the certificate a real server (wharf itself here, or a Python TLS server
presenting certificates made for the test) presents for a name, and installs
it with certbot's file layout only if a CA vouches for it (--ca, or the
system's CAs), it covers the name, is valid now, matches our key and is newer
than what is on disk; then the hook runs. Every refusal is exit 1 with one
clear line."""

import datetime
import os
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def read(path):
    with open(path) as f:
        return f.read()


class Fetch(harness.SharedServerCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="wharf-fetch-")
        self.key = os.path.join(self.server.state_dir, "certs", "main", "selfsigned.key")
        self.served = os.path.join(self.server.state_dir, "certs", "main", "selfsigned.pem")

    def tearDown(self):
        super().tearDown()
        subprocess.run(["rm", "-rf", self.tmp], timeout=10)

    def fetch(self, *args, sni="localhost", key=None, port=None, hook=(), ca=None, out=None):
        # wharf's own provisional certificate is self-signed: it is its own CA.
        cmd = [harness.WHARF, "cert", "fetch", "127.0.0.1:%d" % (port or self.server.port), "--sni", sni,
               "--key", key or self.key, "--out", out or os.path.join(self.tmp, "out"), "--ca", ca or self.served,
               *args]
        if hook:
            cmd += ["--", *hook]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20)

    def test_install_then_up_to_date(self):
        hook_log = os.path.join(self.tmp, "hook.log")
        hook = os.path.join(self.tmp, "hook.sh")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\nenv | grep ^WHARF_ >> %s\n" % hook_log)
        os.chmod(hook, 0o755)
        r = self.fetch(hook=(hook,))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("installed the certificate", r.stdout)
        out = os.path.join(self.tmp, "out")
        self.assertEqual(read(os.path.join(out, "cert.pem")).strip(), read(self.served).strip().split(
            "-----END CERTIFICATE-----")[0].strip() + "\n-----END CERTIFICATE-----")
        self.assertEqual(read(os.path.join(out, "privkey.pem")), read(self.key))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(out, "privkey.pem")).st_mode), 0o600)
        self.assertIn("WHARF_EVENT=fetched", read(hook_log))
        self.assertIn("WHARF_OUTPUT_DIR=%s" % out, read(hook_log))
        self.assertIn("exited 0", r.stderr)

        # The same certificate again is not newer: nothing changes, no hook.
        r = self.fetch(hook=(hook,))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("up to date", r.stdout)
        self.assertEqual(read(hook_log).count("WHARF_EVENT=fetched"), 1)

    def hook_logging(self):
        log = os.path.join(self.tmp, "hook.log")
        return ("sh", "-c", 'echo "$WHARF_EVENT" >> "$0"', log), log

    def test_files_lagging_behind_cert_pem_are_rewritten(self):
        # A fetch killed between its renames leaves cert.pem new beside an old
        # fullchain.pem (or none) and a temp file: cert.pem alone says "up to
        # date", but the next fetch mends the set, runs the hook and sweeps.
        hook, log = self.hook_logging()
        r = self.fetch(hook=hook)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, "out")
        want = {n: read(os.path.join(out, n)) for n in ("cert.pem", "chain.pem", "fullchain.pem", "privkey.pem",
                                                       "combined.pem")}
        for spoil in ("older", "missing"):
            if spoil == "older":
                with open(os.path.join(out, "fullchain.pem"), "w") as f:
                    f.write(want["cert.pem"] + want["cert.pem"])  # any other chain
            else:
                os.unlink(os.path.join(out, "fullchain.pem"))
            stale = os.path.join(out, ".fullchain.pem.tmp.0123456789abcdef")
            with open(stale, "w") as f:
                f.write("half")
            r = self.fetch(hook=hook)
            self.assertEqual(r.returncode, 0, spoil + ": " + r.stdout + r.stderr)
            self.assertNotIn("up to date", r.stdout, spoil)
            self.assertIn("removed 1 temp file", r.stdout, spoil)
            self.assertFalse(os.path.exists(stale), spoil)
            for name, data in want.items():
                self.assertEqual(read(os.path.join(out, name)), data, spoil + ": " + name)
        self.assertEqual(read(log), "fetched\n" * 3)
        # In step again: nothing to do, no hook.
        r = self.fetch(hook=hook)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("up to date", r.stdout)
        self.assertEqual(read(log), "fetched\n" * 3)

    def test_fifo_at_an_output_name_does_not_hang(self):
        # Opening a FIFO for reading waits for a writer: a FIFO at a file's
        # name is replaced like any other stranger, never waited on.
        hook, log = self.hook_logging()
        out = os.path.join(self.tmp, "out")
        for name in ("privkey.pem", "cert.pem"):
            subprocess.run(["rm", "-rf", out], timeout=10)
            os.makedirs(out)
            os.mkfifo(os.path.join(out, name), 0o600)
            try:
                r = self.fetch(hook=hook)
            except subprocess.TimeoutExpired:
                self.fail("cert fetch hung on a FIFO at " + name)
            self.assertEqual(r.returncode, 0, name + ": " + r.stdout + r.stderr)
            self.assertIn("installed the certificate", r.stdout, name)
            self.assertTrue(stat.S_ISREG(os.lstat(os.path.join(out, name)).st_mode), name)
        self.assertEqual(read(os.path.join(out, "privkey.pem")), read(self.key))
        self.assertEqual(read(log), "fetched\n" * 2)

    def test_rewrite_keeps_the_group_an_admin_gave_the_key(self):
        # As certbot: chgrp and chmod g+r on privkey.pem (a service's group
        # reads it) last through a rewrite; world bits never come along.
        r = self.fetch()
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, "out")
        group = next((g for g in ([65534] + os.getgroups()) if g != os.getegid()), None)
        if group is None:
            self.skipTest("no group to give the files")
        try:
            for name in ("privkey.pem", "combined.pem"):
                os.chown(os.path.join(out, name), -1, group)
        except PermissionError:
            self.skipTest("group %d is not ours to give" % group)
        os.chmod(os.path.join(out, "privkey.pem"), 0o640)
        os.chmod(os.path.join(out, "combined.pem"), 0o644)
        want = {}
        for name in ("privkey.pem", "combined.pem"):
            want[name] = read(os.path.join(out, name))
            with open(os.path.join(out, name), "a") as f:  # same inode: the group and mode stay
                f.write("\n")
        r = self.fetch()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("up to date", r.stdout)
        for name in ("privkey.pem", "combined.pem"):
            path = os.path.join(out, name)
            self.assertEqual(read(path), want[name], name)  # rewritten
            st = os.lstat(path)
            self.assertEqual(st.st_gid, group, name)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o640, name)

        # One another user put there (a service that may write the folder)
        # chooses nothing: the next key is the run user's own, 0600.
        if os.geteuid() != 0:
            return
        path = os.path.join(out, "privkey.pem")
        with open(path, "a") as f:
            f.write("\n")
        os.chown(path, 65534, group)
        r = self.fetch()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        st = os.lstat(path)
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (0, os.getegid(), 0o600))

    def test_hook_named_without_a_path_is_looked_up_in_path(self):
        # As a shell would: ["sh", "-c", ...] ran nothing ("cannot run sh"),
        # here and for the config's deploy, event and DNS hooks alike.
        hook_log = os.path.join(self.tmp, "hook.log")
        r = self.fetch(hook=("sh", "-c", 'echo "$WHARF_EVENT" > "$0"', hook_log))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("exited 0", r.stderr)
        self.assertEqual(read(hook_log), "fetched\n")

    def test_refusals(self):
        other_key = os.path.join(self.tmp, "other.key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                        other_key], check=True, capture_output=True, timeout=30)
        r = self.fetch(key=other_key)
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not match the key", r.stderr)
        r = self.fetch(sni="elsewhere.example")
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not cover elsewhere.example", r.stderr)
        r = self.fetch(port=harness.free_port())
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "out")))
        r = subprocess.run([harness.WHARF, "cert", "fetch", "127.0.0.1"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: wharf cert fetch", r.stderr)

    def test_local_files_are_judged_before_connecting(self):
        """A --key that holds no key is said to be one, not taken for a
        certificate that "does not match the key"; and --key, --ca and --out
        are checked before any connection, so that with no server reachable
        the admin does not learn only "cannot connect"."""
        empty = os.path.join(self.tmp, "empty.key")
        open(empty, "w").close()
        garbage = os.path.join(self.tmp, "garbage.key")
        with open(garbage, "w") as f:
            f.write("garbage\n")
        no_ca = os.path.join(self.tmp, "no-such-ca.pem")
        deep = os.path.join(self.tmp, "missing", "out")
        down = harness.free_port()
        for port in (None, down):  # a server there, and none
            where = "server up" if port is None else "no server"
            r = self.fetch(key=empty, port=port)
            self.assertEqual(r.returncode, 1, where)
            self.assertEqual(r.stderr.strip(), "cert fetch: the key file %s is empty" % empty, where)
            r = self.fetch(key=garbage, port=port)
            self.assertEqual(r.returncode, 1, where)
            self.assertIn("the key file %s holds no usable private key (PEM, unencrypted)" % garbage, r.stderr,
                          where)
            self.assertNotIn("cannot connect", r.stderr, where)
            r = self.fetch(ca=no_ca, port=port)
            self.assertEqual(r.returncode, 1, where)
            self.assertIn("no CA certificate could be read from %s" % no_ca, r.stderr, where)
            self.assertNotIn("cannot connect", r.stderr, where)
            r = self.fetch(out=deep, port=port)
            self.assertEqual(r.returncode, 1, where)
            self.assertEqual(r.stderr.strip(), "cert fetch: --out %s: its parent folder %s does not exist; fetch "
                             "makes only the last folder of --out, create the parent first"
                             % (deep, os.path.dirname(deep)), where)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertFalse(os.path.exists(os.path.dirname(deep)))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "out")))

    def test_out_folder_made_is_said(self):
        # The last folder of --out alone is made, 0700, and one line says so.
        r = self.fetch()
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, "out")
        self.assertIn("cert fetch: created the folder %s (mode 0700)" % out, r.stdout)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o700)
        r = self.fetch()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("created the folder", r.stdout)
        # A file where the folder goes is refused before any connection.
        afile = os.path.join(self.tmp, "afile")
        open(afile, "w").close()
        r = self.fetch(out=afile, port=harness.free_port())
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(), "cert fetch: --out %s is not a folder" % afile)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def make_cert(cn, pub, issuer_name, issuer_key, not_before, not_after, names=("localhost",), ca=False):
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .issuer_name(issuer_name).public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


class TLSPeer:
    """A TLS server on loopback that presents one certificate (with our key)
    to every client, in a thread, for a bounded number of connections."""

    def __init__(self, cert_file, key_file, host="127.0.0.1"):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert_file, key_file)
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        served = 0
        while served < 8 and not self.stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            served += 1
            try:
                conn.settimeout(10)
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    try:
                        tls.recv(1)  # until the client's close_notify or EOF
                    except (OSError, ssl.SSLError):
                        pass
            except (OSError, ssl.SSLError):
                conn.close()

    def close(self):
        self.stop.set()
        self.thread.join(timeout=15)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FetchTrust(unittest.TestCase):
    """Our public key is public: anyone can make a certificate for it. Only
    a chain a CA vouches for, valid now, is installed."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="wharf-fetch-trust-")
        cls.now = datetime.datetime.now(datetime.timezone.utc)
        cls.key = ec.generate_private_key(ec.SECP256R1())
        cls.key_file = cls.write("key.pem", cls.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        cls.ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wharf fetch test ca")])
        cls.ca = make_cert("wharf fetch test ca", cls.ca_key.public_key(), ca_name, cls.ca_key,
                           cls.now - datetime.timedelta(days=1), cls.now + datetime.timedelta(days=365), ca=True)
        cls.ca_file = cls.write("ca.pem", pem(cls.ca))

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.dir], timeout=10)

    @classmethod
    def write(cls, name, data):
        path = os.path.join(cls.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def setUp(self):
        self.out = tempfile.mkdtemp(prefix="out-", dir=self.dir)
        os.rmdir(self.out)  # cert fetch makes it

    def signed(self, name, start, end, names=("localhost",)):
        """A certificate for our key signed by the test CA, valid from now+start to now+end."""
        c = make_cert(name, self.key.public_key(), self.ca.subject, self.ca_key, self.now + start, self.now + end,
                      names=names)
        return self.write(name + ".pem", pem(c))

    def self_signed(self, name, start, end):
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        c = make_cert(name, self.key.public_key(), subject, self.key, self.now + start, self.now + end)
        return self.write(name + ".pem", pem(c))

    def fetch(self, cert_file, ca=True, host="127.0.0.1", target=None):
        with TLSPeer(cert_file, self.key_file, host=host) as peer:
            cmd = [harness.WHARF, "cert", "fetch", target or "%s:%d" % (host if ":" not in host else "[%s]" % host,
                                                                       peer.port),
                   "--sni", "localhost", "--key", self.key_file, "--out", self.out]
            if ca:
                cmd += ["--ca", self.ca_file if ca is True else ca]
            return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def installed(self):
        with open(os.path.join(self.out, "cert.pem")) as f:
            return f.read()

    def test_self_signed_for_our_key_is_untrusted(self):
        hour, month = datetime.timedelta(hours=1), datetime.timedelta(days=30)
        forged = self.self_signed("forged", -hour, month)
        for ca in (True, False):  # neither the test CA nor the system's CAs vouch for it
            r = self.fetch(forged, ca=ca)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("is not trusted", r.stderr)
            self.assertIn("issuer is unknown", r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertFalse(os.path.exists(self.out))

    def test_signed_by_the_given_ca_is_installed(self):
        hour, month = datetime.timedelta(hours=1), datetime.timedelta(days=30)
        good = self.signed("good", -hour, month)
        # The test CA is not one of the system's.
        r = self.fetch(good, ca=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("is not trusted", r.stderr)
        self.assertFalse(os.path.exists(self.out))
        r = self.fetch(good)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("installed the certificate", r.stdout)
        with open(good) as f:
            self.assertEqual(self.installed(), f.read())
        r = self.fetch(good)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("up to date", r.stdout)

    def test_not_yet_valid_or_expired_is_refused(self):
        day = datetime.timedelta(days=1)
        future = self.signed("future", 365 * 60 * day, 365 * 61 * day)
        r = self.fetch(future)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("is not yet valid (not before %d-" % (self.now.year + 60), r.stderr)
        expired = self.signed("expired", -90 * day, -day)
        r = self.fetch(expired)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("has expired", r.stderr)
        self.assertFalse(os.path.exists(self.out))

    def test_name_not_covered_is_refused(self):
        hour, month = datetime.timedelta(hours=1), datetime.timedelta(days=30)
        other = self.signed("other-name", -hour, month, names=("elsewhere.example",))
        r = self.fetch(other)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("does not cover localhost", r.stderr)
        self.assertFalse(os.path.exists(self.out))

    def test_newer_and_a_pinned_certificate(self):
        hour, day = datetime.timedelta(hours=1), datetime.timedelta(days=1)
        # A far-future certificate a wharf that did not verify installed must
        # not hold back a real renewal.
        pinned = self.self_signed("pinned", 365 * 60 * day, 365 * 61 * day)
        os.makedirs(self.out)
        with open(os.path.join(self.out, "cert.pem"), "w") as f, open(pinned) as p:
            f.write(p.read())
        first = self.signed("first", -10 * day, 80 * day)
        r = self.fetch(first)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("installed the certificate", r.stdout)
        # A renewal (later notBefore) replaces it; the older one does not come back.
        renewed = self.signed("renewed", -hour, 89 * day)
        r = self.fetch(renewed)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("installed the certificate", r.stdout)
        r = self.fetch(first)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("up to date", r.stdout)
        with open(renewed) as f:
            self.assertEqual(self.installed(), f.read())

    def test_ipv6_target(self):
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no ::1 here")
        hour, month = datetime.timedelta(hours=1), datetime.timedelta(days=30)
        good = self.signed("good6", -hour, month)
        r = self.fetch(good, host="::1")  # as [::1]:PORT
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("installed the certificate of [::1]:", r.stdout)

    def test_target_forms_refused(self):
        hour, month = datetime.timedelta(hours=1), datetime.timedelta(days=30)
        good = self.signed("good-forms", -hour, month)
        for target, reason in (("localhost:1:2", "is not an IPv6 address: give one with a port as [ADDRESS]:PORT"),
                               ("[::1", "an IPv6 address is written [ADDRESS] or [ADDRESS]:PORT"),
                               ("[::1]8443", "an IPv6 address is written [ADDRESS] or [ADDRESS]:PORT"),
                               ("127.0.0.1:99999", "the port must be a number from 1 to 65535"),
                               ("127.0.0.1:", "the port must be a number from 1 to 65535"),
                               ("[]:443", "no host")):
            r = self.fetch(good, target=target)
            self.assertEqual(r.returncode, 1, target + ": " + r.stdout + r.stderr)
            self.assertIn(reason, r.stderr, target)
        self.assertFalse(os.path.exists(self.out))

    def test_missing_ca_file(self):
        hour, month = datetime.timedelta(hours=1), datetime.timedelta(days=30)
        good = self.signed("good2", -hour, month)
        r = self.fetch(good, ca=os.path.join(self.dir, "no-such-ca.pem"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("no CA certificate could be read from", r.stderr)
        self.assertFalse(os.path.exists(self.out))


if __name__ == "__main__":
    unittest.main(verbosity=2)
