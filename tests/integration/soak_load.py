"""soak_load.py - client threads that hammer every endpoint of a daemon with a seeded random mix
of paths, GET and HEAD, keep-alive and one-shot connections, and check each answer against the
documented HTTP behaviour (README.md, "Endpoints")."""

import http.client
import json
import random
import threading
import time
from collections import Counter
from typing import Callable, NamedTuple, Optional

import harness

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
HEALTH_JSON = "application/health+json"
# The client's patience. A request that has not been answered by then is a failure.
CLIENT_TIMEOUT = 5.0
# How many failures are kept with their details (all of them are counted).
KEPT_FAILURES = 20
# The most one-shot connections one client opens per second. Each leaves a socket in TIME_WAIT
# for 60 s, and the 28,232 ports of Linux's default ephemeral range would run out at about
# 470 a second on a kernel that does not reuse them (tcp_tw_reuse=0); 4 clients stay at 300.
FRESH_PER_SECOND = 75


class Endpoint(NamedTuple):
    """A request to send and what its answer may be: the statuses allowed, the media type, and
    a check of the body that raises AssertionError (GET only)."""

    path: str
    statuses: frozenset
    media: str
    body_check: Optional[Callable[[int, bytes], None]] = None
    headers: Optional[dict] = None


def _json(body: bytes):
    return json.loads(body.decode("utf-8"))


def _verdict(ok_words: tuple, bad_words: tuple) -> Callable[[int, bytes], None]:
    """A JSON probe body whose "status" must agree with the HTTP status: one of ok_words with
    200, one of bad_words with 503."""
    def check(status: int, body: bytes) -> None:
        word = _json(body)["status"]
        allowed = ok_words if status == 200 else bad_words
        assert word in allowed, f"HTTP {status} with \"status\": {word!r}"
    return check


def _text_verdict(status: int, body: bytes) -> None:
    """A kube-apiserver style text body ends with "<probe> check passed" or "... failed"."""
    text = body.decode("utf-8")
    ending = "check passed\n" if status == 200 else "check failed\n"
    assert text.endswith(ending), f"HTTP {status} text ending {text[-40:]!r}"


def _history_json(status: int, body: bytes) -> None:
    doc = _json(body)
    assert isinstance(doc["checks"], list) and doc["checks"], "no checks in /debug/history"


def _one_check(name: str) -> Callable[[int, bytes], None]:
    def check(status: int, body: bytes) -> None:
        doc = _json(body)
        assert doc["name"] == name, doc.get("name")
        assert (doc["result"] == "pass") == (status == 200), f"HTTP {status}, result " \
            f"{doc['result']!r}"
    return check


def _not_found(status: int, body: bytes) -> None:
    assert _json(body)["error"].startswith("not found"), body[:200]


def _no_check_in_group(status: int, body: bytes) -> None:
    assert "error" in _json(body), body[:200]


def _metrics(status: int, body: bytes) -> None:
    text = body.decode("utf-8")
    assert "\nveza_health_ready " in text and text.endswith("\n"), text[-200:]


def endpoints(deps: list, live_check: str, not_live_check: str) -> list:
    """Every route the soak asks for. deps are dependency checks that come and go; live_check is
    the only liveness check and never fails; not_live_check is a check outside liveness."""
    probe = frozenset({200, 503})
    ok = frozenset({200})
    ready = _verdict(("ready",), ("unready",))
    health = _verdict(("pass", "warn"), ("fail",))
    routes = [
        Endpoint("/live", ok, JSON, _verdict(("alive",), ("dead",))),
        Endpoint("/live?verbose", ok, TEXT, _text_verdict),
        Endpoint("/ready", probe, JSON, ready),
        Endpoint("/readyz", probe, JSON, ready),
        Endpoint("/ready?verbose", probe, TEXT, _text_verdict),
        Endpoint("/ready?format=health+json", probe, HEALTH_JSON, health),
        Endpoint("/ready", probe, HEALTH_JSON, health, {"Accept": HEALTH_JSON}),
        # Every check passed before the load starts, so startup stays 200 from then on.
        Endpoint("/startup", ok, JSON, _verdict(("started",), ("starting",))),
        Endpoint("/health", probe, JSON, health),
        Endpoint("/health?verbose", probe, TEXT, _text_verdict),
        Endpoint(f"/livez/{live_check}", ok, JSON, _one_check(live_check)),
        Endpoint(f"/livez/{not_live_check}", frozenset({404}), JSON, _no_check_in_group),
        Endpoint("/metrics", ok, "text/plain; version=0.0.4; charset=utf-8", _metrics),
        Endpoint("/debug/history", ok, JSON, _history_json),
        Endpoint("/no/such/path", frozenset({404}), JSON, _not_found),
    ]
    for name in deps:
        routes += [
            Endpoint(f"/health/{name}", probe, JSON, _one_check(name)),
            Endpoint(f"/readyz/{name}", probe, JSON, _one_check(name)),
            Endpoint(f"/debug/history/{name}?verbose", ok, TEXT),
        ]
    return routes


