"""test_tcp_http.py - tcp and http checks against loopback peers: pass, refused, bad status, bad
body, oversized body, a server that never answers, and no descriptor leak over many runs."""

import re
import time

import pytest

import harness
from harness import bound, fd_count, poll, settled_fd_count
from tcp_servers import Acceptor, HttpTarget

# How long the daemon may take to report a change with a 100 ms interval.
REACT = 3.0


def one_check(check: dict) -> dict:
    check = {"name": "dep", "interval": "100ms", **check}
    return {"service": "itest", "checks": [check]}


def tcp_check(host: str, port: int, **extra) -> dict:
    return one_check({"type": "tcp", "tcp": {"host": host, "port": port}, **extra})


def http_check(url: str, **http) -> dict:
    return one_check({"type": "http", "http": {"url": url, **http}})


def health_until(d, result: str, name: str = "dep") -> dict:
    """Polls /health/NAME until its result is result; returns the document."""

    def check():
        doc = d.request(f"/health/{name}").json()
        return doc if doc["result"] == result else None

    return poll(check, bound(REACT), what=f"check {name} with result {result}")


def test_tcp_passes_against_a_listener(daemon):
    with Acceptor() as peer:
        d = daemon(tcp_check("127.0.0.1", peer.port))
        doc = health_until(d, "pass")
        assert re.fullmatch(rf"connected to 127\.0\.0\.1:{peer.port} in \d+ ms", doc["output"])
        assert doc["observed"]["connect_ms"]["unit"] == "ms"
        assert doc["observed"]["connect_ms"]["value"] >= 0
        assert d.request("/ready").status == 200
        assert peer.accepted >= 1


def test_tcp_fails_refused_once_the_listener_closes(daemon):
    with Acceptor() as peer:
        d = daemon(tcp_check("127.0.0.1", peer.port))
        health_until(d, "pass")
    doc = health_until(d, "fail")
    assert doc["error"] == f"connection refused (127.0.0.1:{peer.port})"
    assert d.request("/ready").status == 503


@pytest.mark.skipif(not harness.ipv6_loopback_available(), reason="no IPv6 loopback")
def test_tcp_to_an_ipv6_literal(daemon):
    with Acceptor("::1") as peer:
        d = daemon(tcp_check("::1", peer.port))
        doc = health_until(d, "pass")
        assert re.fullmatch(rf"connected to \[::1\]:{peer.port} in \d+ ms", doc["output"])


@pytest.fixture(scope="module")
def web():
    with HttpTarget() as server:
        yield server


def test_http_200_passes_with_response_time(daemon, web):
    d = daemon(http_check(web.url("/ok")))
    doc = health_until(d, "pass")
    assert re.fullmatch(r"HTTP 200 in \d+ ms", doc["output"])
    assert doc["observed"]["response_ms"]["unit"] == "ms"


def test_http_sends_host_user_agent_and_connection_close(daemon, web):
    d = daemon(http_check(web.url("/ok?probe=1", host="localhost")))
    health_until(d, "pass")
    path, headers = next(r for r in web.requests if r[0] == "/ok?probe=1")
    assert headers["Host"] == f"localhost:{web.port}", "the name, not the address dialled"
    assert headers["User-Agent"] == f"veza-health/{harness.project_version()}"
    assert headers["Connection"] == "close"


def test_http_500_fails_with_the_status(daemon, web):
    d = daemon(http_check(web.url("/fail")))
    doc = health_until(d, "fail")
    assert doc["error"] == "HTTP 500 (expected 200-399)"
    assert d.request("/ready").status == 503


def test_http_status_range_is_configurable(daemon, web):
    d = daemon(http_check(web.url("/teapot"), status=[418, 418]))
    doc = health_until(d, "pass")
    assert re.fullmatch(r"HTTP 418 in \d+ ms", doc["output"])


def test_http_404_outside_a_single_status(daemon, web):
    d = daemon(http_check(web.url("/missing"), status=[200, 200]))
    assert health_until(d, "fail")["error"] == "HTTP 404 (expected 200)"


def test_http_body_contains_passes_when_present(daemon, web):
    d = daemon(http_check(web.url("/ok"), body_contains="healthy"))
    assert re.fullmatch(r"HTTP 200 in \d+ ms", health_until(d, "pass")["output"])


def test_http_body_contains_mismatch_fails(daemon, web):
    d = daemon(http_check(web.url("/ok"), body_contains="ready"))
    doc = health_until(d, "fail")
    assert doc["error"] == 'HTTP 200 but body does not contain "ready"'


def test_http_oversized_body_fails(daemon, web):
    d = daemon(http_check(web.url("/big"), max_body="1KiB"))
    doc = health_until(d, "fail")
    assert doc["error"] == "body larger than 1024 bytes"


def test_http_body_up_to_the_limit_passes(daemon, web):
    d = daemon(http_check(web.url("/big"), max_body="100000"))
    health_until(d, "pass")


def test_http_refused(daemon):
    port = harness.free_port()
    d = daemon(http_check(f"http://127.0.0.1:{port}/"))
    assert health_until(d, "fail")["error"] == f"connection refused (127.0.0.1:{port})"


def timed_status(d, path: str) -> tuple:
    start = time.monotonic()
    status = d.request(path).status
    return status, time.monotonic() - start


def test_http_server_that_never_answers_times_out_while_probes_stay_fast(daemon):
    with harness.FakeServer("silent") as silent:
        d = daemon(
            one_check(
                {
                    "type": "http",
                    "timeout": "300ms",
                    "http": {"url": f"http://127.0.0.1:{silent.port}/"},
                }
            )
        )
        doc = health_until(d, "fail")
        # Connected, request sent: the reason says the reply, not the connect, is what hung.
        assert doc["error"] == f"timeout after 300 ms waiting for the reply from 127.0.0.1:{silent.port}"
        # The engine ended the run; the endpoints never wait on a dependency.
        for path, expected in (("/live", 200), ("/ready", 503)):
            status, took = timed_status(d, path)
            assert status == expected
            assert took < bound(0.2), f"{path} took {took * 1000:.0f} ms"
        assert len(silent.conns) >= 1, "the check did connect"




def total_failures(d, names) -> int:
    return sum(d.request(f"/health/{n}").json().get("consecutive_failures", 0) for n in names)


def test_failed_connects_leak_no_descriptors(daemon):
    port = harness.free_port()
    names = [f"closed{i}" for i in range(4)]
    checks = [
        {
            "name": n,
            "type": "tcp",
            "interval": "10ms",
            "timeout": "500ms",
            "tcp": {"host": "127.0.0.1", "port": port},
        }
        for n in names
    ]
    d = daemon({"service": "itest", "checks": checks})
    poll(lambda: total_failures(d, names) >= 40, bound(REACT), what="40 failed connects")
    doc = d.request(f"/health/{names[0]}").json()
    assert doc["error"] == f"connection refused (127.0.0.1:{port})"
    before = settled_fd_count(d.proc.pid, looks=5, gap=0.02)

    poll(
        lambda: total_failures(d, names) >= 540,
        bound(20.0),
        interval=0.2,
        what="540 failed connects",
    )
    after = poll(
        lambda: (lambda n: n if n <= before else None)(settled_fd_count(d.proc.pid, looks=5, gap=0.02)),
        bound(2.0),
        what=f"descriptor count back to {before}",
    )
    assert after == before
