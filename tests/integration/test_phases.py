"""test_phases.py - a run that hits its deadline says which phase it was in, for every network
check type: resolving a name, connecting, the TLS handshake, authenticating, waiting for the
reply. "timeout after 1000 ms" alone sent people to the database when the lookup had hung."""

import socket

import pytest

import harness
from dns_fake import FakeDns
from harness import bound, poll
from redis_server import FakeRedis

TIMEOUT = "300ms"
TIMEOUT_TEXT = "timeout after 300 ms"


class FullBacklog:
    """A listener whose accept queue is full and never drained: the kernel drops further SYNs,
    so a new connect() stays in progress, as behind a firewall that drops packets."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        # Linux queues backlog + 1 connections; fill until a connect no longer completes.
        for _ in range(8):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(0.2)
            try:
                c.connect(("127.0.0.1", self.port))
            except OSError:
                c.close()
                break
            self.fillers.append(c)

    def __enter__(self) -> "FullBacklog":
        return self

    def __exit__(self, *exc) -> None:
        for c in self.fillers:
            c.close()
        self.sock.close()


def ssl_answer_then_silence(answer: bytes) -> harness.FakeServer:
    """Answers PostgreSQL's 8-byte SSLRequest with answer (b"S": go ahead with TLS; b"N": no
    TLS, send the startup packet) and then says nothing, so the client waits in its TLS
    handshake or for the authentication request."""
    return harness.FakeServer("stall", reply=answer, request_bytes=8)


class HeadersThenSilence(harness.FakeServer):
    """An HTTP server that sends its status line and headers, promises a body, and stalls."""

    def __init__(self):
        super().__init__("stall", reply=b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab")


def config(check: dict, nameserver=None) -> dict:
    c = {"service": "itest",
         "checks": [{"name": "dep", "interval": "200ms", "timeout": TIMEOUT, **check}]}
    if nameserver:
        c["dns"] = {"nameservers": [nameserver]}
    return c


def wait_error(d, expected: str) -> str:
    """Polls /health/dep until its error is expected; fails with the last one seen."""
    seen = {}

    def matches():
        doc = d.request("/health/dep").json()
        seen["error"] = doc.get("error")
        return doc if doc.get("error") == expected else None

    try:
        poll(matches, bound(3.0), what=f"error {expected!r}")
    except AssertionError:
        pytest.fail(f"expected {expected!r}, last error {seen.get('error')!r}")
    return seen["error"]


def pg(params: dict) -> dict:
    return {"type": "postgres", "postgres": {"params": {"user": "postgres", **params},
                                             "backoff": {"initial": "10ms", "max": "20ms"}}}


def redis(settings: dict) -> dict:
    return {"type": "redis", "redis": {**settings, "backoff": {"initial": "10ms", "max": "20ms"}}}


@pytest.fixture
def silent_dns():
    with FakeDns(silent=True) as dns:
        yield dns


@pytest.mark.parametrize("kind", ["tcp", "http", "postgres", "redis"])
def test_a_hung_lookup_is_named(daemon, silent_dns, kind):
    check = {
        "tcp": {"type": "tcp", "tcp": {"host": "dep.test", "port": 9}},
        "http": {"type": "http", "http": {"url": "http://dep.test:9/health"}},
        "postgres": pg({"host": "dep.test", "port": "9"}),
        "redis": redis({"host": "dep.test", "port": 9}),
    }[kind]
    d = daemon(config(check, nameserver=silent_dns.address))
    wait_error(d, f'{TIMEOUT_TEXT} resolving "dep.test"')


@pytest.mark.parametrize("kind", ["tcp", "http", "postgres", "redis"])
def test_a_connect_that_gets_no_answer_is_named(daemon, kind):
    with FullBacklog() as hole:
        if not hole.fillers:
            pytest.skip("this kernel completed no handshake for a listen(0) socket")
        target = f"127.0.0.1:{hole.port}"
        check = {
            "tcp": {"type": "tcp", "tcp": {"host": "127.0.0.1", "port": hole.port}},
            "http": {"type": "http", "http": {"url": f"http://{target}/health"}},
            "postgres": pg({"host": "127.0.0.1", "port": str(hole.port)}),
            "redis": redis({"host": "127.0.0.1", "port": hole.port}),
        }[kind]
        d = daemon(config(check))
        wait_error(d, f"{TIMEOUT_TEXT} connecting to {target}")


def test_postgres_tls_handshake_is_named(daemon):
    with ssl_answer_then_silence(b"S") as server:
        d = daemon(config(pg({"host": "127.0.0.1", "port": str(server.port),
                              "sslmode": "require"})))
        wait_error(d, f"{TIMEOUT_TEXT} negotiating TLS with 127.0.0.1:{server.port}")


def test_postgres_authentication_without_an_answer_is_named(daemon):
    with ssl_answer_then_silence(b"N") as server:
        d = daemon(config(pg({"host": "127.0.0.1", "port": str(server.port)})))
        wait_error(d, f"{TIMEOUT_TEXT} authenticating with 127.0.0.1:{server.port}")


def test_redis_auth_without_an_answer_is_named(daemon):
    with FakeRedis(hang=True) as hole:
        d = daemon(config(redis({"host": "127.0.0.1", "port": hole.port,
                                 "password": "${VH_TEST_REDIS_PASSWORD}"})),
                   env={"VH_TEST_REDIS_PASSWORD": "not-shown-anywhere"})
        wait_error(d, f"{TIMEOUT_TEXT} authenticating with 127.0.0.1:{hole.port}")
        assert "not-shown-anywhere" not in d.log_text()


def test_http_body_that_stalls_is_named(daemon):
    with HeadersThenSilence() as server:
        d = daemon(config({"type": "http",
                           "http": {"url": f"http://127.0.0.1:{server.port}/"}}))
        wait_error(d, f"{TIMEOUT_TEXT} reading the body from 127.0.0.1:{server.port}")