def check_answer(endpoint: Endpoint, method: str, resp: harness.Response) -> None:
    """Raises AssertionError unless resp is a well-formed answer the endpoint may give."""
    assert resp.status in endpoint.statuses, f"status {resp.status}"
    media = resp.headers.get("content-type", "")
    assert media == endpoint.media, f"content-type {media!r}"
    length = resp.headers.get("content-length")
    assert length is not None and length.isdigit(), f"content-length {length!r}"
    if method == "HEAD":
        assert resp.body == b"" and int(length) > 0, f"HEAD length {length}, body {resp.body!r}"
        return
    assert int(length) == len(resp.body), f"content-length {length} for {len(resp.body)} bytes"
    if endpoint.body_check is not None:
        endpoint.body_check(resp.status, resp.body)


class Tally:
    """What every client saw, shared between the threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()  # HTTP status, or "error"
        self.by_route: Counter = Counter()  # (method, path, status)
        self.keepalive = 0
        self.fresh = 0
        self.failures = 0
        self.kept: list = []

    def add(self, method: str, endpoint: Endpoint, status, reused: bool,
            problem: Optional[str]) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.by_route[(method, endpoint.path, str(endpoint.headers or ""), status)] += 1
            if reused:
                self.keepalive += 1
            else:
                self.fresh += 1
            if problem is not None:
                self.failures += 1
                if len(self.kept) < KEPT_FAILURES:
                    self.kept.append(f"{time.strftime('%H:%M:%S')} {method} {endpoint.path} "
                                     f"{endpoint.headers or ''}: {problem}")

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


class LoadClient(threading.Thread):
    """One client: picks a route and a method at random, sends it on its keep-alive connection
    (a run of 1 to 20 requests per connection) or on a connection of its own (up to
    FRESH_PER_SECOND a second; half of these ask the daemon to close it), and tallies the
    answer. A timeout, a connection error or an answer the endpoint may not give is a failure."""

    def __init__(self, port: int, routes: list, tally: Tally, seed: int, stop: threading.Event):
        super().__init__(name=f"load-{seed}", daemon=True)
        self.port = port
        self.routes = routes
        self.tally = tally
        self.rng = random.Random(seed)
        self.stopping = stop
        self.conn: Optional[http.client.HTTPConnection] = None
        self.left = 0
        self.next_fresh = 0.0

    def _connection(self) -> Optional[http.client.HTTPConnection]:
        """The keep-alive connection for this request, or None for a one-shot connection."""
        if self.left <= 0:
            self._close()
            now = time.monotonic()
            if self.rng.random() < 0.7 and now >= self.next_fresh:
                self.next_fresh = now + 1.0 / FRESH_PER_SECOND
                return None
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                   timeout=harness.bound(CLIENT_TIMEOUT))
            self.left = self.rng.randint(1, 20)
        self.left -= 1
        return self.conn

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.left = 0

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.one()
        finally:
            self._close()

    def one(self) -> None:
        endpoint = self.rng.choice(self.routes)
        method = "HEAD" if self.rng.random() < 0.15 else "GET"
        conn = self._connection()
        headers = dict(endpoint.headers or {})
        if conn is None and self.rng.random() < 0.5:
            # The daemon closes first: its side of the connection ends in TIME_WAIT.
            headers["Connection"] = "close"
        try:
            resp = harness.http_request(self.port, endpoint.path, method=method,
                                        headers=headers, timeout=CLIENT_TIMEOUT, conn=conn)
        except (OSError, http.client.HTTPException) as exc:
            # A keep-alive connection is not reused after an error.
            self._close()
            self.tally.add(method, endpoint, "error", conn is not None,
                           f"{type(exc).__name__}: {exc}")
            return
        problem = None
        try:
            check_answer(endpoint, method, resp)
        except (AssertionError, ValueError, KeyError, TypeError) as exc:
            problem = f"HTTP {resp.status}: {type(exc).__name__}: {exc}; body {resp.body[:300]!r}"
        self.tally.add(method, endpoint, resp.status, conn is not None, problem)


def run_load(port: int, routes: list, tally: Tally, seed: int, clients: int,
             seconds: float) -> None:
    """Runs clients LoadClient threads for seconds, then stops and joins them, which closes
    every connection they opened."""
    stop = threading.Event()
    threads = [LoadClient(port, routes, tally, seed * 100 + i, stop) for i in range(clients)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))
    finally:
        stop.set()
        for t in threads:
            t.join(harness.bound(CLIENT_TIMEOUT) + 5)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"client threads still waiting for an answer: {stuck}"
