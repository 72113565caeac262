"""startup.py - budget 8: from starting the veza-health process to the first 200 on /ready, with
PostgreSQL and Redis up, over many trials."""

import subprocess
import statistics
import time

import benchlib as b

TRIALS = b.pick(30, 3)


def one(config_path):
    port = b.harness.free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen([b.harness.vh_bin(), "serve", "-c", str(config_path), "--listen",
                             f"127.0.0.1:{port}"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if b.get(port, timeout=1.0)[0] == 200:
                    return time.monotonic() - t0
            except OSError:
                pass
            if proc.poll() is not None:
                raise AssertionError(f"veza-health exited with status {proc.returncode}")
            if time.monotonic() - t0 > 10:
                raise AssertionError("no 200 on /ready within 10 s")
            time.sleep(0.001)
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    b.stop_on_sigterm()
    b.header("start-up: process start to first 200 on /ready")
    with b.workdir() as work, b.postgres() as pg, b.redis() as rd, b.app_stub() as app:
        configs = {"config/api.json-like (5 checks)": b.api_config(pg, rd, app),
                   "postgres + redis only": {"service": "bench", "checks": b.dep_checks(pg, rd)}}
        results = {}
        for name, config in configs.items():
            config_path = work / "startup.json"
            b.harness.write_config(config_path, config)
            results[name] = [one(config_path) for _ in range(TRIALS)]
    for name, t in results.items():
        print(f"{name}, /ready polled every 1 ms: {b.dist(t)}")
    times = results["config/api.json-like (5 checks)"]
    p90 = b.percentile(times, 90)
    ok = p90 < 0.1
    print(f"budget 8 (under 100 ms, judged on p90; max shown): {b.verdict(ok)}")
    print(f"SUMMARY startup (api.json-like): median {statistics.median(times) * 1e3:.0f} ms, p90 "
          f"{p90 * 1e3:.0f} ms, max {max(times) * 1e3:.0f} ms {b.verdict(ok)}")


if __name__ == "__main__":
    main()
