"""test_process.py - process checks against real child processes: found, lost, found again."""

import secrets
import sys

import pytest

import harness
from harness import bound, poll

# How long the daemon may take to notice a change with a 100 ms interval.
REACT = 2.0


def process_config(process: dict, name: str = "target") -> dict:
    return {
        "service": "itest",
        "checks": [
            {
                "name": name,
                "type": "process",
                "groups": ["liveness"],
                "interval": "100ms",
                "process": process,
            }
        ],
    }


@pytest.fixture
def target(tmp_path, spawn):
    """A sleeping child with a comm no other process has: /bin/sleep copied under a random name
    (at most 15 characters, the comm limit), so parallel runs cannot see each other's target.
    target.start() (re)starts it, target.kill() kills and reaps it."""

    class Target:
        comm = f"vhit-{secrets.token_hex(4)}"
        path = harness.copy_executable("sleep", tmp_path, comm)
        proc = None

        def start(self):
            self.proc = spawn([str(self.path), "600"])
            return self.proc

        def kill(self):
            spawn.kill(self.proc)

    t = Target()
    t.start()
    return t


def live_with(d, result: str):
    """Polls /live until the target check's result is result; returns the document."""

    def check():
        resp = d.request("/live")
        doc = resp.json()
        if doc["checks"]["target"]["result"] != result:
            return None
        return resp.status, doc

    return poll(check, bound(REACT), what=f"/live with target result {result}")


def test_comm_target_found_lost_and_found_again(daemon, target):
    d = daemon(process_config({"comm": target.comm}))
    status, doc = live_with(d, "pass")
    assert status == 200
    assert doc["status"] == "alive"

    resp = d.request("/health/target")
    assert resp.status == 200
    one = resp.json()
    assert one["name"] == "target"
    assert one["observed"]["rss_bytes"]["value"] > 0
    assert one["observed"]["rss_bytes"]["unit"] == "bytes"
    assert one["observed"]["threads"]["value"] >= 1

    target.kill()
    status, doc = live_with(d, "fail")
    assert status == 503
    assert doc["status"] == "dead"
    assert "no process" in doc["checks"]["target"]["error"]

    target.start()
    status, doc = live_with(d, "pass")
    assert status == 200
    assert doc["status"] == "alive"


def test_failed_target_shows_in_text_form(daemon, target):
    d = daemon(process_config({"comm": target.comm}))
    live_with(d, "pass")
    target.kill()
    live_with(d, "fail")
    resp = d.request("/live?verbose")
    assert resp.status == 503
    lines = resp.text.splitlines()
    assert any(line.startswith("[-]target failed: ") and "no process" in line for line in lines), \
        resp.text
    assert resp.text.endswith("livez check failed\n")


def test_pid_target_that_exits(daemon, target):
    d = daemon(process_config({"pid": target.proc.pid}))
    status, _ = live_with(d, "pass")
    assert status == 200
    target.kill()
    status, doc = live_with(d, "fail")
    assert status == 503
    assert "exited" in doc["checks"]["target"]["error"]


def test_pidfile_target(daemon, target, tmp_path):
    pidfile = tmp_path / "target.pid"
    pidfile.write_text(f"{target.proc.pid}\n")
    d = daemon(process_config({"pidfile": str(pidfile)}))
    status, _ = live_with(d, "pass")
    assert status == 200
    target.kill()
    status, _ = live_with(d, "fail")
    assert status == 503


def test_cmdline_target(daemon, spawn):
    token = f"vhit-cmdline-{secrets.token_hex(4)}"
    proc = spawn([sys.executable, "-c", "import time; time.sleep(600)", token])
    d = daemon(process_config({"cmdline": token}))
    status, _ = live_with(d, "pass")
    assert status == 200
    spawn.kill(proc)
    status, doc = live_with(d, "fail")
    assert status == 503
    assert "no process" in doc["checks"]["target"]["error"]


def test_rss_fail_threshold(daemon, target):
    d = daemon(process_config({"comm": target.comm, "rss_fail": "1KiB"}))
    status, doc = live_with(d, "fail")
    assert status == 503
    assert "fail threshold" in doc["checks"]["target"]["error"]
    assert doc["checks"]["target"]["observed"]["rss_bytes"]["value"] > 1024


def test_threads_fail_threshold(daemon, spawn):
    code = ("import threading, time\n"
            "for _ in range(3):\n"
            "    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
            "time.sleep(600)\n")
    proc = spawn([sys.executable, "-c", code])
    d = daemon(process_config({"pid": proc.pid, "threads_fail": 2}))
    status, doc = live_with(d, "fail")
    assert status == 503
    check = doc["checks"]["target"]
    assert "fail threshold" in check["error"]
    assert check["observed"]["threads"]["value"] >= 2
