"""test_redis.py - redis checks against real redis-server 7 instances and a fake RESP server."""

import os
import secrets
import socket
import time

import pytest

import harness
import redis_server
from harness import bound, poll, settled_fd_count
from redis_server import FakeRedis, RedisServer

pytestmark = pytest.mark.skipif(redis_server.available() is not None,
                                reason=str(redis_server.available()))

INTERVAL_MS = 100
TIMEOUT_MS = 300
# How long the daemon may take to notice a change: a few runs, stretched under valgrind.
REACT = bound(3.0)
# Short reconnect delays, so that a restarted server is found again quickly.
FAST_BACKOFF = {"initial": "50ms", "max": "200ms"}
CLIENT_NAME = "veza-health"


def redis_check(redis: dict, name: str = "cache", groups=("readiness",), **timing) -> dict:
    check = {
        "name": name,
        "type": "redis",
        "groups": list(groups),
        "interval": f"{INTERVAL_MS}ms",
        "timeout": f"{TIMEOUT_MS}ms",
        "redis": redis,
    }
    check.update(timing)
    return check


def config(*checks) -> dict:
    return {"service": "itest", "checks": list(checks)}


def tcp(server, **extra) -> dict:
    """The redis settings for a server on loopback TCP (a RedisServer or a FakeRedis)."""
    settings = {"host": "127.0.0.1", "port": server.port}
    settings.update(extra)
    return settings


def env_with(**values) -> dict:
    env = dict(os.environ)
    env.update(values)
    return env


def check_doc(d, name: str = "cache") -> dict:
    """/health/NAME, with the run's text under "output" whatever the result (the JSON calls it
    "error" on a failure)."""
    doc = d.request(f"/health/{name}").json()
    if "error" in doc and "output" not in doc:
        doc["output"] = doc["error"]
    return doc


