"""test_metrics.py - /metrics against real PostgreSQL and Redis, checked by promtool and by
docs/metrics.md, alone and in a fleet of three peered daemons; /debug/history and Server-Timing
through a real outage, and the fleet's metrics through a real shared outage."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import pg_server
import redis_server
from harness import bound, free_port, poll
from redis_server import RedisServer

pytestmark = [
    pytest.mark.skipif(pg_server.available() is not None, reason=str(pg_server.available())),
    pytest.mark.skipif(redis_server.available() is not None,
                       reason=str(redis_server.available())),
]

SOURCE_ROOT = Path(os.environ.get("VH_SOURCE_ROOT", Path(__file__).resolve().parents[2]))
CGROUP_FIXTURE = SOURCE_ROOT / "tests" / "fixtures" / "cgroup" / "limited"
REACT = bound(3.0)
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")
# A fleet: one port, one loopback address per daemon, each listing all three (itself included:
# a daemon skips its own listen address).
FLEET_HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
# What a daemon exports only when `peers` is configured (docs/metrics.md, "The fleet").
FLEET_FAMILIES = {
    "veza_health_peers_known", "veza_health_peers_reachable", "veza_health_peer_rounds_total",
    "veza_health_peer_requests_total", "veza_health_peer_request_failures_total",
    "veza_health_check_shared_outage", "veza_health_check_fleet_verdict",
    "veza_health_check_shared_outages_total", "veza_health_check_replicas_answered",
    "veza_health_check_replicas_failing",
}


@pytest.fixture(scope="module")
def pg():
    server = pg_server.PgServer("pg-metrics")
    try:
        server.initdb().start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def redis():
    server = RedisServer("redis-metrics", settings={"maxmemory": "64mb"})
    try:
        yield server.start()
    finally:
        server.cleanup()


def every_kind_of_check(pg, redis, interval="100ms") -> dict:
    """One check of each type whose statistics /metrics exports, plus a failing tcp check."""
    return {
        "service": "metrics-test",
        "history": {"results": 5, "transitions": 4},
        "checks": [
            {"name": "db", "type": "postgres", "groups": ["readiness"], "interval": interval,
             "postgres": {"params": pg.dsn_params(), "stats": True}},
            {"name": "cache", "type": "redis", "groups": ["readiness"], "interval": interval,
             "timeout": "500ms",
             "redis": {"host": "127.0.0.1", "port": redis.port, "stats": True,
                       "backoff": {"initial": "50ms", "max": "100ms"}}},
            {"name": "me", "type": "process", "groups": ["liveness"], "interval": interval,
             "process": {"self": True}},
            {"name": "mem", "type": "cgroup", "groups": [], "interval": interval,
             "cgroup": {"path": str(CGROUP_FIXTURE)}},
            {"name": "closed", "type": "tcp", "groups": [], "critical": False,
             "interval": interval,
             "tcp": {"host": "127.0.0.1", "port": 1}},
        ],
    }


def with_peers(config: dict, port: int) -> dict:
    """config plus a `peers` section listing the whole fleet, asked every 100 ms. Its
    dependency checks are made shared by hand: a loopback target defaults to local (the pod's
    own port), but here the loopback servers stand for dependencies every replica shares."""
    config["peers"] = {"addresses": [f"{host}:{port}" for host in FLEET_HOSTS],
                       "interval": "100ms", "timeout": "50ms"}
    for check in config["checks"]:
        if check["type"] in ("postgres", "redis", "tcp", "http"):
            check["scope"] = "shared"
    return config


def start_fleet(start, make_config) -> list:
    """Starts one daemon per FLEET_HOSTS address on one port, each with make_config() and the
    fleet as its peers; returns them once each has every other one in a fresh view."""
    port = free_port(FLEET_HOSTS[0])
    fleet = [start(with_peers(make_config(), port), port=port, host=host, name=f"peer-{host}")
             for host in FLEET_HOSTS]
    for d in fleet:
        poll(lambda: parse_metrics(d.request("/metrics").text).get(
            ("veza_health_peers_reachable", "")) == len(FLEET_HOSTS) - 1, REACT,
            what=f"{d.host} reaches its two peers")
    return fleet


def parse_metrics(text: str) -> dict:
    """{(name, labels text): value} of every sample; fails on a line that is not a sample, a
    comment or HELP/TYPE."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$", line), line
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return samples


