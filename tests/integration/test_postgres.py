"""test_postgres.py - postgres checks against real PostgreSQL 15 servers that stop, fill up,
refuse passwords, hang and run as standbys."""

import os
import re
import secrets
import signal
import time

import pytest

import harness
import pg_server
from dns_fake import FakeDns
from harness import bound, poll, rss_kib, settled_fd_count

_unavailable = pg_server.available()
if _unavailable:
    pytest.skip(_unavailable, allow_module_level=True)

APP = "veza-health"
PRIMARY_OK = "primary"
REFUSED = re.compile(r"^connection refused \(127\.0\.0\.1:(\d+)\)( \(reconnecting in \S+\))?$")


@pytest.fixture(scope="module")
def pg():
    """A server shared by the tests that leave it running as they found it."""
    server = pg_server.PgServer("pg")
    try:
        server.initdb().start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def own_pg():
    """A factory for servers of the test's own, for tests that stop them or change settings."""
    servers = []

    def make(name="pg-own", **settings):
        server = pg_server.PgServer(name, settings={k: str(v) for k, v in settings.items()})
        servers.append(server)
        return server.initdb().start()

    yield make
    for server in servers:
        server.cleanup()


def pg_check(name, params, interval="200ms", timeout="500ms", **postgres) -> dict:
    return {
        "name": name,
        "type": "postgres",
        "groups": ["readiness"],
        "interval": interval,
        "timeout": timeout,
        "postgres": dict(postgres, params=params),
    }


def config(*checks, nameserver=None) -> dict:
    doc = {"service": "itest", "checks": list(checks)}
    if nameserver:
        doc["dns"] = {"nameservers": [nameserver], "timeout": "500ms", "attempts": 1}
    return doc


def reason(doc: dict) -> str:
    """The one-line result of a check document, whichever key holds it."""
    return doc.get("error") or doc.get("output") or ""


def check_doc(d, name: str) -> dict:
    resp = d.request(f"/health/{name}")
    return resp.json()


def wait_reason(d, name: str, match, timeout: float, what: str) -> dict:
    """Polls /health/NAME until match(reason) holds; returns the document."""

    def probe():
        doc = check_doc(d, name)
        return doc if doc.get("last_run") and match(reason(doc)) else None

    return poll(probe, bound(timeout), what=f"{name}: {what}")


def wait_failures(d, name: str, n: int, timeout: float, interval: float = 0.05) -> dict:
    """Polls /health/NAME until at least n runs in a row failed; returns the document."""

    def probe():
        doc = check_doc(d, name)
        return doc if doc.get("consecutive_failures", 0) >= n else None

    return poll(probe, bound(timeout), interval=interval, what=f"{name}: {n} failed runs")


def wait_ready(d, status: int, timeout: float) -> float:
    """Polls /ready until it answers status; returns the seconds it took."""
    start = time.monotonic()
    poll(lambda: d.request("/ready").status == status, bound(timeout), interval=0.01,
         what=f"/ready {status}")
    return time.monotonic() - start


def authorized_lines(server: pg_server.PgServer, since: int, user="postgres") -> int:
    """Counts the connections the daemon made since the server log was since bytes long."""
    line = f"connection authorized: user={user} database=postgres application_name={APP}"
    return server.log_text()[since:].count(line)


def test_up_passes_within_one_interval_and_completes_startup(daemon, pg):
    started = time.monotonic()
    d = daemon(config(pg_check("db", pg.dsn_params(), interval="1s")))
    took = wait_ready(d, 200, 1.0)
    print(f"daemon start to /ready 200: {took * 1000:.0f} ms "
          f"(from spawn: {(time.monotonic() - started) * 1000:.0f} ms)")
    assert d.request("/startup").status == 200
    doc = check_doc(d, "db")
    assert (doc["status"], doc["result"], doc["type"]) == ("pass", "pass", "postgres")
    assert reason(doc) == PRIMARY_OK
    assert doc["observed"] == {}


