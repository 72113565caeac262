"""test_hostile.py - hostile and broken clients: floods, slow drips, silence, malformed heads,
pipelines, readers that never read and bodies nobody asked for; the probes must keep answering."""

import multiprocessing
import resource
import select
import socket
import threading
import time
from typing import Optional

import pytest

import harness
from harness import bound, fd_count, poll, settled_fd_count

# The server's limits (src/http_server.c, include/vh/http_server.h); each is checked from outside.
REQUEST_TIMEOUT = 5.0
IDLE_TIMEOUT = 15.0
WRITE_TIMEOUT = 5.0
LINGER_TIMEOUT = 2.0
MAX_CONNECTIONS = 512
FD_RESERVE = 64
# How late a timer may fire and be seen on a loaded 2-core machine.
LATE = 2.5
# How early it may seem to fire: the client starts its clock before the daemon starts its own, so
# only clock granularity counts; the bound is loose on purpose.
EARLY = 0.5
# How long a probe may take while the daemon is under attack.
FAST = 1.0

GET_LIVE = b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n"
GET_LIVE_CLOSE = b"GET /live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


# --- helpers ----------------------------------------------------------------------------------


def start(factory) -> harness.Daemon:
    """A daemon with one slow self check (few /proc reads, so a steady descriptor count), ready."""
    d = factory(harness.self_config(interval="1s"))
    poll(lambda: d.request("/ready").status == 200, bound(3.0), what="/ready 200")
    return d


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=bound(timeout))




def wait_fds(pid: int, baseline: int, timeout: float, what: str) -> float:
    """Waits until pid holds at most baseline descriptors and returns when (time.monotonic())."""
    deadline = time.monotonic() + timeout
    while True:
        n = fd_count(pid)
        if n <= baseline:
            return time.monotonic()
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: {n} descriptors after {timeout:.1f} s, "
                                 f"baseline {baseline}")
        time.sleep(0.05)


def nofile_soft(pid: int) -> Optional[int]:
    """The soft RLIMIT_NOFILE of pid, None when unlimited."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft = line.split()[3]
                return None if soft == "unlimited" else int(soft)
    raise AssertionError(f"no open-files limit in /proc/{pid}/limits")


def somaxconn() -> int:
    """The kernel's ceiling on a listen backlog."""
    with open("/proc/sys/net/core/somaxconn") as f:
        return int(f.read())


def connection_cap(soft: Optional[int]) -> int:
    """What the daemon caps its connections at for that descriptor limit (http_server.h)."""
    if soft is None:
        return MAX_CONNECTIONS
    room = soft - FD_RESERVE if soft > FD_RESERVE * 2 else FD_RESERVE
    return min(MAX_CONNECTIONS, room)


def wait_closed(sock: socket.socket, timeout: float,
                stop: Optional[threading.Event] = None) -> tuple:
    """Waits up to timeout s for the peer to close (EOF or reset). Returns (when it was seen, or
    None when still open; the bytes received meanwhile). stop cuts the wait short."""
    deadline = time.monotonic() + timeout
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or (stop is not None and stop.is_set()):
            return None, data
        if not poller.poll(min(left, 0.2) * 1000):
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return time.monotonic(), data
        if not chunk:
            return time.monotonic(), data
        data += chunk


class Reader:
    """Reads HTTP/1.1 responses one by one from a socket, framed by Content-Length, so a
    keep-alive or pipelined stream can be split without waiting for the server to close."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the server closed mid-response; have {self.buf[:200]!r}")
        self.buf += chunk

    def response(self, head_only: bool = False) -> harness.Response:
        """The next response; head_only for the answer to a HEAD (no body on the wire)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        status, headers, rest = harness.parse_raw_response(self.buf)
        head_len = len(self.buf) - len(rest)
        length = 0 if head_only else int(headers["content-length"])
        while len(self.buf) < head_len + length:
            self._fill()
        body = self.buf[head_len:head_len + length]
        self.buf = self.buf[head_len + length:]
        return harness.Response(status, headers, body)

    def end(self) -> Optional[str]:
        """"eof" or "reset" when the server ends the connection with nothing more sent within the
        socket's timeout; None when it stays open. Extra bytes fail: nothing may follow a reply."""
        assert self.buf == b"", f"unexpected bytes after the reply: {self.buf[:200]!r}"
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            return "reset"
        except socket.timeout:
            return None
        assert chunk == b"", f"unexpected bytes after the reply: {chunk[:200]!r}"
        return "eof"


