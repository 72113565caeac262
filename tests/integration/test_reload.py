"""test_reload.py - SIGHUP re-reads the config: unchanged checks keep their state and connection,
changed ones restart, an invalid file is refused with check-config's message, connections stay."""

import re
import signal
import socket

import pytest

import harness
import redis_server
from harness import bound, poll
from redis_server import RedisServer

pytestmark = pytest.mark.skipif(redis_server.available() is not None,
                                reason=str(redis_server.available()))

CLIENT_NAME = "veza-health"
REACT = bound(3.0)


@pytest.fixture(scope="module")
def redis():
    server = RedisServer("reload")
    try:
        yield server.start()
    finally:
        server.cleanup()


def cache_check(redis, interval: str = "100ms") -> dict:
    return {"name": "cache", "type": "redis", "groups": ["readiness"], "interval": interval,
            "timeout": "500ms", "redis": {"host": "127.0.0.1", "port": redis.port}}


def self_check(name: str) -> dict:
    return {"name": name, "type": "process", "groups": ["liveness"], "interval": "100ms",
            "process": {"self": True}}


def config(*checks, service: str = "reload-test", **top) -> dict:
    doc = {"service": service, "checks": list(checks)}
    doc.update(top)
    return doc


def runs(d, check: str) -> int:
    """veza_health_check_runs_total of check, or -1 when /metrics has no such check."""
    text = d.request("/metrics").text
    found = re.search(rf'^veza_health_check_runs_total\{{check="{check}"\}} (\d+)$', text, re.M)
    return int(found.group(1)) if found else -1


def client_ids(redis) -> list:
    """The ids of the sidecar's connections to redis (CLIENT SETNAME names them)."""
    return [c["id"] for c in redis.clients(CLIENT_NAME)]


def reload(d, new_config, message: str = "config reloaded") -> dict:
    """Writes new_config over the daemon's file, sends SIGHUP and returns the log line that
    answers it."""
    before = len(d.log_events(message))
    harness.write_config(d.config_path, new_config)
    d.send_signal(signal.SIGHUP)
    poll(lambda: len(d.log_events(message)) > before, REACT, what=message)
    return d.log_events(message)[-1]


def generation(d) -> int:
    return d.request("/health").json()["config"]["generation"]


def test_reload_keeps_adds_removes_and_restarts(daemon, redis):
    d = daemon(config(cache_check(redis), self_check("gone")))
    poll(lambda: runs(d, "cache") >= 3 and len(client_ids(redis)) == 1, REACT,
         what="the redis check running")
    (client_id,) = client_ids(redis)
    old_runs = runs(d, "cache")

    event = reload(d, config(cache_check(redis), self_check("added"), service="renamed"))
    assert event["level"] == "info"
    assert (event["generation"], event["kept"], event["restarted"], event["added"],
            event["removed"]) == ("2", "2", "0", "1", "1"), event  # kept: cache and sidecar

    assert runs(d, "cache") >= old_runs, "the kept check's counter did not reset"
    assert runs(d, "gone") == -1, "the removed check is gone from /metrics"
    poll(lambda: runs(d, "added") >= 1, REACT, what="the added check running")
    poll(lambda: runs(d, "cache") >= old_runs + 3, REACT, what="the kept check running on")
    assert client_ids(redis) == [client_id], "the kept check kept its redis connection"
    status, doc = d.get_json("/health")
    assert set(doc["checks"]) == {"cache", "added", "sidecar"}
    assert doc["service"] == "renamed"
    assert doc["config"]["generation"] == 2

    # A changed setting restarts the check: a fresh counter and a new connection.
    reload(d, config(cache_check(redis, interval="150ms"), self_check("added"),
                     service="renamed"))
    assert runs(d, "cache") < 3, "the changed check starts from zero"
    poll(lambda: len(client_ids(redis)) == 1 and client_ids(redis) != [client_id], REACT,
         what="the restarted check's new connection, and the old one closed")
    assert generation(d) == 3


def test_an_invalid_config_is_refused_and_the_old_one_stays(daemon, redis, vh_bin):
    d = daemon(config(cache_check(redis)))
    poll(lambda: runs(d, "cache") >= 2, REACT, what="the redis check running")
    bad = config(cache_check(redis), {"name": "x", "type": "tcp", "tcp": {"host": "h"}})
    event = reload(d, bad, message="config reload rejected; the old config stays in force")
    assert event["level"] == "error"
    cli = harness.run_cli(["check-config", str(d.config_path)])
    assert cli.returncode == 2
    assert cli.stderr == f"veza-health: {event['error']}\n", "the same message as at start"
    assert "x" not in d.request("/health").json()["checks"]
    assert generation(d) == 1
    before = runs(d, "cache")
    poll(lambda: runs(d, "cache") > before + 2, REACT, what="the old checks running on")
    assert d.log_events("config reloaded") == []


def read_response(sock: socket.socket) -> bytes:
    """One HTTP/1.1 response with a Content-Length body, read from a kept-alive socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed mid-body"
        body += chunk
    return head


def test_a_kept_alive_connection_survives_a_reload(daemon, redis):
    d = daemon(config(self_check("self")))
    request = b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", d.port), timeout=bound(5)) as sock:
        sock.sendall(request)
        head = read_response(sock)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"connection: close" not in head.lower(), "the server must keep it open"
        reload(d, config(self_check("self"), self_check("other")))
        sock.sendall(request)
        head = read_response(sock)
        assert head.startswith(b"HTTP/1.1 200"), head


def test_health_shows_the_generation_in_every_format(daemon, redis):
    d = daemon(config(self_check("self")))
    doc = d.request("/health").json()
    assert doc["config"]["generation"] == 1
    first_loaded = doc["config"]["loaded"]
    # dns cannot change under running probes: kept, with a warning; the rest applies.
    warning = reload(d, config(self_check("self"), self_check("two"), dns={"attempts": 3}),
                     message="config change needs a restart; kept as it was")
    assert warning["level"] == "warn" and warning["settings"] == "dns", warning
    poll(lambda: d.log_events("config reloaded"), REACT, what="the reload applied")
    doc = d.request("/health").json()
    assert doc["config"]["generation"] == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["config"]["loaded"])
    assert doc["config"]["loaded"] >= first_loaded
    assert "two" in doc["checks"]
    text = d.request("/health?verbose").text
    assert f"config generation 2 loaded {doc['config']['loaded']}\n" in text, text
    assert text.endswith("healthz check passed\n") or text.endswith("healthz check failed\n")
    health = d.request("/health", headers={"Accept": "application/health+json"}).json()
    assert health["config"] == {"generation": 2, "loaded": doc["config"]["loaded"]}
    assert "config" not in d.request("/ready").json(), "only /health shows it"
