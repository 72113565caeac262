"""test_recovery.py - a failing PostgreSQL or Redis check is back as soon as its server accepts
connections again, not at its next run: with checks every 5 s, /ready is 200 again well within a
second of the port accepting (docs/configuration.md#recovery; bench/recovery.sh measures the
distribution, 63-93 ms). A healthy check's server sees only the schedule's traffic."""

import signal
import time

import pytest

import harness
import pg_server
import redis_server
from harness import bound, poll

INTERVAL = "5s"
# Far below the 5 s interval that the check would otherwise wait; a loaded machine still fits.
BACK_WITHIN_S = 1.5


def result(d, name: str) -> str:
    return d.request(f"/health/{name}").json()["result"]


def wait_port(port: int) -> float:
    deadline = time.monotonic() + 30
    while not harness.can_connect("127.0.0.1", port, 0.05):
        assert time.monotonic() < deadline, "the server did not come back"
        time.sleep(0.002)
    return time.monotonic()


def back_after(d, name: str, up: float) -> float:
    poll(lambda: result(d, name) == "pass", bound(10.0), interval=0.005, what=f"{name} passing")
    return time.monotonic() - up


@pytest.fixture
def pg():
    server = pg_server.PgServer("pg-recovery")
    try:
        yield server.initdb().start()
    finally:
        server.cleanup()


@pytest.mark.parametrize("connection", ["persistent", "per_check"])
def test_postgres_is_back_as_soon_as_it_accepts(daemon, pg, connection):
    d = daemon({"service": "itest", "checks": [
        {"name": "db", "type": "postgres", "interval": INTERVAL, "timeout": "1s",
         "postgres": {"params": pg.dsn_params(), "connection": connection}}]})
    poll(lambda: result(d, "db") == "pass", bound(5.0), what="db passing")
    pg.stop_mode("fast")
    # The first run after the stop notices it; with a 5 s interval that may take a while.
    poll(lambda: result(d, "db") == "fail", bound(7.0), what="db failing")
    time.sleep(0.5)
    pg._spawn(pg.port)
    took = back_after(d, "db", wait_port(pg.port))
    print(f"\n[measure] PostgreSQL ({connection}) back {took * 1000:.0f} ms after the port "
          f"accepted, interval {INTERVAL}")
    assert took < bound(BACK_WITHIN_S)
    assert d.request("/ready").status == 200


def test_redis_is_back_as_soon_as_it_accepts_and_idle_traffic_is_the_schedule(daemon):
    server = redis_server.RedisServer("r-recovery")
    try:
        server.start()
        d = daemon({"service": "itest", "checks": [
            {"name": "cache", "type": "redis", "interval": INTERVAL, "timeout": "500ms",
             "redis": {"host": "127.0.0.1", "port": server.port}}]})
        poll(lambda: result(d, "cache") == "pass", bound(5.0), what="cache passing")
        # Healthy: no connection and no command between two runs 5 s apart, whatever the
        # recovery watch does while failing (the INFO asked here is counted, so subtract it).
        stats = server.info("stats")
        time.sleep(2.0)
        after = server.info("stats")
        assert int(after["total_connections_received"]) == int(
            stats["total_connections_received"]) + 1, (stats, after)
        assert int(after["total_commands_processed"]) - int(
            stats["total_commands_processed"]) == 1, (stats, after)
        server.stop(signal.SIGKILL, 5)
        # A held connection that the server drops between runs is not a failure by itself:
        # the next run (up to 5 s away) finds the server gone.
        poll(lambda: result(d, "cache") == "fail", bound(7.0), what="cache failing")
        time.sleep(0.5)
        server._spawn(server.port)
        took = back_after(d, "cache", wait_port(server.port))
        print(f"\n[measure] Redis back {took * 1000:.0f} ms after the port accepted")
        assert took < bound(BACK_WITHIN_S)
    finally:
        server.cleanup()