def metric(scrape: str, name: str) -> float:
    """The value of the unlabelled sample name in a /metrics scrape."""
    for line in scrape.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in the scrape")


def live_fast(port: int, limit: float = FAST) -> float:
    """GET /live on a new connection; asserts a 200 "alive" within limit s, returns the time."""
    began = time.monotonic()
    try:
        with connect(port, timeout=limit) as s:
            s.sendall(GET_LIVE_CLOSE)
            resp = Reader(s).response()
    except socket.timeout:
        raise AssertionError(f"/live not answered within {bound(limit):.1f} s") from None
    took = time.monotonic() - began
    assert resp.status == 200 and resp.json()["status"] == "alive", resp
    assert took <= bound(limit), f"/live took {took:.2f} s"
    return took


def assert_error_json(resp: harness.Response, status: int) -> None:
    """Every error is JSON: {"error": a reason, "status": the code}."""
    assert resp.status == status, (resp.status, resp.body[:300])
    assert resp.headers.get("content-type") == JSON, resp.headers
    doc = resp.json()
    assert doc["status"] == status, doc
    assert isinstance(doc["error"], str) and doc["error"], doc


# --- timeouts, watched in the background ------------------------------------------------------


class IdleWatch(threading.Thread):
    """Three connections whose fates take up to 15 s: one that says nothing, one that is idle
    after an answer, and one that asks again after 7 s of idleness. They run on a daemon of their
    own while the other tests run, so the module takes ~15 s less; the last test reads them."""

    AGAIN_AFTER = 7.0

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.error: Optional[BaseException] = None
        self.silent = connect(port)
        self.silent_start = time.monotonic()
        self.silent_closed: Optional[float] = None
        self.silent_got = b""
        self.idle, self.idle_start = self._answered(port)
        self.idle_closed: Optional[float] = None
        self.idle_got = b""
        self.again, self.again_start = self._answered(port)
        self.again_open_at_7: Optional[bool] = None
        self.again_answer: Optional[harness.Response] = None

    @staticmethod
    def _answered(port: int) -> tuple:
        s = connect(port)
        s.sendall(GET_LIVE)
        resp = Reader(s).response()
        assert resp.status == 200, resp
        return s, time.monotonic()

    def run(self) -> None:
        try:
            self.silent_closed, self.silent_got = wait_closed(
                self.silent, bound(REQUEST_TIMEOUT + LATE), self.stop)
            left = self.again_start + self.AGAIN_AFTER - time.monotonic()
            closed, _ = wait_closed(self.again, max(left, 0.0), self.stop)
            self.again_open_at_7 = closed is None
            if self.again_open_at_7 and not self.stop.is_set():
                self.again.sendall(GET_LIVE)
                self.again_answer = Reader(self.again).response()
            left = self.idle_start + bound(IDLE_TIMEOUT + LATE) - time.monotonic()
            self.idle_closed, self.idle_got = wait_closed(self.idle, max(left, 0.0), self.stop)
        except BaseException as exc:  # reported by the test, not lost in a thread
            self.error = exc
        finally:
            for s in (self.silent, self.idle, self.again):
                s.close()


@pytest.fixture(scope="module", autouse=True)
def idle_watch(module_daemon):
    """Starts IdleWatch as the module starts; test_silent_and_idle_connections_time_out (the
    module's last test) checks what it saw."""
    d = start(module_daemon)
    watch = IdleWatch(d.port)
    watch.start()
    yield watch
    watch.stop.set()
    watch.join(bound(5.0))


@pytest.fixture(scope="module")
def shared(module_daemon):
    """One daemon for the tests that leave no lasting mark (malformed heads, pipelines)."""
    return start(module_daemon)


