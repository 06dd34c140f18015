"""An HTTP/2 client for the tests, on Python's h2 over TLS (ALPN h2): one
connection whose streams the test drives frame by frame, withholding a
stream's window, reading slowly, sending PINGs."""

import collections
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
except ImportError:  # packaging/install-deps.sh --test installs python3-h2
    raise SystemExit("python3-h2 is missing: run packaging/install-deps.sh --test")

ALICE = harness.basic_auth("alice", "alice-pw")

# What read_granting() saw: data, all the DATA the stream got (from its
# start); ended, whether END_STREAM came; reset, the RST_STREAM's error
# code (None if none came); took, the seconds from the call to the end or
# the reset (to the return, if neither came).
Granted = collections.namedtuple("Granted", "data ended reset took")


class Stream:
    """What came on one stream."""

    def __init__(self):
        self.status = None
        self.headers = {}     # the answer's header fields, names in lower case
        self.data = bytearray()
        self.ended = False
        self.ended_at = None
        self.reset = None     # the RST_STREAM's error code
        self.reset_at = None
        self.last_data = None  # when DATA last came


class H2Client:
    """One HTTP/2 connection over TLS. DATA is acknowledged (its window
    opened again) as it comes, except on held streams, where only the
    connection's window is given back: such a stream gets its initial
    64 KiB, then only what grant() adds. rcvbuf sets the socket's receive
    buffer (so that little waits in the kernel for a client that reads
    slowly); source: the address to connect from (another client); PINGs
    sent and their ACKs are timed by their payload."""

    def __init__(self, server, timeout=10.0, rcvbuf=None, source=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(timeout)
        if source:  # another client: loopback answers from all of 127/8
            raw.bind((source, 0))
        raw.connect(("127.0.0.1", server.port))
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(16 << 20)  # the connection's window is never the limit
        self.streams = {}
        self.held = set()
        self.closed = False
        self.pings = 0
        self.ping_sent = {}   # payload: when the PING went
        self.ping_acked = {}  # payload: when its ACK came
        self.flush()

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def request(self, method, path, body_follows=False, hold=False, length=None, headers=()):
        """Opens a stream with alice's request; headers: more (name, value)
        pairs, names in lower case."""
        sid = self.conn.get_next_available_stream_id()
        extra = list(headers)
        headers = [(":method", method), (":scheme", "https"), (":path", path),
                   (":authority", "localhost"), ("authorization", ALICE)]
        if length is not None:
            headers.append(("content-length", str(length)))
        headers += extra
        self.streams[sid] = Stream()
        if hold:
            self.held.add(sid)
        self.conn.send_headers(sid, headers, end_stream=not body_follows)
        self.flush()
        return sid

    def send_body(self, sid, data, end=False, timeout=10.0):
        """Sends data on the stream as its windows allow."""
        deadline = time.monotonic() + timeout
        while data:
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if room <= 0:
                if time.monotonic() > deadline:
                    raise AssertionError("no window to send the body in within %.0f s" % timeout)
                self.pump(0.1)
                continue
            chunk, data = data[:room], data[room:]
            self.conn.send_data(sid, chunk, end_stream=end and not data)
            self.flush()

    def grant(self, sid, n):
        """Opens n more bytes of a held stream's window."""
        self.conn.increment_flow_control_window(n, stream_id=sid)
        self.flush()

    def read_granting(self, sid, n, every, limit):
        """Reads a held stream, opening n more bytes of its window each
        `every` seconds, until it ends or is reset, the connection closes,
        or `limit` seconds pass; returns a Granted. The first grant comes
        `every` seconds after the call (the window the stream already has
        goes first); none is sent once the stream has ended or been reset."""
        assert sid in self.held, "stream %d is not held: its window opens by itself" % sid
        s = self.streams[sid]

        def over():
            return s.ended or s.reset is not None

        start = time.monotonic()
        while not over() and not self.closed and time.monotonic() - start < limit:
            self.wait(over, every)
            if not over() and not self.closed:
                self.grant(sid, n)
        if s.ended:
            end = s.ended_at
        elif s.reset is not None:
            end = s.reset_at
        else:
            end = time.monotonic()
        return Granted(bytes(s.data), s.ended, s.reset, end - start)

    def ping(self):
        """Sends a PING; returns its payload."""
        self.pings += 1
        payload = b"%08d" % self.pings
        self.conn.ping(payload)
        self.ping_sent[payload] = time.monotonic()
        self.flush()
        return payload

    def pump(self, timeout):
        """Reads what comes within timeout (one read) and handles it;
        returns the number of bytes read."""
        if self.closed:
            time.sleep(timeout)
            return 0
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
            return 0
        except (ssl.SSLError, OSError):
            data = b""
        if not data:
            self.closed = True
            return 0
        now = time.monotonic()
        for ev in self.conn.receive_data(data):
            s = self.streams.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ResponseReceived):
                s.headers = dict(ev.headers)
                s.status = int(s.headers[":status"])
            elif isinstance(ev, h2.events.DataReceived):
                s.data += ev.data
                s.last_data = now
                n = ev.flow_controlled_length
                if ev.stream_id in self.held or s.ended or s.reset is not None:
                    self.conn.increment_flow_control_window(n)
                else:
                    self.conn.acknowledge_received_data(n, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                s.ended = True
                s.ended_at = now
            elif isinstance(ev, h2.events.StreamReset):
                s.reset = ev.error_code
                s.reset_at = now
            elif isinstance(ev, h2.events.PingAckReceived):
                self.ping_acked[ev.ping_data] = now
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.closed = True
        self.flush()
        return len(data)

    def wait(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return predicate()
            self.pump(min(left, 0.2))
        return True

    def get(self, path, timeout=5.0):
        """A whole GET on a new stream: (status, body)."""
        sid = self.request("GET", path)
        s = self.streams[sid]
        self.wait(lambda: s.ended or s.reset is not None, timeout)
        assert s.ended, "GET %s on stream %d: no whole answer within %.0f s (reset %r)" % (
            path, sid, timeout, s.reset)
        return s.status, bytes(s.data)

    def keep_busy_until(self, predicate, timeout):
        """Small GETs and PINGs on the connection, a few each second, until
        predicate() holds: other streams moving DATA all along. Returns the
        (status, body) of each GET."""
        answers = []
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline and not self.closed:
            self.ping()
            answers.append(self.get("/hello.txt"))
            self.pump(0.2)
        return answers

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


