"""throughput.py - /ready throughput, p99 and CPU per request of veza-health against nginx serving
the same body, alternating rounds in one run: keep-alive (budget 1) and Connection: close (2).
Budget 1's p99 is judged, as issue 12 decided, with each server pinned to CPU 0 and wrk -t1 to
CPU 1 (alternating rounds again): on a 2-core machine where wrk and the server share the cores, a
server that is not saturated waits for a core on some wake-ups, which shows in p99 but is the
machine's, not the server's. The shared-core p99 is reported beside it; throughput and CPU per
request are judged with the shared method."""

import os
import statistics

import benchlib as b

ROUNDS = b.pick(3, 1)
MODES = [("keep-alive", ()), ("Connection: close", ("Connection: close",))]


def run_mode(name, headers, vh, ngx_port, ngx_pid):
    print(f"-- {name}: wrk -t2 -c50 -d{b.WRK_SECONDS}s --latency, {ROUNDS} rounds each")
    res = {"veza": [], "nginx": []}
    for i in range(ROUNDS):
        order = [("veza", vh.port, vh.proc.pid), ("nginx", ngx_port, ngx_pid)]
        if i % 2:
            order.reverse()
        for who, port, pid in order:
            r = b.wrk(f"http://127.0.0.1:{port}/ready", headers=headers, pid=pid)
            res[who].append(r)
            print(f"  round {i + 1} {who:5}  {b.fmt_wrk(r)}", flush=True)
    med = {who: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p99", "cpu_per_req_us")}
           for who, runs in res.items()}
    v, n = med["veza"], med["nginx"]
    ratio = {k: v[k] / n[k] if n[k] else float("inf") for k in v}
    print(f"  median veza : {v['rps']:.0f} req/s, p99 {v['p99'] * 1e3:.2f} ms, "
          f"{v['cpu_per_req_us']:.2f} us CPU/req")
    print(f"  median nginx: {n['rps']:.0f} req/s, p99 {n['p99'] * 1e3:.2f} ms, "
          f"{n['cpu_per_req_us']:.2f} us CPU/req")
    print(f"  ratio veza/nginx: throughput {ratio['rps']:.2f}x, p99 {ratio['p99']:.2f}x, "
          f"CPU/req {ratio['cpu_per_req_us']:.2f}x")
    return ratio


def run_pinned(vh, ngx_port, ngx_pid):
    """Keep-alive, each server alone on CPU 0 and wrk -t1 alone on CPU 1, ROUNDS alternating
    rounds; ratios veza/nginx of the medians."""
    print(f"-- keep-alive, server pinned to CPU 0, wrk -t1 -c50 -d{b.WRK_SECONDS}s on CPU 1, "
          f"{ROUNDS} rounds each (budget 1's p99)")
    b.pin_tree(vh.proc.pid, "0")
    b.pin_tree(ngx_pid, "0")
    res = {"veza": [], "nginx": []}
    for i in range(ROUNDS):
        order = [("veza", vh.port, vh.proc.pid), ("nginx", ngx_port, ngx_pid)]
        if i % 2:
            order.reverse()
        for who, port, pid in order:
            r = b.wrk(f"http://127.0.0.1:{port}/ready", threads=1, pid=pid, cpus="1")
            res[who].append(r)
            print(f"  pinned round {i + 1} {who:5}  {b.fmt_wrk(r)}", flush=True)
    med = {who: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p99", "cpu_per_req_us")}
           for who, runs in res.items()}
    v, n = med["veza"], med["nginx"]
    ratio = {k: v[k] / n[k] if n[k] else float("inf") for k in v}
    print(f"  median pinned veza : {v['rps']:.0f} req/s, p99 {v['p99'] * 1e3:.2f} ms")
    print(f"  median pinned nginx: {n['rps']:.0f} req/s, p99 {n['p99'] * 1e3:.2f} ms")
    print(f"  ratio veza/nginx pinned: throughput {ratio['rps']:.2f}x, p99 {ratio['p99']:.2f}x, "
          f"CPU/req {ratio['cpu_per_req_us']:.2f}x")
    return ratio


def main():
    b.stop_on_sigterm()
    b.header("throughput: /ready, veza-health vs nginx")
    with b.workdir() as work, b.postgres() as pg, b.redis() as rd, b.app_stub() as app, \
            b.daemon(work, b.api_config(pg, rd, app)) as vh:
        b.wait_status(vh.port, 200)
        status, body = b.get(vh.port)
        print(f"veza-health pid {vh.proc.pid}, /ready {status}, body {len(body)} bytes")
        with b.nginx(work, body) as (ngx_port, ngx_pid):
            ka = run_mode(*MODES[0], vh, ngx_port, ngx_pid)
            cl = run_mode(*MODES[1], vh, ngx_port, ngx_pid)
            if (os.cpu_count() or 1) < 2:
                raise SystemExit("budget 1's p99 needs two CPUs: one for the server, one for wrk")
            pin = run_pinned(vh, ngx_port, ngx_pid)
    ok_rps, ok_cpu = ka["rps"] >= 0.9, ka["cpu_per_req_us"] <= 1.0
    ok_p99 = pin["p99"] <= 1.5
    ok1, ok2 = ok_rps and ok_cpu and ok_p99, cl["rps"] >= 0.9
    print(f"budget 1 (keep-alive >= 0.9x {b.verdict(ok_rps)}, CPU/req <= 1x {b.verdict(ok_cpu)}"
          f" with shared cores; p99 <= 1.5x pinned {pin['p99']:.2f}x {b.verdict(ok_p99)}, shared "
          f"cores {ka['p99']:.2f}x, not judged): {b.verdict(ok1)}")
    print(f"budget 2 (Connection: close >= 0.9x): {b.verdict(ok2)}")
    print(f"SUMMARY throughput: keep-alive {ka['rps']:.2f}x nginx, CPU/req "
          f"{ka['cpu_per_req_us']:.2f}x, p99 pinned {pin['p99']:.2f}x (shared {ka['p99']:.2f}x) "
          f"{b.verdict(ok1)}; close {cl['rps']:.2f}x {b.verdict(ok2)}")


if __name__ == "__main__":
    main()
