"""Start-up, certificates and signals, with the real binary: provisional
certificates persisted and reused, SNI selection, a certificate swapped in
live while an open connection keeps working, SIGHUP reload (good and bad),
SIGTERM drain, privilege drop, and the command line."""

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import WHARF, Server, cert_text, curl, tls_peer_cert  # noqa: E402


def make_ca_signed(domains, workdir, ca_name="Lifecycle Test CA"):
    """A CA and a leaf for domains, made with certtool: (chain_pem, key_pem)."""
    def run(args, inp=None):
        subprocess.run(args, input=inp, capture_output=True, check=True, timeout=30)
    ca_key = os.path.join(workdir, "ca.key")
    ca_crt = os.path.join(workdir, "ca.pem")
    with open(os.path.join(workdir, "ca.tmpl"), "w") as f:
        f.write('cn = "%s"\nca\ncert_signing_key\nexpiration_days = 30\n' % ca_name)
    run(["certtool", "--generate-privkey", "--key-type", "ecdsa", "--outfile", ca_key])
    run(["certtool", "--generate-self-signed", "--load-privkey", ca_key,
         "--template", os.path.join(workdir, "ca.tmpl"), "--outfile", ca_crt])
    key = os.path.join(workdir, "leaf.key")
    crt = os.path.join(workdir, "leaf.pem")
    with open(os.path.join(workdir, "leaf.tmpl"), "w") as f:
        f.write('cn = "%s"\n' % domains[0])
        for d in domains:
            f.write('dns_name = "%s"\n' % d)
        f.write("tls_www_server\nsigning_key\nexpiration_days = 30\n")
    run(["certtool", "--generate-privkey", "--key-type", "ecdsa", "--outfile", key])
    run(["certtool", "--generate-certificate", "--load-privkey", key, "--load-ca-certificate", ca_crt,
         "--load-ca-privkey", ca_key, "--template", os.path.join(workdir, "leaf.tmpl"), "--outfile", crt])
    with open(crt) as c, open(ca_crt) as a, open(key) as k:
        return c.read() + a.read(), k.read()


def tls_connect(port, sni="localhost"):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=sni)


def http_get(sock, path, auth="alice:alice-pw"):
    """One keep-alive GET on an open TLS socket: (status, body)."""
    import base64
    tok = base64.b64encode(auth.encode()).decode()
    sock.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic %s\r\n\r\n"
                  % (path, tok)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, body


