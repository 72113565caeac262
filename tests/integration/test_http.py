"""test_http.py - the probe endpoints: routes, formats, headers, methods and hostile requests."""

import http.client

import pytest

import harness
from harness import bound, parse_raw_response, poll, raw_request

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
HEALTH_JSON = "application/health+json"


@pytest.fixture(scope="module")
def ready(module_daemon):
    """One daemon for the read-only tests, started once and waited on until /ready is 200."""
    d = module_daemon(harness.self_config())
    poll(lambda: d.request("/ready").status == 200, bound(2.0), what="/ready 200")
    return d


def media_type(resp) -> str:
    return resp.headers.get("content-type", "")


# --- liveness, readiness, startup -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/live", "/livez", "/healthz"])
def test_live_aliases_report_alive(ready, path):
    resp = ready.request(path)
    assert resp.status == 200, resp.body
    doc = resp.json()
    assert doc["status"] == "alive"
    assert isinstance(doc["timestamp"], (int, float)) and doc["timestamp"] > 0
    assert isinstance(doc["uptime"], str) and doc["uptime"]
    assert "self-mem" in doc["checks"]


def test_ready_becomes_ready_within_two_seconds(daemon):
    d = daemon(harness.self_config())
    resp = poll(lambda: (lambda r: r if r.status == 200 else None)(d.request("/ready")),
                bound(2.0), what="/ready 200")
    doc = resp.json()
    assert doc["status"] == "ready"
    assert doc["service"] == "itest"
    assert doc["timestamp"] > 0
    check = doc["checks"]["self-mem"]
    assert check["status"] == "ready"
    assert check["result"] == "pass"
    assert "output" in check and "error" not in check
    assert check["duration_ms"] >= 0


def test_readyz_alias_is_ready(ready):
    resp = ready.request("/readyz")
    assert resp.status == 200
    assert resp.json()["status"] == "ready"


@pytest.mark.parametrize("path", ["/startup", "/startupz"])
def test_startup_is_started_once_ready(ready, path):
    resp = ready.request(path)
    assert resp.status == 200, resp.body
    assert resp.json()["status"] == "started"


def test_health_lists_every_check_including_sidecar(ready):
    resp = ready.request("/health")
    assert resp.status == 200, resp.body
    checks = resp.json()["checks"]
    assert "self-mem" in checks
    assert "sidecar" in checks


def test_health_of_one_check(ready):
    resp = ready.request("/health/self-mem")
    assert resp.status == 200, resp.body
    doc = resp.json()
    assert doc["name"] == "self-mem"
    assert doc["result"] == "pass"
    assert doc["observed"]["rss_bytes"]["value"] > 0
    assert doc["observed"]["rss_bytes"]["unit"] == "bytes"


def test_health_of_unknown_check_is_404_json(ready):
    resp = ready.request("/health/nope")
    assert resp.status == 404
    assert media_type(resp) == JSON
    assert "error" in resp.json()


@pytest.mark.parametrize("path", ["/nope", "//ready", "/ready/../live"])
def test_unknown_paths_are_404_json(ready, path):
    resp = ready.request(path)
    assert resp.status == 404, (path, resp.body)
    assert media_type(resp) == JSON
    # The daemon appends a hint ("not found; try /live, ..."); the contract is the prefix.
    assert resp.json()["error"].startswith("not found")


# --- formats and headers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,headers,ctype",
    [
        ("/live", {}, JSON),
        ("/ready", {}, JSON),
        ("/startup", {}, JSON),
        ("/health", {}, JSON),
        ("/health/self-mem", {}, JSON),
        ("/health/nope", {}, JSON),
        ("/nope", {}, JSON),
        ("/ready?verbose", {}, TEXT),
        ("/live?verbose", {}, TEXT),
        ("/ready", {"Accept": "text/plain"}, TEXT),
        ("/health", {"Accept": HEALTH_JSON}, HEALTH_JSON),
        ("/ready", {"Accept": HEALTH_JSON}, HEALTH_JSON),
    ],
)
def test_every_response_is_uncacheable_with_the_right_content_type(ready, path, headers, ctype):
    resp = ready.request(path, headers=headers)
    assert resp.headers.get("cache-control") == "no-store", resp.headers
    assert media_type(resp) == ctype, resp.headers
    assert int(resp.headers["content-length"]) == len(resp.body)


def test_verbose_text_lists_checks_and_ends_with_verdict(ready):
    resp = ready.request("/ready?verbose")
    assert resp.status == 200
    text = resp.text
    lines = text.splitlines()
    assert any(line.startswith("[+]self-mem ok") for line in lines), text
    assert text.endswith("readyz check passed\n"), text