# --- 1. a flood of idle connections -----------------------------------------------------------


def test_two_thousand_idle_connections_do_not_lock_out_probes(daemon):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2200:
        pytest.skip(f"the hard descriptor limit {hard} is too low for 2,000 clients")
    want = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    clients = []
    try:
        # Started after the raise, the daemon inherits it, as under systemd's LimitNOFILE.
        d = start(daemon)
        pid = d.proc.pid
        cap = connection_cap(nofile_soft(pid))
        baseline = settled_fd_count(pid, looks=6, gap=0.05)
        # The listen backlog must hold a burst: a SYN dropped on a full accept queue is resent
        # after 1 s, longer than a kubelet probe's default timeout.
        slowest = 0.0
        for i in range(2000):
            began = time.monotonic()
            clients.append(connect(d.port))
            slowest = max(slowest, time.monotonic() - began)
            if i % 100 == 0:
                n = fd_count(pid)
                assert n <= baseline + cap + 2, f"{n} descriptors, cap {cap} + {baseline}"
        if somaxconn() >= 2048:
            assert slowest < bound(FAST), \
                f"a connect in the burst took {slowest:.2f} s: the accept queue overflowed"
        # The daemon takes connections up to its cap and no further: it evicts the oldest.
        poll(lambda: fd_count(pid) >= baseline + cap - 2, bound(3.0),
             what=f"the daemon holding its cap of {cap} connections")
        most = 0
        for _ in range(20):
            live_fast(d.port)
            most = max(most, fd_count(pid))
            assert most <= baseline + cap + 2, f"{most} descriptors, cap {cap} + {baseline}"
        assert d.alive()
        closed, _ = wait_closed(clients[0], 0.5)
        assert closed is not None, "the oldest idle connection was not evicted"
        # Eviction keeps the daemon below its descriptor limit, so accept() never failed.
        assert d.log_events("cannot accept connections; pausing the listener") == []
        # And /metrics tells the operator what happened.
        scrape = d.request("/metrics").text
        evicted = metric(scrape, "veza_health_http_connections_evicted_total")
        assert evicted >= 2000 - cap, f"{evicted} evictions for 2,000 clients and a cap of {cap}"
        assert metric(scrape, "veza_health_http_connections_limit") == cap
    finally:
        for s in clients:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    wait_fds(pid, baseline, bound(3.0), "descriptors after the clients left")
    live_fast(d.port)


# --- 2. slow-drip clients ---------------------------------------------------------------------


class Drip(threading.Thread):
    """n clients that each send a request head one byte every 0.5 s (it would take 16 s), and
    record when the daemon closes them and what it sent them."""

    HEAD = GET_LIVE
    PERIOD = 0.5

    def __init__(self, port: int, n: int):
        super().__init__(daemon=True)
        self.socks = [connect(port) for _ in range(n)]
        self.first_byte: list = [None] * n
        self.closed_at: list = [None] * n
        self.received: list = [b""] * n
        self.error: Optional[BaseException] = None
        self.limit = bound(REQUEST_TIMEOUT + LATE) + 1.0

    def run(self) -> None:
        try:
            self._drip()
        except BaseException as exc:
            self.error = exc
        finally:
            for s in self.socks:
                s.close()

    def _closed(self, open_: dict, poller, fd: int) -> None:
        i = open_.pop(fd)
        poller.unregister(fd)
        self.closed_at[i] = time.monotonic()

    def _drip(self) -> None:
        began = time.monotonic()
        tick = began
        sent = 0
        open_ = {s.fileno(): i for i, s in enumerate(self.socks)}
        poller = select.poll()
        for fd in open_:
            poller.register(fd, select.POLLIN)
        while open_ and time.monotonic() - began < self.limit:
            if time.monotonic() >= tick and sent < len(self.HEAD):
                for fd, i in list(open_.items()):
                    try:
                        self.socks[i].send(self.HEAD[sent:sent + 1])
                    except OSError:
                        self._closed(open_, poller, fd)
                        continue
                    if self.first_byte[i] is None:
                        self.first_byte[i] = time.monotonic()
                sent += 1
                tick += self.PERIOD
            for fd, _ in poller.poll(max(tick - time.monotonic(), 0.01) * 1000):
                i = open_[fd]
                try:
                    chunk = self.socks[i].recv(65536)
                except OSError:
                    chunk = b""
                if chunk:
                    self.received[i] += chunk
                else:
                    self._closed(open_, poller, fd)


