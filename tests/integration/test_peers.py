"""test_peers.py - fleet-aware readiness (issue 12) end to end: five real daemons on 127.0.0.2 to
127.0.0.6 and one port, real PostgreSQL and Redis, peers found through a static list and through
a DNS name with five A records. A shared outage keeps every replica ready, a replica cut off
alone answers 503, survivors of a kill decide from who answers, unreachable peers change
nothing, hostile peers are ignored at no latency cost, a 60 s outage never oscillates, and the
token guards /peers/state. `pytest -s` prints every measured figure."""

import http.client
import os
import re
import secrets
import socket
import time
from collections import Counter
from typing import Callable, List, Optional

import pytest

import harness
import pg_server
import redis_server
from dns_fake import FakeDns
from harness import FakeServer, bound, poll
from ready_watch import ReadyWatcher
from tcp_proxy import BlackHoleProxy

for _why in (pg_server.available(), redis_server.available()):
    if _why:
        pytest.skip(_why, allow_module_level=True)

FLEET = [f"127.0.0.{i}" for i in range(2, 7)]
# One more address for a daemon without peers beside the fleet, or one more bad peer.
SPARE = "127.0.0.7"
# Where the cut-off replica's DNS sends it: a proxy to PostgreSQL whose path can be cut.
HOLE = "127.0.0.9"
HEADLESS = "api-peers.test"  # the headless Service's name
DB_HOST = "db.test"  # every replica's PostgreSQL host, so one fingerprint for all
MODES = ["addresses", "dns"]

# Timing of the fleet: the checks' interval I, jitter J (interval / 10), timeout T, and the
# peers' interval P and timeout Q (docs/configuration.md, "Bounds").
I, J, T = 0.2, 0.02, 0.3
P, Q = 0.2, 0.1
# A shared outage is declared within I + J + T (every replica fails) + P + Q (one round).
DECLARE = I + J + T + P + Q
# A local fault fails within I + J + T, then holds at most I + J + T + P + Q (fall 1).
LOCAL_FAULT = 2 * (I + J + T) + P + Q
# Without peers (or with none answering), a refused connection fails the next run: I + J + T.
ALONE = I + J + T
# The time between samples, a loaded machine's scheduling and the server's own stop.
SLACK = 0.7
# A deadline (not a bound) for a recovery: backoff max (1s), a run, a round, and slack.
RECOVER = 1.0 + I + J + T + P + Q + 1.0

PASSWORD = "Pw-" + secrets.token_hex(12)
TOKEN = "tok-" + secrets.token_hex(16)
ENV = dict(os.environ, VH_TEST_PG_PASSWORD=PASSWORD, VH_TEST_TOKEN=TOKEN)


