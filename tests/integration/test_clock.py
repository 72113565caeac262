"""test_clock.py - the wall clock stepped an hour forward and back under a running daemon (NTP, a
VM resumed, a person with `date -s`), with libfaketime and the monotonic clock untouched: checks
neither stall nor run in a burst, stale_after never fires, and timestamps follow the wall clock."""

import datetime
import os
import signal
import time
from pathlib import Path

import pytest

import harness
from harness import bound, poll

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
INTERVAL_S = 0.1
HOUR_S = 3600.0

pytestmark = pytest.mark.skipif(not LIBFAKETIME.exists(),
                                reason="libfaketime is not installed (scripts/install-deps.sh)")


def config() -> dict:
    # stale_after 350 ms: a scheduler that read the wall clock would call the check stale (or
    # wait an hour) after a step; the monotonic one must not notice.
    return {"service": "clock", "checks": [
        {"name": "self", "type": "process", "interval": "100ms", "timeout": "50ms",
         "jitter": "0ms", "stale_after": "350ms", "process": {"pid": os.getpid()}}]}


def runs(d) -> float:
    for line in d.request("/metrics").text.splitlines():
        if line.startswith('veza_health_check_runs_total{check="self"}'):
            return float(line.split()[-1])
    raise AssertionError("no runs_total for the check")


def runs_over(d, seconds: float) -> float:
    before = runs(d)
    time.sleep(seconds)
    return runs(d) - before


def wall_of(doc) -> float:
    return datetime.datetime.fromisoformat(doc["last_run"].replace("Z", "+00:00")).timestamp()


def step(path: Path, offset: str) -> None:
    path.write_text(offset + "\n")


def test_a_wall_clock_step_moves_timestamps_not_the_schedule(daemon, tmp_path):
    offset = tmp_path / "faketime"
    step(offset, "+0")
    env = {**os.environ, "LD_PRELOAD": str(LIBFAKETIME), "FAKETIME_TIMESTAMP_FILE": str(offset),
           "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           # Under the sanitizer build libfaketime loads before the ASan runtime; allow it.
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    d = daemon(config(), env=env)
    poll(lambda: d.request("/health/self").json().get("result") == "pass", bound(3.0),
         what="the check passing")
    baseline = runs_over(d, 1.0)
    expected = 1.0 / INTERVAL_S
    assert expected * 0.6 <= baseline <= expected * 1.3, baseline

    for label, offset_text, shift in (("forward", "+1h", HOUR_S), ("back", "-1h", -HOUR_S)):
        step(offset, offset_text)
        # No stall (the next run does not wait for the wall clock to catch up) and no burst
        # (runs skipped "during" the hour are not made up): the same rate as before.
        counted = runs_over(d, 1.0)
        assert expected * 0.6 <= counted <= expected * 1.3, (label, counted, baseline)
        doc = d.request("/health/self").json()
        assert doc["result"] == "pass", (label, doc)
        assert "stale" not in doc.get("output", ""), (label, doc)
        assert doc["age_ms"] < 350, (label, doc)
        # Answers and the log show the stepped wall clock.
        assert abs(wall_of(doc) - (time.time() + shift)) < 5, (label, doc["last_run"])
        top = d.request("/health").json()
        assert abs(top["timestamp"] - (time.time() + shift)) < 5, (label, top["timestamp"])

    # A log line written after the steps carries the stepped time.
    step(offset, "+1h")
    poll(lambda: runs(d) > 0, bound(1.0), what="the daemon running")
    os.kill(d.proc.pid, signal.SIGHUP)
    line = poll(lambda: (d.log_events("config reloaded") or [None])[-1], bound(3.0),
                what="the reload's log line")
    logged = datetime.datetime.fromisoformat(line["time"].replace("Z", "+00:00")).timestamp()
    assert abs(logged - (time.time() + HOUR_S)) < 5, line["time"]