def test_stop_fails_with_refused_and_restart_recovers_without_a_new_sidecar(daemon, own_pg):
    server = own_pg()
    d = daemon(config(pg_check("db", server.dsn_params(), interval="200ms", timeout="500ms",
                               backoff={"initial": "100ms", "max": "400ms"})))
    wait_ready(d, 200, 2.0)
    pid = d.proc.pid

    stopped = time.monotonic()
    server.stop_mode("fast")
    # interval + timeout + jitter, with fall 1, plus slack for a loaded machine.
    to_503 = wait_ready(d, 503, 0.2 + 0.5 + 0.02 + 0.5)
    print(f"PostgreSQL stop to /ready 503: {(time.monotonic() - stopped) * 1000:.0f} ms")
    doc = wait_reason(d, "db", REFUSED.match, 2.0, "connection refused")
    assert int(REFUSED.match(reason(doc)).group(1)) == server.port
    assert to_503 < bound(1.3)
    body = d.request("/ready").json()
    assert body["checks"]["db"]["result"] == "fail"
    assert REFUSED.match(body["checks"]["db"]["error"])

    # The sidecar keeps trying with backoff; the reason says when it tries next.
    wait_reason(d, "db", lambda r: "(reconnecting in " in r, 2.0, "backoff shown")

    restarted = time.monotonic()
    server.restart()
    to_200 = wait_ready(d, 200, 0.2 + 0.4 + 0.5)
    print(f"PostgreSQL restart (ready) to /ready 200: {to_200 * 1000:.0f} ms "
          f"(from the restart command: {(time.monotonic() - restarted) * 1000:.0f} ms)")
    assert d.alive() and d.proc.pid == pid
    assert reason(check_doc(d, "db")) == PRIMARY_OK


def test_black_hole_times_out_while_endpoints_stay_fast(daemon):
    with harness.FakeServer("silent") as hole:
        d = daemon(config(pg_check("db", {"host": "127.0.0.1", "port": str(hole.port),
                                          "user": "postgres"},
                                   interval="200ms", timeout="300ms",
                                   backoff={"initial": "10ms", "max": "20ms"})))
        # The kernel completes the TCP handshake; libpq's SSLRequest (sslmode prefer) never
        # gets an answer.
        phase = f"timeout after 300 ms negotiating TLS with 127.0.0.1:{hole.port}"
        wait_reason(d, "db", lambda r: r == phase, 2.0, "the engine's timeout, with the phase")
        # Every run is stuck in a connect while these requests are served.
        slowest = 0.0
        for _ in range(20):
            for path in ("/live", "/ready"):
                start = time.monotonic()
                resp = d.request(path)
                slowest = max(slowest, time.monotonic() - start)
                assert resp.status == (200 if path == "/live" else 503)
            time.sleep(0.03)
        print(f"slowest /live or /ready during the black hole: {slowest * 1000:.1f} ms")
        assert slowest < bound(0.2)
        # Each timed-out run dropped its connection: later runs start again instead of
        # finding a run in flight ("could not start").
        doc = wait_failures(d, "db", 4, 3.0)
        hung = rf"timed out connecting \(127\.0\.0\.1:{hole.port}\)( \(reconnecting in \S+\))?"
        assert re.fullmatch(rf"{re.escape(phase)}|{hung}", reason(doc)), doc
        assert len(hole.conns) >= 2


