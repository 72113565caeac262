"""test_pod.py - the three Deployments of deploy/kubernetes, rendered by `kubectl kustomize` and
run as kubelet would (kubelet.py) beside a real PostgreSQL and Redis on the test's own internal
network: the startup probe admits each pod; killing PostgreSQL makes each pod unready within
the bound its manifest's comment derives while liveness never fails; killing the sidecar is
ridden out without restarting the service; SIGTERM drains as documented."""

import secrets
import subprocess
import threading
import time
import uuid

import pytest
import yaml

import derived
import harness
import images
from check_probes import seconds
from kubelet import Pod, http_get

KUSTOMIZE = harness.SOURCE_ROOT / "deploy" / "kubernetes"
PORT = 8099


def probe(container: dict, kind: str) -> dict:
    spec = {"periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3}
    spec.update(container.get(kind + "Probe", {}))
    return spec


class Case:
    """One Deployment: its pod, its two containers' specs, its sidecar's effective config."""

    def __init__(self, deployment: dict, objects: list):
        self.deployment = deployment
        self.name = deployment["metadata"]["name"]
        spec = deployment["spec"]["template"]["spec"]
        self.sidecar = next(c for c in spec["containers"] if "veza-health" in c["image"])
        self.service = next(c for c in spec["containers"] if c is not self.sidecar)
        self.grace = spec.get("terminationGracePeriodSeconds", 30)
        args = self.sidecar["args"]
        path = args[args.index("-c") + 1]
        volume = next(m["name"] for m in self.sidecar["volumeMounts"]
                      if path.startswith(m["mountPath"].rstrip("/") + "/"))
        cm = next(v["configMap"]["name"] for v in spec["volumes"] if v["name"] == volume)
        maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
        self.config_text = maps[cm]["data"][path.rsplit("/", 1)[1]]
        self.env = {v["name"]: v.get("value") for v in self.sidecar["env"]}
        self.pod = None
        self.effective = None

    def process_check(self) -> dict:
        return next(c for c in self.effective["checks"]
                    if c["type"] == "process" and c["process"].get("cmdline"))


@pytest.fixture(scope="module")
def rendered() -> list:
    run = subprocess.run(["kubectl", "kustomize", str(KUSTOMIZE)], capture_output=True,
                         text=True, timeout=60, check=True)
    return [o for o in yaml.safe_load_all(run.stdout) if o]


@pytest.fixture(scope="module")
def network(engine):
    """The pods' own network: internal, so nothing on it reaches past the host's bridge."""
    name = f"vhtest-pods-{uuid.uuid4().hex[:8]}"
    engine.docker("network", "create", "--internal", name)
    yield name
    engine.docker("network", "rm", name, check=False)


@pytest.fixture(scope="module")
def cases(rendered) -> list:
    return [Case(d, rendered) for d in rendered if d["kind"] == "Deployment"]


@pytest.fixture(scope="module")
def dependencies(engine, network, compose_standins, cases):
    """PostgreSQL and Redis (the stand-in images: real servers) under the names, user and
    database the Deployments' env gives, and the Secrets' values for them."""
    for key in ("VEZA_DB_HOST", "VEZA_DB_PORT", "VEZA_DB_NAME", "VEZA_DB_USER"):
        values = {c.env[key] for c in cases}
        assert len(values) == 1, f"the Deployments disagree on {key}: {values}"
    env = cases[0].env
    db_password, redis_password = secrets.token_hex(12), secrets.token_hex(12)
    tag = uuid.uuid4().hex[:8]
    pg, redis = f"vhtest-postgres-{tag}", f"vhtest-redis-{tag}"
    engine.docker("run", "-d", "--name", pg, "--network", network, "--network-alias",
                  env["VEZA_DB_HOST"], "-e", f"POSTGRES_USER={env['VEZA_DB_USER']}",
                  "-e", f"POSTGRES_PASSWORD={db_password}",
                  "-e", f"POSTGRES_DB={env['VEZA_DB_NAME']}", "postgres:15-bookworm")
    engine.docker("run", "-d", "--name", redis, "--network", network, "--network-alias",
                  "redis", "-e", f"REDIS_PASSWORD={redis_password}", "redis:7-bookworm",
                  "sh", "-c", 'exec redis-server --requirepass "$REDIS_PASSWORD"')
    deps = {"postgres": pg, "redis": redis, "network": network,
            "secrets": {"veza-db": {"password": db_password},
                        "veza-redis": {"url": f"redis://:{redis_password}@redis:6379/0"}}}
    try:
        wait_accepting(engine, pg, network, int(env["VEZA_DB_PORT"]))
        wait_accepting(engine, redis, network, 6379)
        yield deps
    finally:
        engine.docker("rm", "-f", "-v", pg, redis, check=False)


def address(engine, container: str, network: str) -> str:
    return engine.inspect(container)["NetworkSettings"]["Networks"][network]["IPAddress"]


def wait_accepting(engine, container: str, network: str, port: int, timeout: float = 60):
    """Waits until the server accepts TCP connections on its address; returns when (epoch)."""
    def ready():
        ip = address(engine, container, network)
        return bool(ip) and harness.can_connect(ip, port) and time.time()
    return harness.poll(ready, timeout, interval=0.05, what=f"{container} accepting on {port}")


@pytest.fixture(scope="module")
def pods(engine, sidecar_image, dependencies, cases, rendered, tmp_path_factory, report):
    """Every Deployment's pod, started together. Each service gets a stand-in image, built
    under the Deployment's image tag with the command line its process check looks for."""
    workdir = tmp_path_factory.mktemp("pods")
    for case in cases:
        config = workdir / f"{case.name}.json"
        config.write_text(case.config_text)
        env = {k: v for k, v in case.env.items() if v is not None}
        env.update({"VEZA_DB_PASSWORD": "dummy-password", "VEZA_REDIS_URL": "redis://redis"})
        case.effective = derived.effective_config(engine, sidecar_image, config, env)
        took = images.build_service_standin(
            engine, case.service["image"], case.process_check()["process"]["cmdline"],
            case.service["ports"][0]["containerPort"])
        report.seconds(f"stand-in build {case.service['image']}", took)
    try:
        for case in cases:
            case.pod = Pod(engine, case.deployment, rendered, dependencies["secrets"],
                           dependencies["network"], workdir, f"vhtest-{case.name}").start()
        yield cases
    finally:
        for case in cases:
            if case.pod is not None:
                case.pod.destroy()


def in_parallel(fn, cases) -> list:
    """Runs fn(case) for every case in its own thread; re-raises the first failure."""
    results, errors = [None] * len(cases), []

    def one(i, case):
        try:
            results[i] = fn(case)
        except BaseException as exc:  # noqa: B902 - re-raised below, with its case
            errors.append((case.name, exc))

    threads = [threading.Thread(target=one, args=(i, c)) for i, c in enumerate(cases)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        name, exc = errors[0]
        raise AssertionError(f"{name}: {exc}") from exc
    return results


def no_restarts(case) -> None:
    pod = case.pod
    restarted = {n: c.restarts for n, c in pod.containers.items() if c.restarts}
    assert not restarted and not pod.kills, (
        f"restarts {restarted}, kills {pod.kills}; sidecar log:\n{pod.logs('veza-health')}")


def first_round(case) -> float:
    """How long the first result of every critical readiness check can take: each first run
    comes right after its initial_delay (no jitter) and ends within its timeout."""
    return max(seconds(c["initial_delay"]) + seconds(c["timeout"])
               for c in case.effective["checks"]
               if c["critical"] and "readiness" in c["groups"])


def test_startup_probe_admits_each_pod(pods, report):
    """Ready within the first round of checks + one startup period (the comment's "admits the
    pod within 2s of its first good round") + the readiness run it triggers."""
    def admitted(case):
        pod, startup = case.pod, probe(case.service, "startup")
        began = pod.started_at[case.service["name"]]
        bound = first_round(case) + startup["periodSeconds"] + \
            probe(case.service, "readiness")["timeoutSeconds"]
        at = harness.poll(lambda: pod.ready_at(True, began), bound + 10, interval=0.1,
                          what=f"{case.name} Ready")
        report.seconds(f"pod {case.name}: Ready after start", at - began, bound=bound)
        failures = [r for r in pod.probe_results(case.service["name"], "startup") if not r.ok]
        assert at - began <= bound, f"admitted after {at - began:.2f} s, bound {bound:g} s"
        assert len(failures) < startup["failureThreshold"], failures
        no_restarts(case)
        # peers.dns names the headless Service, which resolves to this pod: the sidecar finds
        # it (and then itself in it), and never fails to look the name up.
        log = pod.logs("veza-health")
        assert '"message":"peers found"' in log, log[-2000:]
        assert "cannot find peers" not in log, log[-2000:]

    in_parallel(admitted, pods)


def test_postgres_killed_makes_pods_unready_but_never_fails_liveness(pods, dependencies,
                                                                      engine, report):
    """SIGKILL of PostgreSQL: each pod unready within its database check's settle time + the
    readiness period x failureThreshold (the manifests' derivation); then the outage is held
    for the longest liveness period x failureThreshold, what it takes kubelet to restart a
    container, and not one liveness probe fails. PostgreSQL back: ready again."""
    assert all(c.pod.ready for c in pods), "a pod was not ready before the outage"
    outage = max(probe(c.service, "liveness")["periodSeconds"] *
                 probe(c.service, "liveness")["failureThreshold"] for c in pods)
    exits = engine.events(f"container={dependencies['postgres']}", "event=die")
    try:
        engine.docker("kill", dependencies["postgres"])
        # From the moment PostgreSQL died, not from when docker was asked to kill it.
        killed = exits.wait(lambda e: True, 30, what="PostgreSQL's exit")["time"]
    finally:
        exits.stop()

    def unready(case):
        readiness = probe(case.service, "readiness")
        database = derived.check_of_type(case.effective, "postgres")
        bound = derived.settles_failed(database) + readiness["periodSeconds"] * \
            readiness["failureThreshold"]
        at = harness.poll(lambda: case.pod.ready_at(False, killed), bound + 10, interval=0.1,
                          what=f"{case.name} unready")
        report.seconds(f"pod {case.name}: unready after PostgreSQL killed", at - killed,
                       bound=bound)
        assert at - killed <= bound, f"unready after {at - killed:.2f} s, bound {bound:g} s"

    in_parallel(unready, pods)
    time.sleep(max(0.0, killed + outage - time.time()))
    for case in pods:
        failed = [r for name in case.pod.containers
                  for r in case.pod.probe_results(name, "liveness", after=killed) if not r.ok]
        probes = len([r for name in case.pod.containers
                      for r in case.pod.probe_results(name, "liveness", after=killed)])
        report.value(f"pod {case.name}: liveness failures during the {outage} s outage",
                     len(failed), f"of {probes} probes", note="must be 0")
        assert not failed, failed
        no_restarts(case)

    restarted = time.time()
    engine.docker("start", dependencies["postgres"])
    accepting = wait_accepting(engine, dependencies["postgres"], dependencies["network"],
                               int(pods[0].env["VEZA_DB_PORT"]))

    def ready_again(case):
        readiness = probe(case.service, "readiness")
        database = derived.check_of_type(case.effective, "postgres")
        bound = derived.settles_passed(database) + readiness["periodSeconds"]
        at = harness.poll(lambda: case.pod.ready_at(True, restarted), bound + 15,
                          interval=0.1, what=f"{case.name} ready again")
        report.seconds(f"pod {case.name}: Ready again after PostgreSQL accepts",
                       at - accepting, bound=bound)
        assert at - accepting <= bound
        no_restarts(case)

    in_parallel(ready_again, pods)


def longest_run(results: list) -> int:
    """The longest run of consecutive failures in a list of probe results."""
    longest = run = 0
    for r in results:
        run = 0 if r.ok else run + 1
        longest = max(longest, run)
    return longest


def test_sidecar_killed_twice_is_ridden_out(pods, engine, report):
    """SIGKILL of the sidecar, twice: kubelet restarts the first at once and the second after
    its 10 s back-off. The service's liveness fails while no sidecar answers, but never
    failureThreshold times in a row, so the service is never restarted (the manifests' claim:
    period x (failureThreshold - 1) >= the back-off + a margin)."""
    def ride_out(case):
        pod = case.pod
        sidecar = pod.containers["veza-health"]
        liveness = probe(case.service, "liveness")
        assert pod.ready, f"{case.name} not ready before the kill"
        began = time.time()
        gaps = []
        for restarts in (1, 2):
            killed = time.time()
            engine.docker("kill", "-s", "KILL", sidecar.docker_name)
            answering = harness.poll(
                lambda: sidecar.restarts == restarts and
                http_get(pod.ip, PORT, "/live", 1)[0] and time.time(),
                60, interval=0.1, what=f"{case.name}: sidecar answering after kill {restarts}")
            gaps.append(answering - killed)
            harness.poll(lambda: pod.ready, 60, interval=0.1,
                         what=f"{case.name} ready after sidecar restart {restarts}")
        results = pod.probe_results(case.service["name"], "liveness", after=began)
        worst = longest_run(results)
        report.seconds(f"pod {case.name}: sidecar answering again after kill 1", gaps[0])
        report.seconds(f"pod {case.name}: sidecar answering again after kill 2", gaps[1],
                       bound=liveness["periodSeconds"] * (liveness["failureThreshold"] - 1),
                       note=f"10 s back-off; service liveness failures "
                            f"{sum(not r.ok for r in results)} of {len(results)}, at most "
                            f"{worst} in a row (restart at {liveness['failureThreshold']})")
        assert worst < liveness["failureThreshold"]
        assert pod.containers[case.service["name"]].restarts == 0 and not pod.kills, pod.kills
        assert sidecar.restarts == 2

    in_parallel(ride_out, pods)


def test_sigterm_drains(pods, report):
    """Deleting the pod: kubelet stops the liveness and startup probes and sends SIGTERM to
    both containers. The sidecar answers /ready 503 "draining" at once, keeps answering for
    its shutdown_delay and exits 0 then, well inside terminationGracePeriodSeconds; /live
    fails only for the service's own process check once the service has exited."""
    def drain(case):
        pod = case.pod
        delay = seconds(case.effective["shutdown_delay"])
        process_check = case.process_check()["name"]
        seen, done = [], threading.Event()

        def watch():
            while not done.is_set():
                now = time.time()
                try:
                    ready = harness.http_request(PORT, "/ready", host=pod.ip, timeout=1)
                    live = harness.http_request(PORT, "/live", host=pod.ip, timeout=1)
                    seen.append((now, ready, live))
                except OSError:
                    pass  # the sidecar has exited
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        began = time.time()
        watcher.start()
        try:
            exits = pod.terminate()
        finally:
            done.set()
            watcher.join(5)
        # The sidecar's times count from the SIGTERM the engine sent it (its "kill" event), the
        # service's and the pod's from the deletion.
        term = next(t for t, name, sig in pod.signals
                    if name == "veza-health" and sig == 15 and t >= began)
        took, code = exits["veza-health"]
        service_took, service_code = exits[case.service["name"]]
        took -= term - began
        answered = [(t - term, r, lv) for t, r, lv in seen if t > term]
        assert answered and answered[0][0] < 1.0, answered[:1]
        for at, r, lv in answered:
            assert r.status == 503 and r.json()["status"] == "draining", (at, r)
            if lv.status != 200:
                failing = {n for n, c in lv.json()["checks"].items()
                           if c["status"] != "alive"}
                assert failing == {process_check}, (at, lv.json())
        live_ok = max((at for at, r, lv in answered if lv.status == 200), default=0.0)
        unready = pod.ready_at(False, began) - began
        readiness = probe(case.service, "readiness")
        late = [r for name in pod.containers for kind in ("liveness", "startup")
                for r in pod.probe_results(name, kind, after=term + 1.0)]
        report.seconds(f"pod {case.name}: sidecar exit after SIGTERM", took, bound=delay + 1.0,
                       note=f"shutdown_delay {delay:g} s, exit {code}, grace {case.grace} s; "
                            f"service exit {service_code} {service_took:.2f} s and kubelet's "
                            f"unready {unready:.2f} s after the deletion; /live 200 until "
                            f"{live_ok:.1f} s; {len(answered)} answers from "
                            f"{answered[0][0]:.2f} s on, all /ready 503 draining")
        assert code == 0, pod.logs("veza-health")
        assert delay <= took <= delay + 1.0 < case.grace
        assert service_code != 137 and service_took < case.grace
        assert unready <= readiness["periodSeconds"] + readiness["timeoutSeconds"]
        assert not late, late

    in_parallel(drain, pods)
