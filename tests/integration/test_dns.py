"""test_dns.py - names resolved by the daemon's own non-blocking resolver against a fake DNS
server: found, no such host, a nameserver that never answers, and /etc/hosts."""

import re
import time

import pytest

import harness
from dns_fake import TYPE_A, TYPE_AAAA, FakeDns
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


# ---------------------------------------------------------------------------------------------
# Answers too big for UDP: asked again over TCP (RFC 7766)

# 40 A records do not fit a 512-byte UDP answer (28 or 29 do), as a headless Service of 40
# replicas; the first is where the check connects.
MANY = [f"127.0.3.{i}" for i in range(1, 41)]


def big_dns(tcp_mode: str = "serve", records=None) -> FakeDns:
    return FakeDns({"big.test": records or ["127.0.0.1"] + MANY[1:]}, tcp=tcp_mode)


def peers_config(nameserver: str, peer_port: int, check_port: int) -> dict:
    doc = config(nameserver, [tcp("127.0.0.1", check_port)])
    doc["peers"] = {"dns": "big.test", "port": peer_port, "interval": "200ms",
                    "timeout": "100ms", "refresh": "500ms"}
    return doc


def fleet_known(d) -> int:
    return d.request("/ready").json()["fleet"]["peers_known"]


@pytest.mark.parametrize("tcp_mode", ["serve", "reset"])
def test_name_too_big_for_udp_is_asked_again_over_tcp(daemon, peer, tcp_mode):
    # "reset": a server that closes the connection after each answer, as RFC 7766 allows.
    with big_dns(tcp_mode) as dns:
        d = daemon(config(dns.address, [tcp("big.test", peer.port)]))
        doc = health_until(d, "pass")
        assert re.fullmatch(
            rf"connected to big\.test:{peer.port} \(127\.0\.0\.1\) in \d+ ms", doc["output"]
        )
        assert dns.truncated > 0, "the UDP answer was truncated"
        assert ("big.test", TYPE_A) in dns.tcp_queries
        assert ("big.test", TYPE_AAAA) in dns.tcp_queries


def test_peers_behind_a_name_too_big_for_udp_are_all_found(daemon, peer):
    with big_dns(records=MANY) as dns:
        d = daemon(peers_config(dns.address, harness.free_port(), peer.port))
        poll(lambda: fleet_known(d) == len(MANY), bound(REACT),
             what=f"all {len(MANY)} peers known")
        assert "cannot find peers" not in d.log_text()
    # 100: more than evdns keeps of any UDP answer (32 A records), however big.
    hundred = [f"127.0.4.{i}" for i in range(1, 101)]
    with big_dns(records=hundred) as dns:
        d2 = daemon(peers_config(dns.address, harness.free_port(), peer.port))
        poll(lambda: fleet_known(d2) == 100, bound(REACT), what="all 100 peers known")


@pytest.mark.parametrize("tcp_mode,why", [
    ("none", "connection refused by"),
    ("close", "connection closed without an answer by"),
])
def test_truncated_answer_without_tcp_fails_with_both_reasons(daemon, peer, tcp_mode, why):
    with big_dns(tcp_mode) as dns:
        d = daemon(config(dns.address, [tcp("big.test", peer.port)]))
        doc = health_until(d, "fail")
        assert doc["error"].startswith('cannot resolve "big.test": '), doc["error"]
        assert doc["error"].endswith(f"; over TCP: {why} {dns.address}"), doc["error"]
        # The endpoints never wait on it.
        status, took = timed_status(d, "/live")
        assert status == 200 and took < bound(0.2)


def test_tcp_server_that_never_answers_ends_within_the_dns_budget(daemon, peer):
    # timeout 500 ms x 1 attempt: the TCP retry gets as long as UDP could have taken.
    with big_dns("hold") as dns:
        d = daemon(config(dns.address, [tcp("big.test", peer.port, timeout="3s")]))
        doc = health_until(d, "fail")
        assert doc["error"].endswith(f"; over TCP: no answer within 500 ms from {dns.address}")
        assert 0.45 <= doc["duration_ms"] / 1000 < bound(1.5), doc["duration_ms"]
        for path, expected in (("/live", 200), ("/ready", 503)):
            status, took = timed_status(d, path)
            assert status == expected and took < bound(0.2), (path, took)
        # The daemon's teardown (SIGTERM, exit 0) now meets a TCP lookup in flight.
        poll(lambda: d.request("/health/dep").json()["result"] == "fail", bound(REACT))


def test_peers_lookup_that_fails_over_tcp_too_keeps_local_verdicts(daemon, peer):
    with big_dns("none", records=MANY) as dns:
        d = daemon(peers_config(dns.address, harness.free_port(), peer.port))
        poll(lambda: "cannot find peers" in d.log_text(), bound(REACT),
             what="the failed lookup logged")
        assert "over TCP: connection refused by" in d.log_text()
        resp = d.request("/ready")
        assert resp.status == 200 and resp.json()["fleet"]["peers_known"] == 0
