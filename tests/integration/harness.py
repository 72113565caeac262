"""harness.py - start the daemon and other servers on free loopback ports, and talk HTTP to them."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Optional, Sequence, Union

SOURCE_ROOT = Path(os.environ.get("VH_SOURCE_ROOT") or Path(__file__).resolve().parents[2])

# VH_VALGRIND=1 runs every veza-health process under valgrind. A definite leak or a memory error
# then turns into exit status 99, which the harness reports like any other bad exit.
VALGRIND = os.environ.get("VH_VALGRIND") == "1"
# VH_SANITIZED=1 (set by `meson test --setup asan`) says the daemon is an ASan build: its
# allocator holds freed memory in quarantine, so RSS growth says nothing about leaks there;
# LeakSanitizer checks leaks at exit instead.
SANITIZED = os.environ.get("VH_SANITIZED") == "1"
VALGRIND_ARGS = [
    "valgrind",
    "--error-exitcode=99",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite",
    "--quiet",
]

# valgrind slows the daemon down by an order of magnitude and adds a second or two of start-up.
START_TIMEOUT = 30.0 if VALGRIND else 10.0
STOP_TIMEOUT = 30.0 if VALGRIND else 10.0
CLI_TIMEOUT = 60.0 if VALGRIND else 15.0


def bound(seconds: float) -> float:
    """Stretches a time bound the daemon must meet when it runs under valgrind or the
    sanitizers."""
    if VALGRIND:
        return seconds * 3 + 3
    return seconds * 2 if SANITIZED else seconds


def vh_bin() -> str:
    """The veza-health binary under test: $VH_BIN, else build/veza-health in the source tree."""
    env = os.environ.get("VH_BIN")
    path = Path(env) if env else SOURCE_ROOT / "build" / "veza-health"
    path = path.resolve()
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"no veza-health binary at {path}; build it or set VH_BIN")
    return str(path)


def project_version() -> str:
    """The version meson.build declares, which --version must print."""
    text = (SOURCE_ROOT / "meson.build").read_text()
    match = re.search(r"version\s*:\s*'([^']+)'", text)
    if not match:
        raise RuntimeError("no project version in meson.build")
    return match.group(1)


def wrap(argv: Sequence[str]) -> list:
    """Prefixes valgrind when the suite runs with VH_VALGRIND=1."""
    return (VALGRIND_ARGS + list(argv)) if VALGRIND else list(argv)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now. Another process may take it before the caller binds,
    which ManagedProcess.start() handles by retrying on a new port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def fd_count(pid: int) -> int:
    """The process's open descriptors right now."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def settled_fd_count(pid: int, looks: int = 10, gap: float = 0.01) -> int:
    """The fewest open descriptors over looks readings gap seconds apart: sockets that come and
    go within a moment (a check's connect, a /proc read, the test's own request until the daemon
    sees it closed) are not what a leak looks like."""
    counts = []
    for _ in range(looks):
        counts.append(fd_count(pid))
        time.sleep(gap)
    return min(counts)


def rss_kib(pid: int) -> int:
    """VmRSS of the process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def can_connect(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def poll(fn: Callable, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Calls fn until it returns something truthy and returns that. After timeout seconds raises
    AssertionError naming what and showing fn's last value (or exception), so a failed wait
    explains itself."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except (OSError, http.client.HTTPException, ValueError) as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout:.1f} s; last: {last!r}")
        time.sleep(interval)


class ManagedProcess:
    """A server child process with its output in a log file, readiness by connect-retry, and a
    bounded stop. Subclasses or callers supply argv for a port; PostgreSQL and Redis fixtures can
    reuse it (pass user= to drop privileges, e.g. "postgres" for initdb and postgres)."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        argv_for_port: Callable[[int], Sequence[str]],
        host: str = "127.0.0.1",
        env: Optional[dict] = None,
        user: Optional[str] = None,
    ):
        self.name = name
        self.workdir = Path(workdir)
        self.argv_for_port = argv_for_port
        self.host = host
        self.env = env
        self.user = user
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.workdir / f"{name}.log"
        self.returncode: Optional[int] = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self, port: int) -> None:
        argv = list(self.argv_for_port(port))
        if self.user:
            argv = ["runuser", "-u", self.user, "--"] + argv
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,
            )
        finally:
            log.close()
        self.port = port
        self.returncode = None

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ProcessDied(self)
            if can_connect(self.host, self.port):
                return
            time.sleep(0.02)
        log = self.log_text()
        self.kill()
        raise AssertionError(
            f"{self.name} did not accept connections on {self.host}:{self.port} within "
            f"{timeout:.0f} s; its output:\n{log}"
        )

    def start(self, timeout: float = START_TIMEOUT, attempts: int = 3,
              port: Optional[int] = None) -> "ManagedProcess":
        """Starts the process on a free port (or on port, when given: one port shared by
        several loopback addresses) and waits until it accepts connections. Fails fast with the
        process's output when it exits first; retries on a new port when the port was taken in
        between, unless port was given."""
        for attempt in range(attempts):
            self._spawn(port or free_port(self.host))
            try:
                self._wait_ready(timeout)
                return self
            except ProcessDied as died:
                self.returncode = self.proc.returncode
                if "in use" in died.log and not port and attempt + 1 < attempts:
                    continue
                raise AssertionError(str(died)) from None
        raise AssertionError(f"{self.name} could not find a free port")

    def send_signal(self, signum: int) -> None:
        if self.alive():
            self.proc.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> Optional[int]:
        """Sends signum and waits up to timeout seconds. Returns the exit status (negative for a
        signal), or raises AssertionError when the process had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"{self.name} ignored signal {signum} for {timeout:.0f} s; its output:\n"
                    f"{self.log_text()}"
                ) from None
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self) -> None:
        """SIGKILLs the whole process group and reaps it; safe to call at any time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.returncode = self.proc.returncode


