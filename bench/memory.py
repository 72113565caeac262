"""memory.py - budget 4: resident memory of veza-health idle with config/api.json's checks, under
the load of budget 1, and after each of repeated load runs (growth)."""

import threading
import time

import benchlib as b

RUNS = b.pick(6, 2)
MIB = 1024.0


def peak_rss_during(fn, pid):
    """Runs fn while sampling VmRSS of pid every 50 ms; returns (fn's result, peak KiB)."""
    peak = [b.rss_kib(pid)]
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            peak[0] = max(peak[0], b.rss_kib(pid))

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        result = fn()
    finally:
        done.set()
        t.join()
    return result, peak[0]


def main():
    b.stop_on_sigterm()
    b.header("memory: RSS idle, under load, over repeated runs")
    with b.workdir() as work, b.postgres() as pg, b.redis() as rd, b.app_stub() as app, \
            b.daemon(work, b.api_config(pg, rd, app)) as vh:
        pid = vh.proc.pid
        url = f"http://127.0.0.1:{vh.port}/ready"
        b.wait_status(vh.port, 200)
        time.sleep(b.pick(6, 1))  # every check (5 s interval) has run at least once more
        idle = b.rss_kib(pid)
        print(f"idle RSS: {idle / MIB:.2f} MiB (config/api.json's 5 checks)")
        after = []
        peaks = []
        for i in range(RUNS):
            headers = ("Connection: close",) if i % 2 else ()
            _, peak = peak_rss_during(lambda: b.wrk(url, headers=headers), pid)
            time.sleep(0.5)
            after.append(b.rss_kib(pid))
            peaks.append(peak)
            print(f"  run {i + 1} ({'close' if headers else 'keep-alive'}): peak "
                  f"{peak / MIB:.2f} MiB, after {after[-1] / MIB:.2f} MiB", flush=True)
        hwm = b.rss_kib(pid, "VmHWM")
    growth = after[-1] - after[0]
    print(f"peak RSS under load {max(peaks + after) / MIB:.2f} MiB, VmHWM {hwm / MIB:.2f} MiB; "
          f"after-run RSS first {after[0] / MIB:.2f} MiB, last {after[-1] / MIB:.2f} MiB "
          f"(growth {growth} KiB over {RUNS - 1} runs)")
    ok_idle, ok_load, ok_growth = idle <= 4 * 1024, max(peaks + after) <= 8 * 1024, growth <= 64
    print(f"budget 4: idle <= 4 MiB {b.verdict(ok_idle)}; load <= 8 MiB {b.verdict(ok_load)}; "
          f"no growth (<= 64 KiB after the first run) {b.verdict(ok_growth)}")
    print(f"SUMMARY memory: idle {idle / MIB:.2f} MiB {b.verdict(ok_idle)}, load peak "
          f"{max(peaks + after) / MIB:.2f} MiB {b.verdict(ok_load)}, growth {growth} KiB "
          f"{b.verdict(ok_growth)}")


if __name__ == "__main__":
    main()
