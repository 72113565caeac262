"""test_dns.py - names resolved by the daemon's own non-blocking resolver against a fake DNS
server: found, no such host, a nameserver that never answers, and /etc/hosts."""

import re
import time

import pytest

import harness
from dns_fake import TYPE_A, FakeDns
from harness import bound, poll
from tcp_servers import Acceptor, HttpTarget

REACT = 3.0


def config(nameserver: str, checks: list, timeout: str = "500ms", attempts: int = 1) -> dict:
    checks = [{"name": "dep", "interval": "100ms", **c} for c in checks]
    return {
        "service": "itest",
        "dns": {"nameservers": [nameserver], "timeout": timeout, "attempts": attempts},
        "checks": checks,
    }


def tcp(host: str, port: int, **extra) -> dict:
    return {"type": "tcp", "tcp": {"host": host, "port": port}, **extra}


def health_until(d, result: str, name: str = "dep") -> dict:
    def check():
        doc = d.request(f"/health/{name}").json()
        return doc if doc["result"] == result else None

    return poll(check, bound(REACT), what=f"check {name} with result {result}")


@pytest.fixture
def dns():
    with FakeDns({"svc.test": ["127.0.0.1"], "v6only.test": ["::1"]}) as server:
        yield server


@pytest.fixture
def peer():
    with Acceptor() as acceptor:
        yield acceptor


def test_tcp_by_name_resolves_through_the_configured_nameserver(daemon, dns, peer):
    d = daemon(config(dns.address, [tcp("svc.test", peer.port)]))
    doc = health_until(d, "pass")
    assert re.fullmatch(
        rf"connected to svc\.test:{peer.port} \(127\.0\.0\.1\) in \d+ ms", doc["output"]
    )
    assert ("svc.test", TYPE_A) in dns.queries


def test_unknown_name_fails_with_no_such_host(daemon, dns, peer):
    d = daemon(config(dns.address, [tcp("nope.test", peer.port)]))
    doc = health_until(d, "fail")
    assert doc["error"] == 'cannot resolve "nope.test": no such host'


@pytest.mark.skipif(not harness.ipv6_loopback_available(), reason="no IPv6 loopback")
def test_name_with_only_an_ipv6_address_uses_it(daemon, dns):
    with Acceptor("::1") as peer6:
        d = daemon(config(dns.address, [tcp("v6only.test", peer6.port)]))
        doc = health_until(d, "pass")
        assert re.fullmatch(
            rf"connected to v6only\.test:{peer6.port} \(::1\) in \d+ ms", doc["output"]
        )


def test_http_by_name_sends_the_name_as_host(daemon, dns):
    with HttpTarget() as web:
        check = {"type": "http", "http": {"url": web.url("/ok", "svc.test")}}
        d = daemon(config(dns.address, [check]))
        doc = health_until(d, "pass")
        assert re.fullmatch(r"HTTP 200 in \d+ ms", doc["output"])
        assert web.requests[0][1]["Host"] == f"svc.test:{web.port}"


def timed_status(d, path: str) -> tuple:
    start = time.monotonic()
    status = d.request(path).status
    return status, time.monotonic() - start


def test_silent_nameserver_fails_with_dns_timeout_while_probes_stay_fast(daemon, peer):
    with FakeDns(silent=True) as silent:
        d = daemon(
            config(
                silent.address,
                [tcp("svc.test", peer.port, timeout="2s")],
                timeout="300ms",
                attempts=1,
            )
        )
        # While lookups hang, the endpoints answer from stored state at once.
        for path, expected in (("/live", 200), ("/ready", 503)):
            status, took = timed_status(d, path)
            assert status == expected
            assert took < bound(0.2), f"{path} took {took * 1000:.0f} ms"
        doc = health_until(d, "fail")
        assert doc["error"] == 'cannot resolve "svc.test": DNS timeout'
        assert 0.25 <= doc["duration_ms"] / 1000 < bound(1.5), "one 300 ms attempt"
        assert any(name == "svc.test" for name, _ in silent.queries)


def test_hosts_file_answers_without_asking_the_nameserver(daemon, peer):
    with FakeDns(silent=True) as silent:
        d = daemon(config(silent.address, [tcp("localhost", peer.port)]))
        doc = health_until(d, "pass")
        assert re.fullmatch(
            rf"connected to localhost:{peer.port} \(127\.0\.0\.1\) in \d+ ms", doc["output"]
        ), "IPv4 is preferred when /etc/hosts has both"
        assert not any(name == "localhost" for name, _ in silent.queries)
