"""idle_cpu.py - budget 5: CPU of veza-health with 5 checks at a 1 s interval and no requests,
as a share of one core averaged over 60 s."""

import time

import benchlib as b

SECONDS = b.pick(60, 3)


def main():
    b.stop_on_sigterm()
    b.header("idle CPU: 5 checks at 1 s")
    with b.workdir() as work, b.postgres() as pg, b.redis() as rd, b.app_stub() as app, \
            b.daemon(work, b.api_config(pg, rd, app, interval="1s")) as vh:
        pid = vh.proc.pid
        b.wait_status(vh.port, 200)
        time.sleep(2)
        t0, c0, s0 = time.monotonic(), b.cpu_seconds(pid), b.oncpu_seconds(pid)
        time.sleep(SECONDS)
        t1, c1, s1 = time.monotonic(), b.cpu_seconds(pid), b.oncpu_seconds(pid)
    wall = t1 - t0
    sched = (s1 - s0) / wall * 100
    ticks = (c1 - c0) / wall * 100
    print(f"over {wall:.1f} s: on-CPU (schedstat) {sched:.3f}% of one core, utime+stime "
          f"{ticks:.3f}% ({(c1 - c0) * 1000:.0f} ms); {(s1 - s0) / wall / 5 * 1e6:.0f} us "
          f"per check run")
    ok = sched < 0.2
    print(f"budget 5 (< 0.2% of one core): {b.verdict(ok)}")
    print(f"SUMMARY idle_cpu: {sched:.3f}% of one core with 5 checks at 1 s {b.verdict(ok)}")


if __name__ == "__main__":
    main()