@pytest.mark.parametrize("source", ["PGPASSWORD", "params"])
def test_wrong_password_fails_and_is_never_shown(daemon, pg, source):
    pg.set_password(pg_server.PASSWORD_ROLE, "right-" + secrets.token_hex(8))
    wrong = "Wr0ng-" + secrets.token_hex(8)
    params = pg.dsn_params(user=pg_server.PASSWORD_ROLE)
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    if source == "PGPASSWORD":
        env["PGPASSWORD"] = wrong
    else:
        env["VH_TEST_PG_PASSWORD"] = wrong
        params["password"] = "${VH_TEST_PG_PASSWORD}"
    d = daemon(config(pg_check("db", params)), env=env, args=["--log-level", "debug"])
    wait_reason(d, "db", lambda r: r == 'authentication failed for user "vh_pw"', 3.0,
                "authentication failure")
    wait_ready(d, 503, 1.0)

    outputs = []
    for path in ("/ready", "/ready?verbose", "/health", "/health?verbose", "/health/db",
                 "/live", "/startup", "/health?format=text", "/health?format=health%2Bjson",
                 "/ready?format=health%2Bjson"):
        resp = d.request(path)
        outputs.append(resp.body.decode() + str(resp.headers))
    resp = d.request("/health", headers={"Accept": "application/health+json"})
    assert resp.headers["content-type"].startswith("application/health+json")
    outputs.append(resp.body.decode())
    shown = "\n".join(outputs)
    assert "authentication failed" in shown
    assert wrong not in shown
    d.stop_ok()
    assert any(e["to"] == "fail" and "authentication failed" in e["reason"]
               for e in d.log_events("check status changed", check="db")), d.log_text()
    assert wrong not in d.log_text()
    dump = harness.run_cli(["check-config", str(d.config_path)], env=env)
    assert dump.returncode == 0, dump.stderr
    assert wrong not in dump.stdout + dump.stderr


def test_server_text_is_scrubbed_of_the_password(daemon, pg):
    # Contrived on purpose: the database name is the password, so the server's own answer
    # ('database "..." does not exist') carries it, and only scrubbing keeps it out.
    password = "Scrub-" + secrets.token_hex(8)
    pg.set_password(pg_server.PASSWORD_ROLE, password)
    params = pg.dsn_params(user=pg_server.PASSWORD_ROLE, password="${VH_TEST_PG_PASSWORD}",
                           dbname="${VH_TEST_PG_PASSWORD}")
    env = dict(os.environ, VH_TEST_PG_PASSWORD=password)
    d = daemon(config(pg_check("db", params)), env=env)
    wait_reason(d, "db", lambda r: r == 'database "***" does not exist', 3.0, "scrubbed text")
    assert password not in d.request("/health?verbose").text
    d.stop_ok()
    assert password not in d.log_text()


def test_too_many_connections(daemon, own_pg):
    server = own_pg("pg-full", max_connections=3, superuser_reserved_connections=0)
    held = server.hold_all_connections()
    try:
        d = daemon(config(pg_check("db", server.dsn_params(), connection="per_check",
                                   backoff={"initial": "10ms", "max": "50ms"})))
        wait_reason(d, "db", lambda r: r == "too many connections (max_connections reached)",
                    3.0, "too many connections")
        assert d.request("/ready").status == 503
    finally:
        held.release()
    wait_reason(d, "db", lambda r: r == PRIMARY_OK, 3.0, "a free slot again")


def test_smart_shutdown_in_progress_reads_shutting_down(daemon, own_pg):
    server = own_pg("pg-smart")
    held = pg_server.HeldConnections()
    held.add(server._sleeper())
    try:
        poll(lambda: server.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                 "'SELECT pg_sleep%'") == "1", 10, what="a sleeping session")
        # A smart shutdown waits for that session and refuses every new one meanwhile.
        server.send_signal(signal.SIGTERM)
        d = daemon(config(pg_check("db", server.dsn_params(), connection="per_check")))
        wait_reason(d, "db", lambda r: r == "database is shutting down", 3.0, "shutting down")
    finally:
        held.release()
    server.proc.wait(bound(10))


def test_roles_on_a_primary_and_its_standby(daemon, own_pg):
    primary = own_pg("pg-primary")
    standby = primary.make_standby()
    try:
        d = daemon(config(
            pg_check("standby-as-primary", standby.dsn_params(), role="primary"),
            pg_check("standby-as-replica", standby.dsn_params(), role="replica"),
            pg_check("primary-as-replica", primary.dsn_params(), role="replica"),
            pg_check("primary-as-primary", primary.dsn_params(), role="primary"),
        ))
        wait_reason(d, "standby-as-primary",
                    lambda r: r == "server is a replica (in recovery) but role primary is "
                                   "required", 3.0, "wrong role")
        wait_reason(d, "standby-as-replica", lambda r: r == "replica (in recovery)", 3.0, "pass")
        wait_reason(d, "primary-as-replica",
                    lambda r: r == "server is a primary (not in recovery) but role replica is "
                                   "required", 3.0, "wrong role")
        wait_reason(d, "primary-as-primary", lambda r: r == PRIMARY_OK, 3.0, "pass")
        ready = d.request("/ready").json()
        assert {k: v["result"] for k, v in ready["checks"].items()} == {
            "standby-as-primary": "fail", "standby-as-replica": "pass",
            "primary-as-replica": "fail", "primary-as-primary": "pass"}
    finally:
        standby.cleanup()


