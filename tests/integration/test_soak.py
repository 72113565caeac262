"""test_soak.py - a bounded soak: real PostgreSQL and Redis killed and restarted again and again
under checks every 50 ms while clients hammer every endpoint; afterwards the daemon holds the
same descriptors and about the same memory, answered every request, and tells the truth.

VH_SOAK_SECONDS (default 60) sets the length of the measured soak, which follows a warm-up of
the same kind; VH_SOAK_SEED changes the seeded random schedule. `pytest -s` shows the summary."""

import os
import random
import time
from collections import Counter

import pytest

import harness
import pg_server
import redis_server
import soak_chaos
import soak_load
from harness import bound, poll, rss_kib, settled_fd_count
from soak_chaos import Bouncer

pytestmark = [
    pytest.mark.skipif(pg_server.available() is not None, reason=str(pg_server.available())),
    pytest.mark.skipif(redis_server.available() is not None,
                       reason=str(redis_server.available())),
]

SOAK_SECONDS = float(os.environ.get("VH_SOAK_SECONDS") or 60)
SEED = int(os.environ.get("VH_SOAK_SEED") or 5)
# Long enough for every route, both kinds of connection and a kill of each server, so that
# whatever the daemon allocates once (buffers at their largest body, libpq's and hiredis'
# state, the resolver) is allocated before the first measurement.
WARMUP_SECONDS = 5.0
CLIENTS = 4
INTERVAL_MS = 50
TIMEOUT_MS = 300
DEPS = ["db", "cache", "db-port"]
# Growth of VmRSS between the end of the warm-up and the end of the soak. Nothing the daemon
# keeps grows with time (the history rings are allocated at start-up), so what is left is
# malloc settling: the heap top and free lists find their place under a new mix of body sizes
# and reconnects. Measured: +88 to +140 KiB over 60 s, and a 240 s soak (650,194 requests, 201
# kills) reached +140 KiB in its first minute and stayed there. 512 KiB is 128 pages, about 6%
# of the daemon's 8 MiB, and a 60 s soak (over 150,000 requests, about 55 kills) exceeds it with
# a leak of 4 bytes per request or 10 KiB per kill; a shorter soak sees proportionally less.
# Smaller leaks are LeakSanitizer's and valgrind's job: the suite runs again under ASan, where
# this bound is skipped, and the harness fails a daemon that leaks at exit under valgrind.
RSS_GROWTH_KIB = 512
# How long the checks may take to see both servers up and pass again once chaos stops.
SETTLE_TIMEOUT = bound(20.0)
# How long the final state must hold before it counts as the daemon's verdict.
SETTLE_SECONDS = 1.0


@pytest.fixture
def servers():
    rng = random.Random(SEED)
    pg = pg_server.PgServer("pg-soak")
    redis = redis_server.RedisServer("redis-soak")
    try:
        pg.initdb()
        soak_chaos.start_on_quiet_port(pg, rng)
        soak_chaos.start_on_quiet_port(redis, rng)
        yield pg, redis
    finally:
        redis.cleanup()
        pg.cleanup()


def soak_config(pg, redis, child_pid: int) -> dict:
    backoff = {"initial": "50ms", "max": "250ms"}
    return {
        "service": "soak",
        "defaults": {"interval": f"{INTERVAL_MS}ms", "timeout": f"{TIMEOUT_MS}ms"},
        "checks": [
            # The only liveness check: /live must stay 200 whatever the dependencies do.
            {"name": "child", "type": "process", "groups": ["liveness", "readiness"],
             "timeout": "1s", "process": {"pid": child_pid}},
            {"name": "db", "type": "postgres",
             "postgres": {"params": pg.dsn_params(application_name="veza-health-soak"),
                          "backoff": backoff}},
            {"name": "cache", "type": "redis",
             "redis": {"host": "127.0.0.1", "port": redis.port, "backoff": backoff}},
            {"name": "db-port", "type": "tcp", "tcp": {"host": "127.0.0.1", "port": pg.port}},
        ],
    }


def checks_passing(d) -> dict:
    """/ready's check results when /ready is 200 and every check of the file passes, else {}."""
    resp = d.request("/ready")
    results = {name: c["result"] for name, c in resp.json()["checks"].items()}
    if resp.status == 200 and all(results.get(n) == "pass" for n in ["child"] + DEPS):
        return results
    return {}


def settle(d) -> dict:
    """Waits until every check passes, holds it SETTLE_SECONDS, and returns what /ready and
    /health said then; fails unless both still say every check passes."""
    poll(lambda: checks_passing(d), SETTLE_TIMEOUT, what="every check passing")
    time.sleep(SETTLE_SECONDS)
    final = checks_passing(d)
    health = d.request("/health")
    assert final, f"/ready after settling: {d.request('/ready?verbose').text}"
    assert health.status == 200, health.text
    return final


def fd_targets(pid: int) -> list:
    out = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            out.append(f"{fd}->{os.readlink(f'/proc/{pid}/fd/{fd}')}")
        except OSError:
            pass
    return out


def chaos(d, pg, redis, tally, routes, seconds: float, seed: int, up: tuple, down: tuple):
    """Clients on every route for seconds while both servers are killed and restarted; returns
    the two bouncers (stopped, both servers up again)."""
    bouncers = [
        Bouncer(pg, soak_chaos.kill_pg, ["immediate", "postmaster", "group"], up, down,
                seed * 10 + 1),
        Bouncer(redis, soak_chaos.kill_redis, ["sigkill"], up, down, seed * 10 + 2),
    ]
    for b in bouncers:
        b.start()
    try:
        soak_load.run_load(d.port, routes, tally, seed, CLIENTS, seconds)
    finally:
        for b in bouncers:
            b.stop()
    assert d.alive(), (f"the daemon died during the soak (exit status {d.proc.poll()}); "
                       f"{tally.failures} bad answers, the first:\n" + "\n".join(tally.kept)
                       + "\nthe end of its output:\n"
                       + "\n".join(d.log_text().splitlines()[-20:]))
    return bouncers


