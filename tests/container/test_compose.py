"""test_compose.py - deploy/compose/docker-compose.yml, unmodified, brought up with Debian 12's
docker-compose 1.29 on the stand-in images: start order by health, the sidecar's view of the
API and its dependencies, its healthcheck through a PostgreSQL outage, and `down -v`."""

import json
import secrets
import shlex
import socket
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

import derived
import harness

COMPOSE = harness.SOURCE_ROOT / "deploy" / "compose" / "docker-compose.yml"
SIDECAR = "veza-health"
UP_TIMEOUT = 180


def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def published_ports() -> list:
    """(host address, port) of every `ports:` entry, which must be free on this machine."""
    out = []
    for spec in services().values():
        for entry in spec.get("ports", []):
            addr, port, _ = str(entry).rsplit(":", 2)
            out.append((addr, int(port)))
    return out


def port_is_free(addr: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((addr, port))
            return True
        except OSError:
            return False


def hc_seconds(text: str) -> float:
    return float(text.rstrip("s"))


class Stack:
    """The running compose project: its name, the passwords in its environment, and its
    container events since before `up`."""

    def __init__(self, engine, project: str, env: dict, events) -> None:
        self.engine = engine
        self.project = project
        self.env = env
        self.events = events

    def compose(self, *args: str, **kwargs):
        return self.engine.compose(self.project, COMPOSE, *args, env=self.env, **kwargs)

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.strip()

    def health(self, service: str) -> str:
        state = self.engine.inspect(self.container(service))["State"]
        return state.get("Health", {}).get("Status", state["Status"])

    def is_event(self, service: str, action: str):
        return lambda e: (e["type"] == "container" and e["action"] == action
                          and e["attributes"].get("com.docker.compose.service") == service)

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "10", check=False)


@pytest.fixture(scope="module")
def stack(engine, sidecar_image, compose_standins, report):
    busy = [f"{a}:{p}" for a, p in published_ports() if not port_is_free(a, p)]
    if busy:
        pytest.fail(f"the compose file publishes {', '.join(busy)}, which another process on "
                    "this machine holds; free it (the file is tested unmodified)")
    project = f"vhtest{uuid.uuid4().hex[:8]}"
    env = {"VEZA_DB_PASSWORD": "db-" + secrets.token_hex(8),
           "VEZA_REDIS_PASSWORD": "redis-" + secrets.token_hex(8)}
    events = engine.events(f"label=com.docker.compose.project={project}")
    running = Stack(engine, project, env, events)
    try:
        began = time.monotonic()
        running.compose("up", "-d", "--no-build", timeout=UP_TIMEOUT)
        report.seconds("compose up -d (returns once the sidecar started)",
                       time.monotonic() - began)
        harness.poll(lambda: running.health(SIDECAR) == "healthy", 60, interval=0.5,
                     what="the sidecar's healthcheck healthy")
        report.seconds("compose stack all healthy", time.monotonic() - began)
        yield running
    finally:
        running.down()
        events.stop()


def test_up_starts_each_service_once_its_dependencies_are_healthy(stack):
    for name, spec in services().items():
        started = stack.events.find(stack.is_event(name, "start"))
        assert started, f"{name} never started"
        for dep, rule in spec.get("depends_on", {}).items():
            assert rule["condition"] == "service_healthy"
            healthy = stack.events.find(stack.is_event(dep, "health_status: healthy"))
            assert healthy and healthy["time"] <= started["time"], (
                f"{name} started at {started['time']:.3f}, before {dep} was healthy "
                f"({healthy and healthy['time']})")


def test_ps_shows_every_service_healthy(stack):
    lines = stack.compose("ps").stdout.splitlines()[2:]
    assert len(lines) == len(services()), lines
    assert all("Up (healthy)" in line for line in lines), "\n".join(lines)


