"""test_drain.py - SIGTERM drains: readiness fails at once, liveness and the checks carry on,
and the daemon exits 0 after shutdown_delay; a second signal or SIGINT exits at once."""

import re
import signal
import time

from harness import bound, poll

DELAY_S = 1.5


def config(delay: str = f"{int(DELAY_S * 1000)}ms") -> dict:
    return {
        "service": "drain-test",
        "shutdown_delay": delay,
        "checks": [{"name": "self", "type": "process", "groups": ["liveness", "readiness"],
                    "interval": "100ms", "process": {"self": True}}],
    }


def runs(d) -> int:
    text = d.request("/metrics").text
    return int(re.search(r'^veza_health_check_runs_total\{check="self"\} (\d+)$', text,
                         re.M).group(1))


def test_sigterm_drains_then_exits_after_the_delay(daemon):
    d = daemon(config())
    poll(lambda: d.request("/ready").status == 200, bound(3), what="ready")
    d.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    poll(lambda: d.request("/ready").status == 503, bound(0.5), what="readiness draining")
    doc = d.request("/ready").json()
    assert doc["status"] == "draining"
    assert doc["checks"]["self"]["status"] == "ready", "the check itself still passes"
    assert d.request("/live").status == 200, "liveness stays up while draining"
    assert d.request("/startup").status == 200
    text = d.request("/ready?verbose").text
    assert "[-]shutdown failed: draining before exit\n" in text
    assert text.endswith("readyz check failed\n")
    health = d.request("/ready", headers={"Accept": "application/health+json"}).json()
    assert health["status"] == "fail" and health["notes"] == ["draining before exit"]
    assert "veza_health_ready 0\n" in d.request("/metrics").text

    before = runs(d)
    poll(lambda: runs(d) >= before + 3, bound(1.0), what="checks running while draining")
    code = d.proc.wait(bound(DELAY_S + 3))
    took = time.monotonic() - signalled
    assert code == 0
    assert DELAY_S - 0.1 <= took <= bound(DELAY_S + 1.0), took
    draining = d.log_events("draining")
    assert len(draining) == 1 and draining[0]["signal"] == "SIGTERM"
    assert draining[0]["drain_for"] == "1.5s"
    last = d.log_events()[-1]
    assert last["message"] == "shutting down" and last["after"] == "shutdown_delay", last


def test_a_second_sigterm_exits_at_once(daemon):
    d = daemon(config("10s"))
    poll(lambda: d.request("/ready").status == 200, bound(3), what="ready")
    d.send_signal(signal.SIGTERM)
    poll(lambda: d.request("/ready").status == 503, bound(0.5), what="readiness draining")
    start = time.monotonic()
    d.send_signal(signal.SIGTERM)
    assert d.proc.wait(bound(2)) == 0
    assert time.monotonic() - start < bound(1.0)
    assert d.log_events("shutting down", signal="SIGTERM")


def test_sigint_exits_at_once_even_with_a_delay(daemon):
    d = daemon(config("10s"))
    poll(lambda: d.request("/ready").status == 200, bound(3), what="ready")
    start = time.monotonic()
    d.send_signal(signal.SIGINT)
    assert d.proc.wait(bound(2)) == 0
    assert time.monotonic() - start < bound(1.0)
    assert not d.log_events("draining")


def test_no_delay_by_default(daemon):
    cfg = config()
    del cfg["shutdown_delay"]
    d = daemon(cfg)
    poll(lambda: d.request("/ready").status == 200, bound(3), what="ready")
    start = time.monotonic()
    d.send_signal(signal.SIGTERM)
    assert d.proc.wait(bound(2)) == 0
    assert time.monotonic() - start < bound(1.0)