def stop_redis_for_good(d, redis) -> tuple:
    """The last act: Redis goes away for good, and /ready must say so within one run. Returns
    the reaction time, its bound, the other checks' results then, and /live's and
    /health/cache's statuses."""
    redis.kill()
    gone = time.monotonic()

    def unready():
        resp = d.request("/ready")
        cache = resp.json()["checks"]["cache"]
        return resp if resp.status == 503 and cache["result"] == "fail" else None

    reaction_bound = bound((INTERVAL_MS + TIMEOUT_MS) / 1000 + 1.0)
    resp = poll(unready, reaction_bound, interval=0.01, what="/ready 503 with cache failing")
    reaction = time.monotonic() - gone
    others = {n: c["result"] for n, c in resp.json()["checks"].items() if n != "cache"}
    return (reaction, reaction_bound, others, d.request("/live").status,
            d.request("/health/cache").status)


def test_soak_kills_and_restarts_under_load(daemon, spawn, servers):
    pg, redis = servers
    child = spawn(["sleep", "3600"])
    d = daemon(soak_config(pg, redis, child.pid))
    pid = d.proc.pid
    started = time.monotonic()
    routes = soak_load.endpoints(DEPS, "child", "db")
    tally = soak_load.Tally()
    settle(d)

    # Warm-up: the same traffic and a kill of each server early on.
    warm = chaos(d, pg, redis, tally, routes, WARMUP_SECONDS, SEED, up=(0.3, 1.5),
                 down=(0.05, 0.5))
    settle(d)
    fds_before, rss_before = settled_fd_count(pid, looks=20, gap=0.005), rss_kib(pid)
    targets_before = fd_targets(pid)

    soak_start = time.monotonic()
    main = chaos(d, pg, redis, tally, routes, SOAK_SECONDS, SEED + 1, up=(0.3, 3.0),
                 down=(0.05, 1.5))
    soak_elapsed = time.monotonic() - soak_start
    final = settle(d)
    # Clients closed their connections when they stopped; give the daemon a moment to see it.
    try:
        fds_after = poll(lambda: (lambda n: n if n <= fds_before else None)(
            settled_fd_count(pid, looks=20, gap=0.005)),
                         bound(5.0), what="descriptors back to the warm-up count")
    except AssertionError:
        fds_after = settled_fd_count(pid, looks=20, gap=0.005)
    rss_after = rss_kib(pid)
    targets_after = fd_targets(pid)

    reaction, reaction_bound, others, live, one = stop_redis_for_good(d, redis)

    kills = {b.server.name: Counter() for b in main}
    restarts = Counter()
    for b in warm + main:
        kills[b.server.name].update(b.kills)
        restarts[b.server.name] += b.restarts
    ready = Counter()
    for (_, path, headers, status), n in tally.by_route.items():
        if path == "/ready" and not headers:
            ready[status] += n
    events = d.log_events()  # fails unless every line the daemon logged is one JSON object
    changes = [e for e in events if e.get("message") == "check status changed"]
    alarms = [e for e in events if e.get("level") == "error"
              or e.get("message", "").startswith("cannot accept")]
    print(f"\nsoak: {SOAK_SECONDS:.0f} s measured ({soak_elapsed:.1f} s) after a "
          f"{WARMUP_SECONDS:.0f} s warm-up, seed {SEED}, {CLIENTS} clients, checks every "
          f"{INTERVAL_MS} ms; {time.monotonic() - started:.1f} s in all")
    print(f"requests: {tally.total} ({tally.keepalive} keep-alive, {tally.fresh} one-shot); "
          f"by status: {dict(sorted(tally.statuses.items(), key=str))}; "
          f"/ready: {dict(sorted(ready.items(), key=str))}; failures: {tally.failures}")
    print(f"kills: {{{', '.join(f'{k}: {dict(v)}' for k, v in kills.items())}}}; "
          f"restarts: {dict(restarts)}; status changes logged: {len(changes)}")
    print(f"fds: {fds_before} -> {fds_after}; VmRSS: {rss_before} -> {rss_after} KiB "
          f"({rss_after - rss_before:+d} KiB)")
    print(f"final: {final}; after the last Redis kill /ready was 503 in {reaction * 1000:.0f} ms "
          f"(bound {reaction_bound * 1000:.0f} ms), others {others}")

    assert tally.failures == 0, (f"{tally.failures} bad answers of {tally.total}; the first:\n"
                                 + "\n".join(tally.kept))
    assert fds_after == fds_before, (f"descriptors {fds_before} -> {fds_after}\nbefore: "
                                     f"{targets_before}\nafter: {targets_after}")
    if not (harness.VALGRIND or harness.SANITIZED):
        assert rss_after - rss_before < RSS_GROWTH_KIB, f"VmRSS {rss_before} -> {rss_after} KiB"
    # The soak did what it says: both servers died more than once, and /ready saw it.
    assert sum(kills["pg-soak"].values()) >= 2 and sum(kills["redis-soak"].values()) >= 2, kills
    assert ready.get(200) and ready.get(503), f"/ready answers {ready}"
    assert all(others[n] == "pass" for n in ["child", "db", "db-port"]), others
    assert live == 200 and one == 503, (live, one)
    assert not alarms, alarms[:5]