def test_live_verbose_ends_with_livez_verdict(ready):
    resp = ready.request("/live?verbose")
    assert resp.status == 200
    assert resp.text.endswith("livez check passed\n"), resp.text


def test_accept_text_plain_gets_the_text_form(ready):
    # kube-apiserver's convention: a passing probe says only "ok" unless asked to be verbose.
    resp = ready.request("/ready", headers={"Accept": "text/plain"})
    assert resp.status == 200
    assert media_type(resp) == TEXT
    assert resp.text == "ok"
    resp = ready.request("/ready?verbose", headers={"Accept": "text/plain"})
    assert "[+]self-mem ok" in resp.text
    assert resp.text.endswith("readyz check passed\n")


def test_exclude_marks_the_check_excluded(ready):
    resp = ready.request("/ready?verbose&exclude=self-mem")
    assert resp.status == 200
    assert "[+]self-mem excluded: ok" in resp.text.splitlines(), resp.text


def test_health_json_format(ready):
    def passing():
        resp = ready.request("/health", headers={"Accept": HEALTH_JSON})
        return resp if resp.status == 200 and resp.json().get("status") == "pass" else None

    resp = poll(passing, bound(2.0), what="health+json status pass")
    doc = resp.json()
    assert media_type(resp) == HEALTH_JSON
    assert "self-mem:memory" in doc["checks"], sorted(doc["checks"])
    assert isinstance(doc["checks"]["self-mem:memory"], list)


# --- HEAD and keep-alive ----------------------------------------------------------------------


def test_head_has_no_body_and_the_get_length(ready):
    conn = http.client.HTTPConnection("127.0.0.1", ready.port, timeout=bound(5))
    try:
        # The body holds timings whose digit count can change between two requests, so compare
        # the HEAD length with the GETs on either side of it and allow a few tries.
        for _ in range(5):
            before = harness.http_request(ready.port, "/ready", conn=conn)
            head = harness.http_request(ready.port, "/ready", method="HEAD", conn=conn)
            after = harness.http_request(ready.port, "/ready", conn=conn)
            assert head.status == 200
            assert head.body == b""
            assert before.status == after.status == 200
            assert after.json()["status"] == "ready"
            length = int(head.headers["content-length"])
            if length in (len(before.body), len(after.body)):
                break
        else:
            pytest.fail(f"HEAD Content-Length {length} never matched a GET body length")
        # The connection must still be usable for a different route after the HEAD.
        live = harness.http_request(ready.port, "/live", conn=conn)
        assert live.status == 200 and live.json()["status"] == "alive"
    finally:
        conn.close()


@pytest.mark.parametrize("path,expected", [("/ready", 200), ("/live?verbose", 200), ("/nope", 404)])
def test_head_sends_no_body_bytes_on_the_wire(ready, path, expected):
    request = f"HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    status, headers, rest = parse_raw_response(raw_request(ready.port, request))
    assert status == expected
    assert int(headers["content-length"]) > 0
    assert rest == b"", rest[:200]


# --- methods and bodies -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_with_allow(ready, method):
    resp = ready.request("/ready", method=method)
    assert resp.status == 405, (method, resp.status)
    assert resp.headers.get("allow") == "GET, HEAD"
    assert resp.headers.get("cache-control") == "no-store"
    assert media_type(resp) == JSON
    assert "error" in resp.json()


def test_post_with_body_is_rejected_and_daemon_survives(daemon):
    d = daemon(harness.self_config())
    resp = d.request("/ready", method="POST", body=b"x" * 64,
                     headers={"Content-Type": "application/json"})
    assert resp.status in (405, 413), resp.status
    assert d.request("/live").status in (200, 503)
    assert d.alive()


def test_get_with_body_is_rejected_and_daemon_survives(daemon):
    d = daemon(harness.self_config())
    data = raw_request(d.port, b"GET /live HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                               b"Connection: close\r\n\r\n0123456789")
    status, _, _ = parse_raw_response(data)
    assert 400 <= status < 500, data[:200]
    assert d.request("/live").status in (200, 503)
    assert d.alive()


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET /live HTTP/1.1 extra\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
])
def test_malformed_request_is_400_and_daemon_survives(daemon, request_bytes):
    d = daemon(harness.self_config())
    status, _, _ = parse_raw_response(raw_request(d.port, request_bytes))
    assert status == 400
    resp = d.request("/live")
    assert resp.status in (200, 503) and resp.json()["status"] in ("alive", "dead")


def test_unsupported_http_version_is_505(daemon):
    d = daemon(harness.self_config())
    status, _, _ = parse_raw_response(raw_request(d.port, b"GET /live HTTP/7.0\r\nHost: x\r\n\r\n"))
    assert status == 505
    assert d.request("/live").status in (200, 503)