def test_stats_report_connections_and_thresholds(daemon, pg):
    pg.psql("DO $$BEGIN CREATE ROLE vh_plain LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; "
            "END$$")
    held = pg_server.HeldConnections()
    try:
        for _ in range(3):
            held.add(pg._sleeper())
        poll(lambda: pg.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                             "'SELECT pg_sleep%'") == "3", 10, what="three sleeping sessions")
        d = daemon(config(
            pg_check("stats", pg.dsn_params(), stats=True),
            # Without pg_read_all_stats a role sees no backend_type on others' sessions.
            pg_check("plain", pg.dsn_params(user="vh_plain"), stats=True),
            pg_check("crowded", pg.dsn_params(), stats=True, connections_warn_percent=0.5,
                     connections_fail_percent=0),
        ))
        max_connections = int(pg.psql("SHOW max_connections"))
        for name in ("stats", "plain"):
            doc = wait_reason(d, name, lambda r: r.startswith("primary, "), 3.0, "stats")
            match = re.fullmatch(r"primary, (\d+) of (\d+) connections \((\d+)%\)",
                                 reason(doc))
            assert match, reason(doc)
            assert int(match.group(2)) == max_connections
            observed = doc["observed"]
            assert observed["connections_active"]["unit"] == "connections"
            # The sleepers and this check's own connection at least.
            assert observed["connections_active"]["value"] >= 4, (name, observed)
            assert observed["connections_active"]["value"] == int(match.group(1))
            assert observed["connections_percent"]["unit"] == "percent"
            assert observed["connections_percent"]["value"] == pytest.approx(
                100.0 * observed["connections_active"]["value"] / max_connections)
    finally:
        held.release()

    doc = wait_reason(d, "crowded", lambda r: r.startswith("connections at "), 3.0, "a warning")
    assert doc["result"] == "warn"
    assert re.fullmatch(rf"connections at \d+% of max_connections \(\d+ of {max_connections}\)",
                        reason(doc)), reason(doc)
    assert d.request("/ready").status == 200


def test_persistent_connection_is_one_backend_reused(daemon, pg):
    since = len(pg.log_text())
    d = daemon(config(pg_check("db", pg.dsn_params(), interval="50ms")))
    poll(lambda: check_doc(d, "db").get("consecutive_successes", 0) >= 20, bound(5.0),
         what="20 passing runs")
    first = poll(lambda: pg.backends(APP) if len(pg.backends(APP)) == 1 else None, bound(5.0),
                 what=f"exactly one {APP} backend")
    start_runs = check_doc(d, "db")["consecutive_successes"]
    poll(lambda: check_doc(d, "db")["consecutive_successes"] >= start_runs + 10, bound(5.0),
         what="10 more runs")
    assert pg.backends(APP) == first
    assert authorized_lines(pg, since) == 1


def test_per_check_connection_connects_every_run(daemon, pg):
    since = len(pg.log_text())
    d = daemon(config(pg_check("db", pg.dsn_params(), interval="50ms", connection="per_check")))
    poll(lambda: check_doc(d, "db").get("consecutive_successes", 0) >= 10, bound(5.0),
         what="10 passing runs")
    assert authorized_lines(pg, since) >= 10


