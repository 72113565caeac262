"""test_metrics.py - /metrics against real PostgreSQL and Redis, checked by promtool and by
docs/metrics.md; /debug/history and Server-Timing through a real outage."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import pg_server
import redis_server
from harness import bound, poll
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


def test_a_live_scrape_passes_promtool(daemon, pg, redis):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/install-deps.sh installs Debian's prometheus"
    d = daemon(every_kind_of_check(pg, redis))
    poll(lambda: all_checks_ran(d), REACT, what="every check has run twice")
    resp = d.request("/metrics")
    assert resp.status == 200
    assert resp.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    lint = subprocess.run([promtool, "check", "metrics"], input=resp.body,
                          capture_output=True, timeout=30)
    assert lint.returncode == 0 and not lint.stdout and not lint.stderr, (
        f"promtool check metrics complained:\n{lint.stdout.decode()}{lint.stderr.decode()}")


def test_the_scrape_and_docs_metrics_md_name_the_same_metrics(daemon, pg, redis):
    d = daemon(every_kind_of_check(pg, redis))
    poll(lambda: all_checks_ran(d), REACT, what="every check has run twice")
    scraped = family_names(d.request("/metrics").text)
    documented = documented_names()
    assert scraped - documented == set(), "exported but not documented in docs/metrics.md"
    assert documented - scraped == set(), "documented but not exported by this config"


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