def test_oversized_headers_are_rejected_and_daemon_survives(daemon):
    d = daemon(harness.self_config())
    big = b"X-Filler: " + b"a" * 65536 + b"\r\n"
    data = raw_request(d.port, b"GET /live HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    if data:
        status, _, _ = parse_raw_response(data)
        assert 400 <= status < 500
    assert d.request("/live").status in (200, 503)


# --- shutdown ---------------------------------------------------------------------------------


def test_sigterm_exits_0_promptly(daemon):
    d = daemon(harness.self_config())
    poll(lambda: d.request("/ready").status == 200, bound(2.0), what="/ready 200")
    d.stop_ok(timeout=bound(5.0))


def test_out_of_descriptors_pauses_accepting_instead_of_spinning(daemon):
    """With its descriptors used up by idle clients, the daemon must not busy-loop on accept()
    and flood the log; once the clients go, it answers again."""
    import socket
    import subprocess
    import time

    d = daemon(harness.self_config())
    subprocess.run(["prlimit", f"--pid={d.proc.pid}", "--nofile=32:32"], check=True)
    clients = []
    try:
        for _ in range(48):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=2)
            clients.append(s)
        time.sleep(1.5)
        pauses = len(d.log_events("cannot accept connections; pausing the listener"))
        assert 1 <= pauses <= 6, f"{pauses} pause lines in 1.5 s:\n{d.log_text()[-2000:]}"
        assert d.log_text().count("\n") < 200, "the log is flooding"
    finally:
        for s in clients:
            s.close()
    poll(lambda: d.request("/live").status == 200, timeout=5, what="/live answering 200 again")


def test_a_flood_of_idle_clients_never_costs_a_probe_its_answer(daemon, tmp_path, monkeypatch):
    """Under a 32-descriptor limit the cap is 16 connections. 300 idle clients arrive while
    probes keep coming: a probe that has sent its request is never the one evicted for an idle
    newcomer, so every probe sent before, during and after the burst is answered (issue 13)."""
    import socket
    import subprocess
    import sys
    import threading
    import time

    wrapper = tmp_path / "veza-health-32fds"
    wrapper.write_text(f"#!/bin/sh\nulimit -n 32\nexec {harness.vh_bin()} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("VH_BIN", str(wrapper))
    d = daemon(harness.self_config())
    assert d.request("/metrics").text.count("veza_health_http_connections_limit 16") == 1
    outcomes = {"answered": 0, "failed": []}
    stop = threading.Event()

    def probe_once(phase):
        try:
            with socket.create_connection(("127.0.0.1", d.port), timeout=2) as s:
                s.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            if data.startswith(b"HTTP/1.1 200"):
                outcomes["answered"] += 1
            else:
                outcomes["failed"].append((phase, data[:60]))
        except OSError as e:
            outcomes["failed"].append((phase, repr(e)))

    def prober():
        while not stop.is_set():
            probe_once("during")
            time.sleep(0.005)

    def read_answer(s, phase):
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError as e:
            data = repr(e).encode()
        s.close()
        if data.startswith(b"HTTP/1.1 200"):
            outcomes["answered"] += 1
        else:
            outcomes["failed"].append((phase, data[:60]))

    # Sent just before the burst, read only after it: these requests wait in their sockets
    # while the idle newcomers arrive.
    pending = []
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=2)
        s.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        pending.append(s)
    thread = threading.Thread(target=prober)
    thread.start()
    # The idle clients come from a process of their own: in this one they would hold the GIL
    # between a probe's connect and its send, and a probe that has not sent its request yet is
    # an idle client like the others.
    flood = subprocess.Popen([sys.executable, "-c", (
        "import socket, sys, time\n"
        "conns = []\n"
        "for _ in range(300):\n"
        "    s = socket.socket(); s.setblocking(False)\n"
        f"    s.connect_ex(('127.0.0.1', {d.port})); conns.append(s)\n"
        "print('open', flush=True)\n"
        "sys.stdin.read()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert flood.stdout.readline() == b"open\n"
        for s in pending:
            read_answer(s, "before")
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(10)
        for _ in range(20):
            probe_once("after")
        flood.stdin.close()
        flood.wait(10)
    assert outcomes["failed"] == [], outcomes["failed"][:10]
    assert outcomes["answered"] >= 40
    evicted = [line for line in d.request("/metrics").text.splitlines()
               if line.startswith("veza_health_http_connections_evicted_total ")]
    assert evicted and float(evicted[0].split()[1]) >= 300 - 16, evicted