@pytest.mark.parametrize("n", [1, 100])
def test_slow_drip_clients_are_cut_off_and_probes_still_answer(daemon, n):
    d = start(daemon)
    pid = d.proc.pid
    baseline = settled_fd_count(pid, looks=6, gap=0.05)
    drip = Drip(d.port, n)
    drip.start()
    answered = 0
    while drip.is_alive():
        live_fast(d.port)
        answered += 1
        time.sleep(0.1)
    drip.join()
    assert drip.error is None, drip.error
    assert answered >= 5, f"only {answered} probes during the drip"
    for i in range(n):
        assert drip.first_byte[i] is not None and drip.closed_at[i] is not None, \
            f"drip client {i} still open after {drip.limit:.1f} s"
        held = drip.closed_at[i] - drip.first_byte[i]
        assert REQUEST_TIMEOUT - EARLY <= held <= bound(REQUEST_TIMEOUT + LATE), \
            f"drip client {i} closed {held:.2f} s after its first byte"
        # Cut off, not served: at most a 408 would be fair, never an answer.
        got = drip.received[i]
        assert got == b"" or got.startswith(b"HTTP/1.1 408 "), got[:200]
    wait_fds(pid, baseline, bound(2.0), "descriptors after the drip")
    assert d.alive()


# --- 4. malformed and odd requests ------------------------------------------------------------


def head(line: bytes, *headers: bytes) -> bytes:
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


HOST = b"Host: x"
# (id, request, status, whether the daemon closes after the reply). Parser errors close; the
# router's 400 and 404 and the 405 keep a keep-alive connection usable.
MALFORMED = [
    ("double-slash", head(b"GET //ready HTTP/1.1", HOST), 404, False),
    ("dot-dot", head(b"GET /ready/../live HTTP/1.1", HOST), 404, False),
    ("percent-encoded-path", head(b"GET /%72eady HTTP/1.1", HOST), 404, False),
    ("bad-verbose", head(b"GET /ready?verbose=maybe HTTP/1.1", HOST), 400, False),
    ("3000-byte-query", head(b"GET /ready?x=" + b"a" * 2988 + b" HTTP/1.1", HOST), 400, False),
    ("17-excludes", head(b"GET /ready?" + b"&".join([b"exclude=a"] * 17) + b" HTTP/1.1", HOST),
     400, False),
    ("lowercase-method", head(b"get /live HTTP/1.1", HOST), 405, False),
    ("5000-byte-target", head(b"GET /" + b"a" * 5000 + b" HTTP/1.1", HOST), 414, True),
    ("70-headers", head(b"GET /live HTTP/1.1", HOST,
                        *[b"X-H%d: v" % i for i in range(69)]), 431, True),
    ("10-KiB-of-headers", head(b"GET /live HTTP/1.1", HOST,
                               *[b"X-Pad%d: " % i + b"a" * 1024 for i in range(10)]), 431, True),
    ("nul-in-target", head(b"GET /li\x00ve HTTP/1.1", HOST), 400, True),
    ("tabs-in-request-line", head(b"GET\t/live\tHTTP/1.1", HOST), 400, True),
    ("not-http-absolute-form", head(b"GET ftp://x/ready HTTP/1.1", HOST), 400, True),
    ("options-asterisk", head(b"OPTIONS * HTTP/1.1", HOST), 400, True),
    ("no-host", head(b"GET /live HTTP/1.1"), 400, True),
    ("two-hosts", head(b"GET /live HTTP/1.1", HOST, b"Host: y"), 400, True),
    ("length-and-chunked", head(b"GET /live HTTP/1.1", HOST, b"Content-Length: 0",
                                b"Transfer-Encoding: chunked"), 400, True),
    ("obs-fold", head(b"GET /live HTTP/1.1", HOST, b"X-A: a", b" b"), 400, True),
    ("http-2.0", head(b"GET /live HTTP/2.0", HOST), 505, True),
]


