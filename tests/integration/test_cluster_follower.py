"""A cluster follower against a real controller, on loopback with no CA: the
controller serves certificates planted as its issued.pem (docs/cluster.md).
A follower with more certificates than libcurl's default connections per
host keeps a long poll open for each; a controller URL with a trailing
slash works; a node that says it is not a controller (421), a name the
controller has none of, a bundle the state folder will not take and a
thumbprint it will not take are each told once in the log, and the last
two neither run the deploy hook twice nor break HTTP-01; a bundle not stored
stays served across a reload and is stored by the next follower; a follower whose
certificate runs out while the controller's proved answers cannot replace
it (no such name there, or a bundle for other names) gives the expiry
alarm."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Server, tls_peer_cert  # noqa: E402
from pebble import block_issued_pem, hook_script  # noqa: E402

SECRET = "s3cret-shared-by-every-node-of-this-cluster"
DOMAINS = ["wharf.test", "www.wharf.test"]
MANY = 12  # more than the 8 connections per host libcurl is allowed by default here
THUMB = "B" * 43


def cluster_block(role, controller="", ca="", poll=30):
    return ('cluster = { role = "%s"; secret = "%s"; controller = "%s"; controller_ca = "%s"; poll_interval = %d; };\n'
            % (role, SECRET, controller, ca, poll))


def self_signed(folder, name, domains):
    """A key and certificate (PEM texts) for domains, good for 2 days."""
    cert, key = os.path.join(folder, name + ".pem"), os.path.join(folder, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-keyout", key, "-out", cert, "-days", "2", "-subj",
                    "/CN=" + domains[0], "-addext", "subjectAltName=" + ",".join("DNS:" + d for d in domains)],
                   capture_output=True, check=True, timeout=30)
    with open(cert) as c, open(key) as k:
        return c.read(), k.read()


def near_expiry(folder, name, domains):
    """A key and certificate (PEM texts) for domains, 24 h long with 1 h
    left: in the last sixth of its life, where the expiry alarm is due."""
    key = os.path.join(folder, name + ".key")
    tpl, cert = os.path.join(folder, name + ".tpl"), os.path.join(folder, name + ".pem")
    now = time.time()
    with open(tpl, "w") as t:
        t.write('cn = "%s"\n' % domains[0] + "".join('dns_name = "%s"\n' % d for d in domains)
                + 'activation_date = "%s"\n' % time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - 23 * 3600))
                + 'expiration_date = "%s"\n' % time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now + 3600)))
    subprocess.run(["certtool", "--generate-privkey", "--key-type", "ecdsa", "--outfile", key], capture_output=True,
                   check=True, timeout=30)
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey", key, "--template", tpl, "--outfile",
                    cert], capture_output=True, check=True, timeout=30, env=dict(os.environ, TZ="UTC"))
    with open(cert) as c, open(key) as k:
        return c.read(), k.read()


def serial(pem):
    return subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem, capture_output=True, text=True,
                          timeout=10).stdout.strip().split("=")[-1].lower()


def put_file(server, path, text, mode=0o600):
    """Writes text at path (under the server's state folder), every folder on
    the way and the file the run user's."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", mode)
    os.replace(path + ".tmp", path)
    d = path
    while d != server.dir:
        server.give(d)
        d = os.path.dirname(d)


def established_to(port):
    """TCP connections on loopback whose far end is port: a follower's to its controller."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "01" and int(fields[2].split(":")[1], 16) == port:
                n += 1
    return n


class Follower(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="wharf-follower-")
        certs = [{"name": "c%02d" % i, "domains": DOMAINS, "acme": False} for i in range(MANY)]
        cls.ctl = Server(certificates=[{"name": "main", "domains": DOMAINS, "acme": False}] + certs +
                         [{"name": "cluster", "domains": ["localhost"], "acme": False}],
                         services=[{"type": "https", "address": "127.0.0.1", "port": None,
                                    "certificates": ["cluster"]}],
                         extra=cluster_block("controller"))
        cls.chain, key = self_signed(cls.dir, "issued", DOMAINS)
        for c in ["main"] + [c["name"] for c in certs]:
            cls.issue(c, cls.chain, key)
        put_file(cls.ctl, os.path.join(cls.ctl.state_dir, "acme", "thumbprint"), THUMB, 0o644)
        cls.ctl.start()
        cls.ca = os.path.join(cls.ctl.state_dir, "certs", "cluster", "selfsigned.pem")

    @classmethod
    def tearDownClass(cls):
        cls.ctl.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def issue(cls, name, chain, key):
        put_file(cls.ctl, os.path.join(cls.ctl.state_dir, "certs", name, "issued.pem"), key + chain)

    def setUp(self):
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()

    def follower(self, names=("main",), controller=None, poll=30, services=(), deploy_hook=False, ca=None):
        s = Server(certificates=[{"name": n, "domains": DOMAINS} for n in names],
                   services=[{"type": "https", "address": "127.0.0.1", "port": None, "certificates": [names[0]]}]
                   + list(services),
                   extra=cluster_block("follower", controller or "https://localhost:%d" % self.ctl.port, "@CA@",
                                       poll))
        self.servers.append(s)
        if deploy_hook:
            s.deploy, s.deploy_log = hook_script(s, "deploy")
            s.certificates[0]["deploy_hook"] = [s.deploy]
        shutil.copy(ca or self.ca, os.path.join(s.dir, "controller-ca.pem"))
        ca = os.path.join(s.dir, "controller-ca.pem")
        s.give(ca)
        s.write_config(s.config_text().replace("@CA@", ca))
        return s

    def test_many_certificates_each_long_polled(self):
        """Each certificate's long poll holds a connection for 25 s: a
        follower with more certificates than connections allowed to one host
        would queue the rest, and their renewals wait, or time out as
        "unreachable"."""
        names = ["c%02d" % i for i in range(MANY)]
        f = self.follower(names)
        f.start()
        self.assertTrue(f.wait_log("installed the controller's certificate", 20, count=MANY), f.log()[-2000:])
        self.assertTrue(harness.wait_until(lambda: established_to(self.ctl.port) >= MANY, 10, 0.2),
                        "%d connections to the controller for %d long polls" % (established_to(self.ctl.port), MANY))
        # A renewal of the last one reaches the follower within seconds.
        chain, key = self_signed(self.dir, "renewed", DOMAINS)
        self.issue(names[-1], chain, key)
        self.assertTrue(self.ctl.reload())
        self.assertTrue(f.wait_log("installed the controller's certificate (serial %s" % serial(chain), 5),
                        f.log()[-2000:])
        self.assertNotIn("unreachable", f.log())

    def test_controller_with_a_trailing_slash(self):
        f = self.follower(controller="https://localhost:%d/" % self.ctl.port)
        f.start()
        self.assertTrue(f.wait_log("installed the controller's certificate", 10), f.log()[-2000:])
        self.assertEqual(tls_peer_cert(f.port, "wharf.test").strip(), self.chain.strip())

    def test_a_node_that_is_not_a_controller(self):
        """A plain wharf (or another follower) answers bundle requests with
        421: the follower says so once, not once a poll."""
        plain = Server(certificates=[{"name": "cluster", "domains": ["localhost"], "acme": False}],
                       services=[{"type": "https", "address": "127.0.0.1", "port": None,
                                  "certificates": ["cluster"]}])
        self.servers.append(plain)
        plain.start()
        f = self.follower(controller="https://localhost:%d" % plain.port, poll=1,
                          ca=os.path.join(plain.state_dir, "certs", "cluster", "selfsigned.pem"))
        f.start()
        said = ("cluster: certificate main: the node at https://localhost:%d is not a cluster controller "
                "(its cluster.role); serving the certificate we have" % plain.port)
        self.assertTrue(f.wait_log(said, 10), f.log()[-2000:] + plain.log()[-1000:])
        time.sleep(3)  # polls 1 s apart
        self.assertEqual(f.log().count("is not a cluster controller"), 1, f.log()[-2000:])
        self.assertNotIn("answered HTTP 421", f.log())

    def test_a_name_the_controller_has_none_of(self):
        """A proved 404 (none issued yet, or a name the controller's config
        lacks): one warning, while the follower serves its own certificate."""
        f = self.follower(names=("other",), poll=1)
        f.start()
        said = ("cluster: certificate other: the controller has no issued certificate of that name "
                "(none yet, or none configured there); serving ours")
        self.assertTrue(f.wait_log(said, 10), f.log()[-2000:])
        self.assertIn("[warn] " + said, f.log())
        time.sleep(3)  # 404s are asked again every second here
        self.assertEqual(f.log().count("has no issued certificate"), 1, f.log()[-2000:])
        self.assertNotEqual(tls_peer_cert(f.port, "wharf.test").strip(), self.chain.strip())

    def test_bundle_not_stored_is_installed_once(self):
        """A state folder that will not take issued.pem: the bundle serves,
        and each later poll only tries to store it again (logged once),
        until it is stored. The deploy hook, given issued.pem (no
        output_dir), runs once, when issued.pem holds the bundle."""
        f = self.follower(poll=1, deploy_hook=True)
        blocker = block_issued_pem(f)
        f.start()
        self.assertTrue(f.wait_log("cluster: certificate main: not stored", 10), f.log()[-2000:])
        self.assertEqual(tls_peer_cert(f.port, "wharf.test").strip(), self.chain.strip())
        self.assertTrue(f.wait_log("deploy hook held back", 10), f.log()[-2000:])
        time.sleep(4)  # polls 1 s apart
        self.assertFalse(os.path.exists(f.deploy_log), f.log()[-2000:])
        self.assertEqual(f.log().count("installed the controller's certificate"), 1, f.log()[-2000:])
        self.assertEqual(f.log().count("not stored"), 1, f.log()[-2000:])
        shutil.rmtree(blocker)
        self.assertTrue(f.wait_log("cluster: certificate main: stored at last", 10), f.log()[-2000:])
        self.assertTrue(os.path.isfile(blocker))
        self.assertTrue(harness.wait_until(lambda: os.path.exists(f.deploy_log), 10), f.log()[-2000:])
        time.sleep(2)
        with open(f.deploy_log) as d:
            self.assertEqual(d.read().count("WHARF_EVENT=issued"), 1)

    def test_bundle_not_stored_kept_across_a_reload(self):
        """A bundle served but not stored stays served across a reload while
        the controller cannot be reached (not the provisional one the disk
        has); once the controller answers again, the follower the reload
        started stores it."""
        f = self.follower(poll=1)
        blocker = block_issued_pem(f)
        f.start()
        self.assertTrue(f.wait_log("cluster: certificate main: not stored", 10), f.log()[-2000:])
        ctl = "https://localhost:%d" % self.ctl.port

        def controller(old, new):
            with open(f.config_path) as c:
                f.write_config(c.read().replace(old, new))
        controller(ctl, "https://localhost:1")
        self.assertTrue(f.reload(), f.log()[-2000:])
        self.assertEqual(tls_peer_cert(f.port, "wharf.test").strip(), self.chain.strip())
        self.assertIn("certificate main: keeps serving the certificate from", f.log())
        shutil.rmtree(blocker)
        controller("https://localhost:1", ctl)
        self.assertTrue(f.reload(), f.log()[-2000:])
        self.assertTrue(f.wait_log("cluster: certificate main: stored at last", 10), f.log()[-2000:])
        self.assertTrue(os.path.isfile(blocker))
        self.assertEqual(f.log().count("installed the controller's certificate"), 1, f.log()[-2000:])

    def test_thumbprint_not_stored(self):
        """A state folder that will not take the controller's account
        thumbprint: said once, and HTTP-01 is answered all the same."""
        f = self.follower(names=("other",), poll=1,
                          services=[{"type": "acme-http", "address": "127.0.0.1", "port": None,
                                     "https_port": 443}])
        f.start()
        # Stored at first (the start checks that the folder takes files),
        # then a file takes the folder's place.
        acme = os.path.join(f.state_dir, "acme")
        self.assertTrue(harness.wait_until(lambda: os.path.exists(os.path.join(acme, "thumbprint")), 10),
                        f.log()[-2000:])
        shutil.rmtree(acme)
        put_file(f, acme, "not a folder\n", 0o644)
        said = "cluster: cannot store the controller's account thumbprint in %s/acme/thumbprint: " % f.state_dir
        self.assertTrue(f.wait_log(said, 10), f.log()[-2000:])
        token = "tok_abcdefghijklmnopqrstu"
        url = "http://127.0.0.1:%d/.well-known/acme-challenge/%s" % (f.services[1]["port"], token)
        with urllib.request.urlopen(url, timeout=10) as r:
            self.assertEqual(r.read().decode(), token + "." + THUMB)
        time.sleep(3)  # polls 1 s apart
        self.assertEqual(f.log().count("cannot store the controller's account thumbprint"), 1, f.log()[-2000:])

    def alarmed(self, names, domains, why):
        """A follower serving an issued certificate with an hour left, that
        the controller's proved answers cannot replace: the expiry alarm, once."""
        f = self.follower(names=names, poll=1)
        f.certificates[0]["domains"] = domains
        f.write_config(f.config_text().replace("@CA@", os.path.join(f.dir, "controller-ca.pem")))
        chain, key = near_expiry(self.dir, "near-" + names[0], domains)
        put_file(f, os.path.join(f.state_dir, "certs", names[0], "issued.pem"), key + chain)
        f.start()
        self.assertEqual(tls_peer_cert(f.port, domains[0]).strip(), chain.strip())
        said = "ALARM certificate %s: expires in" % names[0]
        self.assertTrue(f.wait_log(said, 10), f.log()[-2000:])
        self.assertIn("and " + why, f.log())
        time.sleep(3)  # polls 1 s apart: the alarm is not repeated each poll
        self.assertEqual(f.log().count("ALARM certificate"), 1, f.log()[-2000:])

    def test_alarm_when_the_controller_has_none_of_the_name(self):
        self.alarmed(("other",), DOMAINS, "the controller has no certificate of that name to give")

    def test_alarm_when_the_controllers_bundle_fails_its_checks(self):
        # The controller's "main" is for DOMAINS; this node's "main" names
        # another domain, so the bundle does not cover it and is refused.
        self.alarmed(("main",), ["other.wharf.test"], "the controller's bundles fail their checks")


if __name__ == "__main__":
    unittest.main(verbosity=2)
