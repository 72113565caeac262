"""detection.py - budget 6: how long /ready takes to turn 503 after PostgreSQL or Redis stops, and
200 again after it is back, over repeated trials, against interval + timeout + 100 ms and
interval + reconnect backoff."""

import statistics
import time

import benchlib as b

TRIALS = b.pick(10, 1)
INTERVAL, TIMEOUT, BACKOFF_MAX = 1.0, 1.0, 1.0


def trial(vh, stop, start):
    """Stops a server, times the 503, starts it again and times the 200."""
    stop()
    down = b.wait_status(vh.port, 503, timeout=30, period=0.005)
    time.sleep(0.3)
    start()
    up = b.wait_status(vh.port, 200, timeout=30, period=0.005)
    time.sleep(0.3 + (time.monotonic() % 1.0))  # start the next trial at a random phase
    return down, up


def report(name, downs, ups):
    bound_down = INTERVAL + TIMEOUT + 0.1
    bound_up = INTERVAL + BACKOFF_MAX + 0.1
    ok = max(downs) <= bound_down and max(ups) <= bound_up
    print(f"  {name} stopped -> 503: {b.dist(downs)}  (bound {bound_down * 1e3:.0f} ms)")
    print(f"  {name} back    -> 200: {b.dist(ups)}  (bound {bound_up * 1e3:.0f} ms)")
    return ok


def main():
    b.stop_on_sigterm()
    b.header("detection: dependency stopped / restarted")
    backoff = {"initial": "250ms", "max": f"{BACKOFF_MAX:.0f}s"}
    with b.workdir() as work, b.postgres() as pg, b.redis() as rd:
        config = {"service": "bench", "defaults": {"interval": "1s", "timeout": "1s", "fall": 1},
                  "checks": b.dep_checks(pg, rd, backoff=backoff)}
        print(f"checks: interval {INTERVAL:.0f}s, timeout {TIMEOUT:.0f}s, fall 1, jitter 100ms "
              f"(default), backoff 250ms..{BACKOFF_MAX:.0f}s; times from the server's exit and "
              f"from the server answering again, /ready polled every 5 ms")
        with b.daemon(work, config) as vh:
            b.wait_status(vh.port, 200)
            results = {}
            for name, stop, start in (("PostgreSQL", lambda: pg.stop_mode("fast"), pg.restart),
                                      ("Redis", rd.stop, rd.restart)):
                runs = [trial(vh, stop, start) for _ in range(TRIALS)]
                results[name] = ([d for d, _ in runs], [u for _, u in runs])
    oks = {name: report(name, *r) for name, r in results.items()}
    ok = all(oks.values())
    print(f"budget 6 (every trial within its bound): {b.verdict(ok)}")
    parts = [f"{name} 503 median {statistics.median(d) * 1e3:.0f} ms max {max(d) * 1e3:.0f} ms,"
             f" 200 max {max(u) * 1e3:.0f} ms" for name, (d, u) in results.items()]
    print(f"SUMMARY detection: {'; '.join(parts)} {b.verdict(ok)}")


if __name__ == "__main__":
    main()
