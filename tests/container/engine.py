"""engine.py - a private Docker engine: installed when missing, started on its own socket and
directories, driven with docker and docker-compose, stopped by its pid."""

import datetime
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional, Sequence

import harness

# Images and build layers survive between runs here (with the base tarball), so a warm run
# builds nothing; VH_CONTAINER_CACHE moves it.
CACHE_DIR = Path(os.environ.get("VH_CONTAINER_CACHE") or "/var/cache/veza-health-tests")

# The programs the suite needs and the Debian 12 packages that bring them.
PROGRAMS = {"dockerd": "docker.io", "docker-compose": "docker-compose",
            "debootstrap": "debootstrap"}

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def unmount_under(root: Path) -> None:
    """Unmounts whatever is still mounted inside root, deepest first, before root is deleted:
    dockerd leaves its exec-root's netns/default mounted, a failed debootstrap its proc and
    sys, and deleting through a mount would reach into what is mounted there."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    inside = [m for m in mounts if m == str(root) or m.startswith(f"{root}/")]
    for mount in sorted(inside, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False)


def docker_time(text: str) -> float:
    """A timestamp as docker prints it (RFC 3339 with up to nanoseconds) in seconds since the
    epoch, comparable with time.time()."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        raise ValueError(f"not a docker timestamp: {text!r}")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    whole = datetime.datetime.fromisoformat(m.group(1) + zone).timestamp()
    return whole + float("0." + (m.group(2) or "0"))


class EngineError(RuntimeError):
    """The engine could not be installed, started or stopped; the message says why."""


def which(program: str) -> Optional[str]:
    """Like shutil.which, also looking in the sbin directories a non-login PATH may lack."""
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    return shutil.which(program, path=path)


def ensure_installed() -> None:
    """Runs scripts/install-deps.sh (which lists docker.io, docker-compose and debootstrap) when
    one of their programs is missing. Raises EngineError when they are still missing after it."""
    if all(which(p) for p in PROGRAMS):
        return
    script = harness.SOURCE_ROOT / "scripts" / "install-deps.sh"
    run = subprocess.run([str(script)], capture_output=True, text=True, timeout=900)
    missing = [f"{p} (package {pkg})" for p, pkg in PROGRAMS.items() if not which(p)]
    if run.returncode != 0 or missing:
        raise EngineError(f"{script} exited {run.returncode}; still missing: "
                          f"{', '.join(missing) or 'nothing'}\n{run.stdout}{run.stderr}")


def docker_cli() -> str:
    """The docker client of the engine's own package (/usr/bin/docker from docker.io), not a
    newer one earlier on PATH that only offers the deprecated legacy builder; VH_DOCKER_CLI
    names another."""
    wanted = os.environ.get("VH_DOCKER_CLI")
    if wanted:
        return wanted
    if os.access("/usr/bin/docker", os.X_OK):
        return "/usr/bin/docker"
    found = which("docker")
    if not found:
        raise EngineError("no docker client on PATH")
    return found


