"""callgrind.py - instructions per /ready request (valgrind --tool=callgrind, which counts the
same on a noisy machine): one run serving N keep-alive requests, one idle run of the same length,
Ir per request = (Ir_requests - Ir_idle) / N.
This is the cost of a request whose body is rendered afresh. Under valgrind's slowdown a render
takes over a millisecond, so the next request always finds the clock moved and the daemon's
per-millisecond body cache never hits here: the cost of a cached answer shows as CPU per request
under load in throughput.py, not here."""

import http.client
import re
import subprocess
import time

import benchlib as b

N = b.pick(5000, 200)


def run(work, pg, rd, app, n, hold):
    """Runs the daemon under callgrind, sends n requests (or waits hold seconds), stops it and
    returns (total Ir, seconds spent in the request phase, callgrind output file)."""
    out = work / f"callgrind.{n}.out"
    wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    with b.daemon(work, b.api_config(pg, rd, app), name=f"cg-{n}", wrapper=wrapper) as vh:
        b.wait_status(vh.port, 200, timeout=60)
        t0 = time.monotonic()
        if n:
            conn = http.client.HTTPConnection("127.0.0.1", vh.port, timeout=10)
            for _ in range(n):
                status, _ = b.get(vh.port, conn=conn)
                assert status == 200, status
            conn.close()
        else:
            time.sleep(hold)
        took = time.monotonic() - t0
    text = out.read_text()
    total = int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1))
    return total, took, out


def top(out, count=12):
    """callgrind_annotate's heaviest functions (inclusive of nothing: self cost)."""
    proc = subprocess.run(["callgrind_annotate", "--threshold=99", str(out)],
                          capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if re.match(r"^\s*[\d,]+ \(", line)]
    return lines[1:count + 1]


def main():
    b.stop_on_sigterm()
    b.header("callgrind: instructions per /ready request")
    with b.workdir() as work, b.postgres() as pg, b.redis() as rd, b.app_stub() as app:
        busy, took, out = run(work, pg, rd, app, N, 0)
        idle, _, _ = run(work, pg, rd, app, 0, took)
        print(f"requests run: {busy:,} Ir ({N} keep-alive GET /ready in {took:.1f} s); idle run "
              f"of the same length: {idle:,} Ir")
        per = (busy - idle) / N
        print("heaviest functions of the request run (self Ir):")
        for line in top(out):
            print("  " + line.strip()[:110])
    print(f"SUMMARY callgrind: {per:,.0f} instructions per /ready request rendered afresh "
          f"(no budget figure)")


if __name__ == "__main__":
    main()