class ProcessDied(Exception):
    def __init__(self, managed: ManagedProcess):
        self.log = managed.log_text()
        super().__init__(
            f"{managed.name} exited with status {managed.proc.returncode} before accepting "
            f"connections; its output:\n{self.log}"
        )


class Daemon(ManagedProcess):
    """`veza-health serve -c CONFIG --listen HOST:PORT`, optionally under valgrind. host is
    127.0.0.1 unless given: a fleet of daemons listens on 127.0.0.2, 127.0.0.3, ... and one
    port."""

    def __init__(
        self,
        workdir: Path,
        config: Union[dict, str],
        name: str = "veza-health",
        args: Iterable[str] = (),
        env: Optional[dict] = None,
        host: str = "127.0.0.1",
    ):
        self.config_path = Path(workdir) / f"{name}.json"
        write_config(self.config_path, config)
        extra = list(args)
        super().__init__(
            name,
            workdir,
            lambda port: wrap(
                [vh_bin(), "serve", "-c", str(self.config_path), "--listen", f"{host}:{port}"]
                + extra
            ),
            host=host,
            env=env,
        )

    def stop_ok(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then asserts a clean exit (status 0; under valgrind also no definite leak)."""
        code = self.stop(signal.SIGTERM, timeout)
        assert code == 0, f"{self.name} exited with status {code}; its output:\n{self.log_text()}"

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def request(self, path: str, method: str = "GET", **kwargs) -> "Response":
        return http_request(self.port, path, method=method, host=self.host, **kwargs)

    def get_json(self, path: str, **kwargs) -> tuple:
        """GETs path and returns (status, decoded JSON body)."""
        resp = self.request(path, **kwargs)
        return resp.status, resp.json()

    def log_events(self, message: Optional[str] = None, **fields: str) -> list:
        """The daemon's log lines as dicts (see parse_log), only those whose "message" is message
        and whose members equal fields when these are given."""
        return [e for e in parse_log(self.log_text())
                if (message is None or e.get("message") == message)
                and all(e.get(k) == v for k, v in fields.items())]


# What valgrind (==PID== ...) and the sanitizers (a rule of '=', then ==PID==ERROR ...) write to
# the daemon's stderr; they fail the run through its exit status, not through the log.
_TOOL_LINE = re.compile(r"^==\d+==|^=+$")


def parse_log(text: str) -> list:
    """Parses a daemon log in the default JSON format (docs/logging.md): one dict per line. A line
    that is not a JSON object fails with an AssertionError, since log shippers would drop it.
    A last line without its newline is still being written and is left out."""
    lines = text.split("\n")[:-1]
    events = []
    for number, line in enumerate(lines, 1):
        if (VALGRIND or SANITIZED) and _TOOL_LINE.match(line):
            continue
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"log line {number} is not JSON ({exc}): {line!r}") from None
        assert isinstance(event, dict), f"log line {number} is not an object: {line!r}"
        events.append(event)
    return events


class DaemonSet:
    """Daemons started for one test or module; stop_all() stops each and reports every one
    that did not exit cleanly, after stopping the rest."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.daemons: list = []

    def start(self, config: Union[dict, str], port: Optional[int] = None, **kwargs) -> Daemon:
        name = kwargs.pop("name", f"veza-health-{len(self.daemons)}")
        daemon = Daemon(self.workdir, config, name=name, **kwargs)
        self.daemons.append(daemon)
        return daemon.start(port=port)

    def stop_all(self) -> None:
        failures = []
        for daemon in self.daemons:
            if daemon.proc is None:
                continue
            try:
                if daemon.returncode is None or daemon.alive():
                    daemon.stop_ok()
                elif daemon.returncode != 0:
                    failures.append(
                        f"{daemon.name} had exited with status {daemon.returncode}:\n"
                        f"{daemon.log_text()}"
                    )
            except AssertionError as exc:
                failures.append(str(exc))
            finally:
                daemon.kill()
        self.daemons.clear()
        if failures:
            raise AssertionError("\n\n".join(failures))


class Spawned:
    """Plain child processes a test starts (targets for process checks); kill_all() reaps them so
    no zombie keeps a /proc entry and nothing outlives the test."""

    def __init__(self):
        self.procs: list = []

    def start(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            **kwargs,
        )
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    def kill_all(self) -> None:
        for proc in self.procs:
            self.kill(proc)
        self.procs.clear()


def write_config(path: Path, config: Union[dict, str]) -> Path:
    """Writes a dict as JSON, or a string as is (for deliberately broken files)."""
    text = config if isinstance(config, str) else json.dumps(config, indent=2) + "\n"
    Path(path).write_text(text)
    return Path(path)


def copy_executable(src: str, workdir: Path, name: str) -> Path:
    """Copies an executable under a new name so the process gets a comm of its own."""
    dst = Path(workdir) / name
    shutil.copy2(shutil.which(src) or src, dst)
    dst.chmod(0o755)
    return dst


class Response(NamedTuple):
    """An HTTP response: status, headers (lower-case names) and body bytes."""

    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def http_request(
    port: int,
    path: str,
    method: str = "GET",
    headers: Optional[dict] = None,
    body: Optional[bytes] = None,
    host: str = "127.0.0.1",
    timeout: float = 5.0,
    conn: Optional[http.client.HTTPConnection] = None,
) -> Response:
    """Sends one request with http.client and reads the whole answer. Pass conn to reuse a
    keep-alive connection (the caller closes it); otherwise a connection is opened and closed."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(host, port, timeout=bound(timeout))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        merged: dict = {}
        for key, value in resp.getheaders():
            key = key.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return Response(resp.status, merged, data)
    finally:
        if own:
            conn.close()


def raw_request(port: int, data: bytes, host: str = "127.0.0.1", timeout: float = 5.0) -> bytes:
    """Sends raw bytes and returns everything the server sends until it closes the connection or
    goes quiet for timeout seconds. For requests http.client refuses to produce."""
    with socket.create_connection((host, port), timeout=bound(timeout)) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def parse_raw_response(data: bytes) -> tuple:
    """Splits a raw HTTP/1.x response into (status, headers with lower-case names, rest)."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError(f"no complete response header in {data[:200]!r}")
    lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not match:
        raise ValueError(f"bad status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return int(match.group(1)), headers, rest


def run_cli(args: Sequence[str], timeout: float = CLI_TIMEOUT, env: Optional[dict] = None,
            cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """Runs veza-health with args (under valgrind when asked) and captures text output."""
    return subprocess.run(
        wrap([vh_bin()] + list(args)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )


class FakeServer:
    """A loopback TCP server for probe tests. mode "silent" accepts and never answers;
    "stall" reads the request (an HTTP head, or request_bytes bytes when given), sends reply and
    then keeps the connection open without a word;
    "reply" sends reply and closes. Requests received are kept in .requests. port 0 picks a free
    port; a given one (that a stopped server left free) turns a dependency into a black hole.
    Use as a context manager; leaving it closes every socket and joins the thread."""

    def __init__(self, mode: str, reply: bytes = b"", host: str = "127.0.0.1", port: int = 0,
                 request_bytes: int = 0):
        self.mode = mode
        self.reply = reply
        self.request_bytes = request_bytes  # a binary request of this size, not an HTTP head
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.requests: list = []
        self.conns: list = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(5)
        for conn in self.conns:
            conn.close()
        self.sock.close()

    def _read_request(self, conn: socket.socket) -> bytes:
        conn.settimeout(2)
        data = b""
        while (len(data) < self.request_bytes if self.request_bytes
               else b"\r\n\r\n" not in data):
            try:
                chunk = conn.recv(4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        return data

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(conn)
            if self.mode == "silent":
                continue
            self.requests.append(self._read_request(conn))
            try:
                conn.sendall(self.reply)
            except OSError:
                pass
            if self.mode == "reply":
                conn.close()


class SilentListener:
    """A socket that listens but never accepts: the kernel completes the handshake, so a client
    connects and then waits for an answer that never comes."""

    def __init__(self, host: str = "127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    def __enter__(self) -> "SilentListener":
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()


def self_config(service: str = "itest", interval: str = "100ms") -> dict:
    """The smallest useful config: one process check of the daemon itself, in liveness and
    readiness (see docs/configuration.md)."""
    return {
        "service": service,
        "checks": [
            {
                "name": "self-mem",
                "type": "process",
                "groups": ["liveness", "readiness"],
                "interval": interval,
                "process": {"self": True},
            }
        ],
    }