class Engine:
    """One dockerd with private exec-root, socket and pidfile under a fresh directory in /tmp
    (short, for the socket path), and a data-root that keeps images between runs: the shared
    cache when no other run holds it, else a private one deleted at stop().

    The daemon adds no iptables rules, no masquerading, no default bridge and does not touch
    the host's ip_forward: containers reach only each other and, for published ports, the
    host's loopback through docker-proxy. Only `docker build --network host` leaves the host."""

    def __init__(self) -> None:
        self.run_dir = Path(tempfile.mkdtemp(prefix="vhd-", dir="/tmp"))
        self.socket = self.run_dir / "docker.sock"
        self.log_path = self.run_dir / "dockerd.log"
        self.proc: Optional[subprocess.Popen] = None
        self.lock_file = None
        self.private_data = False
        self.data_root = self._claim_data_root()
        self.start_seconds = 0.0

    def _claim_data_root(self) -> Path:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        self.lock_file = open(CACHE_DIR / "docker.lock", "w")
        try:
            fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return CACHE_DIR / "docker"
        except BlockingIOError:
            # Another run has the shared cache: work cold in a private one rather than wait.
            self.lock_file.close()
            self.lock_file = None
            self.private_data = True
            return Path(tempfile.mkdtemp(prefix="vh-docker-data-", dir="/var/tmp"))

    def env(self, extra: Optional[dict] = None) -> dict:
        env = dict(os.environ)
        env.update({
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_CONFIG": str(self.run_dir / "cli"),
            "DOCKER_BUILDKIT": "0",
            "COMPOSE_DOCKER_CLI_BUILD": "0",
        })
        env.update(extra or {})
        return env

    def start(self) -> "Engine":
        """Starts dockerd and waits until it answers. Raises EngineError with its log when it
        exits or does not answer within START_TIMEOUT."""
        ensure_installed()
        dockerd = which("dockerd")
        config = self.run_dir / "daemon.json"
        config.write_text("{}\n")  # nothing from the host's /etc/docker/daemon.json
        argv = [dockerd, "--config-file", str(config),
                "--iptables=false", "--ip-masq=false", "--ip-forward=false", "--bridge=none",
                "--data-root", str(self.data_root), "--exec-root", str(self.run_dir / "exec"),
                "-H", f"unix://{self.socket}", "--pidfile", str(self.run_dir / "docker.pid")]
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = began + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                log = self.log_tail()
                self.stop()
                raise EngineError(f"dockerd exited with status {self.proc.returncode}; "
                                  f"its log:\n{log}")
            if self.socket.exists():
                ping = self.docker("version", "--format", "{{.Server.Version}}", check=False,
                                   timeout=10)
                if ping.returncode == 0:
                    self.server_version = ping.stdout.strip()
                    break
            if time.monotonic() > deadline:
                log = self.log_tail()
                self.stop()
                raise EngineError(f"dockerd did not answer within {START_TIMEOUT:.0f} s; its "
                                  f"log:\n{log}")
            time.sleep(0.1)
        self.start_seconds = time.monotonic() - began
        return self

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def docker(self, *args: str, check: bool = True, timeout: float = 120,
               input: Optional[str] = None) -> subprocess.CompletedProcess:
        """Runs the docker client against this engine; with check, a failure raises
        AssertionError with the command and its output."""
        return self._run([docker_cli(), *args], check, timeout, input)

    def docker_bytes(self, *args: str, timeout: float = 120) -> bytes:
        """Like docker(), for output that is not text (a tar stream from `docker cp ... -`)."""
        run = subprocess.run([docker_cli(), *args], capture_output=True, timeout=timeout,
                             env=self.env(), stdin=subprocess.DEVNULL)
        if run.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {run.returncode}:\n"
                                 f"{run.stderr.decode(errors='replace')}")
        return run.stdout

    def events(self, *filters: str) -> "EventLog":
        """Starts collecting the engine's events that match the filters (`docker events
        --filter` syntax, e.g. "label=com.docker.compose.project=p"); stop it when done."""
        return EventLog(self, filters)

    def compose(self, project: str, file: Path, *args: str, env: Optional[dict] = None,
                check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        """Runs docker-compose (1.29 on Debian 12) on file under project name project."""
        argv = [which("docker-compose"), "-p", project, "-f", str(file), *args]
        return self._run(argv, check, timeout, None, env)

    def _run(self, argv: Sequence[str], check: bool, timeout: float, input: Optional[str],
             env: Optional[dict] = None) -> subprocess.CompletedProcess:
        run = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                             input=input, env=self.env(env),
                             stdin=None if input is not None else subprocess.DEVNULL)
        if check and run.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {run.returncode}:\n"
                                 f"{run.stdout}{run.stderr}")
        return run

    def inspect(self, name: str) -> dict:
        return json.loads(self.docker("inspect", name).stdout)[0]

    def leftovers(self) -> list:
        """Containers, user-made networks and volumes that exist now, as printable lines."""
        found = []
        out = self.docker("ps", "-a", "--format", "{{.Names}}", check=False).stdout.split()
        found += [f"container {n}" for n in out]
        out = self.docker("network", "ls", "--filter", "type=custom", "--format",
                          "{{.Name}}", check=False).stdout.split()
        found += [f"network {n}" for n in out]
        out = self.docker("volume", "ls", "-q", check=False).stdout.split()
        found += [f"volume {n}" for n in out]
        return found

    def stop(self) -> list:
        """Removes whatever containers, networks and volumes remain, stops dockerd with SIGTERM
        (SIGKILL to its process group after STOP_TIMEOUT) and deletes the run directory.
        Returns what was left behind, so the caller can fail on it. Safe to call twice."""
        left = []
        if self.proc is not None and self.proc.poll() is None:
            left = self.leftovers()
            for item in left:
                kind, name = item.split(" ", 1)
                if kind == "container":
                    self.docker("rm", "-f", "-v", name, check=False)
            for item in left:
                kind, name = item.split(" ", 1)
                if kind != "container":
                    self.docker(kind, "rm", "-f" if kind == "volume" else "--", name,
                                check=False)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                left.append(f"dockerd ignored SIGTERM for {STOP_TIMEOUT:.0f} s")
        if self.lock_file is not None:
            self.lock_file.close()
            self.lock_file = None
        if self.private_data:
            unmount_under(self.data_root)
            shutil.rmtree(self.data_root, ignore_errors=True)
        unmount_under(self.run_dir)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        return left


class EventLog:
    """`docker events` read by a thread into a list of dicts, each with "time" (seconds since
    the epoch, from the engine's nanosecond stamp), "action", "name" and "attributes"."""

    def __init__(self, engine: Engine, filters: Sequence[str]) -> None:
        argv = [docker_cli(), "events", "--format", "{{json .}}"]
        for f in filters:
            argv += ["--filter", f]
        self.events: list = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, env=engine.env(), text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            raw = json.loads(line)
            attrs = raw.get("Actor", {}).get("Attributes", {})
            event = {"time": raw["timeNano"] / 1e9, "action": raw.get("Action", ""),
                     "type": raw.get("Type", ""), "name": attrs.get("name", ""),
                     "attributes": attrs}
            with self.cond:
                self.events.append(event)
                self.cond.notify_all()

    def find(self, match, after: float = 0.0) -> Optional[dict]:
        """The first event since after (epoch seconds) for which match(event) is true."""
        with self.cond:
            return next((e for e in self.events if e["time"] >= after and match(e)), None)

    def wait(self, match, timeout: float, after: float = 0.0, what: str = "event") -> dict:
        """Like find(), waiting up to timeout seconds; AssertionError naming what if none."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = next((e for e in self.events if e["time"] >= after and match(e)), None)
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} within {timeout:.1f} s")
                self.cond.wait(left)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.thread.join(5)
