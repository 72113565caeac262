"""hung_deps.py - budget 7: PostgreSQL and Redis both black-holed (connections accepted, nothing
answered): /live and /ready p99 against the healthy baseline, time to 503 against timeout x fall,
and no stale 200 afterwards."""

import time

import benchlib as b

SECONDS = b.pick(5, 1)
STALE_WATCH = b.pick(5.0, 1.0)
INTERVAL, TIMEOUT, FALL = 1.0, 1.0, 1


def p99s(vh):
    out = {}
    for path in ("/live", "/ready"):
        r = b.wrk(f"http://127.0.0.1:{vh.port}{path}", seconds=SECONDS)
        out[path] = r
        print(f"    {path:6} {b.fmt_wrk(r)}", flush=True)
    return out


def time_to_503(vh):
    """Polls /ready every 5 ms until 503, then keeps polling for STALE_WATCH seconds and counts
    any 200 (a stale pass)."""
    t0 = time.monotonic()
    b.wait_status(vh.port, 503, timeout=30, period=0.005)
    took = time.monotonic() - t0
    stale = 0
    end = time.monotonic() + STALE_WATCH
    while time.monotonic() < end:
        stale += b.get(vh.port)[0] == 200
        time.sleep(0.005)
    return took, stale


def main():
    b.stop_on_sigterm()
    b.header("hung dependencies: PostgreSQL and Redis black-holed")
    with b.workdir() as work, b.postgres() as pg, b.redis() as rd:
        pg_sw, rd_sw = b.Switch(pg.port), b.Switch(rd.port)
        try:
            config = {"service": "bench",
                      "defaults": {"interval": "1s", "timeout": "1s", "fall": FALL},
                      "checks": b.dep_checks(pg, rd, pg_port=pg_sw.port, redis_port=rd_sw.port)}
            with b.daemon(work, config) as vh:
                b.wait_status(vh.port, 200)
                print(f"  healthy (checks through a forwarder), wrk -t2 -c50 -d{SECONDS}s:")
                healthy = p99s(vh)
                pg_sw.hole()
                rd_sw.hole()
                took, stale = time_to_503(vh)
                print(f"  holes opened: /ready 503 after {took * 1e3:.0f} ms; {stale} stale 200s "
                      f"in the next {STALE_WATCH:.0f} s")
                print("  black-holed:")
                holed = p99s(vh)
        finally:
            pg_sw.close()
            rd_sw.close()
    ratios = {p: holed[p]["p99"] / healthy[p]["p99"] for p in healthy}
    print("  p99 ratio hung/healthy: " + ", ".join(f"{p} {r:.2f}x" for p, r in ratios.items()))
    ok_lat = all(r <= 2.0 for r in ratios.values())
    ok_503 = took <= TIMEOUT * FALL and stale == 0
    print(f"budget 7: p99 within 2x {b.verdict(ok_lat)}; 503 within timeout x fall "
          f"({TIMEOUT * FALL * 1e3:.0f} ms; interval + timeout would be "
          f"{(INTERVAL + TIMEOUT) * 1e3:.0f} ms) and no stale 200 {b.verdict(ok_503)}")
    print(f"SUMMARY hung_deps: p99 /live {ratios['/live']:.2f}x /ready {ratios['/ready']:.2f}x "
          f"{b.verdict(ok_lat)}; 503 after {took * 1e3:.0f} ms vs {TIMEOUT * FALL * 1e3:.0f} ms, "
          f"{stale} stale 200s {b.verdict(ok_503)}")


if __name__ == "__main__":
    main()
