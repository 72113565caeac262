"""recovery.py - how soon /ready is 200 again after PostgreSQL or Redis comes back: stopped and
started (measured from the moment the port accepts), and black-holed and healed (from the
moment the iptables DROP rules go). Checks every 2 s with the shipped backoff, so that a daemon
that waits for its next run shows it. Issue 13's bound: 250 ms.

usage: bench/recovery.sh            (VH_BIN=... for another binary, e.g. an older build)
"""

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib
from benchlib import harness, pg_server, redis_server

TRIALS = benchlib.pick(10, 2)
INTERVAL = "2s"
BOUND_MS = 250


def config(pg, rs) -> dict:
    return {"service": "recovery", "checks": [
        {"name": "db", "type": "postgres", "interval": INTERVAL, "timeout": "1s",
         "postgres": {"params": pg.dsn_params()}},
        {"name": "cache", "type": "redis", "interval": INTERVAL, "timeout": "1s",
         "redis": {"host": "127.0.0.1", "port": rs.port}}]}


def result(d, name):
    return d.request(f"/health/{name}").json()["result"]


def wait(fn, timeout, what):
    harness.poll(fn, timeout, interval=0.002, what=what)


def wait_port(port) -> float:
    while not harness.can_connect("127.0.0.1", port, 0.05):
        time.sleep(0.002)
    return time.monotonic()


def iptables(action, port):
    # Loopback only: the dependency's own port, both directions, every packet (no RST).
    for rule in (["--dport", str(port)], ["--sport", str(port)]):
        subprocess.run(["iptables", action, "INPUT", "-i", "lo", "-p", "tcp", *rule, "-j",
                        "DROP"], check=True)


def stop_start(d, name, server, restart) -> float:
    server.stop(signal.SIGKILL if name == "cache" else signal.SIGINT, 30)
    wait(lambda: result(d, name) == "fail", 15, f"{name} failing")
    time.sleep(1.0)
    restart()
    up = wait_port(server.port)
    wait(lambda: result(d, name) == "pass", 30, f"{name} passing")
    return time.monotonic() - up


def black_hole(d, name, port) -> float:
    iptables("-A", port)
    try:
        wait(lambda: result(d, name) == "fail", 15, f"{name} failing")
        time.sleep(1.0)
    finally:
        iptables("-D", port)
    healed = time.monotonic()
    wait(lambda: result(d, name) == "pass", 30, f"{name} passing")
    return time.monotonic() - healed


def main():
    benchlib.stop_on_sigterm()
    benchlib.header("recovery: /ready 200 after a dependency comes back")
    if subprocess.run(["iptables", "-L", "INPUT", "-n"], capture_output=True).returncode != 0:
        print("recovery: iptables is not usable here; the black-hole trials need it (root)")
        return 1
    pg = pg_server.PgServer("bench-recovery")
    rs = redis_server.RedisServer("bench-recovery")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            pg.initdb().start()
            rs.start()
            d = harness.Daemon(Path(tmp), config(pg, rs))
            d.start()
            wait(lambda: result(d, "db") == "pass" and result(d, "cache") == "pass", 10, "pass")
            figures = {}
            for trial in range(TRIALS):
                figures.setdefault("PostgreSQL stop/start", []).append(
                    stop_start(d, "db", pg, lambda: (pg._spawn(pg.port), None)))
                figures.setdefault("Redis stop/start", []).append(
                    stop_start(d, "cache", rs, lambda: rs._spawn(rs.port)))
                figures.setdefault("PostgreSQL black hole/heal", []).append(
                    black_hole(d, "db", pg.port))
                figures.setdefault("Redis black hole/heal", []).append(
                    black_hole(d, "cache", rs.port))
            d.stop_ok()
        finally:
            pg.cleanup()
            rs.cleanup()
    print(f"recovery ({benchlib.load()}), {harness.vh_bin()}:")
    worst = 0.0
    for what, values in figures.items():
        worst = max(worst, max(values))
        print(f"  {what:28} back to 200 after {benchlib.dist(values)}")
    ok = worst * 1000 <= BOUND_MS
    print(f"  bound {BOUND_MS} ms (interval {INTERVAL}): worst {worst * 1000:.0f} ms "
          f"{benchlib.verdict(ok)}")
    print(f"SUMMARY recovery: worst {worst * 1000:.0f} ms of {TRIALS} trials x 4 against "
          f"{BOUND_MS} ms {benchlib.verdict(ok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