def fleet_port() -> int:
    """A port free on every fleet address and the spare one, for daemons and fake peers."""
    for _ in range(50):
        socks = []
        try:
            first = socket.socket()
            first.bind((FLEET[0], 0))
            socks.append(first)
            port = first.getsockname()[1]
            for addr in FLEET[1:] + [SPARE]:
                s = socket.socket()
                socks.append(s)
                s.bind((addr, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no port free on every fleet address")


def fingerprint(kind: str, host: str, port, *db) -> str:
    """The fingerprint docs/configuration.md describes, computed here: FNV-1a 64 of the type,
    the host (lower case), the port and the database (none for tcp), each with its terminating
    NUL. Equal to the daemon's, it proves that nothing else (no user name, no password) goes
    into it."""
    h = 0xCBF29CE484222325
    for field in (kind, host.lower(), str(port)) + tuple(str(x) for x in db):
        for byte in field.encode() + b"\0":
            h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


# ---------------------------------------------------------------------------------------------
# Servers, DNS and the fleet


@pytest.fixture(scope="module")
def pg():
    server = pg_server.PgServer("pg-peers")
    try:
        server.initdb().start()
        server.set_password(pg_server.PASSWORD_ROLE, PASSWORD)
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def redis():
    server = redis_server.RedisServer("redis-peers")
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(autouse=True)
def _servers_running_after(request):
    """A test that stopped a shared server and failed before restarting it must not fail the
    next ones too."""
    yield
    for name in ("pg", "redis"):
        if name in request.fixturenames:
            server = request.getfixturevalue(name)
            if not server.alive():
                server.restart()


@pytest.fixture(scope="module")
def port() -> int:
    return fleet_port()


@pytest.fixture(scope="module")
def dns():
    """The fleet's DNS: the headless name answers with the five replicas, db.test is local."""
    with FakeDns({HEADLESS: FLEET, DB_HOST: ["127.0.0.1"]}) as server:
        yield server


@pytest.fixture(scope="module")
def cut_dns():
    """The cut-off replica's DNS: the same names, but db.test goes through the proxy."""
    with FakeDns({HEADLESS: FLEET, DB_HOST: [HOLE]}) as server:
        yield server


class Fleet:
    """Daemons on fleet addresses and one port; kill() SIGKILLs one on purpose (it is then not
    expected to exit cleanly at teardown), stop() stops one cleanly."""

    def __init__(self, workdir, port: int):
        self.set = harness.DaemonSet(workdir)
        self.port = port

    def start(self, address: str, config: dict, args=()) -> harness.Daemon:
        return self.set.start(config, port=self.port, host=address, env=ENV, args=args,
                              name=f"vh-{address}")

    def start_five(self, mode: str, checks: list, nameserver: str,
                   first_nameserver: Optional[str] = None, **extra) -> List[harness.Daemon]:
        """The five replicas; the first may use another nameserver (the cut-off one)."""
        return [self.start(addr, fleet_config(mode, self.port,
                                              (first_nameserver if i == 0 and first_nameserver
                                               else nameserver), checks, **extra))
                for i, addr in enumerate(FLEET)]

    def kill(self, daemon: harness.Daemon) -> None:
        self.set.daemons.remove(daemon)
        daemon.kill()

    def stop(self, daemon: harness.Daemon) -> None:
        self.set.daemons.remove(daemon)
        daemon.stop_ok()


@pytest.fixture
def fleet(tmp_path, port, vh_bin):
    f = Fleet(tmp_path, port)
    yield f
    f.set.stop_all()


def fleet_config(mode: str, port: int, nameserver: Optional[str], checks: list,
                 token: bool = False, peers: Optional[dict] = None,
                 addresses: Optional[list] = None) -> dict:
    """One replica's config. The peers' port is always given: see
    test_peer_port_defaults_to_the_listen_port_given_on_the_command_line."""
    p = {"interval": f"{int(P * 1000)}ms", "timeout": f"{int(Q * 1000)}ms"}
    if mode == "dns":
        p.update(dns=HEADLESS, port=port)
    else:
        p["addresses"] = [f"{a}:{port}" for a in (addresses or FLEET)]
    p.update(peers or {})
    doc = {"service": "api", "peers": p, "checks": checks}
    if nameserver:
        doc["dns"] = {"nameservers": [nameserver], "timeout": "500ms", "attempts": 1}
    if token:
        doc["token"] = "${VH_TEST_TOKEN}"
    return doc


BACKOFF = {"initial": "100ms", "max": "1s"}


def db_check(pg, interval: float = I, shared: bool = True) -> dict:
    """PostgreSQL by name (db.test), with a password: the same target on every replica."""
    check = {
        "name": "db",
        "type": "postgres",
        "interval": f"{int(interval * 1000)}ms",
        "timeout": f"{int(T * 1000)}ms",
        "postgres": {
            "params": {"host": DB_HOST, "port": str(pg.port), "dbname": "postgres",
                       "user": pg_server.PASSWORD_ROLE, "password": "${VH_TEST_PG_PASSWORD}"},
            "backoff": BACKOFF,
        },
    }
    if shared:
        # Explicit: a loopback target may default to "local" (docs/configuration.md).
        check["scope"] = "shared"
    return check


def cache_check(redis) -> dict:
    return {
        "name": "cache",
        "type": "redis",
        "scope": "shared",
        "interval": f"{int(I * 1000)}ms",
        "timeout": f"{int(T * 1000)}ms",
        "redis": {"host": "127.0.0.1", "port": redis.port, "backoff": BACKOFF},
    }


def db_fingerprint(pg) -> str:
    return fingerprint("postgres", DB_HOST, pg.port, "postgres")


# ---------------------------------------------------------------------------------------------
# Waiting and looking


def ready_doc(d) -> tuple:
    resp = d.request("/ready")
    return resp.status, resp.json()


def wait_settled(daemons, checks, reachable: Optional[int] = None, known: Optional[int] = None,
                 timeout: float = 8.0) -> None:
    """Every daemon ready, every named check passing, and (by default) every other replica
    known and reachable. The counts are taken at the end of each round."""
    want = len(daemons) - 1 if reachable is None else reachable
    known = want if known is None else known

    seen = {}

    def settled(d):
        status, doc = seen[d.name] = ready_doc(d)
        return (status == 200 and doc["fleet"]["peers_reachable"] == want
                and doc["fleet"]["peers_known"] == known
                and all(doc["checks"][c]["result"] == "pass" for c in checks))

    for d in daemons:
        try:
            poll(lambda: settled(d), bound(timeout), what=f"{d.name} settled")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {checks} passing, {want} of {known} peers "
                                 f"reachable; last /ready: {seen.get(d.name)}\n"
                                 f"{d.log_text()}") from None


def first_times(watch: ReadyWatcher, indexes, pred: Callable[[object], bool],
                since: float) -> dict:
    """index -> time of the first sample since `since` for which pred(sample) holds."""
    firsts = {}
    for s in watch.samples(since=since):
        if s.index in indexes and s.index not in firsts and pred(s):
            firsts[s.index] = s.t
    return firsts


def wait_all(watch: ReadyWatcher, indexes, pred, since: float, timeout: float,
             what: str) -> dict:
    indexes = list(indexes)
    return poll(lambda: (lambda f: f if len(f) == len(indexes) else None)(
        first_times(watch, indexes, pred, since)), timeout, interval=0.02, what=what)


def in_outage(name: str) -> Callable:
    return lambda s: bool(s.summary) and name in s.summary["fleet"]["shared_outages"]


def passing(name: str) -> Callable:
    return lambda s: (bool(s.summary) and s.summary["checks"][name]["result"] == "pass"
                      and name not in s.summary["fleet"]["shared_outages"])


def statuses(watch: ReadyWatcher, indexes=None) -> Counter:
    return Counter(s.status for s in watch.samples() if indexes is None or s.index in indexes)


def timeline(watch: ReadyWatcher, index: int, t0: float) -> str:
    """One line per change of what daemon index answered, with times relative to t0."""
    lines, last = [], None
    for s in watch.samples(index):
        now = (s.status, s.error, s.summary and s.summary["checks"])
        if now != last:
            lines.append(f"  {1000 * (s.t - t0):+7.0f} ms {s.status} {s.error} "
                         f"{s.summary and s.summary['checks']}")
            last = now
    return "\n".join(lines)


def assert_never_unready(watch: ReadyWatcher, indexes=None) -> Counter:
    counts = statuses(watch, indexes)
    bad = [s for s in watch.samples() if s.status != 200
           and (indexes is None or s.index in indexes)]
    if bad:
        raise AssertionError(
            f"/ready answers other than 200: {counts}; daemon {bad[0].index} (polling began "
            f"at 0 ms):\n{timeline(watch, bad[0].index, watch.started)}")
    return counts


def transitions(d, check: str, message: str) -> int:
    return len(d.log_events(message, check=check))


def assert_no_secret(daemons, *more: str) -> None:
    """The password (and anything else given) is nowhere: not in any answer, not in a log."""
    for d in daemons:
        bodies = {"log": d.log_text()}
        for path in ("/peers/state", "/ready", "/health", "/health?verbose"):
            bodies[path] = d.request(path, headers={"Authorization": f"Bearer {TOKEN}"}).text
        for where, text in bodies.items():
            for secret in (PASSWORD,) + more:
                assert secret not in text, f"{d.name}: {secret!r} in {where}"


def stop_server(server) -> None:
    if isinstance(server, pg_server.PgServer):
        server.stop_mode("fast")
    else:
        server.stop()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# ---------------------------------------------------------------------------------------------
# The wire format, the token, and the peers' port


def test_peers_state_wire_format_holds_no_secret(fleet, pg, redis, dns):
    daemons = fleet.start_five("dns", [db_check(pg), cache_check(redis)], dns.address)
    wait_settled(daemons, ["db", "cache"])
    instances = set()
    for d in daemons:
        resp = d.request("/peers/state")
        assert resp.status == 200
        assert resp.headers["content-type"] == "application/json"
        doc = resp.json()
        assert set(doc) == {"version", "instance", "service", "checks"}
        assert doc["version"] == 1 and doc["service"] == "api"
        assert re.fullmatch(r"[0-9a-f]{16}", doc["instance"])
        instances.add(doc["instance"])
        entries = {c["name"]: c for c in doc["checks"]}
        assert set(entries) == {"db", "cache"}
        for c in entries.values():
            assert set(c) == {"name", "fingerprint", "status", "failing", "age_ms"}
            assert (c["status"], c["failing"]) == ("pass", False)
            # age_ms: since the latest run ended, at most an interval + jitter + timeout ago.
            assert 0 <= c["age_ms"] <= bound(1000 * (I + J + T) + 500)
        # Only type, host, port and database: the user name and password are not in it.
        assert entries["db"]["fingerprint"] == db_fingerprint(pg)
        assert entries["cache"]["fingerprint"] == fingerprint("redis", "127.0.0.1",
                                                              redis.port, 0)
        assert pg_server.PASSWORD_ROLE not in resp.text
        # Each replica skips itself: five addresses in DNS, four peers.
        fleet_doc = ready_doc(d)[1]["fleet"]
        assert fleet_doc == {"peers_known": 4, "peers_reachable": 4, "panic_threshold": 50,
                             "panic_mode": "serve", "shared_outages": []}
    assert len(instances) == 5, "every replica has an instance id of its own"
    assert_no_secret(daemons)


def test_token_guards_peers_state_and_peers_still_agree(fleet, pg, dns):
    daemons = fleet.start_five("addresses", [db_check(pg)], dns.address, token=True)
    d = daemons[0]
    # From loopback too: peers are other pods, and a mesh proxy makes every client local.
    assert d.request("/peers/state").status == 401
    wrong = d.request("/peers/state", headers={"Authorization": "Bearer " + "x" * 32})
    assert wrong.status == 401
    right = d.request("/peers/state", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status == 200 and right.json()["version"] == 1
    # The daemons send the token to each other, so every peer is reachable...
    wait_settled(daemons, ["db"])
    # ...and they still agree on a shared outage.
    with ReadyWatcher(daemons) as watch:
        stopped = time.monotonic()
        pg.stop_mode("fast")
        declared = wait_all(watch, range(5), in_outage("db"), stopped, bound(DECLARE + SLACK),
                            "shared outage on all five, with a token")
        pg.restart()
        wait_all(watch, range(5), passing("db"), time.monotonic(), bound(RECOVER),
                 "db passing again")
    print(f"\ntoken: shared outage declared on all five "
          f"{ms(max(declared.values()) - stopped)} after the stop")
    assert_never_unready(watch)
    assert_no_secret(daemons, TOKEN)


def test_peer_port_defaults_to_the_listen_port_given_on_the_command_line(fleet):
    """docs/configuration.md: peers.port defaults to the first listen address's port. The
    harness (like a Kubernetes container given `--listen`) sets it on the command line."""
    config = {"service": "api", "checks": [],
              "peers": {"addresses": FLEET[:2], "interval": "100ms", "timeout": "50ms"}}
    a, b = fleet.start(FLEET[0], config), fleet.start(FLEET[1], config)
    for d in (a, b):
        poll(lambda: ready_doc(d)[1]["fleet"]["peers_reachable"] == 1, bound(2.0),
             what=f"{d.name} reaches its peer on the port it listens on")


# ---------------------------------------------------------------------------------------------
# 1. A shared outage of PostgreSQL, then of Redis


@pytest.mark.parametrize("mode", MODES)
def test_shared_outage_keeps_all_five_ready(mode, fleet, pg, redis, dns):
    daemons = fleet.start_five(mode, [db_check(pg), cache_check(redis)], dns.address)
    wait_settled(daemons, ["db", "cache"])
    figures = []
    with ReadyWatcher(daemons) as watch:
        for name, server in (("db", pg), ("cache", redis)):
            stopped = time.monotonic()
            print(f"\n{name} stopped at {ms(stopped - watch.started)}")
            stop_server(server)
            declared = wait_all(watch, range(5), in_outage(name), stopped,
                                bound(DECLARE + SLACK), f"{name}: shared outage on all five")
            took = max(declared.values()) - stopped
            for d in daemons:
                status, doc = ready_doc(d)
                check = doc["checks"][name]
                assert status == 200 and doc["status"] == "ready"
                assert (check["status"], check["result"]) == ("shared_outage", "warn")
                f = check["fleet"]
                assert (f["scope"], f["verdict"], f["panic_threshold"]) == ("shared", "shared",
                                                                             50)
                assert f["replicas_failing"] == f["replicas_answered"] >= 3, f
                assert check["error"].startswith(
                    f"shared outage: {f['replicas_failing']} of {f['replicas_answered']} "
                    f"replicas see it failing (panic threshold 50%); here: "), check["error"]
                text = d.request("/health?verbose").text
                assert re.search(rf"^\[!\]{name} shared outage: \d of \d replicas see it failing "
                                 r"\(panic threshold 50%\); here: ", text, re.M), text
            restarted = time.monotonic()
            server.restart()
            print(f"{name} restarted at {ms(restarted - watch.started)}, up at "
                  f"{ms(time.monotonic() - watch.started)}")
            cleared = wait_all(watch, range(5), passing(name), restarted, bound(RECOVER),
                               f"{name}: passing again on all five")
            figures.append((name, took, max(cleared.values()) - restarted))
    counts = assert_never_unready(watch)
    print(f"\n[{mode}] /ready answers through both outages: {dict(counts)}")
    for name, took, back in figures:
        print(f"[{mode}] {name}: shared outage on all five {ms(took)} after the stop "
              f"(bound I+J+T+P+Q = {ms(DECLARE)}); cleared on all {ms(back)} after the restart")
        assert took <= bound(DECLARE + SLACK)
    for d in daemons:
        for name in ("db", "cache"):
            assert transitions(d, name, "shared outage declared") == 1, d.log_text()
            assert transitions(d, name, "shared outage cleared") == 1, d.log_text()
        assert not d.log_events("local fault: the other replicas do not see this failure")
    assert_no_secret(daemons)


# ---------------------------------------------------------------------------------------------
# 2. One replica's path to PostgreSQL cut, the others direct


@pytest.mark.parametrize("mode", MODES)
def test_one_replica_cut_off_is_a_local_fault(mode, fleet, pg, dns, cut_dns):
    with BlackHoleProxy(pg.port, host=HOLE, port=pg.port) as proxy:
        daemons = fleet.start_five(mode, [db_check(pg)], dns.address,
                                   first_nameserver=cut_dns.address)
        cut_off = daemons[0]
        wait_settled(daemons, ["db"])
        assert proxy.forwarded >= 1, "the first replica reaches PostgreSQL through the proxy"
        with ReadyWatcher(daemons) as watch:
            cut = time.monotonic()
            proxy.black_hole()
            failed = wait_all(watch, [0], lambda s: s.status == 503, cut,
                              bound(LOCAL_FAULT + SLACK), "the cut-off replica answers 503")
            took = failed[0] - cut
            status, doc = ready_doc(cut_off)
            check = doc["checks"]["db"]
            assert status == 503 and (check["status"], check["result"]) == ("unready", "fail")
            f = check["fleet"]
            assert (f["verdict"], f["replicas_failing"]) == ("local", 1), f
            assert f["replicas_answered"] >= 3, f
            assert check["error"].startswith(
                f"local fault: 1 of {f['replicas_answered']} replicas sees it failing "
                "(panic threshold 50%); here: "), check["error"]
            before_503 = len([s for s in watch.samples(0, since=cut) if s.t < failed[0]])
            # The others keep going for as long again, then the path comes back.
            before = watch.rounds()
            poll(lambda: watch.rounds() >= before + 20, bound(5.0), what="20 more polls")
            proxy.restore()
            wait_all(watch, [0], lambda s: s.status == 200, time.monotonic(), bound(RECOVER),
                     "the cut-off replica ready again")
    print(f"\n[{mode}] cut-off replica: /ready 503 {ms(took)} after the cut (bound "
          f"2(I+J+T)+P+Q = {ms(LOCAL_FAULT)}); {before_503} polls answered 200 before; "
          f"ready again after the path came back; proxy swallowed {proxy.swallowed} connects")
    assert took <= bound(LOCAL_FAULT + SLACK)
    counts = assert_never_unready(watch, range(1, 5))
    print(f"[{mode}] the four direct replicas' /ready answers: {dict(counts)}")
    for s in watch.samples():
        if s.index > 0:
            assert s.summary["fleet"]["shared_outages"] == [], s
            assert s.summary["checks"]["db"] == {"status": "ready", "result": "pass",
                                                 "verdict": "none"}, s
    assert len(cut_off.log_events("local fault: the other replicas do not see this failure",
                                  check="db")) == 1
    for d in daemons:
        assert not d.log_events("shared outage declared"), d.name


# ---------------------------------------------------------------------------------------------
# 3. Three of five killed during a shared outage


@pytest.mark.parametrize("mode", MODES)
def test_survivors_of_a_shared_outage_decide_from_who_answers(mode, fleet, pg, dns):
    daemons = fleet.start_five(mode, [db_check(pg)], dns.address)
    wait_settled(daemons, ["db"])
    survivors = [0, 1]
    with ReadyWatcher(daemons) as watch:
        stopped = time.monotonic()
        pg.stop_mode("fast")
        wait_all(watch, range(5), in_outage("db"), stopped, bound(DECLARE + SLACK),
                 "shared outage on all five")
        killed = time.monotonic()
        for i in (2, 3, 4):
            watch.forget(i)
            fleet.kill(daemons[i])
            assert daemons[i].returncode == -9
        # The dead peers' views go stale after 3 P + Q; then only the survivors count.
        dropped = wait_all(
            watch, survivors,
            lambda s: s.summary and s.summary["fleet"]["peers_reachable"] == 1, killed,
            bound(3 * P + Q + P + Q + SLACK), "peers_reachable 1 on both survivors")
        before = watch.rounds()
        poll(lambda: watch.rounds() >= before + 20, bound(5.0), what="20 more polls")
        for i in survivors:
            status, doc = ready_doc(daemons[i])
            check = doc["checks"]["db"]
            assert status == 200 and check["status"] == "shared_outage"
            assert doc["fleet"]["peers_known"] == 4 and doc["fleet"]["peers_reachable"] == 1
            assert doc["fleet"]["shared_outages"] == ["db"]
            f = check["fleet"]
            assert (f["replicas_failing"], f["replicas_answered"]) == (2, 2), f
            assert check["error"].startswith("shared outage: 2 of 2 replicas see it failing")
        restarted = time.monotonic()
        pg.restart()
        wait_all(watch, survivors, passing("db"), restarted, bound(RECOVER),
                 "db passing on both survivors")
    counts = assert_never_unready(watch)
    after = [s for s in watch.samples() if s.t > killed]
    print(f"\n[{mode}] killed 3 of 5; survivors saw peers_reachable 1 after "
          f"{ms(max(dropped.values()) - killed)} (views fresh for 3P+Q = {ms(3 * P + Q)}); "
          f"/ready answers: {dict(counts)}, {len(after)} of them after the kill")
    for i in survivors:
        d = daemons[i]
        assert transitions(d, "db", "shared outage declared") == 1, d.log_text()
        assert transitions(d, "db", "shared outage cleared") == 1, d.log_text()
        assert not d.log_events("local fault: the other replicas do not see this failure")


# ---------------------------------------------------------------------------------------------
# 4. No peer reachable: exactly as without peers


@pytest.mark.parametrize("mode", MODES)
def test_no_peer_reachable_leaves_local_verdicts(mode, fleet, pg, dns):
    # Only the first fleet address runs a daemon: its four peers are refused connections.
    lonely = fleet.start(FLEET[0], fleet_config(mode, fleet.port, dns.address, [db_check(pg)]))
    plain = fleet.start(SPARE, {"service": "api", "checks": [db_check(pg, shared=False)],
                                "dns": {"nameservers": [dns.address], "timeout": "500ms",
                                        "attempts": 1}})
    wait_settled([lonely], ["db"], reachable=0, known=4)
    poll(lambda: ready_doc(plain)[0] == 200, bound(3.0), what="the daemon without peers ready")
    assert "fleet" not in ready_doc(plain)[1]
    with ReadyWatcher([lonely, plain], every=0.02) as watch:
        stopped = time.monotonic()
        pg.stop_mode("fast")
        failed = wait_all(watch, [0, 1], lambda s: s.status == 503, stopped,
                          bound(ALONE + SLACK), "both daemons answer 503")
        status, doc = ready_doc(lonely)
        check = doc["checks"]["db"]
        assert status == 503 and (check["status"], check["result"]) == ("unready", "fail")
        assert check["fleet"]["verdict"] == "local"
        assert check["fleet"]["replicas_answered"] == 1
        assert check["error"].startswith("local fault: 1 of 1 replica sees it failing")
        plain_check = ready_doc(plain)[1]["checks"]["db"]
        assert plain_check["result"] == "fail" and "fleet" not in plain_check
        assert check["error"].split("; here: ", 1)[1], "the check's own words follow"
        restarted = time.monotonic()
        pg.restart()
        wait_all(watch, [0, 1], lambda s: s.status == 200, restarted, bound(RECOVER),
                 "both ready again")
    t_lonely, t_plain = failed[0] - stopped, failed[1] - stopped
    print(f"\n[{mode}] no peer reachable: 503 after {ms(t_lonely)}; without peers: "
          f"{ms(t_plain)} (bound I+J+T = {ms(ALONE)})")
    assert t_lonely <= bound(ALONE + SLACK) and t_plain <= bound(ALONE + SLACK)
    # Never held: with nobody to ask, the local verdict stands at once.
    assert all(s.summary["checks"]["db"]["verdict"] != "holding" for s in watch.samples(0))
    assert not lonely.log_events("shared outage declared")


# ---------------------------------------------------------------------------------------------
# 5. Slow, garbage and huge peers


def report(fp: str, version: int = 1, pad: int = 0) -> bytes:
    """A report that claims the dependency fingerprint fp is failing."""
    body = (f'{{"version":{version},"instance":"{secrets.token_hex(8)}","service":"api",'
            f'"checks":[{{"name":"dep","fingerprint":"{fp}","status":"fail","failing":true,'
            f'"age_ms":5}}]}}').encode()
    return body + b" " * pad


def http_answer(body: bytes, length: Optional[int] = None) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % (len(body) if length is None else length)) + body


def latencies(d, n: int = 2000, at_least: float = 4 * P) -> List[float]:
    """n GET /ready over one keep-alive connection, each timed, and more until at_least seconds
    went by, so that peer rounds run meanwhile."""
    conn = http.client.HTTPConnection(d.host, d.port, timeout=5)
    took = []
    until = time.monotonic() + at_least
    try:
        while len(took) < n or time.monotonic() < until:
            start = time.perf_counter()
            resp = harness.http_request(d.port, "/ready", host=d.host, conn=conn)
            took.append(time.perf_counter() - start)
            assert resp.status == 200
    finally:
        conn.close()
    return sorted(took)


def pct(sorted_values: List[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def test_slow_garbage_and_huge_peers_are_ignored_at_no_latency_cost(fleet, pg, dns):
    closed = harness.free_port()  # nothing listens there: a check that fails here alone
    dep = {"name": "dep", "type": "tcp", "scope": "shared", "groups": [],
           "interval": f"{int(I * 1000)}ms", "timeout": f"{int(T * 1000)}ms",
           "tcp": {"host": "127.0.0.1", "port": closed}}
    good = fleet.start(FLEET[1], fleet_config("addresses", fleet.port, dns.address,
                                              [db_check(pg)], addresses=[FLEET[0]]))
    x = fleet.start(FLEET[0], fleet_config("addresses", fleet.port, dns.address,
                                           [db_check(pg), dep], addresses=[FLEET[1]]))
    wait_settled([x, good], ["db"], reachable=1, known=1)
    dep_fp = next(c["fingerprint"] for c in x.request("/peers/state").json()["checks"]
                  if c["name"] == "dep")
    assert dep_fp == fingerprint("tcp", "127.0.0.1", closed)
    base = latencies(x)
    base_rss = harness.rss_kib(x.proc.pid)
    fleet.stop(x)

    # Each bad peer claims dep is failing: if any of them were counted, dep would be declared a
    # shared outage; ignored, dep stays this replica's local fault (no other replica checks it).
    slow = http_answer(report(dep_fp)[:20], length=len(report(dep_fp)))  # never completes
    garbage = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(500)
    huge = http_answer(report(dep_fp, pad=10 * 1024 * 1024))
    wrong = http_answer(report(dep_fp, version=2))
    bad_addresses = [FLEET[2], FLEET[3], FLEET[4], SPARE]
    with FakeServer("stall", slow, host=FLEET[2], port=fleet.port) as s_slow, \
            FakeServer("reply", garbage, host=FLEET[3], port=fleet.port) as s_garbage, \
            FakeServer("reply", huge, host=FLEET[4], port=fleet.port) as s_huge, \
            FakeServer("reply", wrong, host=SPARE, port=fleet.port) as s_wrong:
        bad = [s_slow, s_garbage, s_huge, s_wrong]
        x = fleet.start(FLEET[0], fleet_config("addresses", fleet.port, dns.address,
                                               [db_check(pg), dep],
                                               addresses=[FLEET[1]] + bad_addresses),
                        args=["--log-level", "debug"])
        poll(lambda: all(len(s.requests) >= 3 for s in bad), bound(5.0),
             what="every bad peer asked three times")
        for s in bad:
            assert s.requests[0].startswith(b"GET /peers/state HTTP/1.1\r\n"), s.requests[0]
        status, doc = ready_doc(x)
        assert status == 200
        assert (doc["fleet"]["peers_known"], doc["fleet"]["peers_reachable"]) == (5, 1)
        dep_doc = x.request("/health/dep").json()
        assert dep_doc["fleet"]["verdict"] == "local", dep_doc
        assert dep_doc["fleet"]["replicas_answered"] == 1, dep_doc
        before = [len(s.requests) for s in bad]
        with_bad = latencies(x)
        doc = ready_doc(x)[1]
        assert (doc["fleet"]["peers_known"], doc["fleet"]["peers_reachable"]) == (5, 1)
        asked = [len(s.requests) - b for s, b in zip(bad, before)]
        assert min(asked) >= 2, f"bad peers asked {asked} times while /ready was measured"
        # The 10 MiB answer was never buffered: at most 64 KiB of it is read.
        rss = harness.rss_kib(x.proc.pid)
        # Reading a 10 MiB answer would show as growth; ASan's quarantine makes RSS say
        # nothing there (harness.SANITIZED), and LeakSanitizer checks at exit instead.
        assert harness.SANITIZED or rss < base_rss + 4 * 1024, (
            f"VmRSS {rss} KiB after a 10 MiB peer, {base_rss} KiB before")
        # Read while the bad peers still listen (once they are gone, connects are refused).
        reasons = {}
        for e in x.log_events("peer did not report"):
            host, port = e["peer"].rsplit(":", 1)
            assert int(port) == fleet.port, e
            reasons.setdefault(host, set()).add(e["reason"])
    assert not x.log_events("shared outage declared")
    print(f"\nwhy each bad peer was not counted: {reasons}; VmRSS {rss} KiB (without "
          f"them {base_rss} KiB)")
    assert reasons[FLEET[2]] == {f"no report within {int(Q * 1000)} ms"}, reasons
    assert reasons[SPARE] == {"unsupported report version 2 (this daemon reads 1)"}, reasons
    assert reasons[FLEET[3]] <= {"not an HTTP answer", "closed before answering"}, reasons
    assert reasons[FLEET[4]] == {"answer larger than 64 KiB"}, reasons
    assert FLEET[1] not in reasons, reasons
    print(f"/ready over keep-alive, {len(base)}/{len(with_bad)} requests: without bad peers p50 "
          f"{base[len(base) // 2] * 1000:.2f} ms, p99 {pct(base, 0.99) * 1000:.2f} ms; with a "
          f"slow, a garbage, a 10 MiB and a version-2 peer p50 "
          f"{with_bad[len(with_bad) // 2] * 1000:.2f} ms, p99 {pct(with_bad, 0.99) * 1000:.2f} "
          f"ms; bad peers asked {asked} times meanwhile")
    assert pct(base, 0.99) < 0.05
    assert pct(with_bad, 0.99) < 0.05


# ---------------------------------------------------------------------------------------------
# 6. A 60 s outage with checks every 100 ms: no oscillation

# The issue asks for 60 s; the sanitizer pass of CI, which repeats the whole suite, shortens it
# with VH_PEERS_OUTAGE_SECONDS to keep CI inside its budget.
OUTAGE_SECONDS = float(os.environ.get("VH_PEERS_OUTAGE_SECONDS", "60"))


def history_outages(d) -> Counter:
    doc = d.request("/debug/history/db").json()
    return Counter(t["reason"].split(" ")[0] for t in doc["transitions"]
                   if re.match(r"(declared|cleared) shared outage: ", t["reason"]))


def flips(samples, name: str) -> int:
    seen = [name in s.summary["fleet"]["shared_outages"] for s in samples]
    return sum(1 for a, b in zip(seen, seen[1:]) if a != b)


def test_sixty_second_outage_never_oscillates(fleet, pg, dns):
    daemons = fleet.start_five("dns", [db_check(pg, interval=0.1)], dns.address)
    wait_settled(daemons, ["db"])
    with ReadyWatcher(daemons, every=0.05) as watch:
        stopped = time.monotonic()
        pg.stop_mode("fast")
        declared = wait_all(watch, range(5), in_outage("db"), stopped, bound(DECLARE + SLACK),
                            "shared outage on all five")
        # The outage itself; fail at the first 503 instead of waiting it out.
        while time.monotonic() < stopped + OUTAGE_SECONDS:
            assert statuses(watch).keys() <= {200}, statuses(watch)
            time.sleep(0.5)
        down_samples = watch.samples(since=max(declared.values()))
        restarted = time.monotonic()
        pg.restart()
        cleared = wait_all(watch, range(5), passing("db"), restarted, bound(RECOVER),
                           "db passing on all five")
    counts = assert_never_unready(watch)
    rows = []
    for i, d in enumerate(daemons):
        mine = [s for s in down_samples if s.index == i]
        assert mine and all(in_outage("db")(s) for s in mine), \
            f"{d.name} left the shared outage while PostgreSQL was down"
        logged = (transitions(d, "db", "shared outage declared"),
                  transitions(d, "db", "shared outage cleared"),
                  transitions(d, "db", "local fault: the other replicas do not see this failure"))
        history = history_outages(d)
        whole = flips(watch.samples(i), "db")
        rows.append((d.host, logged, dict(history), whole, len(mine)))
        assert logged == (1, 1, 0), d.log_text()
        assert (history["declared"], history["cleared"]) == (1, 1), history
        assert whole == 2, f"{d.name}: in and out of the outage {whole} times"
    print(f"\n{OUTAGE_SECONDS:.0f} s outage, checks every 100 ms, peers every {ms(P)}: "
          f"declared on all five {ms(max(declared.values()) - stopped)} after the stop, cleared on all "
          f"{ms(max(cleared.values()) - restarted)} after the restart; /ready answers "
          f"{dict(counts)}")
    for host, logged, history, whole, n in rows:
        print(f"  {host}: log declared/cleared/local {logged}, history {history}, "
              f"/ready outage flips {whole}, {n} polls during the outage, all in it")