@pytest.mark.parametrize("request_bytes,status,closes",
                         [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_requests_get_their_error(shared, request_bytes, status, closes):
    with connect(shared.port, timeout=3.0) as s:
        s.sendall(request_bytes)
        reader = Reader(s)
        resp = reader.response()
        assert_error_json(resp, status)
        if status == 405:
            assert resp.headers.get("allow") == "GET, HEAD"
        if closes:
            assert resp.headers.get("connection") == "close", resp.headers
            assert reader.end() == "eof"
        else:
            # The connection is still good for the next request.
            s.sendall(GET_LIVE_CLOSE)
            assert reader.response().status == 200
            assert reader.end() == "eof"
    assert shared.alive()
    live_fast(shared.port)


def test_http10_without_host_is_served(shared):
    with connect(shared.port, timeout=3.0) as s:
        s.sendall(b"GET /live HTTP/1.0\r\n\r\n")
        reader = Reader(s)
        resp = reader.response()
        assert resp.status == 200 and resp.json()["status"] == "alive"
        assert resp.headers.get("connection") == "close"
        assert reader.end() == "eof"


def test_absolute_form_targets_are_served_by_their_path(shared):
    """RFC 9112 3.2.2: a server must accept "http://host/path" (only proxies get it usually)."""
    with connect(shared.port, timeout=3.0) as s:
        s.sendall(b"GET http://x:8099/live?verbose HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET HTTP://x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reader = Reader(s)
        resp = reader.response()
        assert resp.status == 200 and resp.body.endswith(b"livez check passed\n"), resp.body
        assert_error_json(reader.response(), 404)
        assert reader.end() == "eof"


def test_the_last_verbose_wins(shared):
    """The router reads the query left to right and the last verbose sets it: ?verbose&verbose=0
    is the plain JSON answer, ?verbose=0&verbose the verbose text."""
    resp = shared.request("/live?verbose&verbose=0")
    assert resp.status == 200
    assert resp.headers["content-type"] == JSON
    assert resp.json()["status"] == "alive"
    resp = shared.request("/live?verbose=0&verbose")
    assert resp.status == 200
    assert resp.headers["content-type"] == TEXT
    assert resp.text.endswith("livez check passed\n"), resp.text


# --- 5. pipelining ----------------------------------------------------------------------------


def check_probe(path: str, resp: harness.Response) -> None:
    assert resp.status == 200, (path, resp.status, resp.body[:200])
    if path == "/live":
        assert resp.json()["status"] == "alive"
    elif path == "/ready":
        assert resp.json()["status"] == "ready"
    else:
        assert resp.headers["content-type"] == TEXT
        assert resp.text.endswith("healthz check passed\n"), resp.text


def test_fifty_pipelined_requests_are_answered_in_order(shared):
    paths = ["/live", "/ready", "/health?verbose"]
    order = [paths[i % 3] for i in range(50)]
    burst = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in order)
    with connect(shared.port, timeout=3.0) as s:
        s.sendall(burst)
        reader = Reader(s)
        for path in order:
            check_probe(path, reader.response())
        # Still a keep-alive connection after the burst.
        s.sendall(GET_LIVE_CLOSE)
        check_probe("/live", reader.response())
        assert reader.end() == "eof"


def test_pipelined_head_has_the_get_length_and_no_body(shared):
    burst = b"".join([
        b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HEAD /ready HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ])
    # The /ready body holds timings whose digit count may change from one millisecond to the next,
    # so the HEAD must match one of the GETs beside it, and a few tries are allowed.
    for _ in range(5):
        with connect(shared.port, timeout=3.0) as s:
            s.sendall(burst)
            reader = Reader(s)
            before = reader.response()
            ready_head = reader.response(head_only=True)
            after = reader.response()
            nope_head = reader.response(head_only=True)
            nope = reader.response()
            # The last reply is followed by nothing: no stray HEAD body shifted the stream.
            assert reader.end() == "eof"
        check_probe("/ready", before)
        check_probe("/ready", after)
        assert ready_head.status == 200 and ready_head.body == b""
        assert nope_head.status == 404 and nope.status == 404
        assert int(nope_head.headers["content-length"]) == len(nope.body)
        if int(ready_head.headers["content-length"]) in (len(before.body), len(after.body)):
            break
    else:
        pytest.fail(f"HEAD Content-Length {ready_head.headers['content-length']} never matched "
                    f"a GET body ({len(before.body)}, {len(after.body)})")


def test_a_request_sent_one_byte_at_a_time_is_answered(shared):
    with connect(shared.port, timeout=3.0) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(GET_LIVE_CLOSE)):
            s.send(GET_LIVE_CLOSE[i:i + 1])
            time.sleep(0.01)
        reader = Reader(s)
        check_probe("/live", reader.response())
        assert reader.end() == "eof"


# --- 6. a client that never reads -------------------------------------------------------------


def _pipeline_forever(port: int, path: bytes) -> None:
    """A client that keeps 8 KiB of pipelined requests in flight and reads every answer."""
    s = socket.create_connection(("127.0.0.1", port))
    request = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    batch = request * (8192 // len(request))

    def drain() -> None:
        while s.recv(1 << 20):
            pass
    threading.Thread(target=drain, daemon=True).start()
    while True:
        s.sendall(batch)


@pytest.mark.parametrize("path", [b"/metrics", b"/health?exclude=zz"])
def test_pipelining_clients_do_not_hold_probes_back(shared, path):
    """Each wake-up answers a few pipelined requests and then lets other connections speak,
    and /metrics is cached like a probe: before both, 16 such clients of /metrics held every
    probe back by half a second."""
    flooders = [multiprocessing.Process(target=_pipeline_forever, args=(shared.port, path),
                                        daemon=True) for _ in range(12)]
    for p in flooders:
        p.start()
    try:
        time.sleep(0.5)
        took = sorted(live_fast(shared.port, limit=2.0) for _ in range(20))
    finally:
        for p in flooders:
            p.terminate()
        for p in flooders:
            p.join(5)
    assert took[len(took) // 2] < bound(0.25), f"median /live {took[len(took) // 2]:.3f} s"
    assert shared.alive()


def test_a_client_that_never_reads_is_dropped_after_the_write_timeout(daemon):
    d = start(daemon)
    pid = d.proc.pid
    baseline = settled_fd_count(pid, looks=6, gap=0.05)
    burst = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 2000
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # A small receive window fills at once: 2,000 answers of ~7 KiB cannot all fit.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", d.port))
        poll(lambda: fd_count(pid) > baseline, bound(2.0), what="the daemon accepting")
        s.setblocking(False)
        began = time.monotonic()
        sent = 0
        while sent < len(burst) and time.monotonic() - began < 1.0:
            try:
                sent += s.send(burst[sent:])
            except BlockingIOError:
                time.sleep(0.01)
        probes = 0
        while fd_count(pid) > baseline and time.monotonic() - began < bound(WRITE_TIMEOUT + LATE):
            live_fast(d.port)
            probes += 1
            time.sleep(0.2)
        closed = wait_fds(pid, baseline, 0.5, "descriptors after the write timeout")
        held = closed - began
        assert probes >= 5, f"only {probes} probes while the writer was stuck"
        assert WRITE_TIMEOUT - EARLY <= held <= bound(WRITE_TIMEOUT + LATE) + 0.5, \
            f"the stuck connection was closed {held:.2f} s after its requests"
        # From the client's side: the stream ends (a reset, since its requests went unread)
        # well before the 2,000 answers.
        s.setblocking(True)
        s.settimeout(bound(3.0))
        got = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        answers = got.count(b"HTTP/1.1 200 OK\r\n")
        assert answers < 2000, f"{answers} answers: the writer was never cut off"
    finally:
        s.close()
    live_fast(d.port)
    assert d.alive()


# --- 7. error replies arrive whole ------------------------------------------------------------


@pytest.mark.parametrize("method,status", [("POST", 405), ("GET", 413)])
def test_a_large_body_gets_its_whole_error_reply(daemon, method, status):
    d = start(daemon)
    pid = d.proc.pid
    baseline = settled_fd_count(pid, looks=6, gap=0.05)
    body = b"x" * (1 << 20)
    request = (f"{method} /ready HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    failures: list = []

    def send() -> None:
        try:
            s.sendall(request)
        except OSError as exc:
            failures.append(exc)

    with connect(d.port) as s:
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        reader = Reader(s)
        resp = reader.response()
        assert_error_json(resp, status)
        if status == 405:
            assert resp.headers.get("allow") == "GET, HEAD"
        assert resp.headers.get("connection") == "close"
        # The daemon half-closed after the reply and read the body away: an EOF, no reset.
        assert reader.end() == "eof"
        sender.join(bound(5.0))
        assert not sender.is_alive() and failures == [], failures
        # The client keeps its end open; the daemon lets go after its linger time all the same.
        wait_fds(pid, baseline, bound(LINGER_TIMEOUT + LATE), "descriptors after the linger")
    live_fast(d.port)


# --- 8. Connection headers --------------------------------------------------------------------


def test_http10_keep_alive_is_kept(shared):
    with connect(shared.port, timeout=3.0) as s:
        reader = Reader(s)
        for path in ("/live", "/ready"):
            s.sendall(b"GET %s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % path.encode())
            resp = reader.response()
            check_probe(path, resp)
            assert resp.headers.get("connection") == "keep-alive", resp.headers
        s.sendall(b"GET /live HTTP/1.0\r\n\r\n")
        resp = reader.response()
        check_probe("/live", resp)
        assert resp.headers.get("connection") == "close", resp.headers
        assert reader.end() == "eof"


def test_http11_connection_close_is_closed(shared):
    with connect(shared.port, timeout=3.0) as s:
        reader = Reader(s)
        s.sendall(GET_LIVE)
        resp = reader.response()
        check_probe("/live", resp)
        assert resp.headers.get("connection", "keep-alive") == "keep-alive", resp.headers
        s.sendall(GET_LIVE_CLOSE)
        resp = reader.response()
        check_probe("/live", resp)
        assert resp.headers.get("connection") == "close", resp.headers
        assert reader.end() == "eof"


# --- 3. silent and idle connections (IdleWatch; keep this test last) ------------------------


def test_silent_and_idle_connections_time_out(idle_watch):
    watch = idle_watch
    watch.join(max(watch.idle_start + bound(IDLE_TIMEOUT + LATE) - time.monotonic(), 0) + 2.0)
    assert not watch.is_alive(), "the idle watch did not finish"
    assert watch.error is None, watch.error
    # A client that connects and says nothing gets the request timeout, not the idle one.
    assert watch.silent_closed is not None, "the silent client was never closed"
    silent = watch.silent_closed - watch.silent_start
    assert REQUEST_TIMEOUT - EARLY <= silent <= bound(REQUEST_TIMEOUT + LATE), \
        f"the silent client was closed after {silent:.2f} s"
    assert watch.silent_got == b"" or watch.silent_got.startswith(b"HTTP/1.1 408 "), \
        watch.silent_got[:200]
    # A keep-alive connection idle after an answer outlives the request timeout and is served.
    assert watch.again_open_at_7, "the keep-alive connection was closed within 7 s"
    assert watch.again_answer is not None and watch.again_answer.status == 200
    assert watch.again_answer.json()["status"] == "alive"
    # ... and is closed once idle for the idle timeout.
    assert watch.idle_closed is not None, "the idle keep-alive connection was never closed"
    idle = watch.idle_closed - watch.idle_start
    assert IDLE_TIMEOUT - 1.0 <= idle <= bound(IDLE_TIMEOUT + LATE), \
        f"the idle keep-alive connection was closed after {idle:.2f} s"
    assert watch.idle_got == b"", watch.idle_got[:200]
