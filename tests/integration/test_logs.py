"""test_logs.py - the daemon's log as a shipper reads it: JSON lines by default, logfmt on request."""

import json
import re

import harness
from harness import bound, free_port, poll, run_cli
from tcp_servers import Acceptor

# How long the daemon may take to log a change with a 100 ms interval.
REACT = 3.0
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LOGFMT_RE = re.compile(r'^time=(\S+) level=(debug|info|warn|error) msg=("(?:[^"\\]|\\.)*"|\S+)'
                       r'( [A-Za-z_.]+=("(?:[^"\\]|\\.)*"|\S+))*$')


def tcp_config(port: int) -> dict:
    return {"service": "itest", "checks": [
        {"name": "api", "type": "tcp", "interval": "100ms",
         "tcp": {"host": "127.0.0.1", "port": port}}]}


def transitions(d) -> list:
    return [(e["from"], e["to"]) for e in d.log_events("check status changed", check="api")]


def test_json_lines_of_a_check_that_fails_then_passes(daemon):
    port = free_port()
    d = daemon(tcp_config(port))
    poll(lambda: ("unknown", "fail") in transitions(d), bound(REACT), what="the fail event")
    # The check first finds the port closed, then open.
    with Acceptor(port=port):
        poll(lambda: ("fail", "pass") in transitions(d), bound(REACT), what="the pass event")
    d.stop_ok()

    text = d.log_text()
    assert text.endswith("\n")
    events = harness.parse_log(text)  # fails on any line that is not a JSON object
    for e in events:
        assert list(e)[:3] == ["time", "level", "message"], e
        assert TIME_RE.match(e["time"]), e
        assert e["level"] in ("debug", "info", "warn", "error"), e
        assert all(isinstance(v, str) for v in e.values()), e

    changes = d.log_events("check status changed", check="api")
    assert [(c["from"], c["to"]) for c in changes] == [("unknown", "fail"), ("fail", "pass")]
    for change in changes:
        assert list(change) == ["time", "level", "message", "check", "from", "to", "reason"]
    failed, passed = changes
    assert failed["level"] == "warn" and passed["level"] == "info"
    assert failed["reason"] == f"connection refused (127.0.0.1:{port})", failed
    assert passed["reason"], passed

    started = d.log_events("started")
    assert len(started) == 1 and started[0]["version"] == harness.project_version()
    assert started[0]["service"] == "itest" and started[0]["checks"].isdigit()
    assert d.log_events("listening", address=f"127.0.0.1:{d.port}")
    assert events[-1]["message"] == "shutting down" and events[-1]["signal"] == "SIGTERM"


def test_log_level_warn_keeps_only_warnings_and_errors(daemon):
    d = daemon(tcp_config(free_port()), args=["--log-level", "warn"])
    poll(lambda: ("unknown", "fail") in transitions(d), bound(REACT), what="the fail event")
    d.stop_ok()
    events = harness.parse_log(d.log_text())
    assert events and all(e["level"] in ("warn", "error") for e in events), events
    assert not d.log_events("started")


def test_text_format_is_logfmt(daemon):
    port = free_port()
    d = daemon(tcp_config(port), args=["--log-format", "text"])
    poll(lambda: "to=fail" in d.log_text(), bound(REACT), what="the fail line")
    d.stop_ok()
    lines = d.log_text().splitlines()
    for line in lines:
        if (harness.VALGRIND or harness.SANITIZED) and harness._TOOL_LINE.match(line):
            continue
        assert LOGFMT_RE.match(line), line
        assert TIME_RE.match(LOGFMT_RE.match(line).group(1)), line
        assert not line.startswith("{")
    fails = [line for line in lines if 'msg="check status changed" check=api ' in line]
    assert fails and fails[0].split(" ", 1)[1] == (
        f'level=warn msg="check status changed" check=api from=unknown to=fail '
        f'reason="connection refused (127.0.0.1:{port})"'), fails
    assert lines[-1].endswith('level=info msg="shutting down" signal=SIGTERM')


def test_bad_log_format_is_a_one_line_usage_error(tmp_path):
    path = harness.write_config(tmp_path / "c.json", tcp_config(free_port()))
    for value in ("xml", "JSON", ""):
        r = run_cli(["serve", "-c", str(path), f"--log-format={value}"])
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and "--log-format" in r.stderr, r.stderr
    r = run_cli(["serve", "-c", str(path), "--log-format"])
    assert r.returncode == 2 and "--log-format" in r.stderr, r.stderr
    help_text = run_cli(["--help"]).stdout
    assert "--log-format" in help_text and "json" in help_text and "text" in help_text


def test_check_config_output_is_unaffected_by_the_log_format(tmp_path):
    """check-config prints the config on stdout whatever the log format; logs go to stderr."""
    path = harness.write_config(tmp_path / "c.json", tcp_config(free_port()))
    r = run_cli(["check-config", str(path), "--log-format", "text"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["checks"][0]["name"] == "api"
