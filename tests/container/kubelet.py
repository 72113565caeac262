"""kubelet.py - a rendered Deployment's pod run in docker as kubelet runs it, and probed by
kubelet's rules, for tests that no cluster can host here.

The pod: a pause stand-in (docker-init running sleep in the base image) holds the network
namespace and, with shareProcessNamespace, the pid namespace (so it is pid 1, as pause is);
every container joins both with its securityContext (user, read-only root, dropped
capabilities, no privilege escalation), its memory and CPU limits, its env (values, Secret and
ConfigMap references) and its configMap volumes laid out as kubelet's atomic writer lays them
out (..data symlinks), mounted read-only.

The probes follow pkg/kubelet/prober/worker.go and pkg/probe/http/http.go: one worker per
container and probe type, probing at once and then every periodSeconds; readiness starts
failed, liveness passed; liveness and readiness wait for the startup probe, and a startup
success triggers a readiness run at once; a result counts only after successThreshold or
failureThreshold in a row; an HTTP probe is a GET from outside the pod to the pod's IP with
`Connection: close`, a deadline of timeoutSeconds for the whole exchange, and success for
200-399. A liveness or startup failure kills the container with the pod's grace period.
Restarts follow kubelet's back-off (pkg/kubelet/kuberuntime doBackOff, flowcontrol.Backoff):
an exit is seen within the 1 s relist, the first restart is immediate, each later one waits
10 s, 20 s, ... up to 5 min since the exit, and a sync the back-off refuses is retried
jitter(10 s, 0.5) later, taken at its worst, 15 s. Deleting the pod stops the liveness and
startup probes, keeps readiness, stops every container with terminationGracePeriodSeconds."""

import shutil
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import NamedTuple, Optional

import harness
from engine import docker_time

PAUSE_IMAGE = "debian:bookworm-slim"
USER_AGENT = "kube-probe/1.20"  # Debian 12's kubernetes-client is 1.20
MAX_BODY = 10 * 1024  # kubelet reads at most this much of a probe's answer
RELIST_S = 1.0
BACKOFF_INITIAL_S = 10.0
BACKOFF_MAX_S = 300.0
REQUEUE_WORST_S = 15.0
PROBE_DEFAULTS = {"periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1,
                  "failureThreshold": 3, "initialDelaySeconds": 0}


def http_get(host: str, port: int, path: str, timeout: float) -> tuple:
    """One probe as kubelet's HTTP prober sends it. Returns (ok, detail): ok for a status from
    200 to 399 within timeout seconds for the whole exchange; detail is the status or error."""
    deadline = time.monotonic() + timeout
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {USER_AGENT}\r\n"
               "Accept: */*\r\nConnection: close\r\n\r\n").encode()
    data = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(request)
            while len(data) < MAX_BODY + 4096:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False, f"timeout after {timeout:g}s"
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        status, _, _ = harness.parse_raw_response(data)
    except socket.timeout:
        return False, f"timeout after {timeout:g}s"
    except (OSError, ValueError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return 200 <= status < 400, status


def quantity_bytes(text: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[:-len(suffix)]) * factor)
    return int(text)


def quantity_cpus(text: str) -> float:
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


class ProbeResult(NamedTuple):
    time: float
    container: str
    kind: str
    ok: bool
    detail: object


class Container:
    """One container of the pod and what kubelet knows of it. Fields change under pod.lock."""

    def __init__(self, spec: dict, docker_name: str):
        self.spec = spec
        self.name = spec["name"]
        self.docker_name = docker_name
        self.generation = 0
        self.running = False
        self.started = False  # the startup probe passed (or there is none)
        self.ready = False  # the readiness result (or True without a readiness probe)
        self.restarts = 0
        self.backoff: Optional[float] = None
        self.backoff_updated = 0.0


