"""dependency_load.py - budget 3: PostgreSQL transactions and Redis commands during a burst of
/ready load equal those of the check schedule alone (10 s idle window vs 10 s wrk window)."""

import time

import benchlib as b

WINDOW = b.pick(10, 2)


def pg_statements(pg):
    """Statements the daemon sent so far, from the server log (log_statement=all, %a prefix):
    exact and immediate, unlike pg_stat_database, which backends flush about once a second."""
    return sum(1 for line in pg.log_text().splitlines()
               if " veza-health " in line and "statement:" in line)


def snapshot(pg, rd):
    return {"pg statements": pg_statements(pg), "pg xact_commit": b.pg_xact_commit(pg),
            "redis commands": b.redis_calls(rd)}


def window(pg, rd, vh, load):
    before = snapshot(pg, rd)
    requests = 0
    if load:
        r = b.wrk(f"http://127.0.0.1:{vh.port}/ready", seconds=WINDOW)
        requests = r["requests"]
    else:
        time.sleep(WINDOW)
    after = snapshot(pg, rd)
    return {k: after[k] - before[k] for k in before}, requests


def main():
    b.stop_on_sigterm()
    b.header("dependency load: /ready burst vs check schedule")
    settings = {"log_statement": "all", "log_line_prefix": "%m [%p] %a "}
    with b.workdir() as work, b.postgres(settings) as pg, b.redis() as rd:
        config = {"service": "bench", "defaults": {"interval": "1s", "timeout": "1s"},
                  "checks": b.dep_checks(pg, rd)}
        with b.daemon(work, config) as vh:
            b.wait_status(vh.port, 200)
            time.sleep(1.5)
            idle, _ = window(pg, rd, vh, load=False)
            busy, requests = window(pg, rd, vh, load=True)
    print(f"window {WINDOW} s, checks at 1 s; /ready requests under load: {requests}")
    print(f"  {'counter':16} {'idle':>6} {'load':>6}")
    for k in idle:
        print(f"  {k:16} {idle[k]:6d} {busy[k]:6d}")
    # pg_stat_database lags (a backend flushes its counts about once a second, and the bench's
    # own psql adds one), so the exact log count decides; a window edge may move one run.
    ok = all(abs(busy[k] - idle[k]) <= 1 for k in ("pg statements", "redis commands"))
    print(f"budget 3 (load window == schedule window, +-1 run at the edges): {b.verdict(ok)}")
    print(f"SUMMARY dependency_load: {requests} /ready requests caused "
          f"{busy['pg statements'] - idle['pg statements']:+d} PG statements and "
          f"{busy['redis commands'] - idle['redis commands']:+d} Redis commands beyond the "
          f"schedule {b.verdict(ok)}")


if __name__ == "__main__":
    main()
