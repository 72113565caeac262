"""test_secrets.py - distinctive PostgreSQL, Redis and HTTP secrets, right and wrong, never show in
any answer, log line or CLI output, whether the servers are up, down, refusing or hanging."""

import contextlib
import hashlib
import os
import re
import urllib.parse

import pytest

import harness
import pg_server
import redis_server
import secret_states
from harness import bound, poll
from redis_server import FakeRedis, RedisServer
from secret_states import find_leaks, make_secret
from tcp_servers import HttpTarget

pytestmark = [
    pytest.mark.skipif(pg_server.available() is not None, reason=str(pg_server.available())),
    pytest.mark.skipif(redis_server.available() is not None,
                       reason=str(redis_server.available())),
]

REACT = bound(4.0)
# Short runs so each state settles in a fraction of a second; valgrind makes a scram exchange
# alone take a few hundred ms, and three daemons share the machine.
INTERVAL = "500ms" if harness.VALGRIND else "100ms"
TIMEOUT = "2s" if harness.VALGRIND else "300ms"
MD5_ROLE = "vh_md5"
ACL_USER = "vh"
FAST_BACKOFF = {"initial": "50ms", "max": "200ms"}
HBA = f"""\
local all all trust
host all {pg_server.PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256
host all {MD5_ROLE} 127.0.0.1/32 md5
host all all 127.0.0.1/32 trust
"""

# The secrets of one run: the right ones the servers hold, and wrong ones of the same pattern.
RIGHT = {
    "pg": make_secret("right PostgreSQL password", "pg"),
    "pg_md5": make_secret("right PostgreSQL md5 password", "pgmd5"),
    "redis": make_secret("right Redis requirepass", "redis"),
    "acl": make_secret("right Redis ACL password", "acl"),
    "token": make_secret("right HTTP query token", "token"),
}
WRONG = {key: make_secret(s.label.replace("right", "wrong"), "wr" + key.replace("_", ""))
         for key, s in RIGHT.items()}
ALL = list(RIGHT.values()) + list(WRONG.values())