def inside_api(stack, path: str) -> dict:
    """GETs the sidecar from the API's own container: a loopback client, shown the details."""
    code = ("import json, urllib.request as u\n"
            f"r = u.urlopen('http://127.0.0.1:8099{path}', timeout=2)\n"
            "print(r.read().decode())")
    run = stack.engine.docker("exec", stack.container("api"), "python3", "-c", code)
    return json.loads(run.stdout)


def test_sidecar_sees_the_api_and_reaches_its_dependencies(stack):
    """Through the published port (as deploy/README.md's curl does) the host is not a loopback
    client of the sidecar, so it sees statuses; from the API's namespace, the details."""
    with urllib.request.urlopen("http://127.0.0.1:8099/ready", timeout=2) as resp:
        outside = json.load(resp)
    assert outside["status"] == "ready", outside
    assert {n: c["status"] for n, c in outside["checks"].items()} == {
        "api-process": "ready", "database": "ready", "redis": "ready", "api-http": "ready"}
    assert "output" not in json.dumps(outside), outside
    health = inside_api(stack, "/health")
    checks = health["checks"]
    # One pid namespace: the API's python3 is pid 1 there, and the sidecar finds it by cmdline.
    assert checks["api-process"]["output"].startswith("pid 1 (python3)"), checks["api-process"]
    assert checks["database"]["output"].startswith("primary"), checks["database"]
    assert checks["redis"]["output"].startswith("PONG from master"), checks["redis"]
    assert checks["api-http"]["result"] == "pass", checks["api-http"]
    text = json.dumps(health)
    assert stack.env["VEZA_DB_PASSWORD"] not in text
    assert stack.env["VEZA_REDIS_PASSWORD"] not in text


def documented_exec() -> list:
    """The command deploy/README.md gives for the details, without its docker-compose -f part."""
    readme = (harness.SOURCE_ROOT / "deploy" / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("docker-compose ") and " exec " in x)
    words = shlex.split(line)
    return words[words.index("exec"):]


def test_the_documented_commands_show_statuses_from_the_host_and_details_inside(stack):
    """deploy/README.md: `curl -s localhost:8099/ready?verbose` from the host shows each check's
    status only (the host reaches the sidecar through docker-proxy, not over loopback); its
    `docker-compose exec -T api python3 ...` shows the reasons."""
    with urllib.request.urlopen("http://127.0.0.1:8099/ready?verbose", timeout=2) as resp:
        host = resp.read().decode()
    assert host.splitlines()[:-1] == [f"[+]{name} ok" for name in
                                      ("api-process", "database", "redis", "api-http")], host
    inside = stack.compose(*documented_exec()).stdout
    assert "[+]database ok (primary" in inside and "[+]redis ok (PONG" in inside, inside


