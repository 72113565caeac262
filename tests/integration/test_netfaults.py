"""test_netfaults.py - real network faults between the daemon and a real PostgreSQL and Redis.

Both servers run inside a network namespace this module creates (netns.py): a veth pair with
10.200.X.1 on the host end and 10.200.X.2 inside, so every byte stays on this machine and only
on that veth. The daemon runs on the host side. Faults come from iptables inside the namespace
(a silent partition, random loss, resets) and from DelayRelay, a TCP relay on 127.0.0.1 that
holds every chunk back for a while in each direction (this kernel has no netem qdisc). Each test
checks a bound stated in docs/postgres.md ("Network faults"); `pytest -s` prints the figures."""

import queue
import socket
import struct
import sys
import threading
import time
from typing import Optional

import pytest

import harness
import netns
import pg_server
import redis_server
from harness import bound, poll, settled_fd_count

PG_PORT = 5432
REDIS_PORT = 6379
INTERVAL_MS = 200
TIMEOUT_MS = 1000
JITTER_MS = 20  # interval / 10, the default
BACKOFF = {"initial": "100ms", "max": "1s"}
# What the host adds to a run beyond the daemon's own bound: scheduling on a shared machine.
SLACK = 0.5


def say(text: str) -> None:
    """The figures, for `pytest -s`."""
    print(f"[netfaults] {text}", file=sys.stderr, flush=True)


# ---- The delaying relay ----

