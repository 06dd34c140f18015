"""Test harness: starts the real wharf binary on loopback with a config made
for the test, and gives the test what a user has: URLs, credentials, files.

Every wait has a timeout; every server is stopped at the end (even on failure).
When run as root, the server drops to `nobody`, so the homes are given to it."""

import base64
import ctypes
import os
import pwd
import resource
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

WHARF = os.environ.get("WHARF_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "wharf")
SOURCE = os.environ.get("WHARF_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")

_hash_cache = {}


def password_hash(password):
    """A crypt(3) hash made by `wharf passwd` itself (cached per run)."""
    if password not in _hash_cache:
        out = subprocess.run([WHARF, "passwd"], input=password + "\n", capture_output=True,
                             text=True, timeout=30, check=True)
        _hash_cache[password] = out.stdout.strip()
    return _hash_cache[password]


def h2_frame(ftype, flags, stream, payload=b"", length=None):
    """One HTTP/2 frame; length may claim more payload than given (to trickle)."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(name, value):
    """A literal header field without indexing, no Huffman (RFC 7541 6.2.2);
    name and value shorter than 127 bytes."""
    name, value = name.encode(), value.encode()
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0)  # and an empty SETTINGS
H2_END_STREAM, H2_END_HEADERS = 0x1, 0x4


def h2_frames(conn, timeout, payloads=False):
    """(type, flags, stream) of the frames the server sends within timeout;
    with payloads, (type, flags, stream, payload)."""
    frames = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while len(conn.buf) >= 9:
            n = int.from_bytes(conn.buf[:3], "big")
            if len(conn.buf) < 9 + n:
                break
            frame = (conn.buf[3], conn.buf[4], int.from_bytes(conn.buf[5:9], "big") & 0x7fffffff)
            frames.append(frame + (conn.buf[9:9 + n],) if payloads else frame)
            conn.buf = conn.buf[9 + n:]
        try:
            if not conn._fill(max(0.01, deadline - time.monotonic())):
                break
        except (socket.timeout, TimeoutError):
            break
    return frames


def slow_hash(password, cost=9):
    """A yescrypt hash whose check takes about a second here (cost 9; `wharf
    passwd` uses 5, about 70 ms), made with libcrypt's own crypt_gensalt: for
    tests that must tell a password check in progress from one that is over."""
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(b"$y$", cost, None, 0)
    h = lib.crypt(password.encode(), salt)
    assert h and h.startswith(b"$y$"), h
    return h.decode()


_ports_given = set()


def slow_check_server():
    """A server (not started) with one worker, alice, and a user "slow"
    whose password check takes a second or more (slow_hash): a few wrong
    passwords of slow's hold the offload pool. alice's home has hello.txt."""
    slow = {"name": "slow", "password": "slow-pw", "hash": slow_hash("slow-pw"), "perms": ["read"]}
    alice = {"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]}
    server = Server(users=[alice, slow], workers=1, extra="limits = { max_login_failures = 1000; };")
    with open(os.path.join(server.home(), "hello.txt"), "wb") as f:
        f.write(b"hello\n")
    return server


def hold_pool(server, n=3, timeout=60):
    """n wrong passwords of slow_check_server's user "slow" over HTTP/1.1:
    three hold all the pool's threads (the two that take any job, and the
    logins' own) for a couple of seconds, more wait behind them. Returns
    their connections (each to get a 401)."""
    held = []
    for _ in range(n):
        s = RawTLS(server, timeout=timeout)
        s.send("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n"
               % basic_auth("slow", "wrong-" + os.urandom(6).hex()))
        held.append(s)
    time.sleep(0.3)  # the first three checks are running
    return held


def https_server(handler, cert, key, port=None):
    """A threaded HTTPS server on 127.0.0.1 (port, or a free one) with this
    certificate, serving in a thread: a stand-in for a peer (a CA feature, a
    cluster controller) whose faults no real one produces. Stop it with
    shutdown() and server_close(); its port is server_address[1]."""
    import http.server
    import threading
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port or free_port()), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def free_port():
    """A port nothing listens on now, and never one this process handed out
    before: two services given the same port in one config would both bind
    it (SO_REUSEPORT) until wharf refuses that, and a port handed to a test
    server not yet started is not busy yet."""
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port left that was not handed out already")


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """One wharf process with its own folder: config, state, homes, logs.

    users: list of dicts {name, password, perms} (and hash: a crypt(3) hash to
    use instead of one `wharf passwd` makes); each gets home/<name>/.
    certificates: list of (name, [domains]); services: list of dicts with
    type/address/port/certificates (port None = pick a free one).
    """

    def __init__(self, users=None, certificates=None, services=None, extra="", workers=2):
        self.dir = tempfile.mkdtemp(prefix="wharf-test-")
        os.chmod(self.dir, 0o755)
        self.users = users if users is not None else [
            {"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]},
            {"name": "reader", "password": "reader-pw", "perms": ["read"]},
        ]
        self.certificates = certificates if certificates is not None else [
            ("main", ["localhost", "*.wharf.test"])]
        self.services = services if services is not None else [
            {"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]}]
        for s in self.services:
            if s.get("port") is None:
                s["port"] = free_port()
        self.port = self.services[0]["port"]
        self.extra = extra
        self.workers = workers
        self.nofile = None  # a file descriptor limit (soft and hard) to start the server under
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")
        for u in self.users:
            os.makedirs(self.home(u["name"]), exist_ok=True)
        self.write_config()

    # paths
    def home(self, user="alice"):
        return os.path.join(self.dir, "home", user)

    @property
    def config_path(self):
        return os.path.join(self.dir, "wharf.conf")

    @property
    def state_dir(self):
        return os.path.join(self.dir, "state")

    def url(self, path="/", host="127.0.0.1"):
        return "https://%s:%d%s" % (host, self.port, path)

    def config_text(self):
        def strlist(v):
            return "[" + ", ".join('"%s"' % x for x in v) + "]"
        def value(v):
            if v is True or v is False:
                return "true" if v else "false"
            if isinstance(v, str):
                return '"%s"' % v
            if isinstance(v, (list, tuple)):
                return strlist(v)
            return str(v)
        # Keys beyond these four (https_port, require_tls, passive_port_min...)
        # are written as they are given: `key = value;`.
        base_keys = ("type", "address", "port", "certificates")
        svcs = ",\n".join('  { type = "%s"; address = "%s"; port = %d; certificates = %s;%s }'
                          % (s["type"], s["address"], s["port"], strlist(s.get("certificates", [])),
                             "".join(" %s = %s;" % (k, value(v)) for k, v in s.items()
                                     if k not in base_keys))
                          for s in self.services)
        def certblock(c):
            if isinstance(c, dict):
                opts = "".join(' %s = %s;' % (k, value(v)) for k, v in c.items() if k not in ("name", "domains"))
                return '  { name = "%s"; domains = %s;%s }' % (c["name"], strlist(c["domains"]), opts)
            return '  { name = "%s"; domains = %s; }' % (c[0], strlist(c[1]))
        certs = ",\n".join(certblock(c) for c in self.certificates)
        users = ",\n".join('  { name = "%s"; password = "%s"; home = "home/%s"; permissions = %s; }'
                           % (u["name"], u.get("hash") or password_hash(u["password"]), u["name"],
                              strlist(u["perms"]))
                           for u in self.users)
        return ('state_dir = "state";\nworkers = %d;\nrun_user = "nobody";\n'
                'log = { level = "debug"; };\n%s\n'
                'certificates = (\n%s\n);\nservices = (\n%s\n);\nusers = (\n%s\n);\n'
                % (self.workers, self.extra, certs, svcs, users))

    def write_config(self, text=None):
        with open(self.config_path, "w") as f:
            f.write(text if text is not None else self.config_text())

    def give_homes(self):
        """As root the server runs as nobody: it must own the homes to write there."""
        if os.geteuid() != 0:
            return
        pw = pwd.getpwnam("nobody")
        # Never through a symlink: a test's link to /etc/passwd must not hand
        # /etc/passwd to nobody. os.walk lists links to folders among dirs.
        for root, dirs, files in os.walk(os.path.join(self.dir, "home")):
            os.chown(root, pw.pw_uid, pw.pw_gid, follow_symlinks=False)
            for f in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid, follow_symlinks=False)

    def give(self, path):
        """A file the test put where the server (nobody, when run as root) must read it."""
        if os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
            os.chown(path, pw.pw_uid, pw.pw_gid, follow_symlinks=False)

    def put_file(self, name, data, user="alice"):
        """Writes data as name in user's home, the server's to read."""
        path = os.path.join(self.home(user), name)
        with open(path, "wb") as f:
            f.write(data)
        self.give(path)

    def log_file(self, key):
        """Points log.KEY (error_log or access_log) at logs/KEY in a folder
        the server (nobody, when run as root) may write; returns the path."""
        logs = os.path.join(self.dir, "logs")
        os.makedirs(logs, exist_ok=True)
        self.give(logs)
        path = os.path.join(logs, key)
        self.write_config(self.config_text().replace('log = { level = "debug"; };',
                                                     'log = { level = "debug"; %s = "%s"; };' % (key, path)))
        return path

    def start(self, wait=True):
        self.give_homes()
        ready_before = self.log().count("ready")
        self.logf = open(self.log_path, "ab")
        nofile = self.nofile

        def limits():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen([WHARF, "serve", "-c", self.config_path],
                                     stdout=self.logf, stderr=subprocess.STDOUT, preexec_fn=limits)
        if wait:
            if not self.wait_log("ready", timeout=15, count=ready_before + 1):
                raise RuntimeError("wharf did not start:\n" + self.log())
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=10.0, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return True
            if self.proc and self.proc.poll() is not None:
                return self.log().count(text) >= count
            time.sleep(0.05)
        return False

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self, timeout=10.0):
        """SIGHUP, then wait until the server says how the reload went."""
        before = self.log().count("reloaded:") + self.log().count("reload refused: the running")
        self.signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.log().count("reloaded:") + self.log().count("reload refused: the running")
            if now > before:
                return "reloaded:" in self.log().split("SIGHUP")[-1]
            time.sleep(0.05)
        raise AssertionError("no reload outcome logged within %.0f s" % timeout)

    def stop(self, timeout=15.0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "logf", None):
            self.logf.close()
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        self.stop()
        report = sanitizer_report(self.log())
        if os.environ.get("WHARF_KEEP_TEST_DIRS"):
            print("kept", self.dir, file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if report:
            # The server may well have gone on serving after it: only its
            # log tells, and a sanitizer build exists to be told.
            raise AssertionError("sanitizer report in the server log:\n" + report)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            sys.stderr.write("---- server log ----\n" + self.log()[-6000:] + "\n")
        self.cleanup()


def root_only_script(server, name):
    """An executable script (0755) in a folder only root may enter (0700):
    root may run it, a run user may not."""
    private = os.path.join(server.dir, "root-only")
    os.makedirs(private, exist_ok=True)
    os.chmod(private, 0o700)
    path = os.path.join(private, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(path, 0o755)
    return path


def writable_out_dir(server, name="main"):
    """A certificate's output_dir the server (nobody, when run as root) can
    create and write: out/NAME under a folder given to the run user. Not
    made: the server makes it (0700) at its first write. Returns its path."""
    out = os.path.join(server.dir, "out")
    os.makedirs(out, exist_ok=True)
    server.give(out)
    return os.path.join(out, name)


class SharedServerCase(unittest.TestCase):
    """One server for a whole test class, started with home/alice/hello.txt
    holding HELLO; its log is printed when a test fails."""
    EXTRA = ""
    HELLO = b"hello\n"

    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra=cls.EXTRA)
        cls.addClassCleanup(cls.server.cleanup)  # even if setUpClass fails
        with open(os.path.join(cls.server.home(), "hello.txt"), "wb") as f:
            f.write(cls.HELLO)
        cls.server.start()

    def tearDown(self):
        log_on_failure(self, self.server)


def curl(server, path="/", user="alice", password=None, args=(), http="--http1.1", host=None,
         timeout=60, binary=False, input=None):
    """Runs curl like a user would; returns (status, headers-dict, body).

    Resolves the host name to 127.0.0.1 so SNI carries the name. input: bytes
    for curl's stdin (for example with args=["-T", "-"])."""
    if password is None:
        password = {u["name"]: u["password"] for u in server.users}.get(user, "")
    host = host or "localhost"
    cmd = ["curl", "-sS", "-k", http, "--max-time", str(timeout), "-D", "-", "-o", "-",
           "--resolve", "%s:%d:127.0.0.1" % (host, server.port)]
    if user:
        cmd += ["-u", "%s:%s" % (user, password)]
    cmd += list(args)
    cmd.append("https://%s:%d%s" % (host, server.port, path))
    out = subprocess.run(cmd, capture_output=True, timeout=timeout + 10, input=input)
    raw = out.stdout
    # Skip interim 1xx heads.
    status, headers, body = 0, {}, b""
    while raw.startswith(b"HTTP/"):
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        raw = rest
        body = rest
        if status >= 200:
            break
    if out.returncode != 0 and status == 0:
        raise AssertionError("curl failed (%d): %s" % (out.returncode, out.stderr.decode()))
    return status, headers, body if binary else body


def curl_http_version(server, path="/", user="alice", http="--http1.1", host="localhost", timeout=30):
    """The HTTP version curl negotiated for one request ("1.1", "2"), and the status."""
    password = {u["name"]: u["password"] for u in server.users}.get(user, "")
    cmd = ["curl", "-sS", "-k", http, "--max-time", str(timeout), "-o", "/dev/null",
           "-w", "%{http_version} %{http_code}", "--resolve", "%s:%d:127.0.0.1" % (host, server.port),
           "-u", "%s:%s" % (user, password), "https://%s:%d%s" % (host, server.port, path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10)
    version, _, code = out.stdout.strip().partition(" ")
    return version, int(code or 0)


def basic_auth(user, password):
    """The value of an Authorization header for HTTP Basic."""
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def wait_until(predicate, timeout=10.0, interval=0.05):
    """Polls predicate() until it is true or timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class RawTLS:
    """A TLS connection that sends exactly the bytes it is given (no client-side
    normalisation), and reads HTTP/1.1 responses back. The certificate is not
    checked; SNI is sent. Use as a context manager, or close()."""

    def __init__(self, server, alpn=("http/1.1",), sni="localhost", timeout=10.0, port=None, source=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        # source: another client's address (loopback answers for all of 127/8)
        raw = socket.create_connection(("127.0.0.1", port or server.port), timeout=timeout,
                                       source_address=(source, 0) if source else None)
        self.sock = ctx.wrap_socket(raw, server_hostname=sni)
        self.buf = b""
        self.eof = False
        self.last_status_line = None

    def alpn(self):
        return self.sock.selected_alpn_protocol()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, timeout):
        """One read into the buffer; False at end of stream."""
        if self.eof:
            return False
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError, BrokenPipeError):
            chunk = b""
        except ssl.SSLError as e:
            if "EOF" in str(e) or "reset" in str(e).lower():
                chunk = b""
            else:
                raise
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_response(self, head=False, timeout=10.0):
        """Reads one response: (status, headers-dict with lower-case names, body).
        Interim 1xx responses are returned like any other (without a body).
        head: the request was HEAD, so no body follows whatever the length says.
        Raises AssertionError if the connection ends before a whole response."""
        try:
            return self._read_response(head, timeout)
        except (socket.timeout, TimeoutError):
            raise AssertionError("no whole response within %.1f s; got %r" % (timeout, self.buf[:300]))

    def _read_response(self, head, timeout):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no whole response head within %.1f s; got %r" % (timeout, self.buf[:300]))
            if not self._fill(left):
                raise AssertionError("connection closed before a whole response head; got %r" % self.buf[:300])
        head_bytes, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        self.last_status_line = lines[0]
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            headers[k] = headers[k] + ", " + v.strip() if k in headers else v.strip()
        if head or status < 200 or status in (204, 304):
            return status, headers, b""
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                left = deadline - time.monotonic()
                if left <= 0 or not self._fill(left):
                    raise AssertionError("body cut short: %d of %d bytes" % (len(self.buf), n))
            body, self.buf = self.buf[:n], self.buf[n:]
            return status, headers, body
        try:
            while self._fill(max(0.01, deadline - time.monotonic())):
                pass
        except (socket.timeout, TimeoutError):
            pass
        body, self.buf = self.buf, b""
        return status, headers, body

    def read_final_response(self, head=False, timeout=10.0):
        """Like read_response, skipping interim 1xx responses."""
        while True:
            r = self.read_response(head=head, timeout=timeout)
            if r[0] >= 200:
                return r

    def closed_by_peer(self, timeout=5.0):
        """True if the server ends the connection within timeout (data still
        arriving before the end is kept in the buffer)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self._fill(left)
            except (socket.timeout, TimeoutError):
                return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def tls_peer_cert(port, sni, alpn=None, timeout=10):
    """The leaf certificate (PEM text) a handshake with this SNI gets, via gnutls-cli."""
    cmd = ["gnutls-cli", "--insecure", "--print-cert", "-p", str(port), "127.0.0.1"]
    if sni:
        cmd += ["--sni-hostname", sni]
    if alpn:
        cmd += ["--alpn", alpn]
    out = subprocess.run(cmd, input=b"", capture_output=True, timeout=timeout)
    text = out.stdout.decode("latin-1")
    start = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find("-----END CERTIFICATE-----")
    if start < 0:
        raise AssertionError("no certificate from gnutls-cli: " + text[-2000:] + out.stderr.decode()[-2000:])
    return text[start:end + len("-----END CERTIFICATE-----")] + "\n"


def cert_text(pem):
    """certtool's human-readable dump of a PEM certificate."""
    out = subprocess.run(["certtool", "-i"], input=pem.encode(), capture_output=True, timeout=10)
    return out.stdout.decode("latin-1")


class BigFolderCase(unittest.TestCase):
    """One server for the whole class (WORKERS workers) whose home holds
    hello.txt ("hello\n") and many/ with MANY empty files; prepare_home(home)
    adds more before it starts. SLOW bounds any one slow step."""
    MANY = 100000  # the listing's entry cap
    SLOW = 120
    WORKERS = 2

    @classmethod
    def prepare_home(cls, home):
        pass

    @classmethod
    def setUpClass(cls):
        cls.server = Server(workers=cls.WORKERS)
        cls.addClassCleanup(cls.server.cleanup)  # even if setUpClass fails
        home = cls.server.home()
        with open(os.path.join(home, "hello.txt"), "wb") as f:
            f.write(b"hello\n")
        many = os.path.join(home, "many")
        os.makedirs(many)
        started = time.monotonic()
        for i in range(cls.MANY):
            os.close(os.open(os.path.join(many, "e%05d" % i), os.O_CREAT | os.O_WRONLY, 0o644))
        assert time.monotonic() - started < cls.SLOW, "making the folder took too long"
        cls.prepare_home(home)
        cls.server.start()

    def tearDown(self):
        log_on_failure(self, self.server)

    def warm(self, c):
        """One answered request on c: its password is checked (off the loop)
        and remembered, so the next ones are answered at once."""
        c.send("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n"
               % basic_auth("alice", "alice-pw"))
        status, _, body = c.read_response(timeout=self.SLOW)
        self.assertEqual((status, body), (200, b"hello\n"))

    def assertServerHealthy(self):
        self.assertIsNone(self.server.proc.poll(), "the server died:\n" + self.server.log()[-4000:])
        with RawTLS(self.server, timeout=self.SLOW) as c:
            self.warm(c)
        self.assertIsNone(sanitizer_report(self.server.log()))


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: ")


def sanitizer_report(text, length=4000):
    """The first ASan, LSan or UBSan report in text (a stretch from its
    start), or None."""
    found = [i for i in (text.find(m) for m in SANITIZER_MARKS) if i >= 0]
    if not found:
        return None
    start = text.rfind("\n", 0, min(found)) + 1
    return text[start:start + length]


def log_on_failure(testcase, server, tail=6000):
    """From a tearDown: if the test just failed, print the end of the server log
    (servers shared by a whole class outlive the failing test's traceback)."""
    # The outcome's success flag starts anew for tearDown itself, so the
    # test's own failure is looked up in the result.
    result = getattr(getattr(testcase, "_outcome", None), "result", None)
    failed = getattr(result, "failures", []) + getattr(result, "errors", [])
    if any(getattr(t, "test_case", t) is testcase for t, _ in failed):  # a subTest's names its test
        sys.stderr.write("\n---- server log (%s) ----\n%s\n" % (testcase.id(), server.log()[-tail:]))


def main():
    unittest.main(verbosity=2)