def ready_status() -> int:
    try:
        with urllib.request.urlopen("http://127.0.0.1:8099/ready", timeout=1) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_postgres_outage_turns_the_sidecar_unhealthy_and_back(stack, engine, sidecar_image,
                                                               report):
    """Stop postgres: the database check fails within its settle time, and docker's
    healthcheck (interval, timeout, retries) turns the sidecar unhealthy within
    settle + retries x (interval + timeout). Start it: healthy again within the check's
    pass time + interval + timeout after PostgreSQL accepts connections."""
    effective = derived.effective_config(
        engine, sidecar_image, COMPOSE.parent / "veza-health.json", stack.env)
    database = derived.check_of_type(effective, "postgres")
    hc = services()[SIDECAR]["healthcheck"]
    interval, timeout, retries = hc_seconds(hc["interval"]), hc_seconds(hc["timeout"]), \
        hc["retries"]
    fail_bound = derived.settles_failed(database)
    unhealthy_bound = fail_bound + retries * (interval + timeout)

    began = time.time()
    stack.compose("stop", "postgres")
    # From the moment PostgreSQL exited, not from when docker-compose was asked.
    stopped = stack.events.wait(stack.is_event("postgres", "die"), 30, after=began,
                                what="postgres exit")["time"]
    unready = harness.poll(lambda: ready_status() == 503 and time.time(), fail_bound + 5,
                           interval=0.1, what="/ready 503 after postgres stopped")
    report.seconds("compose: /ready 503 after postgres stopped", unready - stopped,
                   bound=fail_bound)
    event = stack.events.wait(stack.is_event(SIDECAR, "health_status: unhealthy"),
                              unhealthy_bound + 10, after=stopped,
                              what="sidecar health_status: unhealthy")
    took = event["time"] - stopped
    report.seconds("compose: sidecar unhealthy after postgres stopped", took,
                   bound=unhealthy_bound,
                   note=f"{database['name']} settles failed {fail_bound:g} s + {retries} x "
                        f"(interval {interval:g} s + timeout {timeout:g} s)")
    assert unready - stopped <= fail_bound
    assert took <= unhealthy_bound

    started = time.time()
    stack.compose("start", "postgres")
    pg = stack.engine.inspect(stack.container("postgres"))
    address = next(iter(pg["NetworkSettings"]["Networks"].values()))["IPAddress"]
    accepting = harness.poll(lambda: harness.can_connect(address, 5432) and time.time(), 30,
                             interval=0.05, what="postgres accepting connections")
    pass_bound = derived.settles_passed(database) + interval + timeout
    event = stack.events.wait(stack.is_event(SIDECAR, "health_status: healthy"),
                              pass_bound + 10, after=started,
                              what="sidecar health_status: healthy")
    report.seconds("compose: postgres accepting after start", accepting - started)
    report.seconds("compose: sidecar healthy after postgres accepts", event["time"] - accepting,
                   bound=pass_bound)
    assert event["time"] - accepting <= pass_bound


def test_redis_healthcheck_passes_only_on_pong(engine, compose_standins):
    """The compose file's Redis healthcheck, run as written in a Redis started the file's way:
    it must fail when PING gets an error reply (here NOAUTH after a wrong password), not only
    when nothing answers."""
    spec = services()["redis"]
    test = spec["healthcheck"]["test"]
    assert test[0] == "CMD"
    name = f"vhtest-redis-hc-{uuid.uuid4().hex[:8]}"
    command = [word.replace("$$", "$") for word in spec["command"]]  # compose's escape
    engine.docker("run", "-d", "--name", name, "--network", "none", "-e", "REDIS_PASSWORD=right",
                  spec["image"], *command)
    try:
        def check(password):
            return engine.docker("exec", "-e", f"REDISCLI_AUTH={password}", name, *test[1:],
                                 check=False)

        good = harness.poll(lambda: check("right").returncode == 0 and check("right"), 10,
                            interval=0.1, what="the healthcheck passing with the password")
        assert good.stdout.strip() == "PONG", good
        bad = check("wrong")
        assert bad.returncode != 0, f"passes on {bad.stdout.strip()!r} {bad.stderr.strip()!r}"
    finally:
        engine.docker("rm", "-f", "-v", name, check=False)


def test_down_v_stops_every_service_and_removes_everything(stack, engine, report):
    """`down -v`: each service exits on its stop signal (none waits out the 10 s stop timeout
    to be SIGKILLed), and no container, network or volume of the project is left."""
    began = time.time()
    stack.compose("down", "-v", "--timeout", "10")
    report.seconds("compose down -v", time.time() - began)
    exits = {}
    for name in services():
        died = stack.events.find(stack.is_event(name, "die"), after=began)
        assert died, f"{name} never exited"
        exits[name] = (round(died["time"] - began, 2), int(died["attributes"]["exitCode"]))
    report.value("compose down -v: exits (seconds, status)", exits, "")
    killed = {n: e for n, e in exits.items() if e[1] == 137}
    assert not killed, f"SIGKILLed after the stop timeout (seconds, exit status): {killed}"
    label = f"label=com.docker.compose.project={stack.project}"
    assert engine.docker("ps", "-aq", "--filter", label).stdout.strip() == ""
    assert engine.docker("network", "ls", "-q", "--filter", label).stdout.strip() == ""
    assert engine.docker("volume", "ls", "-q", "--filter", label).stdout.strip() == ""
    assert engine.leftovers() == []