class DelayRelay:
    """Listens on 127.0.0.1 (a free port) and forwards each connection to target, holding every
    chunk back for .delay seconds in each direction, so a round trip gains 2 × delay; a chunk
    read later is never sent before an earlier one. .delay may change at any time and applies to
    chunks read from then on. reset_next_reply() makes the relay pass on only part of the next
    chunk the server sends and then reset the client's connection (SO_LINGER 0, so an RST, not a
    FIN): a reset in the middle of a reply. Use as a context manager; leaving it closes every
    socket and joins every thread."""

    def __init__(self, target: tuple, delay: float = 0.0):
        self.target = target
        self.delay = delay
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.resets = 0  # resets sent mid-reply
        self._reset_armed = threading.Event()
        self._lock = threading.Lock()
        self._socks: list = []
        self._threads: list = []
        self._stopping = threading.Event()
        self._accept_thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "DelayRelay":
        self._accept_thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._accept_thread.join(5)
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            self._close(s)
        for t in list(self._threads):
            t.join(5)
        self.listener.close()

    def reset_next_reply(self) -> None:
        self._reset_armed.set()

    @staticmethod
    def _close(s: socket.socket) -> None:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=2.0)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._socks += [client, upstream]
            pair = {"socks": (client, upstream), "ended": 0}
            for src, dst, reply in ((client, upstream, False), (upstream, client, True)):
                chunks: queue.Queue = queue.Queue()
                for fn, args in ((self._read, (src, chunks)),
                                 (self._forward, (chunks, dst, src, reply, pair))):
                    t = threading.Thread(target=fn, args=args, daemon=True)
                    self._threads.append(t)
                    t.start()

    def _read(self, src: socket.socket, chunks: queue.Queue) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            chunks.put((time.monotonic() + self.delay, data))
            if not data:
                return

    def _forward(self, chunks: queue.Queue, dst: socket.socket, src: socket.socket,
                 reply: bool, pair: dict) -> None:
        """Sends src's chunks on to dst when they are due; once both directions have ended,
        closes both sockets."""
        self._write(chunks, dst, src, reply)
        with self._lock:
            pair["ended"] += 1
            last = pair["ended"] == 2
        if last:
            for s in pair["socks"]:
                s.close()

    def _write(self, chunks: queue.Queue, dst: socket.socket, src: socket.socket,
               reply: bool) -> None:
        while True:
            try:
                due, data = chunks.get(timeout=0.1)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                continue
            while not self._stopping.is_set():
                wait = due - time.monotonic()
                if wait <= 0:
                    break
                time.sleep(min(wait, 0.05))
            try:
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if reply and len(data) > 1 and self._reset_armed.is_set():
                    self._reset_armed.clear()
                    dst.sendall(data[:len(data) // 2])
                    # Let the half reach the client before the RST overtakes it.
                    time.sleep(0.05)
                    dst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    with self._lock:
                        self.resets += 1
                    # The other thread's recv() holds the socket: SHUT_RD (which sends
                    # nothing) wakes it, and the last close then sends the RST.
                    dst.shutdown(socket.SHUT_RD)
                    dst.close()
                    self._close(src)
                    return
                dst.sendall(data)
            except OSError:
                self._close(src)
                return


# ---- Fixtures ----

@pytest.fixture(scope="module")
def ns():
    reason = netns.available()
    if reason:
        message = f"NETWORK FAULT SUITE SKIPPED: {reason}"
        say(message)
        pytest.skip(message)
    netns.sweep_stale()
    space = netns.NetNs()
    say(f"namespace {space.name}: host {space.host_addr} ({space.host_if}), "
        f"inside {space.ns_addr}")
    yield space
    space.close()
    assert not space.exists(), f"namespace {space.name} is still listed"


@pytest.fixture(scope="module")
def pg(ns):
    reason = pg_server.available()
    if reason:
        pytest.skip(reason)
    server = pg_server.PgServer("pg-netns", host=ns.ns_addr,
                                wrapper=lambda argv: ns.exec_argv(argv, user=pg_server.OS_USER),
                                settings={"log_connections": "off"})
    try:
        server.initdb()
        with open(server.datadir / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {ns.host_addr}/32 trust\n")
        server.start(port=PG_PORT)
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def redis(ns):
    reason = redis_server.available()
    if reason:
        pytest.skip(reason)
    server = redis_server.RedisServer("redis-netns", host=ns.ns_addr, wrapper=ns.exec_argv,
                                      settings={"protected-mode": "no"})
    try:
        server.start(port=REDIS_PORT)
        yield server
    finally:
        server.cleanup()


@pytest.fixture(autouse=True)
def no_rules_left(request):
    """Every test starts and ends without a rule in the namespace, even after a failure."""
    yield
    if "ns" in request.fixturenames:
        space = request.getfixturevalue("ns")
        if not space.closed:
            space.clear()


# ---- Helpers ----

def pg_check(name: str, host: str, port: int, params: Optional[dict] = None, **extra) -> dict:
    return {"name": name, "type": "postgres", "interval": f"{INTERVAL_MS}ms",
            "timeout": f"{TIMEOUT_MS}ms",
            "postgres": {"params": {"host": host, "port": str(port), "user": "postgres",
                                    "dbname": "postgres", **(params or {})},
                         "backoff": BACKOFF, **extra}}


def redis_check(name: str, host: str, port: int, **extra) -> dict:
    return {"name": name, "type": "redis", "interval": f"{INTERVAL_MS}ms",
            "timeout": f"{TIMEOUT_MS}ms",
            "redis": {"host": host, "port": port, "backoff": BACKOFF, **extra}}


def config(*checks: dict) -> dict:
    return {"service": "netfaults", "history": {"results": 1000, "transitions": 200},
            "checks": list(checks)}


def status(d, name: str) -> dict:
    return d.get_json(f"/health/{name}")[1]


def history(d, name: str) -> dict:
    return d.get_json(f"/debug/history/{name}")[1]


def results_since(d, name: str, runs_before: int) -> list:
    """The results of the runs finished after the history counted runs_before, oldest first."""
    doc = history(d, name)
    new = doc["runs"] - runs_before
    return list(reversed(doc["results"][:new]))


def wait_passing(d, *names: str, timeout: float = 10.0) -> None:
    for name in names:
        poll(lambda: status(d, name).get("status") == "pass", bound(timeout),
             what=f"{name} passing")


def live_ms(d) -> float:
    start = time.monotonic()
    resp = d.request("/live", timeout=2.0)
    assert resp.status == 200, resp
    return (time.monotonic() - start) * 1000



def wait_runs(d, name: str, runs_before: int, count: int, timeout: float) -> list:
    """Waits until count runs have finished after runs_before; returns them, oldest first."""
    return poll(lambda: (lambda rs: rs if len(rs) >= count else None)(
        results_since(d, name, runs_before)), bound(timeout), what=f"{count} runs of {name}")


def runs(d, *names: str) -> dict:
    return {name: history(d, name)["runs"] for name in names}


def timed_waits(d, names, wanted: str, timeout: float) -> dict:
    """Polls /health/NAME of every name every 10 ms until each has shown status wanted;
    returns {name: seconds until it first did}."""
    start = time.monotonic()
    seen: dict = {}

    def all_seen():
        for name in names:
            if name not in seen and status(d, name).get("status") == wanted:
                seen[name] = time.monotonic() - start
        return len(seen) == len(names)

    poll(all_seen, bound(timeout), interval=0.01, what=f"{', '.join(names)} {wanted}")
    return seen


def settled_fds(d, expected: int, timeout: float = 3.0) -> int:
    """Waits until the daemon's settled descriptor count is back to expected (a socket being
    closed may take a moment); returns the last count."""
    seen = {}

    def back():
        seen["n"] = settled_fd_count(d.proc.pid)
        return seen["n"] <= expected

    try:
        poll(back, bound(timeout), interval=0.1, what="descriptors back to the baseline")
    except AssertionError:
        pytest.fail(f"descriptor leak: {seen['n']} open, {expected} before the fault")
    return seen["n"]


def is_timeout_or_retry(output: str) -> bool:
    """A failing run under a fault that only delays or drops: the deadline fired (and names its
    phase), or the run fell inside the reconnect backoff and repeats that error."""
    return output.startswith(f"timeout after {TIMEOUT_MS} ms ") or "(reconnecting in " in output


# Bounds, in seconds. A fault is seen by the first run that starts after it, at most interval
# + jitter later, and that run ends at its deadline. Once the fault is gone, a run in flight
# may still wait out its deadline, and the next attempt may wait out the backoff.
DETECT = (INTERVAL_MS + JITTER_MS + TIMEOUT_MS) / 1000 + SLACK
RECOVER = (TIMEOUT_MS + 1000 + INTERVAL_MS + JITTER_MS) / 1000 + SLACK  # backoff max 1 s
# No run outlives its deadline by more than the timer's lateness on a busy machine.
RUN_MAX_MS = TIMEOUT_MS + (2000 if harness.VALGRIND else 250)
# /live answers from memory; it must not wait for any check.
LIVE_MAX_MS = 2000 if harness.VALGRIND else 250
# A reset fails the run at once, not at its deadline.
AT_ONCE_MS = 2500 if harness.VALGRIND else 500


# ---- 1. A silent partition of the held connections ----

def test_a_silent_partition_fails_within_the_timeout_and_heals(ns, pg, redis, daemon):
    d = daemon(config(pg_check("db", ns.ns_addr, PG_PORT),
                      redis_check("cache", ns.ns_addr, REDIS_PORT)))
    wait_passing(d, "db", "cache")
    backend = pg.backends("veza-health")
    assert len(backend) == 1 and len(redis.clients("veza-health")) == 1
    fds = settled_fd_count(d.proc.pid)
    before = runs(d, "db", "cache")

    # Every packet in either direction dropped inside the namespace: no RST, no ICMP.
    ns.iptables("-A", "INPUT", "-j", "DROP")
    ns.iptables("-A", "OUTPUT", "-j", "DROP")
    cut = time.monotonic()
    detect = timed_waits(d, ("db", "cache"), "fail", DETECT)
    say(f"silent partition seen after {detect['db'] * 1000:.0f} ms (postgres), "
        f"{detect['cache'] * 1000:.0f} ms (redis); bound {DETECT * 1000:.0f} ms")
    for name, port in (("db", PG_PORT), ("cache", REDIS_PORT)):
        assert detect[name] <= bound(DETECT)
        first_failure = next(r for r in results_since(d, name, before[name])
                             if r["status"] == "fail")
        assert first_failure["output"] == (
            f"timeout after {TIMEOUT_MS} ms waiting for the reply from {ns.ns_addr}:{port}")

    # Keep it cut for a few more runs: each reconnect's SYN is dropped too.
    live = []
    deadline = time.monotonic() + bound(8.0)
    while min(len(results_since(d, name, before[name])) for name in ("db", "cache")) < 4:
        assert time.monotonic() < deadline, "the checks stopped running during the partition"
        live.append(live_ms(d))
        time.sleep(0.1)
    during = settled_fd_count(d.proc.pid)
    assert during <= fds, f"{during} descriptors during the partition, {fds} before"
    ns.clear()
    healed = time.monotonic()
    cut_s = healed - cut
    recover = timed_waits(d, ("db", "cache"), "pass", RECOVER)
    say(f"partition of {cut_s:.1f} s healed: passing again after "
        f"{recover['db'] * 1000:.0f} ms (postgres), {recover['cache'] * 1000:.0f} ms (redis); "
        f"bound {RECOVER * 1000:.0f} ms")

    for name in ("db", "cache"):
        failed = [r for r in results_since(d, name, before[name]) if r["status"] == "fail"]
        say(f"{name}: failing runs " + "; ".join(
            f"{r['duration_ms']:.0f} ms {r['output']}" for r in failed))
        assert all(r["duration_ms"] <= RUN_MAX_MS for r in failed), failed
        assert all(is_timeout_or_retry(r["output"]) for r in failed), failed
        # Reconnects during the cut wait for the SYN-ACK; they name that phase.
        assert any(r["output"].startswith(f"timeout after {TIMEOUT_MS} ms connecting to ")
                   for r in failed), failed
    settled_fds(d, fds)
    # The server side lets go too: the daemon's orphaned socket keeps resending its FIN, and
    # once one gets through the old backend and the old Redis client are gone.
    start = time.monotonic()
    poll(lambda: len(pg.backends("veza-health")) == 1 and
         len(redis.clients("veza-health")) == 1, bound(cut_s + 5.0), interval=0.2,
         what="one backend and one Redis client again")
    assert pg.backends("veza-health") != backend
    say(f"the servers dropped the cut sessions {time.monotonic() - start:.1f} s after the heal")
    assert max(live) < LIVE_MAX_MS


# ---- 2. Added latency within the timeout ----

def test_200_ms_more_per_round_trip_fails_nothing(ns, pg, redis, daemon):
    """100 ms each way: every round trip 200 ms longer. A held PostgreSQL connection (renewed
    every second here, so new connections are in the window too), one per run, and Redis."""
    delay = 0.1
    with DelayRelay((ns.ns_addr, PG_PORT), delay) as pg_relay, \
            DelayRelay((ns.ns_addr, REDIS_PORT), delay) as redis_relay:
        d = daemon(config(
            pg_check("db", "127.0.0.1", pg_relay.port, reconnect_after="1s"),
            pg_check("db-new", "127.0.0.1", pg_relay.port, connection="per_check"),
            redis_check("cache", "127.0.0.1", redis_relay.port)))
        window = {name: wait_runs(d, name, 0, count, 10.0)
                  for name, count in (("db", 12), ("db-new", 5), ("cache", 12))}
    round_trip_ms = 2 * delay * 1000
    for name, results in window.items():
        durations = sorted(r["duration_ms"] for r in results)
        say(f"RTT +{round_trip_ms:.0f} ms, {name}: {len(results)} runs, "
            f"{sum(r['status'] == 'pass' for r in results)} passed, "
            f"{durations[0]:.0f}-{durations[-1]:.0f} ms")
        assert all(r["status"] == "pass" for r in results), results
    # The cost in round trips: a new PostgreSQL connection takes three (SSLRequest under the
    # default sslmode=prefer, the startup packet, the query), a held one and Redis one.
    assert pg_relay.accepted >= 2 + 5, "the held connection was never renewed"
    for r in window["db-new"]:
        assert 3 * round_trip_ms - 20 <= r["duration_ms"] < 4 * round_trip_ms, r
    for r in window["cache"]:
        assert round_trip_ms - 20 <= r["duration_ms"] < 2 * round_trip_ms, r


def test_200_ms_each_way(ns, pg, redis, daemon):
    """200 ms each way (400 ms more per round trip): one round trip per run still passes;
    a new PostgreSQL connection passes with sslmode=disable (two round trips) and cannot
    be made within 1 s with the default sslmode=prefer (three)."""
    delay = 0.2
    with DelayRelay((ns.ns_addr, PG_PORT)) as held_relay, \
            DelayRelay((ns.ns_addr, PG_PORT), delay) as pg_relay, \
            DelayRelay((ns.ns_addr, REDIS_PORT), delay) as redis_relay:
        d = daemon(config(
            pg_check("db-held", "127.0.0.1", held_relay.port),
            pg_check("db-new", "127.0.0.1", pg_relay.port, connection="per_check",
                     backoff={"initial": "10ms", "max": "1s"}),
            pg_check("db-nossl", "127.0.0.1", pg_relay.port, params={"sslmode": "disable"},
                     connection="per_check"),
            redis_check("cache", "127.0.0.1", redis_relay.port)))
        wait_passing(d, "db-held")
        held_relay.delay = delay
        before = runs(d, "db-held")["db-held"]
        window = {"db-held": wait_runs(d, "db-held", before, 6, 10.0)}
        for name, count in (("db-new", 3), ("db-nossl", 3), ("cache", 8)):
            window[name] = wait_runs(d, name, 0, count, 10.0)
    for name, results in window.items():
        say(f"RTT +{2 * delay * 1000:.0f} ms, {name}: " + ", ".join(
            f"{r['status']} {r['duration_ms']:.0f} ms" for r in results[:6]))
    for name in ("db-held", "db-nossl", "cache"):
        assert all(r["status"] == "pass" for r in window[name]), window[name]
    for r in window["db-new"]:
        assert r["status"] == "fail" and (
            r["output"] == f"timeout after {TIMEOUT_MS} ms waiting for the reply from "
                           f"127.0.0.1:{pg_relay.port}" or "(reconnecting in " in r["output"]), r


# ---- 3. Latency beyond the timeout ----

def test_latency_beyond_the_timeout_fails_naming_the_phase_and_recovers(ns, pg, redis, daemon):
    with DelayRelay((ns.ns_addr, PG_PORT)) as pg_relay, \
            DelayRelay((ns.ns_addr, REDIS_PORT)) as redis_relay:
        relays = {"db": pg_relay, "cache": redis_relay}
        d = daemon(config(pg_check("db", "127.0.0.1", pg_relay.port),
                          redis_check("cache", "127.0.0.1", redis_relay.port)))
        wait_passing(d, "db", "cache")
        fds = settled_fd_count(d.proc.pid)
        before = runs(d, "db", "cache")
        for relay in relays.values():
            relay.delay = 1.5
        detect = timed_waits(d, relays, "fail", DETECT)
        for name in relays:
            wait_runs(d, name, before[name], 3, 8.0)
        for relay in relays.values():
            relay.delay = 0.0
        recover = timed_waits(d, relays, "pass", RECOVER)
        say(f"1.5 s each way: failing after {detect['db'] * 1000:.0f} / "
            f"{detect['cache'] * 1000:.0f} ms (postgres / redis, bound "
            f"{DETECT * 1000:.0f} ms); latency gone: passing after "
            f"{recover['db'] * 1000:.0f} / {recover['cache'] * 1000:.0f} ms (bound "
            f"{RECOVER * 1000:.0f} ms)")
        for name, relay in relays.items():
            assert detect[name] <= bound(DETECT) and recover[name] <= bound(RECOVER)
            failed = [r for r in results_since(d, name, before[name]) if r["status"] == "fail"]
            assert failed[0]["output"] == (f"timeout after {TIMEOUT_MS} ms waiting for the "
                                           f"reply from 127.0.0.1:{relay.port}"), failed[0]
            assert all(is_timeout_or_retry(r["output"]) for r in failed), failed
            assert all(r["duration_ms"] <= RUN_MAX_MS for r in failed), failed
        settled_fds(d, fds)


# ---- 4. Packet loss ----

LOSS_WINDOW = 12.0
HELD = [f"db-{i}" for i in range(1, 5)] + [f"cache-{i}" for i in range(1, 5)]
PER_RUN = ["db-new-1", "db-new-2"]


def test_30_percent_loss_keeps_held_connections_passing(ns, pg, redis, daemon):
    """30% of the packets towards the servers dropped at random, with the shipped timeout
    (1 s) and backoff (250 ms to 5 s). The verdict docs/postgres.md promises: held connections
    pass most runs (at least 75% of them over this window, counted over eight independent
    checks since failures come in bursts; measured 96-99% over 100 s), a connection per run
    fails often but not always (a lost SYN is resent only after 1 s, the whole timeout), every
    failing run ends at its deadline and names its phase, /live stays fast, nothing leaks."""
    shipped = {"backoff": {"initial": "250ms", "max": "5s"}}
    d = daemon(config(
        *[pg_check(name, ns.ns_addr, PG_PORT, **shipped) for name in HELD if "db" in name],
        *[redis_check(name, ns.ns_addr, REDIS_PORT, **shipped)
          for name in HELD if "cache" in name],
        *[pg_check(name, ns.ns_addr, PG_PORT, connection="per_check", **shipped)
          for name in PER_RUN]))
    names = HELD + PER_RUN
    wait_passing(d, *names)
    fds = settled_fd_count(d.proc.pid)
    before = runs(d, *names)
    ns.iptables("-A", "INPUT", "-m", "statistic", "--mode", "random", "--probability", "0.3",
                "-j", "DROP")
    live = []
    end = time.monotonic() + LOSS_WINDOW
    while time.monotonic() < end:
        live.append(live_ms(d))
        assert d.alive()
        time.sleep(0.1)
    ns.clear()
    window = {name: results_since(d, name, before[name]) for name in names}
    for name, results in window.items():
        flags = "".join("F" if r["status"] == "fail" else "." for r in results)
        say(f"30% loss, {name}: {flags.count('.')} of {len(results)} runs passed, longest "
            f"failing streak {max(map(len, flags.split('.')))}, slowest run "
            f"{max(r['duration_ms'] for r in results):.0f} ms")
        failed = [r for r in results if r["status"] == "fail"]
        assert all(is_timeout_or_retry(r["output"]) for r in failed), failed
        assert all(r["duration_ms"] <= RUN_MAX_MS for r in results), results

    def share(group):
        results = [r for name in group for r in window[name]]
        return sum(r["status"] == "pass" for r in results) / len(results), len(results)

    held, held_runs = share(HELD)
    per_run, per_runs = share(PER_RUN)
    say(f"30% loss: held connections passed {held * 100:.0f}% of {held_runs} runs, a "
        f"connection per run {per_run * 100:.0f}% of {per_runs}; /live took at most "
        f"{max(live):.1f} ms over {len(live)} requests")
    assert held_runs >= 8 * 20, "too few runs in the window"
    assert held >= 0.75
    assert 0.05 <= per_run <= 0.9
    assert max(live) < LIVE_MAX_MS
    # The loss gone, everything passes again (a check in backoff waits up to backoff.max).
    timed_waits(d, names, "pass", 5.0 + RECOVER)
    settled_fds(d, fds)


# ---- 5. A connection reset ----

def test_a_reset_in_the_middle_of_a_reply_fails_at_once_and_reconnects(ns, pg, redis, daemon):
    """The relay passes on half of the next chunk the server sends (the reply to the query,
    PING or INFO) and then resets the daemon's connection (SO_LINGER 0)."""
    with DelayRelay((ns.ns_addr, PG_PORT)) as pg_relay, \
            DelayRelay((ns.ns_addr, REDIS_PORT)) as redis_relay, \
            DelayRelay((ns.ns_addr, REDIS_PORT)) as info_relay:
        relays = {"db": pg_relay, "cache": redis_relay, "cache-info": info_relay}
        d = daemon(config(pg_check("db", "127.0.0.1", pg_relay.port),
                          redis_check("cache", "127.0.0.1", redis_relay.port),
                          redis_check("cache-info", "127.0.0.1", info_relay.port,
                                      role="primary")))
        wait_passing(d, *relays)
        fds = settled_fd_count(d.proc.pid)
        for name, relay in relays.items():
            before = runs(d, name)[name]
            relay.reset_next_reply()
            results = wait_runs(d, name, before, 3, 5.0)
            assert relay.resets == 1
            failed, *after = results
            say(f"reset mid-reply, {name}: failed in {failed['duration_ms']:.0f} ms with "
                f"{failed['output']!r}, then {[r['status'] for r in after]}")
            assert failed["status"] == "fail" and failed["duration_ms"] < AT_ONCE_MS, failed
            expected = ("query failed: server closed the connection unexpectedly"
                        if name == "db" else
                        f"connection to 127.0.0.1:{relay.port} lost: connection reset by peer")
            assert failed["output"] == expected
            assert all(r["status"] == "pass" for r in after), after
            assert relay.accepted == 2, "no new connection after the reset"
        settled_fds(d, fds)


def test_a_reset_from_the_server_side_fails_at_once_and_reconnects(ns, pg, redis, daemon):
    """iptables inside the namespace answers every TCP segment with an RST (REJECT
    --reject-with tcp-reset): the held connections' next request is reset, and reconnects
    are refused until the rule goes."""
    d = daemon(config(pg_check("db", ns.ns_addr, PG_PORT),
                      redis_check("cache", ns.ns_addr, REDIS_PORT)))
    wait_passing(d, "db", "cache")
    fds = settled_fd_count(d.proc.pid)
    before = runs(d, "db", "cache")
    ns.iptables("-A", "INPUT", "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset")
    detect = timed_waits(d, ("db", "cache"), "fail", (INTERVAL_MS + JITTER_MS) / 1000 + SLACK)
    for name in ("db", "cache"):
        wait_runs(d, name, before[name], 3, 5.0)
    ns.clear()
    recover = timed_waits(d, ("db", "cache"), "pass", RECOVER)
    say(f"RST: failing after {detect['db'] * 1000:.0f} / {detect['cache'] * 1000:.0f} ms, "
        f"passing {recover['db'] * 1000:.0f} / {recover['cache'] * 1000:.0f} ms after the "
        f"rule went (postgres / redis)")
    expected = {
        "db": ["query failed: server closed the connection unexpectedly",
               f"connection refused ({ns.ns_addr}:{PG_PORT})"],
        "cache": [f"connection to {ns.ns_addr}:{REDIS_PORT} lost: connection reset by peer",
                  f"cannot connect to {ns.ns_addr}:{REDIS_PORT}: connection refused"],
    }
    for name, (first, later) in expected.items():
        failed = [r for r in results_since(d, name, before[name]) if r["status"] == "fail"]
        assert failed[0]["output"] == first, failed[0]
        assert all(r["output"].split(" (reconnecting in ")[0] == later for r in failed[1:]), failed
        assert all(r["duration_ms"] < AT_ONCE_MS for r in failed), failed
    settled_fds(d, fds)
