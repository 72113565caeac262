"""test_cli.py - the command line: help, version, usage errors, check-config, serve, probe."""

import json
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

import harness
from harness import FakeServer, SilentListener, bound, free_port, run_cli

USAGE_EXIT = 2


def one_line(text: str) -> str:
    """Asserts text is exactly one non-empty line and returns it."""
    lines = text.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected one line, got {text!r}"
    return lines[0]


def find_check(doc, name: str) -> bool:
    """True when a JSON document holds, anywhere, a check object named name or a checks map
    with that key."""
    if isinstance(doc, dict):
        if doc.get("name") == name:
            return True
        checks = doc.get("checks")
        if isinstance(checks, dict) and name in checks:
            return True
        return any(find_check(v, name) for v in doc.values())
    if isinstance(doc, list):
        return any(find_check(v, name) for v in doc)
    return False


def env_without(*names: str) -> dict:
    env = dict(os.environ)
    for name in names:
        env.pop(name, None)
    return env


# --- help, version, usage errors ---------------------------------------------------------------


def test_help_exits_0_and_names_every_command():
    r = run_cli(["--help"])
    assert r.returncode == 0, r.stderr
    for command in ("serve", "probe", "check-config"):
        assert command in r.stdout
    assert r.stderr == ""


def test_version_prints_name_and_project_version():
    r = run_cli(["--version"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"veza-health {harness.project_version()}\n"
    assert harness.project_version() == "0.1.0"


def test_no_arguments_is_a_one_line_usage_error():
    r = run_cli([])
    assert r.returncode == USAGE_EXIT
    one_line(r.stderr)
    assert r.stdout == ""


@pytest.mark.parametrize("args", [["frobnicate"], ["--frobnicate"], ["check-config", "--nope"],
                                  ["probe", "http://127.0.0.1:1/", "--nope"]])
def test_unknown_command_or_option_is_a_one_line_usage_error(args):
    r = run_cli(args)
    assert r.returncode == USAGE_EXIT
    line = one_line(r.stderr)
    assert args[-1].lstrip("-") in line


# --- check-config -----------------------------------------------------------------------------


def test_check_config_valid_prints_effective_json_with_sidecar(tmp_path):
    path = harness.write_config(tmp_path / "ok.json", harness.self_config())
    r = run_cli(["check-config", str(path)])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert find_check(doc, "sidecar"), r.stdout
    assert find_check(doc, "self-mem"), r.stdout


def test_check_config_invalid_json_names_file_line_and_column(tmp_path):
    text = '{\n  "service": "x",\n  "checks": ]\n}\n'
    path = harness.write_config(tmp_path / "broken.json", text)
    r = run_cli(["check-config", str(path)])
    assert r.returncode == USAGE_EXIT
    line = one_line(r.stderr)
    match = re.search(re.escape(str(path)) + r":(\d+):(\d+):", line)
    assert match, line
    assert int(match.group(1)) == 3, line
    assert r.stdout == ""


def test_check_config_unset_variable_is_named(tmp_path):
    config = harness.self_config(service="${VH_ITEST_UNSET_VARIABLE}")
    path = harness.write_config(tmp_path / "var.json", config)
    r = run_cli(["check-config", str(path)], env=env_without("VH_ITEST_UNSET_VARIABLE"))
    assert r.returncode == USAGE_EXIT
    assert "VH_ITEST_UNSET_VARIABLE" in one_line(r.stderr)


def test_check_config_set_variable_is_expanded(tmp_path):
    config = harness.self_config(service="${VH_ITEST_SERVICE}")
    path = harness.write_config(tmp_path / "var.json", config)
    env = dict(os.environ, VH_ITEST_SERVICE="expanded-name")
    r = run_cli(["check-config", str(path)], env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["service"] == "expanded-name"


def test_check_config_missing_file(tmp_path):
    path = tmp_path / "absent.json"
    r = run_cli(["check-config", str(path)])
    assert r.returncode == USAGE_EXIT
    assert str(path) in one_line(r.stderr)


def test_serve_with_bad_config_exits_2_without_listening(tmp_path):
    path = harness.write_config(tmp_path / "bad.json", {"service": "x", "checks": [{"name": "a"}]})
    port = free_port()
    r = run_cli(["serve", "-c", str(path), "--listen", f"127.0.0.1:{port}"], timeout=bound(5))
    assert r.returncode == USAGE_EXIT, r.stderr
    assert str(path) in r.stderr
    assert not harness.can_connect("127.0.0.1", port)


# --- probe ------------------------------------------------------------------------------------


def run_probe(url: str, *extra: str) -> tuple:
    """Runs `veza-health probe URL ...`; returns (exit status, its one stderr line, seconds)."""
    started = time.monotonic()
    r = run_cli(["probe", url, *extra])
    elapsed = time.monotonic() - started
    return r.returncode, one_line(r.stderr), elapsed


def test_probe_live_endpoint_of_running_daemon_passes(daemon):
    d = daemon(harness.self_config())
    code, line, _ = run_probe(d.url("/live"))
    assert code == 0, line
    assert "200" in line


def test_probe_resolves_localhost_by_name(daemon):
    d = daemon(harness.self_config())
    code, line, _ = run_probe(f"http://localhost:{d.port}/live")
    assert code == 0, line


def test_probe_unknown_path_fails_with_404(daemon):
    d = daemon(harness.self_config())
    code, line, _ = run_probe(d.url("/nope"))
    assert code == 1
    assert "404" in line


def test_probe_closed_port_fails_quickly():
    port = free_port()
    code, line, elapsed = run_probe(f"http://127.0.0.1:{port}/live")
    assert code == 1
    assert "refused" in line and f"127.0.0.1:{port}" in line
    assert elapsed < bound(1.0)


def test_probe_listener_that_never_answers_times_out():
    with SilentListener() as listener:
        url = f"http://127.0.0.1:{listener.port}/live"
        code, line, elapsed = run_probe(url, "--timeout", "300")
    assert code == 1
    assert "timeout" in line, line
    assert elapsed < bound(1.0)
    assert elapsed >= 0.3


def test_probe_server_stalling_after_headers_times_out():
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial"
    with FakeServer("stall", reply) as server:
        code, line, elapsed = run_probe(f"http://127.0.0.1:{server.port}/live", "--timeout", "300")
    assert code == 1
    assert "timeout" in line, line
    assert elapsed < bound(1.0)


def test_probe_malformed_reply_fails():
    with FakeServer("reply", b"SSH-2.0-OpenSSH_9.2\r\n\r\n") as server:
        code, line, _ = run_probe(f"http://127.0.0.1:{server.port}/live")
    assert code == 1, line


def test_probe_sends_host_user_agent_and_connection_close():
    reply = b"HTTP/1.1 204 No Content\r\n\r\n"
    with FakeServer("reply", reply) as server:
        code, line, _ = run_probe(f"http://127.0.0.1:{server.port}/ready?verbose")
        requests = list(server.requests)
    assert code == 0, line
    assert len(requests) == 1
    head = requests[0].decode("latin-1").lower()
    assert head.startswith("get /ready?verbose http/1.1\r\n")
    assert f"\r\nhost: 127.0.0.1:{server.port}\r\n" in head
    assert f"\r\nuser-agent: veza-health-probe/{harness.project_version()}\r\n" in head
    assert "\r\nconnection: close\r\n" in head


def private_mounts_available() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not private_mounts_available(), reason="needs root and mount namespaces")
def test_probe_deadline_covers_name_resolution(tmp_path):
    # A name server that never answers, shown to the probe alone through a private mount of
    # /etc/resolv.conf (evdns reads "ADDR:PORT" there); the rest of the host is untouched.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dns:
        dns.bind(("127.0.0.1", 0))
        resolv = tmp_path / "resolv.conf"
        resolv.write_text(f"nameserver 127.0.0.1:{dns.getsockname()[1]}\n")
        argv = harness.wrap([harness.vh_bin(), "probe", "http://vh-itest.example:8099/live",
                             "--timeout", "300"])
        started = time.monotonic()
        r = subprocess.run(
            ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"',
             str(resolv)] + argv,
            capture_output=True, text=True, timeout=harness.CLI_TIMEOUT)
        elapsed = time.monotonic() - started
    assert r.returncode == 1, r.stderr
    line = one_line(r.stderr)
    assert "timeout" in line and "resolving vh-itest.example" in line, line
    assert elapsed < bound(1.0)


@pytest.mark.skipif(not harness.ipv6_loopback_available(), reason="no IPv6 loopback")
def test_probe_ipv6_literal():
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with FakeServer("reply", reply, host="::1") as server:
        code, line, _ = run_probe(f"http://[::1]:{server.port}/live")
        requests = list(server.requests)
    assert code == 0, line
    assert f"\r\nhost: [::1]:{server.port}\r\n" in requests[0].decode("latin-1").lower()


def test_probe_non_2xx_fails_with_the_status():
    reply = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
    with FakeServer("reply", reply) as server:
        code, line, _ = run_probe(f"http://127.0.0.1:{server.port}/ready")
    assert code == 1
    assert "503 Service Unavailable" in line


@pytest.mark.parametrize("url", ["not a url", "127.0.0.1:8099/live", "http://", "ftp://127.0.0.1/",
                                 "http://[::1/live", "http://127.0.0.1:99999/"])
def test_probe_malformed_url_is_a_usage_error(url):
    code, line, _ = run_probe(url)
    assert code == USAGE_EXIT, line


def test_probe_https_is_refused_as_unsupported():
    code, line, _ = run_probe("https://127.0.0.1:8443/live")
    assert code == USAGE_EXIT
    assert "https is not supported" in line


@pytest.mark.parametrize("timeout", ["0", "-5", "abc", "3600001"])
def test_probe_bad_timeout_is_a_usage_error(timeout):
    r = run_cli(["probe", "http://127.0.0.1:1/", "--timeout", timeout])
    assert r.returncode == USAGE_EXIT
    one_line(r.stderr)


def test_probe_without_url_is_a_usage_error():
    r = run_cli(["probe"])
    assert r.returncode == USAGE_EXIT
    one_line(r.stderr)