def test_hung_backend_times_out_and_a_new_connection_replaces_it(daemon, pg):
    d = daemon(config(pg_check("db", pg.dsn_params(), interval="100ms", timeout="300ms",
                               backoff={"initial": "10ms", "max": "20ms"})))
    wait_reason(d, "db", lambda r: r == PRIMARY_OK, 3.0, "pass")
    (old,) = poll(lambda: pg.backends(APP) if len(pg.backends(APP)) == 1 else None,
                  bound(5.0), what=f"one {APP} backend")
    os.kill(old, signal.SIGSTOP)
    try:
        wait_reason(d, "db", lambda r: r == "timeout after 300 ms waiting for the reply from "
                    f"127.0.0.1:{pg.port}", 3.0, "timeout while the query is out")
        wait_reason(d, "db", lambda r: r == PRIMARY_OK, 3.0, "pass on a new connection")
    finally:
        os.kill(old, signal.SIGCONT)
    # The old backend finds its client gone once it runs again.
    backends = poll(lambda: pg.backends(APP) if old not in pg.backends(APP) else None,
                    bound(5.0), what="the hung backend to go")
    assert len(backends) == 1


def test_names_resolve_with_the_daemons_resolver(daemon, pg):
    # The system resolver knows neither name: a pass proves libpq got an address, not a name.
    with FakeDns({"pg.test": ["127.0.0.1"]}) as dns:
        d = daemon(config(pg_check("byname", pg.dsn_params(host="pg.test")),
                          pg_check("missing", pg.dsn_params(host="missing.test")),
                          nameserver=dns.address))
        wait_reason(d, "byname", lambda r: r == PRIMARY_OK, 3.0, "pass")
        wait_reason(d, "missing", lambda r: r.startswith('cannot resolve "missing.test": no such '
                                                          'host'), 3.0, "no such host")


def test_a_silent_nameserver_times_out_the_run(daemon, pg):
    with FakeDns(silent=True) as dns:
        d = daemon(config(pg_check("db", pg.dsn_params(host="pg.test"), timeout="300ms",
                                   backoff={"initial": "10ms", "max": "20ms"}),
                          nameserver=dns.address))
        wait_reason(d, "db", lambda r: r == 'timeout after 300 ms resolving "pg.test"', 3.0,
                    "the engine's timeout, naming the lookup")
        # The lookup was cancelled with the run, and the next run looks the name up again.
        poll(lambda: len(dns.queries) >= 2, bound(3.0), what="a second lookup")


def test_unix_socket_directory(daemon, pg):
    d = daemon(config(pg_check("socket", pg.dsn_params(host=str(pg.sockdir))),
                      pg_check("nosocket", pg.dsn_params(host="/nonexistent"))))
    wait_reason(d, "socket", lambda r: r == PRIMARY_OK, 3.0, "pass over the socket")
    wait_reason(d, "nosocket",
                lambda r: r.startswith(f"no such socket (/nonexistent/.s.PGSQL.{pg.port})"), 3.0,
                "no such socket")


def test_a_connection_the_server_closes_while_idle_is_replaced_without_a_failure(daemon, pg):
    d = daemon(config(pg_check("db", pg.dsn_params(), interval="500ms")))
    wait_reason(d, "db", lambda r: r == PRIMARY_OK, 3.0, "pass")
    (old,) = poll(lambda: pg.backends(APP) if len(pg.backends(APP)) == 1 else None,
                  bound(5.0), what=f"one {APP} backend")
    before = check_doc(d, "db")["consecutive_successes"]
    assert pg.psql(f"SELECT pg_terminate_backend({old})") == "t"
    (new,) = poll(lambda: pg.backends(APP) if pg.backends(APP) not in ([], [old]) else None,
                  bound(5.0), what="a new backend")
    assert new != old
    # The run after the hang-up connected afresh and passed: no failure in between.
    doc = check_doc(d, "db")
    assert doc["consecutive_successes"] > before and doc["consecutive_failures"] == 0, doc