def wait_check(d, name: str = "cache", result=None, output=None, contains=None,
               timeout: float = REACT) -> dict:
    """Polls /health/NAME until the latest run has that result and output (exact, or
    containing a text); returns the document."""

    seen = {}

    def ready():
        doc = check_doc(d, name)
        seen["doc"] = doc
        if "output" not in doc:
            return None
        if result is not None and doc["result"] != result:
            return None
        if output is not None and doc["output"] != output:
            return None
        if contains is not None and contains not in doc["output"]:
            return None
        return doc

    what = f"check {name} with result {result!r}, output {output or contains!r}"
    try:
        return poll(ready, timeout, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last document: {seen.get('doc')!r}") from None


def wait_ready_status(d, status: int, timeout: float = REACT) -> float:
    """Polls /ready every 10 ms until it answers status; returns when (time.monotonic())."""
    poll(lambda: d.request("/ready").status == status, timeout, interval=0.01,
         what=f"/ready {status}")
    return time.monotonic()


def report(capsys, text: str) -> None:
    """Writes a measurement straight to the test log, past pytest's capture."""
    with capsys.disabled():
        print(f"\n[measure] {text}")


@pytest.fixture
def servers():
    """A factory: servers(**RedisServer kwargs) starts a redis-server that is killed and
    deleted after the test."""
    made = []

    def start(**kwargs):
        server = RedisServer(**kwargs)
        made.append(server)
        return server.start()

    yield start
    for server in made:
        server.cleanup()


@pytest.fixture(scope="module")
def primary():
    server = RedisServer("primary", settings={"maxmemory": "256mb"})
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def replica(primary):
    server = RedisServer("replica", replicaof=primary)
    try:
        server.start()
        server.wait_link_up()
        yield server
    finally:
        server.cleanup()


# --- reachability ---------------------------------------------------------------------------


def test_primary_and_replica_up_ready_200(daemon, primary, replica):
    d = daemon(config(
        redis_check(tcp(primary, role="master"), name="cache-primary"),
        redis_check(tcp(replica, role="replica"), name="cache-replica"),
    ))
    wait_ready_status(d, 200)
    assert check_doc(d, "cache-primary")["output"] == "PONG from master"
    assert check_doc(d, "cache-replica")["output"] == "PONG from replica (link up)"
    resp = d.request("/ready?verbose")
    assert resp.status == 200
    assert "[+]cache-primary ok" in resp.text and "[+]cache-replica ok" in resp.text


def test_ping_only_reports_pong(daemon, primary):
    d = daemon(config(redis_check(tcp(primary))))
    doc = wait_check(d, result="pass")
    assert doc["output"] == "PONG"
    assert "observed" not in doc or "memory_bytes" not in doc["observed"]


def test_stop_fails_fast_and_restart_recovers_without_restarting_sidecar(daemon, servers,
                                                                         capsys):
    server = servers(name="bounce")
    d = daemon(config(redis_check(tcp(server, backoff=FAST_BACKOFF))))
    wait_ready_status(d, 200)
    pid = d.proc.pid

    stopped = time.monotonic()
    server.stop()
    failed = wait_ready_status(d, 503)
    to_fail = failed - stopped
    doc = wait_check(d, result="fail", contains="connection refused")
    assert doc["output"].startswith(f"cannot connect to 127.0.0.1:{server.port}: "
                                    "connection refused"), doc["output"]
    # The next run after the stop connects and is refused, so the bound is one interval (plus
    # jitter) and one timeout.
    assert to_fail <= bound((INTERVAL_MS + TIMEOUT_MS) / 1000 + 0.3), to_fail

    restarting = time.monotonic()
    server.restart()
    restarted = time.monotonic()
    recovered = wait_ready_status(d, 200)
    to_pass = recovered - restarted
    # At most the longest backoff (200 ms) plus one interval, after the server answers.
    assert to_pass <= bound(0.2 + INTERVAL_MS / 1000 + 0.4), to_pass
    assert d.proc.pid == pid and d.alive()
    assert len(server.clients(CLIENT_NAME)) == 1
    report(capsys, f"redis stop -> /ready 503 in {to_fail * 1000:.0f} ms; restart (server up "
                   f"after {(restarted - restarting) * 1000:.0f} ms) -> /ready 200 in "
                   f"{to_pass * 1000:.0f} ms; interval {INTERVAL_MS} ms, timeout {TIMEOUT_MS} "
                   f"ms, backoff 50-200 ms")


def test_backoff_run_fails_at_once_with_last_error(daemon):
    port = harness.free_port()
    d = daemon(config(redis_check({"host": "127.0.0.1", "port": port,
                                   "backoff": {"initial": "10s", "max": "10s"}})))
    doc = wait_check(d, result="fail", contains="(reconnecting in ")
    assert doc["output"].startswith(f"cannot connect to 127.0.0.1:{port}: connection refused "
                                    "(reconnecting in "), doc["output"]
    assert doc["duration_ms"] <= (50 if harness.VALGRIND else 5), doc


def test_black_hole_times_out_while_endpoints_stay_fast(daemon, capsys):
    with FakeRedis(hang=True) as hole:
        d = daemon(config(redis_check(tcp(hole), fail_interval="50ms")))
        doc = wait_check(d, result="fail", output=f"timeout after {TIMEOUT_MS} ms waiting for "
                         f"the reply from 127.0.0.1:{hole.port}")
        assert doc["status"] == "fail"
        assert any(args[0] == b"PING" for _, args in hole.received())
        slowest = 0.0
        for _ in range(20):
            for path in ("/live", "/ready"):
                started = time.monotonic()
                resp = d.request(path)
                slowest = max(slowest, time.monotonic() - started)
                assert resp.status == (200 if path == "/live" else 503)
        assert slowest < bound(0.2), slowest
        report(capsys, f"black hole: slowest /live or /ready answer {slowest * 1000:.1f} ms "
                       f"while a {TIMEOUT_MS} ms redis run hangs")
        # The timed-out connection was freed: the next attempt waits out the backoff and then
        # opens a new connection instead of piling up on the old one.
        doc = wait_check(d, result="fail", contains="(reconnecting in ")
        assert doc["output"].startswith(
            f"no answer from 127.0.0.1:{hole.port} within "), doc["output"]
        poll(lambda: hole.connections >= 2, REACT, what="a second connection")


def test_connection_lost_mid_run(daemon):
    with FakeRedis({"PING": None}) as fake:
        d = daemon(config(redis_check(tcp(fake))))
        wait_check(d, result="fail", output=f"connection to 127.0.0.1:{fake.port} lost: "
                                            "server closed the connection")


def test_protocol_error_drops_the_connection(daemon):
    with FakeRedis({"PING": b"!bogus\r\n"}) as fake:
        d = daemon(config(redis_check(tcp(fake))))
        doc = wait_check(d, result="fail", contains="protocol error")
        assert doc["output"].startswith(f"connection to 127.0.0.1:{fake.port} lost: "), doc
        fake.set_reply("PING", b"+PONG\r\n")
        wait_check(d, result="pass", output="PONG")
        assert fake.connections >= 2


def test_shutdown_during_a_hung_run_is_clean(daemon):
    with FakeRedis(hang=True) as hole:
        d = daemon(config(redis_check(tcp(hole), timeout="10s", interval="20s")))
        poll(lambda: any(args[0] == b"PING" for _, args in hole.received()), REACT,
             what="a PING in flight")
        # Under valgrind a use after free or a leak in the teardown turns into exit status 99.
        d.stop_ok()


def test_idle_connection_closed_by_server_is_reopened_without_failing(daemon, servers):
    server = servers(name="idle")
    d = daemon(config(redis_check(tcp(server), interval="400ms")))
    wait_check(d, result="pass")
    first = server.clients(CLIENT_NAME)
    assert len(first) == 1
    # Kill the connection just after a run, so it dies idle rather than mid-run.
    poll(lambda: check_doc(d)["age_ms"] < 100, REACT, interval=0.01, what="a fresh run")
    server.command("CLIENT", "KILL", "ID", first[0]["id"])
    poll(lambda: [c["id"] for c in server.clients(CLIENT_NAME)] not in ([], [first[0]["id"]]),
         REACT, what="a new connection")
    wait_check(d, result="pass")
    doc = check_doc(d)
    assert doc["consecutive_failures"] == 0, doc
    changes = d.log_events("check status changed", check="cache")
    assert [(c["from"], c["to"]) for c in changes] == [("unknown", "pass")], changes


# --- authentication and secrets -------------------------------------------------------------


def endpoint_texts(d) -> dict:
    texts = {}
    for path in ("/ready", "/ready?verbose", "/live", "/health", "/health?verbose",
                 "/health/cache", "/readyz/cache", "/health?format=health+json"):
        texts[path] = d.request(path).text
    texts["health+json"] = d.request(
        "/health", headers={"Accept": "application/health+json"}).text
    return texts


@pytest.mark.parametrize("form", ["fields", "url"])
def test_wrong_password_fails_and_is_never_shown(daemon, servers, tmp_path, form):
    server = servers(name="locked", password="the-right-" + secrets.token_hex(6))
    wrong = "Wr0ng-Pa55-" + secrets.token_hex(8)
    if form == "fields":
        settings = tcp(server, password="${VH_TEST_REDIS_PASSWORD}")
    else:
        settings = {"url": f"redis://:${{VH_TEST_REDIS_PASSWORD}}@127.0.0.1:{server.port}/0"}
    settings["backoff"] = FAST_BACKOFF
    d = daemon(config(redis_check(settings)),
               env=env_with(VH_TEST_REDIS_PASSWORD=wrong))
    doc = wait_check(d, result="fail", contains="authentication failed")
    assert doc["output"].startswith(
        "authentication failed: WRONGPASS invalid username-password pair"), doc["output"]
    assert d.request("/ready").status == 503
    for path, text in endpoint_texts(d).items():
        assert wrong not in text, path
        assert "Wr0ng" not in text, path
    cli = harness.run_cli(["check-config", str(d.config_path)],
                          env=env_with(VH_TEST_REDIS_PASSWORD=wrong))
    assert cli.returncode == 0, cli.stderr
    assert wrong not in cli.stdout + cli.stderr
    d.stop_ok()
    log = d.log_text()
    assert any(e["to"] == "fail" and e["reason"].startswith("authentication failed: WRONGPASS")
               for e in d.log_events("check status changed", check="cache")), log
    assert wrong not in log


def test_right_password_passes(daemon, servers):
    password = "good-" + secrets.token_hex(8)
    server = servers(name="locked-ok", password=password)
    d = daemon(config(redis_check(tcp(server, password="${VH_TEST_REDIS_PASSWORD}"))),
               env=env_with(VH_TEST_REDIS_PASSWORD=password))
    assert wait_check(d, result="pass")["output"] == "PONG"
    assert d.request("/ready").status == 200
    assert password not in d.request("/health?verbose").text


@pytest.mark.parametrize("password", [None, "full-" + secrets.token_hex(8)])
def test_server_at_maxclients_is_reported_with_its_own_words(daemon, servers, password):
    # Redis answers a client over maxclients with -ERR and closes at once; the reset that
    # follows must not hide the reply, whichever setup command (AUTH or CLIENT) it answered.
    server = servers(name="full", password=password, settings={"maxclients": "1"})
    holder = socket.create_connection(("127.0.0.1", server.port))
    try:
        if password:
            holder.sendall(b"AUTH %s\r\n" % password.encode())
            assert holder.recv(64) == b"+OK\r\n"
        holder.sendall(b"PING\r\n")
        assert holder.recv(64) == b"+PONG\r\n"
        extra = {"password": "${VH_TEST_REDIS_PASSWORD}"} if password else {}
        d = daemon(config(redis_check(tcp(server, **extra))),
                   env=env_with(VH_TEST_REDIS_PASSWORD=password or "unused"))
        doc = wait_check(d, result="fail",
                         contains="refused by the server: ERR max number of clients reached")
        assert "reset" not in doc["output"], doc["output"]
    finally:
        holder.close()
    assert wait_check(d, result="pass")["output"] == "PONG"


def test_acl_user_and_password(daemon, servers):
    server = servers(name="acl")
    password = "acl-" + secrets.token_hex(8)
    server.command("ACL", "SETUSER", "vh-user", "on", f">{password}", "~*", "&*", "+@all")
    d = daemon(config(
        redis_check(tcp(server, username="vh-user", password="${VH_TEST_REDIS_PASSWORD}")),
        redis_check(tcp(server, username="vh-user", password="${VH_TEST_WRONG}"),
                    name="wrong-user", groups=[]),
    ), env=env_with(VH_TEST_REDIS_PASSWORD=password, VH_TEST_WRONG="not-" + password))
    wait_check(d, result="pass", output="PONG")
    # The wrong-user check's connection lives for a moment after each refused AUTH (as the
    # default user, which runs its pipelined CLIENT SETNAME); between its attempts only the
    # persistent connection is left, and it must be vh-user's.
    poll(lambda: [c["user"] for c in server.clients(CLIENT_NAME)] == ["vh-user"], REACT,
         what="only the vh-user connection")
    doc = wait_check(d, "wrong-user", result="fail", contains="authentication failed")
    assert "WRONGPASS" in doc["output"]


def test_missing_password_reports_noauth(daemon, servers):
    server = servers(name="noauth", password="set-" + secrets.token_hex(6))
    d = daemon(config(redis_check(tcp(server))))
    wait_check(d, result="fail", output="authentication failed: NOAUTH Authentication required.")


def test_password_echoed_by_server_is_scrubbed(daemon):
    password = "echo-" + secrets.token_hex(8)
    replies = {"AUTH": lambda args: b"-ERR invalid password " + args[-1] + b"\r\n"}
    with FakeRedis(replies) as fake:
        d = daemon(config(redis_check(tcp(fake, password="${VH_TEST_REDIS_PASSWORD}"))),
                   env=env_with(VH_TEST_REDIS_PASSWORD=password))
        doc = wait_check(d, result="fail", contains="authentication failed")
        assert doc["output"] == "authentication failed: ERR invalid password ***"
        d.stop_ok()
        assert password not in d.log_text()


def test_setup_is_pipelined_before_ping(daemon):
    with FakeRedis() as fake:
        d = daemon(config(redis_check(tcp(fake, username="app", role="master", stats=True,
                                          password="${VH_TEST_REDIS_PASSWORD}", db=3))),
                   env=env_with(VH_TEST_REDIS_PASSWORD="pipelined-secret"))
        wait_check(d, result="pass")
        sent = fake.received()
        first = [args for conn, args in sent if conn == 1][:5]
        assert first == [[b"AUTH", b"app", b"pipelined-secret"], [b"SELECT", b"3"],
                         [b"CLIENT", b"SETNAME", CLIENT_NAME.encode()], [b"PING"], [b"INFO"]]
        assert {conn for conn, _ in sent} == {1}, "one persistent connection"
        assert all(args in ([b"PING"], [b"INFO"]) for _, args in sent[3:])


def test_select_error_fails(daemon):
    with FakeRedis({"SELECT": b"-ERR DB index is out of range\r\n"}) as fake:
        d = daemon(config(redis_check(tcp(fake, db=20))))
        wait_check(d, result="fail",
                   output="cannot select database 20: ERR DB index is out of range")


# --- not ready ------------------------------------------------------------------------------

NOT_READY = [
    "LOADING Redis is loading the dataset in memory",
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
]


@pytest.mark.parametrize("error", NOT_READY, ids=[e.split()[0] for e in NOT_READY])
def test_not_ready_replies_fail_with_the_reply(daemon, error):
    with FakeRedis({"PING": f"-{error}\r\n".encode()}) as fake:
        d = daemon(config(redis_check(tcp(fake, role="master"))))
        doc = wait_check(d, result="fail", output=f"not ready: {error}")
        assert doc["status"] == "fail"
        assert d.request("/ready").status == 503
        fake.set_reply("PING", b"+PONG\r\n")
        wait_check(d, result="pass", output="PONG from master")


def test_real_server_loading_a_dataset_is_not_ready(daemon, servers, capsys):
    server = servers(name="loading", settings={"enable-debug-command": "yes"})
    server.command("DEBUG", "POPULATE", "5000")
    server.command("SAVE")
    d = daemon(config(redis_check(tcp(server, backoff=FAST_BACKOFF))))
    wait_check(d, result="pass")
    # About 1.5 s of loading: 5000 keys at 200 us each, with events served every KiB.
    server.stop()
    server.settings.update({"key-load-delay": "200", "loading-process-events-interval-bytes":
                            "1024"})
    started = time.monotonic()
    server.restart(wait="port")
    wait_check(d, result="fail",
               output="not ready: LOADING Redis is loading the dataset in memory")
    wait_check(d, result="pass", output="PONG", timeout=bound(15.0))
    report(capsys, f"real LOADING seen, then PONG {time.monotonic() - started:.2f} s after the "
                   "restart")


# --- roles ----------------------------------------------------------------------------------


def test_roles(daemon, primary, replica):
    d = daemon(config(
        redis_check(tcp(replica, role="master"), name="want-master"),
        redis_check(tcp(primary, role="replica"), name="want-replica", groups=[]),
        redis_check(tcp(replica, role="replica"), name="is-replica", groups=[]),
        redis_check(tcp(primary, role="primary"), name="is-primary", groups=[]),
    ))
    wait_check(d, "want-master", result="fail",
               output="server is a replica but role master is required")
    wait_check(d, "want-replica", result="fail",
               output="server is a master but role replica is required")
    wait_check(d, "is-replica", result="pass", output="PONG from replica (link up)")
    wait_check(d, "is-primary", result="pass", output="PONG from master")
    assert d.request("/ready").status == 503


def test_replica_with_link_down_warns(daemon, servers):
    lonely = servers(name="lonely",
                     settings={"replicaof": f"127.0.0.1 {harness.free_port()}"})
    d = daemon(config(redis_check(tcp(lonely, role="replica"))))
    doc = wait_check(d, result="warn", output="replica link to master is down")
    assert doc["status"] == "warn"
    assert d.request("/ready").status == 200


# --- statistics -----------------------------------------------------------------------------


def test_stats_measures(daemon, primary, replica):
    d = daemon(config(
        redis_check(tcp(primary, stats=True)),
        redis_check(tcp(replica, stats=True), name="replica-stats", groups=[]),
    ))
    doc = wait_check(d, result="pass", contains="memory")
    observed = doc["observed"]
    assert observed["memory_bytes"]["value"] > 0
    assert observed["memory_bytes"]["unit"] == "bytes"
    assert observed["clients"]["value"] >= 1
    assert observed["clients"]["unit"] == "connections"
    assert 0 < observed["memory_percent"]["value"] < 85
    assert observed["memory_percent"]["unit"] == "percent"
    assert doc["output"].startswith("PONG from master: memory "), doc["output"]
    assert " of 256.0 MiB (" in doc["output"]
    doc = wait_check(d, "replica-stats", result="pass", contains="no maxmemory")
    assert "memory_percent" not in doc["observed"], "no maxmemory, no utilization"
    body = d.request("/health", headers={"Accept": "application/health+json"}).json()
    assert body["checks"]["cache:memory"][0]["observedUnit"] == "bytes"
    assert body["checks"]["cache:utilization"][0]["observedUnit"] == "percent"
    assert body["checks"]["cache:connections"][0]["observedValue"] >= 1


def test_stats_thresholds(daemon, primary):
    d = daemon(config(
        redis_check(tcp(primary, stats=True, memory_warn_percent=0.001), name="mem-warn"),
        redis_check(tcp(primary, stats=True, memory_warn_percent=0.001,
                        memory_fail_percent=0.002), name="mem-fail", groups=[]),
        redis_check(tcp(primary, stats=True, clients_warn=1), name="clients", groups=[]),
    ))
    doc = wait_check(d, "mem-warn", result="warn")
    assert doc["output"].endswith("% of maxmemory >= warn threshold 0.001%"), doc["output"]
    doc = wait_check(d, "mem-fail", result="fail")
    assert doc["output"].endswith("% of maxmemory >= fail threshold 0.002%"), doc["output"]
    assert doc["observed"]["memory_bytes"]["value"] > 0, "measures survive a failure"
    doc = wait_check(d, "clients", result="warn")
    assert doc["output"].endswith(" clients >= warn threshold 1"), doc["output"]


# --- connection forms -----------------------------------------------------------------------


def test_unix_socket(daemon, servers):
    server = servers(name="unix", unix_socket=True)
    d = daemon(config(redis_check({"unix": server.unix_path, "role": "master"})))
    wait_check(d, result="pass", output="PONG from master")
    found = server.clients(CLIENT_NAME)
    assert len(found) == 1 and "U" in found[0]["flags"], found


def test_unix_socket_missing(daemon, tmp_path):
    path = str(tmp_path / "nothing.sock")
    d = daemon(config(redis_check({"unix": path})))
    wait_check(d, result="fail",
               output=f"cannot connect to unix:{path}: no such file or directory")


def test_url_selects_database(daemon, primary):
    d = daemon(config(redis_check({"url": f"redis://127.0.0.1:{primary.port}/2"})))
    wait_check(d, result="pass")
    found = primary.clients(CLIENT_NAME)
    assert [c["db"] for c in found] == ["2"], found


def test_host_name_is_resolved(daemon, primary):
    port = harness.free_port()
    d = daemon(config(
        redis_check({"host": "localhost", "port": primary.port}),
        redis_check({"host": "localhost", "port": port}, name="closed", groups=[]),
    ))
    wait_check(d, result="pass", output="PONG")
    # Errors name the address the host resolved to as well.
    wait_check(d, "closed", result="fail",
               output=f"cannot connect to localhost:{port} (127.0.0.1): connection refused")


@pytest.mark.skipif(not harness.ipv6_loopback_available(), reason="no IPv6 loopback")
def test_ipv6_address(daemon, servers):
    server = servers(name="v6", host="::1")
    d = daemon(config(redis_check({"host": "::1", "port": server.port, "role": "master"},
                                  name="v6")))
    wait_check(d, "v6", result="pass", output="PONG from master")
    server.stop()
    wait_check(d, "v6", result="fail",
               output=f"cannot connect to [::1]:{server.port}: connection refused")


def test_one_persistent_connection(daemon, servers):
    server = servers(name="persistent")
    d = daemon(config(redis_check(tcp(server), interval="20ms")))
    poll(lambda: check_doc(d).get("consecutive_successes", 0) >= 5, REACT, what="5 runs")
    first = server.clients(CLIENT_NAME)
    assert len(first) == 1, first
    runs = check_doc(d)["consecutive_successes"]
    poll(lambda: check_doc(d)["consecutive_successes"] >= runs + 10, REACT, what="10 more runs")
    assert [c["id"] for c in server.clients(CLIENT_NAME)] == [first[0]["id"]]



def test_fds_stay_flat_over_many_failed_connects(daemon, capsys):
    port = harness.free_port()
    # With a 20 ms retry interval and reconnect delays of at most 20 ms, every run finds its
    # backoff over and makes a real connect, so each failure counted is one refused connect.
    d = daemon(config(redis_check({"host": "127.0.0.1", "port": port,
                                   "backoff": {"initial": "10ms", "max": "20ms"}},
                                  interval="20ms", jitter="0ms")))
    poll(lambda: check_doc(d).get("consecutive_failures", 0) >= 20, REACT, what="20 failures")
    before = settled_fd_count(d.proc.pid, looks=20, gap=0.01)
    started = time.monotonic()
    doc = poll(lambda: (lambda doc: doc if doc["consecutive_failures"] >= 520 else None)(
        check_doc(d)), bound(30.0), interval=0.2, what="520 failed connects")
    took = time.monotonic() - started
    after = settled_fd_count(d.proc.pid, looks=20, gap=0.01)
    assert doc["output"] == f"cannot connect to 127.0.0.1:{port}: connection refused", doc
    assert after == before, (before, after)
    report(capsys, f"{doc['consecutive_failures']} refused connects, fds {before} -> {after} "
                   f"({took:.1f} s for the last 500)")


def test_fds_stay_flat_over_many_refused_logins(daemon, servers, capsys):
    """AUTH refused: the connection is dropped from inside a reply callback, another path."""
    server = servers(name="logins", password="right-" + secrets.token_hex(6))
    d = daemon(config(redis_check(tcp(server, password="${VH_TEST_REDIS_PASSWORD}",
                                      backoff={"initial": "10ms", "max": "20ms"}),
                                  interval="20ms", jitter="0ms")),
               env=env_with(VH_TEST_REDIS_PASSWORD="wrong"))
    poll(lambda: check_doc(d).get("consecutive_failures", 0) >= 20, REACT, what="20 failures")
    before = settled_fd_count(d.proc.pid, looks=20, gap=0.01)
    connects = int(server.info("stats")["total_connections_received"])
    doc = poll(lambda: (lambda doc: doc if doc["consecutive_failures"] >= 220 else None)(
        check_doc(d)), bound(30.0), interval=0.2, what="220 refused logins")
    after = settled_fd_count(d.proc.pid, looks=20, gap=0.01)
    connects = int(server.info("stats")["total_connections_received"]) - connects
    assert doc["output"].startswith("authentication failed: WRONGPASS"), doc
    assert connects >= 190, connects
    assert after == before, (before, after)
    # Our own CLIENT LIST connection, and at most the one login in progress.
    assert len(server.clients()) <= 2, server.clients()
    report(capsys, f"{connects} refused logins, fds {before} -> {after}")
