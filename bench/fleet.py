"""fleet.py - budget 9: N sidecars (200 by default) checking one PostgreSQL and one Redis every
second: the backends and clients they hold, the queries/s and CPU they cost each server, and
what one connection per probe request would cost instead (for the model in RESULTS.md)."""

import contextlib
import os
import re
import socket
import subprocess
import time

import benchlib as b

N = int(os.environ.get("BENCH_FLEET") or b.pick(200, 5))
WINDOW = b.pick(10, 2)
PER_CONN = b.pick(3, 1)
PG_SETTINGS = {"max_connections": str(N + 50), "shared_preload_libraries": "pg_stat_statements"}


def pg_checks(pg):
    """Check queries PostgreSQL has run, from pg_stat_statements: counted as each statement ends,
    unlike pg_stat_database, which a backend flushes only about once a second or less."""
    return int(pg.psql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                       "WHERE query LIKE '%pg_is_in_recovery%'"))


def server_load(pg, rd, seconds):
    """(PG check queries/s, Redis commands/s, PG CPU %, Redis CPU %) over seconds."""
    x0, r0 = pg_checks(pg), b.redis_calls(rd)
    t0 = time.monotonic()
    c0, d0 = b.tree_cpu_seconds(pg.proc.pid), b.oncpu_seconds(rd.proc.pid)
    time.sleep(seconds)
    x1, r1 = pg_checks(pg), b.redis_calls(rd)
    t1 = time.monotonic()
    c1, d1 = b.tree_cpu_seconds(pg.proc.pid), b.oncpu_seconds(rd.proc.pid)
    w = t1 - t0
    return (x1 - x0) / w, (r1 - r0) / w, (c1 - c0) / w * 100, (d1 - d0) / w * 100


def pg_per_connection(pg, work):
    """PG CPU per new connection that runs the check query once (pgbench -C)."""
    script = work / "ping.sql"
    script.write_text("SELECT pg_is_in_recovery();\n")
    c0 = b.tree_cpu_seconds(pg.proc.pid)
    out = subprocess.run(["pgbench", "-n", "-C", "-c", "2", "-T", str(PER_CONN), "-f",
                          str(script), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres",
                          "postgres"], capture_output=True, text=True, check=True).stdout
    cpu = b.tree_cpu_seconds(pg.proc.pid) - c0
    n = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    return cpu / n, n


def redis_per_connection(rd):
    """Redis CPU per new connection that sends one PING."""
    c0, n, end = b.oncpu_seconds(rd.proc.pid), 0, time.monotonic() + PER_CONN
    while time.monotonic() < end:
        with socket.create_connection(("127.0.0.1", rd.port)) as s:
            s.sendall(b"PING\r\n")
            s.recv(64)
        n += 1
    return (b.oncpu_seconds(rd.proc.pid) - c0) / n, n


def main():
    b.stop_on_sigterm()
    b.header(f"fleet: {N} sidecars, one PostgreSQL, one Redis, checks every 1 s")
    with b.workdir() as work, b.postgres(PG_SETTINGS) as pg, b.redis() as rd, \
            contextlib.ExitStack() as stack:
        pg.psql("CREATE EXTENSION pg_stat_statements")
        base = server_load(pg, rd, b.pick(3, 1))
        config = {"service": "bench", "defaults": {"interval": "1s", "timeout": "1s"},
                  "checks": b.dep_checks(pg, rd)}
        t0 = time.monotonic()
        fleet = [stack.enter_context(b.daemon(work, config, name=f"vh-{i}")) for i in range(N)]
        for vh in fleet:
            b.wait_status(vh.port, 200, timeout=60)
        print(f"{N} sidecars up and ready in {time.monotonic() - t0:.1f} s")
        time.sleep(2)
        backends = int(pg.psql("SELECT count(*) FROM pg_stat_activity "
                               "WHERE application_name = 'veza-health'"))
        clients = int(re.search(rb"connected_clients:(\d+)", rd.command("INFO", "clients"))[1]) - 1
        s0 = sum(b.oncpu_seconds(vh.proc.pid) for vh in fleet)
        t1 = time.monotonic()
        qps, cps, pg_cpu, rd_cpu = server_load(pg, rd, WINDOW)
        s1 = sum(b.oncpu_seconds(vh.proc.pid) for vh in fleet)
        side = (s1 - s0) / (time.monotonic() - t1)
        rss = sum(b.rss_kib(vh.proc.pid) for vh in fleet) / 1024
        pg_conn, pg_n = pg_per_connection(pg, work)
        rd_conn, rd_n = redis_per_connection(rd)
    print(f"  PostgreSQL backends held: {backends} ({backends / N:.2f} per sidecar)")
    print(f"  Redis clients held:       {clients} ({clients / N:.2f} per sidecar)")
    print(f"  PostgreSQL: {qps:.0f} check queries/s, CPU {pg_cpu:.1f}% of one core "
          f"({pg_cpu / 100 / max(qps, 1) * 1e6:.0f} us per check); with no sidecar: "
          f"{base[2]:.2f}% CPU")
    print(f"  Redis: {cps:.0f} commands/s, CPU {rd_cpu:.1f}% of one core "
          f"({rd_cpu / 100 / max(cps, 1) * 1e6:.1f} us per check)")
    print(f"  sidecars: {side * 100:.1f}% of one core in all ({side * 100 / N:.3f}% each), "
          f"RSS {rss:.0f} MiB in all")
    print(f"  one connection per check instead (pgbench -C, {pg_n} conns; {rd_n} Redis conns): "
          f"PG {pg_conn * 1e6:.0f} us CPU per connect+query, Redis {rd_conn * 1e6:.1f} us per "
          f"connect+PING")
    ok = backends == N and clients == N
    print(f"budget 9 (one backend and one Redis client per sidecar): {b.verdict(ok)}")
    print(f"SUMMARY fleet: {N} sidecars hold {backends} PG backends and {clients} Redis clients; "
          f"PG {qps:.0f} q/s {pg_cpu:.1f}% CPU, Redis {cps:.0f} cmd/s {rd_cpu:.1f}% CPU "
          f"{b.verdict(ok)}")


if __name__ == "__main__":
    main()