def test_environment_service_file_and_passfile_keep_working(daemon, pg, tmp_path):
    password = "svc-" + secrets.token_hex(8)
    pg.set_password(pg_server.PASSWORD_ROLE, password)
    service_file = tmp_path / "pg_service.conf"
    service_file.write_text(f"[vhsvc]\nhost=pgsvc.test\nport={pg.port}\n"
                            f"user={pg_server.PASSWORD_ROLE}\ndbname=postgres\n")
    # Matched on the host name: the daemon passes host along with the hostaddr it found.
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"pgsvc.test:{pg.port}:*:{pg_server.PASSWORD_ROLE}:{password}\n")
    passfile.chmod(0o600)
    env = dict(os.environ, PGHOST="pgenv.test", PGPORT=str(pg.port), PGUSER="postgres",
               PGDATABASE="postgres", PGSERVICEFILE=str(service_file), PGPASSFILE=str(passfile))
    for var in ("PGPASSWORD", "PGSERVICE", "PGHOSTADDR", "PGAPPNAME"):
        env.pop(var, None)
    with FakeDns({"pgenv.test": ["127.0.0.1"], "pgsvc.test": ["127.0.0.1"]}) as dns:
        d = daemon(config(pg_check("env", {}), pg_check("service", {"service": "vhsvc"}),
                          nameserver=dns.address), env=env)
        wait_reason(d, "env", lambda r: r == PRIMARY_OK, 3.0, "pass from PGHOST")
        wait_reason(d, "service", lambda r: r == PRIMARY_OK, 3.0, "pass from the service file")
    assert password not in d.log_text()


def test_no_fd_or_memory_growth_over_hundreds_of_failures(daemon):
    port = harness.free_port()
    d = daemon(config(pg_check("db", {"host": "127.0.0.1", "port": str(port),
                                      "user": "postgres"},
                               interval="20ms", timeout="200ms",
                               backoff={"initial": "10ms", "max": "20ms"})))
    pid = d.proc.pid
    doc = wait_failures(d, "db", 50, 10.0)
    assert REFUSED.match(reason(doc)), reason(doc)
    fds_before, rss_before = settled_fd_count(pid, looks=20, gap=0.005), rss_kib(pid)
    doc = wait_failures(d, "db", 600, 40.0, interval=0.2)
    fds_after, rss_after = settled_fd_count(pid, looks=20, gap=0.005), rss_kib(pid)
    print(f"{doc['consecutive_failures']} failed runs: fds {fds_before} -> {fds_after}, "
          f"rss {rss_before} -> {rss_after} KiB")
    assert fds_after == fds_before
    if not (harness.VALGRIND or harness.SANITIZED):
        assert rss_after - rss_before < 256


def test_smart_shutdown_is_seen_and_not_held_open(daemon, own_pg):
    """A smart shutdown refuses new connections and waits for the sessions it has. A held
    session kept answering "ok" and kept the shutdown from ever finishing; with
    reconnect_after the check lets it go, connects as a pool would, is refused with the
    server's reason, and the shutdown finishes (issue 13)."""
    server = own_pg("pg-smart")
    d = daemon(config(pg_check("db", server.dsn_params(), interval="200ms",
                               reconnect_after="2s",
                               backoff={"initial": "50ms", "max": "100ms"})))
    wait_reason(d, "db", lambda r: r == PRIMARY_OK, 3.0, "pass")
    (held,) = poll(lambda: server.backends(APP) if len(server.backends(APP)) == 1 else None,
                   bound(5.0), what=f"one {APP} backend")
    asked = time.monotonic()
    os.kill(server.proc.pid, signal.SIGTERM)  # pg_ctl stop -m smart
    doc = wait_reason(d, "db", lambda r: "shutting down" in r, 2.0 + 0.2 + 2.0,
                      "the refusal of new connections")
    seen = time.monotonic() - asked
    assert doc["result"] == "fail"
    poll(lambda: not server.alive(), bound(2.0 + 0.2 + 3.0), what="the smart shutdown to finish")
    finished = time.monotonic() - asked
    print(f"smart shutdown: check failed after {seen * 1000:.0f} ms, server gone after "
          f"{finished * 1000:.0f} ms (bound reconnect_after 2 s + interval 200 ms)")
    assert seen < bound(2.0 + 0.2 + 1.0)