def enc(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def escape_pgpass(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:")


@pytest.fixture(scope="module")
def pg():
    """One server for the module: vh_pw with a scram password, vh_md5 with an md5 one."""
    server = pg_server.PgServer("pg-secrets")
    try:
        server.initdb()
        # Written over the copied template's file, keeping its owner; md5 needs its own line.
        (server.datadir / "pg_hba.conf").write_text(HBA)
        server.start()
        server.set_password(pg_server.PASSWORD_ROLE, RIGHT["pg"].value)
        # The md5 hash, not the password, goes on psql's command line.
        digest = hashlib.md5((RIGHT["pg_md5"].value + MD5_ROLE).encode()).hexdigest()
        server.psql(f"CREATE ROLE {MD5_ROLE} LOGIN PASSWORD 'md5{digest}'")
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def redis():
    """requirepass and an ACL user, both set over the wire: the conf file format cannot hold
    every character of the passwords."""
    server = RedisServer("redis-secrets")
    try:
        server.start()
        server.command("ACL", "SETUSER", ACL_USER, "on", ">" + RIGHT["acl"].value, "~*", "&*",
                       "+@all")
        server.command("CONFIG", "SET", "requirepass", RIGHT["redis"].value)
        server.password = RIGHT["redis"].value
        yield server
    finally:
        server.cleanup()


def echo_auth(args) -> bytes:
    """A server that quotes the credentials it was sent in its refusal."""
    return b"-WRONGPASS invalid password " + b" ".join(args[1:]) + b" for you\r\n"


class EchoPing:
    """Accepts AUTH, then answers PING with an error quoting the password it was sent."""

    def __init__(self):
        self.password = b""

    def auth(self, args) -> bytes:
        self.password = args[-1]
        return b"+OK\r\n"

    def ping(self, args) -> bytes:
        return b"-LOADING dataset for " + self.password + b" in memory\r\n"


def checks(pg_port: int, redis_port: int, echo_port: int, echo_ping_port: int, http_port: int,
           passfile) -> list:
    """Every way a secret reaches the daemon: libpq params, PGPASSWORD, a passfile, md5 and
    scram, Redis password and ACL user as keys and as URLs, an HTTP query token; and servers
    that echo what they were sent."""
    timing = {"groups": ["readiness"], "interval": INTERVAL, "timeout": TIMEOUT}
    base = {"host": "127.0.0.1", "port": str(pg_port), "dbname": "postgres",
            "application_name": "vh-secrets", "user": pg_server.PASSWORD_ROLE}

    def check(name, kind, settings):
        return dict(timing, name=name, type=kind, **{kind: settings})

    def postgres(name, **params):
        return check(name, "postgres", {"params": dict(base, **params), "backoff": FAST_BACKOFF})

    def redis_settings(**settings):
        return dict(settings, backoff=FAST_BACKOFF)

    return [
        postgres("pg-params", password="${VH_PW_PG}"),
        postgres("pg-env"),
        postgres("pg-md5", user=MD5_ROLE, password="${VH_PW_PG_MD5}"),
        postgres("pg-passfile", passfile=str(passfile)),
        # The server quotes the database name back: only scrubbing keeps the password out.
        postgres("pg-echo", password="${VH_PW_PG}", dbname="${VH_PW_PG}"),
        check("redis-pass", "redis", redis_settings(host="127.0.0.1", port=redis_port,
                                                    password="${VH_PW_REDIS}")),
        check("redis-acl-url", "redis", redis_settings(
            url=f"redis://{ACL_USER}:${{VH_PW_REDIS_ACL_ENC}}@127.0.0.1:{redis_port}/0")),
        check("redis-url-env", "redis", redis_settings(url="${VH_REDIS_URL}")),
        check("redis-echo-auth", "redis", redis_settings(
            host="127.0.0.1", port=echo_port, username=ACL_USER, password="${VH_PW_REDIS_ACL}")),
        check("redis-echo-ping", "redis", redis_settings(
            host="127.0.0.1", port=echo_ping_port, password="${VH_PW_REDIS}")),
        check("http-token", "http",
              {"url": f"http://127.0.0.1:{http_port}/ok?token=${{VH_TOKEN}}"}),
        check("http-token-fail", "http",
              {"url": f"http://127.0.0.1:{http_port}/fail?token=${{VH_TOKEN}}&x=1"}),
    ]


def daemon_env(s: dict, redis_port: int) -> dict:
    env = dict(os.environ)
    for var in ("PGPASSFILE", "PGSERVICE", "PGHOSTADDR"):
        env.pop(var, None)
    env.update(
        VH_PW_PG=s["pg"].value,
        PGPASSWORD=s["pg"].value,
        VH_PW_PG_MD5=s["pg_md5"].value,
        VH_PW_REDIS=s["redis"].value,
        VH_PW_REDIS_ACL=s["acl"].value,
        VH_PW_REDIS_ACL_ENC=enc(s["acl"].value),
        VH_REDIS_URL=f"redis://:{enc(s['redis'].value)}@127.0.0.1:{redis_port}/0",
        VH_TOKEN=enc(s["token"].value),
    )
    return env


def reason(d, name: str) -> str:
    doc = d.request(f"/health/{name}").json()
    if not doc.get("last_run"):
        return ""
    return doc.get("error") or doc.get("output") or ""


def wait_reasons(d, expected: dict, state: str) -> None:
    """Polls until each named check's latest reason matches its regex."""
    last = {}

    def probe():
        last.update({name: reason(d, name) for name in expected})
        return all(re.search(expected[n], last[n]) for n in expected)

    try:
        poll(probe, REACT, what=f"{d.name}: {state}")
    except AssertionError:
        raise AssertionError(f"{d.name} never reached {state}; reasons: {last}") from None


PG_CHECKS = ("pg-params", "pg-env", "pg-md5", "pg-passfile")
REDIS_CHECKS = ("redis-pass", "redis-acl-url", "redis-url-env")
AUTH_FAILED = r"^authentication failed"


def up_reasons(right: bool) -> dict:
    expected = {name: r"^primary$" if right else AUTH_FAILED for name in PG_CHECKS}
    expected.update({name: r"^PONG" if right else AUTH_FAILED for name in REDIS_CHECKS})
    expected["pg-echo"] = r'^database "\*\*\*" does not exist$' if right else AUTH_FAILED
    expected.update(common_reasons())
    return expected


def common_reasons() -> dict:
    """The checks of servers that never go down, whatever the state."""
    return {"redis-echo-auth": r"^authentication failed: WRONGPASS invalid password",
            "redis-echo-ping": r"^not ready: LOADING dataset for \*\*\* in memory$",
            "http-token": r"^HTTP 200", "http-token-fail": r"HTTP 500"}


def outage_reasons(pattern: str) -> dict:
    expected = {name: pattern for name in PG_CHECKS + REDIS_CHECKS + ("pg-echo",)}
    expected.update(common_reasons())
    return expected


class Collector:
    """Everything seen, by where it was seen; leaks() greps it all at the end so that one
    failure lists every leak."""

    def __init__(self):
        self.texts: dict = {}

    def add(self, where: str, data) -> None:
        self.texts[where] = data

    def sweep(self, d, state: str, reqs: list) -> None:
        for label, raw in secret_states.sweep(d.port, reqs).items():
            self.add(f"{d.name} [{state}] {label}", raw)

    def leaks(self) -> list:
        found = []
        for where, data in self.texts.items():
            found += find_leaks(where, data, ALL)
        return found

    def joined(self) -> str:
        return "\n".join(t.decode("utf-8", "replace") if isinstance(t, bytes) else t
                         for t in self.texts.values())


def write_passfiles(directory, pg_port: int) -> dict:
    """A libpq password file per password set."""
    passfiles = {}
    for kind, s in (("right", RIGHT), ("wrong", WRONG)):
        passfiles[kind] = directory / f"pgpass-{kind}"
        passfiles[kind].write_text(
            f"127.0.0.1:{pg_port}:*:{pg_server.PASSWORD_ROLE}:{escape_pgpass(s['pg'].value)}\n")
        passfiles[kind].chmod(0o600)
    return passfiles


def test_no_secret_in_any_answer_or_log_in_any_state(daemon, pg, redis, tmp_path):
    passfiles = write_passfiles(tmp_path, pg.port)
    seen = Collector()
    # Fakes of each password set's own: one that quotes back a password it was not sent
    # would fail the test for the wrong reason.
    echo_ping = {kind: EchoPing() for kind in ("right", "wrong")}
    fakes = {kind: (FakeRedis({"AUTH": echo_auth}),
                    FakeRedis({"AUTH": echo_ping[kind].auth, "PING": echo_ping[kind].ping}))
             for kind in ("right", "wrong")}
    with contextlib.ExitStack() as stack, HttpTarget() as target:
        for pair in fakes.values():
            for fake in pair:
                stack.enter_context(fake)

        def config(kind):
            echo, echoing = fakes[kind]
            return {"service": "secrets", "checks": checks(pg.port, redis.port, echo.port,
                                                           echoing.port, target.port,
                                                           passfiles[kind])}

        envs = {"right": daemon_env(RIGHT, redis.port), "wrong": daemon_env(WRONG, redis.port)}
        right = daemon(config("right"), name="right", env=envs["right"],
                       args=["--log-level", "debug"])
        wrong = daemon(config("wrong"), name="wrong", env=envs["wrong"],
                       args=["--log-level", "debug"])
        text = daemon(config("wrong"), name="text-log", env=envs["wrong"],
                      args=["--log-level", "debug", "--log-format", "text"])
        names = [c["name"] for c in config("right")["checks"]] + ["sidecar"]
        reqs = secret_states.every_request(names)

        # Up: the right daemon passes; the wrong one is refused by both servers.
        wait_reasons(right, up_reasons(True), "up")
        wait_reasons(wrong, up_reasons(False), "authentication failure")
        wait_reasons(text, up_reasons(False), "authentication failure")
        assert right.request("/ready").status == 503  # the echoing servers fail it
        seen.sweep(right, "up", reqs)
        seen.sweep(wrong, "auth failure", reqs)

        # Down: both servers stopped.
        pg.stop_mode("fast")
        redis.stop()
        for d in (right, wrong):
            wait_reasons(d, outage_reasons(r"refused"), "down")
            seen.sweep(d, "down", reqs)

        # Hanging: listeners on the servers' ports that accept and never answer.
        with harness.FakeServer("silent", port=pg.port), \
                harness.FakeServer("silent", port=redis.port):
            for d in (right, wrong):
                wait_reasons(d, outage_reasons(r"timeout|timed out|no answer"), "timeout")
                seen.sweep(d, "timeout", reqs)

    for d in (right, wrong, text):
        d.stop_ok()
        seen.add(f"{d.name} log", d.log_text())
    everything = seen.joined()
    # The grep must have looked at real answers: each state's reasons are in them.
    for shown in ("authentication failed", "refused", "timeout after", "***",
                  "veza_health_check_up", "level=warn", '"level":"warn"'):
        assert shown in everything, shown
    leaks = seen.leaks()
    assert not leaks, f"{len(leaks)} leaks:\n" + "\n".join(leaks[:40])


@pytest.mark.parametrize("kind", ["right", "wrong"])
def test_check_config_prints_no_secret(tmp_path, kind):
    """The effective configuration of the same checks, with the environment set, shows none
    of the secrets, not even where one is the value of a key that is not a password."""
    path = harness.write_config(tmp_path / "secrets.json", {
        "service": "secrets",
        "checks": checks(harness.free_port(), harness.free_port(), harness.free_port(),
                         harness.free_port(), harness.free_port(),
                         write_passfiles(tmp_path, 5432)[kind])})
    env = daemon_env(RIGHT if kind == "right" else WRONG, 6379)
    dump = harness.run_cli(["check-config", str(path)], env=env)
    assert dump.returncode == 0, dump.stderr
    assert dump.stdout.count('"<redacted>"') >= 6, dump.stdout
    assert "?<redacted>" in dump.stdout, dump.stdout
    leaks = find_leaks("check-config stdout", dump.stdout, ALL)
    leaks += find_leaks("check-config stderr", dump.stderr, ALL)
    assert not leaks, "\n".join(leaks)


BAD = make_secret("password of a refused config", "bad")
BAD_ENV = dict(os.environ, VH_PW=BAD.value, VH_PW_ENC=enc(BAD.value),
               VH_REDIS_URL=f"redis://vh:{enc(BAD.value)}@127.0.0.1:99999/0")


def pg_bad(**params) -> dict:
    return {"name": "db", "type": "postgres",
            "postgres": {"params": dict({"host": "127.0.0.1", "user": "vh"}, **params)}}


# (case, check, text the one-line error must hold)
REFUSED_CONFIGS = [
    ("http userinfo from env",
     {"name": "web", "type": "http",
      "http": {"url": "http://vh:${VH_PW_ENC}@127.0.0.1:8080/health"}},
     'checks[0].http.url: must not hold user info'),
    ("http userinfo in file",
     {"name": "web", "type": "http",
      "http": {"url": f"http://vh:{enc(BAD.value)}@127.0.0.1:8080/health"}},
     'checks[0].http.url: must not hold user info'),
    ("pg URI as dbname",
     pg_bad(dbname="postgresql://vh:${VH_PW_ENC}@127.0.0.1:5432/app"),
     "checks[0].postgres.params.dbname: must be a database name"),
    ("pg keyword string as dbname",
     pg_bad(dbname="host=127.0.0.1 password=${VH_PW}"),
     "checks[0].postgres.params.dbname: must be a database name"),
    ("pg password in file", pg_bad(password=BAD.value),
     "checks[0].postgres.params.password: put the password in an environment variable"),
    ("pg password in file after env", pg_bad(password=BAD.value + "${VH_PW}"),
     "checks[0].postgres.params.password: put the password in an environment variable"),
    ("pg password under the wrong key", pg_bad(host="${VH_PW}"),
     "checks[0].postgres.params.host:"),
    ("redis password in file",
     {"name": "cache", "type": "redis", "redis": {"host": "127.0.0.1", "password": BAD.value}},
     "checks[0].redis.password: put the password in an environment variable"),
    ("redis URL password in file",
     {"name": "cache", "type": "redis",
      "redis": {"url": f"redis://vh:{enc(BAD.value)}@127.0.0.1:6379/0"}},
     "checks[0].redis.url: the password in the URL must come from an environment variable"),
    ("redis URL from env with a bad port",
     {"name": "cache", "type": "redis", "redis": {"url": "${VH_REDIS_URL}"}},
     "checks[0].redis.url: has a bad port"),
    ("redis URL password under the wrong key",
     {"name": "cache", "type": "redis", "redis": {"host": "${VH_REDIS_URL}"}},
     "checks[0].redis.host:"),
]


@pytest.mark.parametrize("case,check,message", REFUSED_CONFIGS,
                         ids=[c[0] for c in REFUSED_CONFIGS])
def test_refused_config_shows_no_secret(tmp_path, case, check, message):
    path = harness.write_config(tmp_path / "bad.json", {"checks": [check]})
    leaks = []
    for argv in (["check-config", str(path)],
                 ["serve", "-c", str(path), "--listen", f"127.0.0.1:{harness.free_port()}"]):
        run = harness.run_cli(argv, env=BAD_ENV)
        assert run.returncode == 2, (argv[0], run.returncode, run.stdout, run.stderr)
        assert message in run.stderr, (argv[0], run.stderr)
        leaks += find_leaks(f"{argv[0]} ({case})", run.stdout + run.stderr, [BAD])
    assert not leaks, "\n".join(leaks)


def test_probe_never_echoes_url_credentials():
    """`veza-health probe` refuses a URL with user information without quoting the password."""
    run = harness.run_cli(["probe", f"http://vh:{enc(BAD.value)}@127.0.0.1:1/ready"])
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    assert "credentials in URLs are not supported" in run.stderr, run.stderr
    leaks = find_leaks("probe output", run.stdout + run.stderr, [BAD])
    assert not leaks, "\n".join(leaks)