class Worker(threading.Thread):
    """kubelet's probe worker for one container and probe type."""

    def __init__(self, pod: "Pod", container: Container, kind: str):
        super().__init__(daemon=True, name=f"{pod.name}/{container.name}/{kind}")
        self.pod = pod
        self.container = container
        self.kind = kind
        self.spec = {**PROBE_DEFAULTS, **container.spec[kind + "Probe"]}
        self.trigger = threading.Event()
        self.generation = -1
        self.last: Optional[bool] = None
        self.run_length = 0
        self.on_hold = False

    def initial(self) -> Optional[bool]:
        return {"readiness": False, "liveness": True, "startup": None}[self.kind]

    def run(self) -> None:
        period = self.spec["periodSeconds"]
        next_tick = time.monotonic()
        while self.do_probe():
            next_tick += period
            fired = self.trigger.wait(max(0.0, next_tick - time.monotonic()))
            if self.pod.stopping.is_set():
                return
            if fired:
                self.trigger.clear()
                next_tick = time.monotonic()

    def do_probe(self) -> bool:
        pod, c = self.pod, self.container
        with pod.lock:
            if pod.stopping.is_set():
                return False
            if c.generation != self.generation:
                self.generation = c.generation
                self.last, self.run_length, self.on_hold = None, 0, False
                pod.set_result(c, self.kind, self.initial())
            if self.on_hold:
                return True
            if not c.running:
                pod.set_result(c, self.kind, False)
                return True
            if pod.deleting and self.kind in ("liveness", "startup"):
                pod.set_result(c, self.kind, True)
                return False
            if time.time() - pod.started_at[c.name] < self.spec["initialDelaySeconds"]:
                return True
            if c.started != (self.kind != "startup"):
                return True  # startup runs until it passes; the others only after
        get = self.spec["httpGet"]
        ok, detail = http_get(get.get("host", pod.ip), pod.port_number(c, get["port"]),
                              get.get("path", "/"), self.spec["timeoutSeconds"])
        with pod.lock:
            pod.results.append(ProbeResult(time.time(), c.name, self.kind, ok, detail))
            if c.generation != self.generation:
                return True
            self.run_length = self.run_length + 1 if ok == self.last else 1
            self.last = ok
            need = self.spec["successThreshold" if ok else "failureThreshold"]
            if self.run_length < need:
                return True
            pod.set_result(c, self.kind, ok)
            if self.kind == "startup" or (self.kind == "liveness" and not ok):
                self.on_hold, self.run_length = True, 0
                if not ok:
                    pod.kill_for_restart(c, f"{self.kind} probe failed: {detail}")
        return True