def openssl_peer_der(port, sni):
    """The leaf certificate (DER) a handshake through Python's ssl (OpenSSL)
    gets, with the SNI exactly as given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as t:
            return t.getpeercert(binary_form=True)


class Lifecycle(unittest.TestCase):
    def test_provisional_cert_persisted_and_reused(self):
        with Server() as s:
            pem1 = tls_peer_cert(s.port, "localhost")
            info = cert_text(pem1)
            self.assertIn("wharf provisional", info)
            self.assertIn("localhost", info)
            self.assertIn("*.wharf.test", info)
            self.assertIn("SECP256R1", info.upper().replace("-", ""))
            key = os.path.join(s.state_dir, "certs", "main", "selfsigned.key")
            self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
            s.stop()
            s.start()
            pem2 = tls_peer_cert(s.port, "localhost")
            self.assertEqual(pem1, pem2, "a restart must reuse the provisional certificate")
            self.assertEqual(s.log().count("made a provisional"), 1)

    def test_damaged_issued_cert_is_called_unusable(self):
        # A truncated issued.pem is a damaged file, not a change of domains:
        # the admin is told which, and the provisional certificate serves.
        with Server() as s:
            pem1 = tls_peer_cert(s.port, "localhost")
            s.stop()
            issued = os.path.join(s.state_dir, "certs", "main", "issued.pem")
            with open(issued, "w") as f:
                f.write(pem1[:len(pem1) // 2])
            os.chmod(issued, 0o600)
            s.start()
            self.assertEqual(tls_peer_cert(s.port, "localhost"), pem1)
            self.assertIn("certificate main: stored %s is unusable" % issued, s.log())
            self.assertNotIn("does not cover", s.log())

    def test_garbage_issued_cert_is_named_and_listed(self):
        """A damaged issued.pem is named by its path, with what happens
        next; `cert list` shows it before anything else; the file stays
        as it is (only a good certificate replaces it)."""
        with Server() as s:
            s.stop()
            issued = os.path.join(s.state_dir, "certs", "main", "issued.pem")
            with open(issued, "w") as f:
                f.write("garbage\n")
            os.chmod(issued, 0o600)
            s.start()
            self.assertIn("certificate main: stored %s is unusable: " % issued, s.log())
            self.assertIn("; the provisional self-signed certificate serves in its place until a good issued.pem "
                          "is put there (no ACME for it); the file is kept until a good certificate replaces it",
                          s.log())
            self.assertIn("wharf provisional", cert_text(tls_peer_cert(s.port, "localhost")))
            s.reload()
            with open(issued) as f:
                self.assertEqual(f.read(), "garbage\n")
            r = subprocess.run([WHARF, "cert", "list", "-c", s.config_path], capture_output=True, text=True,
                               timeout=20)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.splitlines()
            self.assertEqual(lines[0], "main")
            self.assertTrue(lines[2].startswith("  problem:      %s is unusable: " % issued), r.stdout)
            self.assertIn("the provisional certificate serves until a good one replaces it", lines[2])
            r = subprocess.run([WHARF, "cert", "list", "-c", s.config_path, "--json"], capture_output=True,
                               text=True, timeout=20)
            entry = json.loads(r.stdout)["certificates"][0]
            self.assertTrue(entry["stored_error"].startswith("%s is unusable: " % issued), entry)
            self.assertTrue(entry["provisional"])
            # Once the file is gone (or good), nothing is said.
            os.unlink(issued)
            r = subprocess.run([WHARF, "cert", "list", "-c", s.config_path, "--json"], capture_output=True,
                               text=True, timeout=20)
            self.assertIsNone(json.loads(r.stdout)["certificates"][0]["stored_error"])

    def test_sni_selects_certificate(self):
        certs = [("main", ["localhost", "*.wharf.test"]), ("other", ["other.test"])]
        svc = [{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main", "other"]}]
        with Server(certificates=certs, services=svc) as s:
            self.assertIn("other.test", cert_text(tls_peer_cert(s.port, "other.test")))
            main_pem = tls_peer_cert(s.port, "localhost")
            self.assertIn("*.wharf.test", cert_text(main_pem))
            self.assertEqual(tls_peer_cert(s.port, "files.wharf.test"), main_pem)
            self.assertEqual(tls_peer_cert(s.port, "unknown.example"), main_pem)
            self.assertEqual(tls_peer_cert(s.port, None), main_pem)
            # A wildcard is one label deep only: a.b.wharf.test falls to the default (main anyway),
            # and an exact name in the second certificate wins over the default.
            self.assertNotEqual(tls_peer_cert(s.port, "other.test"), main_pem)
            # A fully qualified name, trailing dot and all (OpenSSL clients
            # send it as written; gnutls-cli drops the dot): the same name.
            for sni in ("other.test.", "OTHER.test."):
                with self.subTest(sni=sni):
                    self.assertEqual(openssl_peer_der(s.port, sni),
                                     ssl.PEM_cert_to_DER_cert(tls_peer_cert(s.port, "other.test")))

    def test_swap_keeps_open_connection(self):
        with Server() as s:
            with open(os.path.join(s.home(), "f.txt"), "w") as f:
                f.write("before and after")
            os.chmod(os.path.join(s.home(), "f.txt"), 0o644)
            old = tls_connect(s.port)
            self.assertEqual(http_get(old, "/f.txt"), (200, b"before and after"))
            old_der = old.getpeercert(binary_form=True)

            with tempfile.TemporaryDirectory() as work:
                chain, key = make_ca_signed(["localhost", "*.wharf.test"], work)
            # What the ACME client will write: key then chain, one file, 0600.
            p = os.path.join(s.state_dir, "certs", "main", "issued.pem")
            with open(p, "w") as f:
                f.write(key + chain)
            os.chmod(p, 0o600)
            s.give(p)
            self.assertTrue(s.reload(), s.log()[-2000:])

            new_info = cert_text(tls_peer_cert(s.port, "localhost"))
            self.assertIn("Lifecycle Test CA", new_info)
            self.assertNotIn("wharf provisional", new_info)
            # The connection opened before the swap goes on, with its certificate.
            self.assertEqual(http_get(old, "/f.txt"), (200, b"before and after"))
            self.assertEqual(old.getpeercert(binary_form=True), old_der)
            old.close()
            # A restart serves the issued certificate from the state folder.
            s.stop()
            s.start()
            self.assertIn("Lifecycle Test CA", cert_text(tls_peer_cert(s.port, "localhost")))

    def test_bad_reload_keeps_running_config(self):
        with Server() as s:
            conn = tls_connect(s.port)
            good = s.config_text()
            s.write_config(good + "\nlimits = { idle_timeout = \"soon\"; };\n")
            self.assertFalse(s.reload())
            self.assertIn("reload refused", s.log())
            self.assertIn("wharf.conf:", s.log().split("SIGHUP")[-1])
            self.assertEqual(curl(s, "/")[0], 200)
            # A good config with a new user takes effect; the open connection survives.
            s.users.append({"name": "bob", "password": "bob-pw", "perms": ["read"]})
            os.makedirs(s.home("bob"))
            s.give_homes()
            s.write_config()
            self.assertTrue(s.reload())
            self.assertEqual(curl(s, "/", user="bob")[0], 200)
            self.assertEqual(http_get(conn, "/")[0], 200)
            conn.close()

    def test_reload_to_a_file_without_services_is_refused(self):
        # An empty file (a write cut short, an editor's truncation) has no
        # services: a reload to it closed every listener; now it is refused.
        with Server() as s:
            s.write_config("")
            self.assertFalse(s.reload())
            self.assertIn("'services' is required: at least 1 entry (up to 64)", s.log().split("SIGHUP")[-1])
            self.assertEqual(curl(s, "/")[0], 200)

    def test_upload_limit_past_32_bits_is_taken_whole(self):
        # libconfig read 4294968320 (4 GiB + 1 KiB) as 1024: a 2 KiB upload got 413.
        with Server(extra="limits = { max_upload_bytes = 4294968320; };") as s:
            status = curl(s, "/two-k.bin", args=["-T", "-"], input=os.urandom(2048))[0]
            self.assertIn(status, (200, 201, 204))
            self.assertEqual(os.path.getsize(os.path.join(s.home(), "two-k.bin")), 2048)

    def test_sighup_while_starting_is_a_reload(self):
        # logrotate may send SIGHUP while the server is still making its
        # provisional certificates: the signal's default action would kill
        # it. Caught from when the config is read, it is a reload once the
        # server runs.
        certs = [("c%d" % i, ["c%d.wharf.test" % i]) for i in range(300)]
        s = Server(certificates=certs, services=[{"type": "https", "address": "127.0.0.1", "port": None,
                                                 "certificates": [c[0] for c in certs]}])
        self.addCleanup(s.cleanup)
        s.start(wait=False)
        first = os.path.join(s.state_dir, "certs", "c0")
        self.assertTrue(harness.wait_until(lambda: os.path.isdir(first), timeout=20), s.log()[-2000:])
        s.signal(signal.SIGHUP)
        self.assertTrue(s.wait_log("ready", timeout=60), s.log()[-2000:])
        self.assertTrue(s.wait_log("reloaded:", timeout=20), s.log()[-2000:])
        self.assertIsNone(s.proc.poll())
        self.assertEqual(curl(s, "/", host="c299.wharf.test")[0], 200)

    def test_sighup_while_the_config_loads_is_a_reload(self):
        # Earlier still: the config not read yet. The server holds SIGHUP
        # from its first moment (SigBlk in /proc); one sent then waits,
        # and is a reload once the server runs, not its death.
        s = Server()
        self.addCleanup(s.cleanup)
        s.start(wait=False)

        def holds_sighup():
            try:
                with open("/proc/%d/status" % s.proc.pid) as f:
                    blk = [l for l in f if l.startswith("SigBlk:")][0].split()[1]
                return int(blk, 16) & (1 << (signal.SIGHUP - 1)) != 0
            except (OSError, IndexError):
                return False
        self.assertTrue(harness.wait_until(holds_sighup, timeout=10, interval=0.0005), s.log()[-2000:])
        s.signal(signal.SIGHUP)
        self.assertTrue(s.wait_log("reloaded:", timeout=20), s.log()[-2000:])
        self.assertIsNone(s.proc.poll())
        self.assertEqual(curl(s, "/")[0], 200)

    def test_reload_whose_log_cannot_open_is_refused(self):
        # A log file the server cannot open (a missing folder; in production
        # a folder only root may write, after the drop) refuses the reload
        # whole: before, the rest of the new config went live on the old logs.
        with Server() as s:
            s.users.append({"name": "bob", "password": "bob-pw", "perms": ["read"]})
            os.makedirs(s.home("bob"))
            s.give_homes()
            bad = os.path.join(s.dir, "no-such-folder", "error.log")
            s.write_config(s.config_text().replace('log = { level = "debug"; };',
                                                   'log = { level = "debug"; error_log = "%s"; };' % bad))
            self.assertFalse(s.reload())
            self.assertIn("cannot open error log " + bad, s.log().split("SIGHUP")[-1])
            self.assertEqual(curl(s, "/", user="bob")[0], 401)
            self.assertEqual(curl(s, "/")[0], 200)

    def test_reload_after_log_rotation(self):
        # logrotate's way: rename the file, SIGHUP. The new file gets the new
        # lines, the renamed one keeps the old, and no descriptor is left
        # behind however often it happens.
        s = Server()
        self.addCleanup(s.cleanup)
        access = s.log_file("access_log")
        s.start()
        self.assertEqual(curl(s, "/")[0], 200)

        def logged(path, text):
            try:
                with open(path) as f:
                    return text in f.read()
            except FileNotFoundError:
                return False

        def open_files():
            # Files only: a client's socket may still be closing (and may
            # go between listing and reading).
            fd_dir = "/proc/%d/fd" % s.proc.pid
            files = []
            for n in os.listdir(fd_dir):
                try:
                    target = os.readlink(os.path.join(fd_dir, n))
                except FileNotFoundError:
                    continue
                if not target.startswith(("socket:", "anon_inode:", "pipe:")):
                    files.append(target)
            return sorted(files)

        self.assertTrue(harness.wait_until(lambda: logged(access, " GET / ")))
        before = len(open_files())
        for i in range(1, 11):
            os.rename(access, "%s.%d" % (access, i))
            self.assertTrue(s.reload())
            self.assertEqual(curl(s, "/?round=%d" % i)[0], 200)
            self.assertTrue(harness.wait_until(lambda: logged(access, "/?round=%d " % i)), i)
            self.assertFalse(logged("%s.%d" % (access, i), "/?round=%d " % i))
        self.assertEqual(len(open_files()), before, "descriptors leaked over 10 reloads: %r" % open_files())

    def test_reload_follows_the_config_symlink_as_given(self):
        # A Kubernetes ConfigMap: NAME -> ..data/NAME, ..data -> ..v1; an
        # update makes ..v2, swaps ..data and removes ..v1. A reload reads
        # the path given with -c again, not the file it led to at start.
        class Linked(Server):
            linked = False

            @property
            def config_path(self):
                return os.path.join(self.dir, "cm", "wharf.conf") if self.linked else super().config_path
        s = Linked()
        s.linked = True
        self.addCleanup(s.cleanup)
        cm = os.path.join(s.dir, "cm")

        def version(name):
            os.makedirs(os.path.join(cm, name))
            text = s.config_text().replace('state_dir = "state";', 'state_dir = "%s";' % s.state_dir)
            with open(os.path.join(cm, name, "wharf.conf"), "w") as f:
                f.write(text.replace('home = "home/', 'home = "%s/home/' % s.dir))
        version("..v1")
        os.symlink("..v1", os.path.join(cm, "..data"))
        os.symlink("..data/wharf.conf", s.config_path)
        s.start()
        self.assertEqual(curl(s, "/", user="bob", password="bob-pw")[0], 401)
        s.users.append({"name": "bob", "password": "bob-pw", "perms": ["read"]})
        os.makedirs(s.home("bob"))
        s.give_homes()
        version("..v2")
        os.symlink("..v2", os.path.join(cm, "..tmp"))
        os.replace(os.path.join(cm, "..tmp"), os.path.join(cm, "..data"))
        shutil.rmtree(os.path.join(cm, "..v1"))
        self.assertTrue(s.reload(), s.log()[-2000:])
        self.assertIn("SIGHUP: reloading %s\n" % s.config_path, s.log())
        self.assertEqual(curl(s, "/", user="bob")[0], 200)

    def test_ipv6_and_dual_stack_listeners(self):
        v6 = harness.free_port()
        both = harness.free_port()
        svc = [{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]},
               {"type": "https", "address": "::1", "port": v6, "certificates": ["main"]},
               {"type": "https", "address": "*", "port": both, "certificates": ["main"]}]
        with Server(services=svc) as s:
            for url in ("https://[::1]:%d/" % v6, "https://[::1]:%d/" % both, "https://127.0.0.1:%d/" % both):
                out = subprocess.run(["curl", "-sk", "-g", "-u", "alice:alice-pw", "-o", "/dev/null", "-w",
                                      "%{http_code}", url], capture_output=True, text=True, timeout=20)
                self.assertEqual(out.stdout, "200", url)
            # The IPv6-only listener is not reachable over IPv4.
            out = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                                  "https://127.0.0.1:%d/" % v6], capture_output=True, text=True, timeout=20)
            self.assertEqual(out.stdout, "000")
            self.assertIn("[::1]:", s.log())

    def test_reload_adds_and_removes_listeners(self):
        with Server() as s:
            extra = harness.free_port()
            s.services.append({"type": "https", "address": "127.0.0.1", "port": extra,
                               "certificates": ["main"]})
            s.write_config()
            self.assertTrue(s.reload())
            self.assertTrue(harness.wait_port(extra, timeout=5))
            s.services.pop()
            s.write_config()
            self.assertTrue(s.reload())
            deadline = time.monotonic() + 5
            closed = False
            while time.monotonic() < deadline and not closed:
                try:
                    socket.create_connection(("127.0.0.1", extra), timeout=1).close()
                    time.sleep(0.1)
                except OSError:
                    closed = True
            self.assertTrue(closed, "the removed listener still accepts")
            self.assertEqual(curl(s, "/")[0], 200)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to start and drop privileges")
    def test_reload_to_a_low_port_says_why_it_cannot(self):
        # Started as root, the server runs as nobody: a reload cannot bind
        # a port below 1024, and the refusal says so rather than only EACCES.
        with Server() as s:
            def free(p):
                with socket.socket() as t:
                    try:
                        t.bind(("127.0.0.1", p))
                        return True
                    except OSError:
                        return False
            low = next(p for p in range(990, 1024) if free(p))
            s.services.append({"type": "https", "address": "127.0.0.1", "port": low, "certificates": ["main"]})
            s.write_config()
            self.assertFalse(s.reload())
            self.assertIn("a port below 1024 needs a restart", s.log().split("SIGHUP")[-1])
            self.assertEqual(curl(s, "/")[0], 200)
            # A service moved to another address on its own port: the new
            # socket, the run user's, cannot share the port with root's.
            if os.geteuid() == 0:
                s.services.pop()
                s.services[0]["address"] = "0.0.0.0"
                s.write_config()
                self.assertFalse(s.reload())
                self.assertIn("a new address or type on it needs a restart", s.log().split("SIGHUP")[-1])
                self.assertEqual(curl(s, "/")[0], 200)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to start and drop privileges")
    def test_hard_link_in_the_state_folder_is_not_given_away(self):
        # The run user owns the state folder; a hard link it planted there
        # (where the kernel lets it link others' files) must not make root
        # give the linked file to it at the next start.
        s = Server()
        self.addCleanup(s.cleanup)
        s.start()
        s.stop()
        victim = os.path.join(s.dir, "root-only")
        with open(victim, "w") as f:
            f.write("secret")
        os.chmod(victim, 0o600)
        os.link(victim, os.path.join(s.state_dir, "certs", "main", "planted"))
        out = subprocess.run([WHARF, "serve", "-c", s.config_path], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("certs/main/planted has 2 hard links", out.stdout + out.stderr)
        self.assertEqual(os.stat(victim).st_uid, 0)

    def test_second_instance_on_the_same_port_is_refused(self):
        # Each worker's socket has SO_REUSEPORT: without a check, a second
        # wharf on the same port would silently take a share of the
        # connections. It must refuse to start, saying why.
        with Server() as s:
            other = Server()
            self.addCleanup(other.cleanup)
            other.services[0]["port"] = s.port
            other.write_config()
            out = subprocess.run([WHARF, "serve", "-c", other.config_path], capture_output=True, text=True,
                                 timeout=30)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("cannot listen on 127.0.0.1 port %d: another process listens there already" % s.port,
                          out.stdout + out.stderr)
            # The first one still serves every connection.
            for _ in range(5):
                self.assertEqual(curl(s, "/")[0], 200)
            # A reload that moves a service onto a port someone else holds is refused too.
            taken = socket.socket()
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            self.addCleanup(taken.close)
            s.services.append({"type": "https", "address": "127.0.0.1", "port": taken.getsockname()[1],
                               "certificates": ["main"]})
            s.write_config()
            self.assertFalse(s.reload())
            self.assertIn("another process listens there already", s.log().split("SIGHUP")[-1])
            self.assertEqual(curl(s, "/")[0], 200)

    def test_wildcard_port_taken_on_an_ipv6_address_is_refused(self):
        # Another process on [::1]:P only: "*" on P must not quietly take
        # IPv4 alone while IPv6 clients reach the other process.
        taken = socket.socket(socket.AF_INET6)
        try:
            taken.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback")
        taken.listen(1)
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        other = Server()
        self.addCleanup(other.cleanup)
        other.services[0]["address"] = "*"
        other.services[0]["port"] = port
        other.write_config()
        out = subprocess.run([WHARF, "serve", "-c", other.config_path], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("cannot listen on * port %d: another process listens there already" % port,
                      out.stdout + out.stderr)

    def test_started_with_standard_descriptors_closed(self):
        # Run with stdout and stderr closed (a careless init script): the
        # first files opened must not take their numbers, or log lines
        # "to stderr" would be written into the state folder's files.
        s = Server()
        self.addCleanup(s.cleanup)
        s.write_config()
        proc = subprocess.Popen(["sh", "-c", 'exec "$0" serve -c "$1" >&- 2>&-', WHARF, s.config_path])
        try:
            self.assertTrue(harness.wait_port(s.port, timeout=20))
            self.assertEqual(curl(s, "/")[0], 200)
            # Its 1 and 2 lead nowhere, not to a file or socket of its own.
            for fd in (1, 2):
                self.assertEqual(os.readlink("/proc/%d/fd/%d" % (proc.pid, fd)), "/dev/null")
        finally:
            proc.terminate()
            proc.wait(timeout=20)

    def test_second_instance_on_the_same_state_folder_is_refused(self):
        # Two daemons on one state folder would both order certificates and
        # write the same keys. The lock is held across a reload and, as
        # root, after the privilege drop; a reload onto a folder another
        # wharf holds is refused too.
        with Server() as s:
            self.assertTrue(s.reload())
            other = Server()
            self.addCleanup(other.cleanup)
            other.write_config(other.config_text().replace('state_dir = "state";', 'state_dir = "%s";' % s.state_dir))
            out = subprocess.run([WHARF, "serve", "-c", other.config_path], capture_output=True, text=True,
                                 timeout=15)
            self.assertEqual(out.returncode, 1)
            self.assertIn("state folder %s is in use by another wharf (pid %d)" % (s.state_dir, s.proc.pid),
                          out.stderr)
            self.assertEqual(curl(s, "/")[0], 200)
            other.write_config()
            other.start()
            s.write_config(s.config_text().replace('state_dir = "state";', 'state_dir = "%s";' % other.state_dir))
            self.assertFalse(s.reload())
            self.assertIn("reload refused: state folder %s is in use by another wharf (pid %d)"
                          % (other.state_dir, other.proc.pid), s.log())

    def test_sigterm_drains_open_transfer(self):
        with Server() as s:
            data = os.urandom(3 << 20)
            with open(os.path.join(s.home(), "big.bin"), "wb") as f:
                f.write(data)
            os.chmod(os.path.join(s.home(), "big.bin"), 0o644)
            result = {}

            def slow_download():
                result["out"] = subprocess.run(
                    ["curl", "-sS", "-k", "--http1.1", "--limit-rate", "1M", "-u", "alice:alice-pw",
                     "-o", "-", s.url("/big.bin")], capture_output=True, timeout=60)
            t = threading.Thread(target=slow_download)
            t.start()
            time.sleep(0.8)
            s.signal(signal.SIGTERM)
            self.assertTrue(s.wait_log("SIGTERM", timeout=5))
            # A reload asked meanwhile is said to be dropped, not lost unsaid.
            s.signal(signal.SIGHUP)
            self.assertTrue(s.wait_log("SIGHUP: not reloading, the server is shutting down", timeout=5))
            # No new connections once draining.
            time.sleep(0.3)
            with self.assertRaises(OSError):
                c = tls_connect(s.port)
                http_get(c, "/")
            t.join(timeout=60)
            self.assertEqual(result["out"].returncode, 0, result["out"].stderr)
            self.assertEqual(result["out"].stdout, data)
            s.proc.wait(timeout=20)
            self.assertEqual(s.proc.returncode, 0)

    def test_draining_server_refuses_new_connections_at_once(self):
        # A listening socket left open while draining would still complete
        # handshakes into its backlog: a new client would hang until
        # shutdown_timeout instead of being refused.
        with Server(extra="limits = { shutdown_timeout = 60; };") as s:
            body = b"x" * 100000
            up = harness.RawTLS(s)
            up.send("PUT /drain.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                    "Content-Length: %d\r\n\r\n" % (harness.basic_auth("alice", "alice-pw"), len(body)))
            up.send(body[:1000])
            time.sleep(0.5)  # the upload is under way (its temp file exists)
            self.assertTrue(harness.wait_until(lambda: any(
                n.startswith(".wharf-upload.") for n in os.listdir(s.home())), 5))
            s.signal(signal.SIGTERM)
            self.assertTrue(s.wait_log("SIGTERM", timeout=5))
            refused = None
            deadline = time.monotonic() + 5
            while refused is None and time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
                    time.sleep(0.1)  # the workers may not have seen the drain yet
                except ConnectionRefusedError:
                    refused = True
            self.assertTrue(refused, "a new connection was taken into the backlog while draining")
            # The upload under way still finishes, and the server then exits.
            up.send(body[1000:])
            self.assertEqual(up.read_response()[0], 201)
            up.close()
            with open(os.path.join(s.home(), "drain.bin"), "rb") as f:
                self.assertEqual(f.read(), body)
            s.proc.wait(timeout=20)
            self.assertEqual(s.proc.returncode, 0)

    def test_sigterm_with_idle_ftps_sessions_stops_at_once(self):
        # An idle FTP client reads nothing until its user types, so it never
        # answers our close with its own: the shutdown must not wait for it.
        import ftps_util
        with Server(extra="limits = { shutdown_timeout = 60; };",
                    services=ftps_util.ftps_services(implicit=False)) as s:
            port = s.services[0]["port"]
            self.assertTrue(harness.wait_port(port))
            idle = [ftps_util.Control(port).login() for _ in range(3)]
            begun = time.monotonic()
            s.signal(signal.SIGTERM)
            s.proc.wait(timeout=20)
            took = time.monotonic() - begun
            self.assertEqual(s.proc.returncode, 0)
            self.assertLess(took, 5.0, "a shutdown waited %.1f s for idle sessions" % took)
            for c in idle:
                self.assertEqual(c.read_reply().code, 421)
                c.close()

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_drops_root(self):
        with Server() as s:
            with open("/proc/%d/status" % s.proc.pid) as f:
                uids = [line for line in f if line.startswith("Uid:")][0].split()[1:]
            nobody = subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout.strip()
            self.assertEqual(set(uids), {nobody})
            self.assertIn("running as nobody", s.log())

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_refuses_root_without_allow_root(self):
        s = Server()
        try:
            s.write_config(s.config_text().replace('run_user = "nobody";', 'run_user = "root";'))
            s.start(wait=False)
            s.proc.wait(timeout=15)
            self.assertNotEqual(s.proc.returncode, 0)
            self.assertIn("refusing to serve files as root", s.log())
        finally:
            s.cleanup()


class CommandLine(unittest.TestCase):
    def test_check_reports_file_and_line(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "bad.conf")
            with open(p, "w") as f:
                f.write('workers = 2;\nlimits = { header_timeout = "x"; };\nfoo = 1;\n')
            out = subprocess.run([WHARF, "check", "-c", p], capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 1)
            self.assertIn("bad.conf:2: 'limits.header_timeout' must be an integer", out.stderr)
            self.assertIn("bad.conf:3: unknown key 'foo'", out.stderr)

    def test_check_refuses_a_config_without_services(self):
        with tempfile.TemporaryDirectory() as d:
            for text in ("", 'workers = 1;\n'):
                p = os.path.join(d, "none.conf")
                with open(p, "w") as f:
                    f.write(text)
                out = subprocess.run([WHARF, "check", "-c", p], capture_output=True, text=True, timeout=10)
                self.assertEqual(out.returncode, 1, out.stdout)
                self.assertIn("%s: 'services' is required: at least 1 entry (up to 64)" % p, out.stderr)

    def test_check_accepts_the_example_configs(self):
        os.makedirs(os.path.join(harness.SOURCE, ".run", "files"), exist_ok=True)
        for name in ("wharf.conf", "wharf-pebble.conf"):
            example = os.path.join(harness.SOURCE, "config", name)
            out = subprocess.run([WHARF, "check", "-c", example], capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("configuration is valid", out.stdout)

    def test_passwd_hash_verifies(self):
        out = subprocess.run([WHARF, "passwd"], input="s3cret\n", capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        h = out.stdout.strip()
        self.assertTrue(h.startswith("$y$"), h)
        import crypt  # noqa: deprecated but present in 3.11; the check mirrors the server's crypt(3)
        self.assertEqual(crypt.crypt("s3cret", h), h)
        out = subprocess.run([WHARF, "passwd", "--sha512"], input="x\n", capture_output=True, text=True,
                             timeout=10)
        self.assertTrue(out.stdout.startswith("$6$"))

    def test_passwd_refuses_what_it_cannot_hash_whole(self):
        # crypt(3) takes at most 511 bytes; a longer line read from a pipe
        # was cut to fit a buffer and hashed, silently: refused now.
        import crypt  # noqa: deprecated but present in 3.11; the check mirrors the server's crypt(3)
        longest = "".join(chr(ord("a") + i % 26) for i in range(511))
        out = subprocess.run([WHARF, "passwd", "--sha512"], input=longest + "\r\n", capture_output=True,
                             text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        h = out.stdout.strip()
        self.assertEqual(crypt.crypt(longest, h), h)
        for bad, why in ((longest + "x", "longer than 511 bytes"), (longest * 2, "longer than 511 bytes"),
                         ("ab\0cd", "NUL")):
            out = subprocess.run([WHARF, "passwd"], input=bad + "\n", capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 1, out.stdout)
            self.assertEqual(out.stdout, "")
            self.assertIn("wharf passwd: password refused: ", out.stderr)
            self.assertIn(why, out.stderr)
        # The longest password logs in.
        with Server(users=[{"name": "alice", "password": longest, "hash": h, "perms": ["read"]}]) as s:
            self.assertEqual(curl(s, "/", user="alice", password=longest)[0], 200)
            self.assertEqual(curl(s, "/", user="alice", password=longest[:-1])[0], 401)

    def test_usage_names_the_command_given(self):
        def run(*args):
            return subprocess.run([WHARF, *args], capture_output=True, text=True, timeout=10)
        # `wharf cert` alone was an unknown command; it lists its sub-commands.
        for args in (["cert"], ["cert", "frobnicate"]):
            out = run(*args)
            self.assertEqual(out.returncode, 2, args)
            self.assertNotIn('unknown command "cert"', out.stderr)
            for sub in ("cert list", "cert revoke", "cert obtain", "cert batch", "cert fetch"):
                self.assertIn(sub, out.stderr)
        # `cert fetch` without a host printed the list/revoke usage.
        for args in (["cert", "fetch"], ["cert", "fetch", "--sni", "x"]):
            out = run(*args)
            self.assertEqual(out.returncode, 2, args)
            self.assertIn("usage: wharf cert fetch HOST[:PORT]", out.stderr)
        # config-reference takes no argument.
        out = run("config-reference", "extra")
        self.assertEqual(out.returncode, 2)
        self.assertEqual(out.stdout, "")
        self.assertIn("usage: wharf config-reference", out.stderr)

    def test_help_and_version(self):
        out = subprocess.run([WHARF, "--version"], capture_output=True, text=True, timeout=10)
        self.assertRegex(out.stdout, r"^wharf \d+\.\d+\.\d+")
        out = subprocess.run([WHARF, "--help"], capture_output=True, text=True, timeout=10)
        for word in ("serve", "check", "passwd"):
            self.assertIn(word, out.stdout)
        out = subprocess.run([WHARF, "frobnicate"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 2)


if __name__ == "__main__":
    harness.main()