def family_names(text: str) -> set:
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def documented_names() -> set:
    doc = (SOURCE_ROOT / "docs" / "metrics.md").read_text()
    return set(re.findall(r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \|", doc, re.M))


def value(samples: dict, name: str, labels: str = "") -> float:
    assert (name, labels) in samples, f"no {name}{labels} in {sorted(samples)}"
    return samples[(name, labels)]


def all_checks_ran(d) -> bool:
    samples = parse_metrics(d.request("/metrics").text)
    return all(samples.get(("veza_health_check_runs_total", f'{{check="{c}"}}'), 0) >= 2
               for c in ("db", "cache", "me", "mem", "closed"))


def promtool_complaints(body: bytes) -> str:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/install-deps.sh installs Debian's prometheus"
    lint = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                          timeout=30)
    if lint.returncode == 0 and not lint.stdout and not lint.stderr:
        return ""
    return f"promtool check metrics complained:\n{lint.stdout.decode()}{lint.stderr.decode()}"


def test_a_live_scrape_passes_promtool(daemon, pg, redis):
    d = daemon(every_kind_of_check(pg, redis))
    poll(lambda: all_checks_ran(d), REACT, what="every check has run twice")
    resp = d.request("/metrics")
    assert resp.status == 200
    assert resp.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    complaints = promtool_complaints(resp.body)
    assert not complaints, complaints


def test_values_match_the_real_servers(daemon, pg, redis):
    d = daemon(every_kind_of_check(pg, redis))
    poll(lambda: all_checks_ran(d), REACT, what="every check has run twice")
    samples = parse_metrics(d.request("/metrics").text)
    db, cache = '{check="db"}', '{check="cache"}'
    assert value(samples, "veza_health_check_up", db) == 1
    assert value(samples, "veza_health_check_up", cache) == 1
    assert value(samples, "veza_health_check_up", '{check="closed"}') == 0
    assert value(samples, "veza_health_check_status",
                 '{check="closed",status="warn"}') == 1, "non-critical failure shows as warn"
    assert value(samples, "veza_health_ready") == 1
    # At least the sidecar's own backend and client; the servers are private to this module.
    active = value(samples, "database_connections_active", db)
    assert 1 <= active <= 10, active
    ratio = value(samples, "veza_health_postgres_connections_usage_ratio", db)
    max_connections = int(pg.psql("SHOW max_connections"))
    assert ratio == pytest.approx(active / max_connections, rel=0.01)
    clients = value(samples, "redis_connections_active", cache)
    assert 1 <= clients <= 5, clients
    used = value(samples, "redis_memory_usage_bytes", cache)
    assert 0.5 < used / int(redis.info("memory")["used_memory"]) < 2
    assert value(samples, "veza_health_redis_memory_usage_ratio", cache) == pytest.approx(
        used / (64 * 1024 * 1024), rel=0.01)
    assert value(samples, "veza_health_cgroup_memory_bytes", '{check="mem"}') == 134217728
    assert value(samples, "veza_health_cgroup_memory_usage_ratio", '{check="mem"}') == 0.25
    assert value(samples, "veza_health_cgroup_memory_pressure_ratio",
                 '{check="mem"}') == pytest.approx(0.015)
    assert value(samples, "veza_health_process_threads", '{check="me"}') == 1
    # The daemon's own descriptors, counted from outside.
    fds = len(os.listdir(f"/proc/{d.proc.pid}/fd"))
    assert abs(value(samples, "process_open_fds") - fds) <= 2
    assert value(samples, "process_threads") == 1


def test_scraping_never_runs_a_check(daemon, pg, redis):
    config = every_kind_of_check(pg, redis, interval="1h")
    config["defaults"] = {"jitter": "0ms"}  # the default jitter grows with the interval
    d = daemon(config)
    poll(lambda: parse_metrics(d.request("/metrics").text).get(
        ("veza_health_check_runs_total", '{check="cache"}')) == 1, REACT, what="first run")
    pings_before = int(redis.info("commandstats").get("cmdstat_ping", "calls=0,").split(
        ",")[0].split("=")[1])
    for _ in range(200):
        assert d.request("/metrics").status == 200
    samples = parse_metrics(d.request("/metrics").text)
    for check in ("db", "cache", "me", "mem", "closed"):
        assert value(samples, "veza_health_check_runs_total", f'{{check="{check}"}}') == 1
    pings_after = int(redis.info("commandstats").get("cmdstat_ping", "calls=0,").split(
        ",")[0].split("=")[1])
    assert pings_after == pings_before, "201 scrapes sent PINGs to Redis"


def test_history_and_metrics_tell_an_outage(daemon, pg):
    redis = RedisServer("redis-outage")
    try:
        redis.start()
        d = daemon(every_kind_of_check(pg, redis))
        poll(lambda: d.request("/ready").status == 200, REACT, what="ready")
        redis.stop()
        poll(lambda: d.request("/ready").status == 503, REACT, what="unready")
        redis.restart()
        poll(lambda: d.request("/ready").status == 200, REACT, what="ready again")
        poll(lambda: d.get_json("/debug/history/cache")[1]["runs"] >= 7, REACT,
             what="more runs than the ring keeps")
    finally:
        redis.cleanup()

    status, doc = d.get_json("/debug/history/cache")
    assert status == 200
    assert doc["name"] == "cache" and doc["type"] == "redis"
    assert doc["results_max"] == 5 and doc["results_kept"] == 5, doc
    assert doc["runs"] > 5
    assert doc["transitions_max"] == 4
    moves = [(t["from"], t["to"]) for t in doc["transitions"]]
    assert moves[:3] == [("fail", "pass"), ("pass", "fail"), ("unknown", "pass")], moves
    went_down = doc["transitions"][1]
    assert "refused" in went_down["reason"] or "closed" in went_down["reason"], went_down
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", went_down["time"])
    assert doc["transitions"][0]["time"] > went_down["time"]
    newest = doc["results"][0]
    assert newest["status"] == "pass" and newest["duration_ms"] >= 0

    text = d.request("/debug/history/cache?verbose").text
    assert text.startswith("cache (redis) is pass: ")
    assert " pass -> fail: " in text and " fail -> pass: " in text

    whole = d.get_json("/debug/history")[1]
    assert [c["name"] for c in whole["checks"]] == ["db", "cache", "me", "mem", "closed",
                                                    "sidecar"]
    assert d.request("/debug/history/nope").status == 404

    samples = parse_metrics(d.request("/metrics").text)
    assert value(samples, "veza_health_check_transitions_total", '{check="cache"}') == 3
    assert value(samples, "veza_health_check_failures_total", '{check="cache"}') >= 1
    assert value(samples, "veza_health_check_consecutive_failures", '{check="cache"}') == 0


def test_probe_answers_carry_server_timing(daemon, pg, redis):
    d = daemon(every_kind_of_check(pg, redis))
    poll(lambda: all_checks_ran(d), REACT, what="every check has run twice")
    timing = d.request("/ready").headers["server-timing"]
    names = re.findall(r'(?:^|, )([a-z0-9_-]+);desc="(?:pass|warn|fail)";dur=\d+\.\d{3}',
                       timing)
    assert names == ["db", "cache"], f"/ready shows its readiness checks only: {timing}"
    assert d.request("/health/me").headers["server-timing"].startswith('me;desc="pass";dur=')
    assert "server-timing" not in d.request("/metrics").headers


# The fleet's tests come last: the module's fleet lives until the module ends, and its
# PostgreSQL connections must not count in the tests above.
@pytest.fixture(scope="module")
def fleet(module_daemon, pg):
    """Three peered daemons with every kind of check, on a Redis of their own (the module's
    counts its PINGs); only read from."""
    redis = RedisServer("redis-fleet-metrics", settings={"maxmemory": "64mb"})
    try:
        redis.start()
        fleet = start_fleet(module_daemon, lambda: every_kind_of_check(pg, redis))
        for d in fleet:
            poll(lambda: all_checks_ran(d), REACT, what="every check has run twice")
        yield fleet
    finally:
        redis.cleanup()


def test_a_scrape_with_peers_passes_promtool(fleet):
    resp = fleet[0].request("/metrics")
    assert resp.status == 200
    assert FLEET_FAMILIES <= family_names(resp.text)
    complaints = promtool_complaints(resp.body)
    assert not complaints, complaints


def test_the_scrapes_and_docs_metrics_md_name_the_same_metrics(daemon, fleet, pg, redis):
    """Without peers a daemon exports everything but the fleet's families; with peers, every
    documented family. Both ways: nothing undocumented, nothing documented that is not seen."""
    d = daemon(every_kind_of_check(pg, redis))
    poll(lambda: all_checks_ran(d), REACT, what="every check has run twice")
    alone = family_names(d.request("/metrics").text)
    peered = family_names(fleet[0].request("/metrics").text)
    documented = documented_names()
    assert alone & FLEET_FAMILIES == set(), "fleet metrics exported without peers"
    assert FLEET_FAMILIES <= documented, "fleet metrics missing from docs/metrics.md"
    assert peered - documented == set(), "exported but not documented in docs/metrics.md"
    assert documented - peered == set(), "documented but not exported with peers"
    assert documented - alone == FLEET_FAMILIES, "documented but not exported without peers"


def test_a_fleet_counts_its_replicas_and_sees_a_shared_failure(fleet):
    """closed (tcp to port 1) fails on all three daemons: a shared outage, 3 of 3. db and cache
    pass everywhere; me, mem and sidecar are local checks and have no fleet series."""
    for d in fleet:
        poll(lambda: parse_metrics(d.request("/metrics").text).get(
            ("veza_health_check_shared_outage", '{check="closed"}')) == 1, REACT,
            what=f"{d.host} declares closed a shared outage")
    for d in fleet:
        samples = parse_metrics(d.request("/metrics").text)
        assert value(samples, "veza_health_peers_known") == 2, d.host
        assert value(samples, "veza_health_peers_reachable") == 2, d.host
        rounds = value(samples, "veza_health_peer_rounds_total")
        requests = value(samples, "veza_health_peer_requests_total")
        assert rounds >= 1 and requests >= rounds, (rounds, requests)
        assert requests <= 2 * (rounds + 1), "at most one request per peer and round"
        assert value(samples, "veza_health_peer_request_failures_total") <= requests
        closed = '{check="closed"}'
        assert value(samples, "veza_health_check_replicas_answered", closed) == 3
        assert value(samples, "veza_health_check_replicas_failing", closed) == 3
        assert value(samples, "veza_health_check_shared_outages_total", closed) == 1
        for verdict in ("none", "holding", "local", "shared"):
            assert value(samples, "veza_health_check_fleet_verdict",
                         f'{{check="closed",verdict="{verdict}"}}') == (verdict == "shared")
        for check in ("db", "cache"):
            labels = f'{{check="{check}"}}'
            assert value(samples, "veza_health_check_shared_outage", labels) == 0
            assert value(samples, "veza_health_check_replicas_answered", labels) == 3
            assert value(samples, "veza_health_check_replicas_failing", labels) == 0
            assert value(samples, "veza_health_check_shared_outages_total", labels) == 0
            assert value(samples, "veza_health_check_fleet_verdict",
                         f'{{check="{check}",verdict="none"}}') == 1
        for check in ("me", "mem", "sidecar"):
            assert not [k for k in samples if k[1].startswith(f'{{check="{check}"')
                        and k[0] in FLEET_FAMILIES], f"local check {check} has fleet series"
        assert value(samples, "veza_health_ready") == 1


def test_the_shared_outage_metrics_follow_a_real_outage(daemon, pg):
    """Redis stops under three peered daemons: each counts 3 of 3 failing, declares a shared
    outage and stays ready; one daemon leaves and the two others count each other only; Redis
    comes back and the outage clears, counted once."""
    redis = RedisServer("redis-fleet")

    def config():
        return {
            "service": "metrics-fleet",
            "checks": [
                {"name": "db", "type": "postgres", "groups": ["readiness"],
                 "interval": "100ms", "postgres": {"params": pg.dsn_params()}},
                {"name": "cache", "type": "redis", "groups": ["readiness"],
                 "interval": "100ms", "timeout": "500ms",
                 "redis": {"host": "127.0.0.1", "port": redis.port,
                           "backoff": {"initial": "50ms", "max": "100ms"}}},
            ],
        }

    cache = '{check="cache"}'
    try:
        redis.start()
        fleet = start_fleet(daemon, config)
        for d in fleet:
            poll(lambda: d.request("/ready").status == 200, REACT, what=f"{d.host} ready")
        redis.stop()

        def declared(d) -> bool:
            samples = parse_metrics(d.request("/metrics").text)
            assert value(samples, "veza_health_ready") == 1, f"{d.host} turned unready"
            return samples.get(("veza_health_check_shared_outage", cache)) == 1

        for d in fleet:
            poll(lambda: declared(d), REACT, what=f"{d.host} declares a shared outage")
        for d in fleet:
            samples = parse_metrics(d.request("/metrics").text)
            assert value(samples, "veza_health_check_replicas_answered", cache) == 3
            assert value(samples, "veza_health_check_replicas_failing", cache) == 3
            assert value(samples, "veza_health_check_fleet_verdict",
                         '{check="cache",verdict="shared"}') == 1
            assert value(samples, "veza_health_check_up", cache) == 0
            assert value(samples, "veza_health_check_shared_outage", '{check="db"}') == 0

        gone, survivors = fleet[2], fleet[:2]
        failures_before = [value(parse_metrics(d.request("/metrics").text),
                                 "veza_health_peer_request_failures_total") for d in survivors]
        gone.stop_ok()
        for d in survivors:
            poll(lambda: parse_metrics(d.request("/metrics").text).get(
                ("veza_health_check_replicas_answered", cache)) == 2, REACT,
                what=f"{d.host} counts two replicas")
        for d, before in zip(survivors, failures_before):
            samples = parse_metrics(d.request("/metrics").text)
            assert value(samples, "veza_health_peers_known") == 2, "still listed"
            assert value(samples, "veza_health_peers_reachable") == 1
            assert value(samples, "veza_health_peer_request_failures_total") > before
            assert value(samples, "veza_health_check_replicas_failing", cache) == 2
            assert value(samples, "veza_health_check_shared_outage", cache) == 1, "2 of 2"
            assert value(samples, "veza_health_ready") == 1

        redis.restart()

        def cleared(d) -> bool:
            samples = parse_metrics(d.request("/metrics").text)
            # Each replica counts the other's latest run: 0 failing once both have recovered.
            return (samples.get(("veza_health_check_fleet_verdict",
                                 '{check="cache",verdict="none"}')) == 1
                    and samples.get(("veza_health_check_replicas_failing", cache)) == 0)

        for d in survivors:
            poll(lambda: cleared(d), REACT, what=f"{d.host} clears the outage")
        for d in survivors:
            samples = parse_metrics(d.request("/metrics").text)
            assert value(samples, "veza_health_check_shared_outage", cache) == 0
            assert value(samples, "veza_health_check_replicas_answered", cache) == 2
            assert value(samples, "veza_health_check_shared_outages_total", cache) == 1
            assert value(samples, "veza_health_check_up", cache) == 1
    finally:
        redis.cleanup()