class Pod:
    """A Deployment's pod template run under the name pod_name on network; secrets maps a
    Secret's name to its data. start() runs it; terminate() deletes it as kubelet would;
    destroy() removes whatever is left. Times are seconds since the epoch (time.time())."""

    def __init__(self, engine, deployment: dict, objects: list, secrets: dict, network: str,
                 workdir: Path, pod_name: str):
        self.engine = engine
        self.name = pod_name
        self.spec = deployment["spec"]["template"]["spec"]
        self.config_maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
        # A headless Service's name resolves to its pods' addresses (cluster DNS); here a
        # network alias of the pod does the same through the engine's DNS, so the sidecar's
        # peers.dns finds this pod, and only its own network is ever asked.
        labels = deployment["spec"]["template"]["metadata"].get("labels", {})
        self.dns_names = [
            o["metadata"]["name"] for o in objects
            if o["kind"] == "Service" and o["spec"].get("clusterIP") == "None"
            and o["spec"].get("selector")
            and all(labels.get(k) == v for k, v in o["spec"]["selector"].items())]
        self.secrets = secrets
        self.network = network
        self.workdir = Path(workdir) / pod_name
        self.uid = uuid.uuid4().hex[:12]
        self.pause = f"{pod_name}-pause"
        self.containers = {c["name"]: Container(c, f"{pod_name}-{c['name']}")
                           for c in self.spec["containers"]}
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.deleting = False
        self.ip = ""
        self.results: list = []  # every ProbeResult
        self.ready_changes: list = []  # (time, pod Ready)
        self.starts: list = []  # (time, container)
        self.exits: list = []  # (time, container, exit code)
        self.kills: list = []  # (time, container, reason)
        self.signals: list = []  # (time, container, signal number) as the engine sent them
        self.started_at: dict = {}
        self.workers: list = []
        self.events = None
        self.supervisor: Optional[threading.Thread] = None
        self.grace = self.spec.get("terminationGracePeriodSeconds", 30)

    # -- running containers -------------------------------------------------------------

    def start(self) -> "Pod":
        self.events = self.engine.events(f"label=vh-tests.pod={self.uid}", "event=die",
                                         "event=kill")
        volumes = self._write_volumes()
        aliases = [arg for name in self.dns_names for arg in ("--network-alias", name)]
        self.engine.docker("run", "-d", "--name", self.pause, "--label",
                           f"vh-tests.pod-pause={self.uid}", "--network", self.network,
                           *aliases, "--hostname", self.name, "--init", PAUSE_IMAGE, "sleep",
                           "infinity")
        info = self.engine.inspect(self.pause)
        self.ip = info["NetworkSettings"]["Networks"][self.network]["IPAddress"]
        self.volumes = volumes
        for c in self.containers.values():
            self._run(c)
        for c in self.containers.values():
            for kind in ("startup", "readiness", "liveness"):
                if kind + "Probe" in c.spec:
                    self.workers.append(Worker(self, c, kind))
        for w in self.workers:
            w.start()
        self.supervisor = threading.Thread(target=self._supervise, daemon=True,
                                           name=f"{self.name}/supervisor")
        self.supervisor.start()
        return self

    def _write_volumes(self) -> dict:
        """Each configMap volume as kubelet's atomic writer leaves it: the keys are symlinks
        into ..data, itself a symlink to a timestamped directory holding the files."""
        out = {}
        for vol in self.spec.get("volumes", []):
            if "configMap" not in vol:
                raise ValueError(f"volume {vol['name']}: only configMap volumes are supported")
            data = self.config_maps[vol["configMap"]["name"]]["data"]
            top = self.workdir / "volumes" / vol["name"]
            stamp = top / time.strftime("..%Y_%m_%d_%H_%M_%S.000000000")
            stamp.mkdir(parents=True)
            for key, value in data.items():
                (stamp / key).write_text(value)
                (stamp / key).chmod(0o644)
                (top / key).symlink_to(f"..data/{key}")
            (top / "..data").symlink_to(stamp.name)
            for d in (self.workdir, self.workdir / "volumes", top, stamp):
                d.chmod(0o755)
            out[vol["name"]] = top
        return out

    def _env(self, c: Container) -> list:
        argv = []
        for var in c.spec.get("env", []):
            if "value" in var:
                value = var["value"]
            elif "secretKeyRef" in var.get("valueFrom", {}):
                ref = var["valueFrom"]["secretKeyRef"]
                value = self.secrets[ref["name"]][ref["key"]]
            else:
                ref = var["valueFrom"]["configMapKeyRef"]
                value = self.config_maps[ref["name"]]["data"][ref["key"]]
            argv += ["-e", f"{var['name']}={value}"]
        return argv

    def _security(self, c: Container) -> list:
        pod_sc = self.spec.get("securityContext", {})
        sc = {**pod_sc, **c.spec.get("securityContext", {})}
        argv = []
        user = sc.get("runAsUser")
        if user is None:
            image_user = self.engine.inspect(c.spec["image"])["Config"]["User"]
            user = image_user.split(":")[0] if image_user else 0
        if sc.get("runAsNonRoot") and not (str(user).isdigit() and int(user) != 0):
            raise ValueError(f"container {c.name}: runAsNonRoot, but it would run as {user!r}")
        argv += ["--user", f"{user}:{sc['runAsGroup']}" if "runAsGroup" in sc else str(user)]
        if sc.get("readOnlyRootFilesystem"):
            argv.append("--read-only")
        if "ALL" in sc.get("capabilities", {}).get("drop", []):
            argv += ["--cap-drop", "ALL"]
        if sc.get("allowPrivilegeEscalation") is False:
            argv += ["--security-opt", "no-new-privileges"]
        # seccompProfile RuntimeDefault is docker's default profile.
        return argv

    def _resources(self, c: Container) -> list:
        res = c.spec.get("resources", {})
        argv = []
        limits, requests = res.get("limits", {}), res.get("requests", {})
        if "memory" in limits:
            argv += ["--memory", str(quantity_bytes(limits["memory"]))]
        if "cpu" in limits:
            argv += ["--cpus", f"{quantity_cpus(limits['cpu']):g}"]
        if "cpu" in requests:  # kubelet's cpu.shares: milli-CPUs x 1024 / 1000, at least 2
            argv += ["--cpu-shares", str(max(2, int(quantity_cpus(requests["cpu"]) * 1024)))]
        return argv

    def _run(self, c: Container) -> None:
        """Creates and starts a new instance of c, as kubelet does for a (re)start."""
        self.engine.docker("rm", "-f", c.docker_name, check=False)
        argv = ["run", "-d", "--name", c.docker_name, "--label", f"vh-tests.pod={self.uid}",
                "--label", f"vh-tests.container={c.name}", "--network", f"container:{self.pause}"]
        if self.spec.get("shareProcessNamespace"):
            argv += ["--pid", f"container:{self.pause}"]
        argv += self._security(c) + self._resources(c) + self._env(c)
        for mount in c.spec.get("volumeMounts", []):
            ro = ":ro" if mount.get("readOnly") else ""
            argv += ["-v", f"{self.volumes[mount['name']]}:{mount['mountPath']}{ro}"]
        if "command" in c.spec:
            argv += ["--entrypoint", c.spec["command"][0]]
        argv.append(c.spec["image"])
        argv += c.spec.get("command", [])[1:] + c.spec.get("args", [])
        self.engine.docker(*argv)
        now = time.time()
        with self.lock:
            c.generation += 1
            c.running = True
            c.started = "startupProbe" not in c.spec
            c.ready = "readinessProbe" not in c.spec
            self.started_at[c.name] = now
            self.starts.append((now, c.name))
            self._update_ready()

    def _supervise(self) -> None:
        """Records the signals the engine sends and restarts containers that exit, unless
        the pod is being deleted."""
        seen = 0
        while not self.stopping.is_set():
            with self.events.cond:
                self.events.cond.wait_for(lambda: len(self.events.events) > seen
                                          or self.stopping.is_set(), timeout=0.5)
                fresh = self.events.events[seen:]
                seen += len(fresh)
            for event in fresh:
                c = self.containers.get(event["attributes"].get("vh-tests.container", ""))
                if c is None:
                    continue
                if event["action"] == "kill":
                    with self.lock:
                        self.signals.append((event["time"], c.name,
                                             int(event["attributes"].get("signal", 0))))
                else:
                    self._on_exit(c, event["time"], int(event["attributes"].get("exitCode", -1)))

    def _on_exit(self, c: Container, finished: float, code: int) -> None:
        with self.lock:
            if not c.running:
                return
            c.running = False
            c.ready = False
            self.exits.append((finished, c.name, code))
            self._update_ready()
            if self.deleting or self.stopping.is_set():
                return
            # doBackOff at each sync: refused while the time since the exit is shorter than
            # the current back-off; a sync it lets through moves the back-off on (Next).
            expired = c.backoff is None or finished - c.backoff_updated > 2 * BACKOFF_MAX_S
            at = finished + RELIST_S
            if not expired:
                while at - finished < c.backoff:
                    at += REQUEUE_WORST_S
        timer = threading.Timer(max(0.0, at - time.time()), self._restart, (c, expired))
        timer.daemon = True
        timer.start()

    def _restart(self, c: Container, expired: bool) -> None:
        with self.lock:
            if self.deleting or self.stopping.is_set():
                return
            c.backoff = BACKOFF_INITIAL_S if expired else min(2 * c.backoff, BACKOFF_MAX_S)
            c.backoff_updated = time.time()
            c.restarts += 1
        self._run(c)

    def kill_for_restart(self, c: Container, reason: str) -> None:
        """A failed liveness or startup probe: stop the container with the grace period in the
        background; its exit then restarts it like any other."""
        self.kills.append((time.time(), c.name, reason))
        threading.Thread(target=self.engine.docker, daemon=True,
                         args=("stop", "-t", str(self.grace), c.docker_name),
                         kwargs={"check": False}).start()

    # -- what kubelet reports -----------------------------------------------------------

    def set_result(self, c: Container, kind: str, ok: Optional[bool]) -> None:
        with self.lock:
            if kind == "startup" and ok and not c.started:
                c.started = True
                for w in self.workers:
                    if w.container is c and w.kind == "readiness":
                        w.trigger.set()
            elif kind == "readiness":
                c.ready = bool(ok)
            self._update_ready()

    def _update_ready(self) -> None:
        ready = all(c.running and c.started and c.ready for c in self.containers.values())
        if not self.ready_changes or self.ready_changes[-1][1] != ready:
            self.ready_changes.append((time.time(), ready))

    @property
    def ready(self) -> bool:
        with self.lock:
            return bool(self.ready_changes) and self.ready_changes[-1][1]

    def ready_at(self, value: bool, after: float) -> Optional[float]:
        """The first time since after that the pod's Ready condition became value."""
        with self.lock:
            return next((t for t, r in self.ready_changes if t >= after and r == value), None)

    def probe_results(self, container: str, kind: str, after: float = 0.0,
                      before: float = float("inf")) -> list:
        with self.lock:
            return [r for r in self.results if r.container == container and r.kind == kind
                    and after <= r.time < before]

    def port_number(self, c: Container, port) -> int:
        if isinstance(port, int):
            return port
        for other in self.containers.values():
            for p in other.spec.get("ports", []):
                if p.get("name") == port:
                    return p["containerPort"]
        raise ValueError(f"container {c.name}: no port named {port}")

    def logs(self, container: str) -> str:
        run = self.engine.docker("logs", self.containers[container].docker_name, check=False)
        return run.stdout + run.stderr

    # -- ending -------------------------------------------------------------------------

    def terminate(self) -> dict:
        """Deletes the pod: liveness and startup probes stop, readiness goes on, and every
        container is stopped at once with terminationGracePeriodSeconds (its image's stop
        signal, then SIGKILL when the grace runs out). Returns {container: (seconds from the
        deletion to its exit, exit code)} once all have exited."""
        with self.lock:
            self.deleting = True
            began = time.time()
        stops = [threading.Thread(target=self.engine.docker, daemon=True,
                                  args=("stop", "-t", str(self.grace), c.docker_name),
                                  kwargs={"check": False, "timeout": self.grace + 30})
                 for c in self.containers.values()]
        for t in stops:
            t.start()
        for t in stops:
            t.join()
        out = {}
        for c in self.containers.values():
            state = self.engine.inspect(c.docker_name)["State"]
            out[c.name] = (docker_time(state["FinishedAt"]) - began, state["ExitCode"])
        self.engine.docker("stop", "-t", "5", self.pause, check=False)
        return out

    def destroy(self) -> None:
        """Stops the workers and removes the containers and volumes; safe after a failure."""
        self.stopping.set()
        for w in self.workers:
            w.trigger.set()
        for w in self.workers:
            w.join(5)
        names = [c.docker_name for c in self.containers.values()] + [self.pause]
        self.engine.docker("rm", "-f", *names, check=False)
        if self.events is not None:
            self.events.stop()
        if self.supervisor is not None:
            self.supervisor.join(5)
        shutil.rmtree(self.workdir, ignore_errors=True)
