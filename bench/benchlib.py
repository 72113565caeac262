"""benchlib.py - shared helpers of the benchmarks: servers on loopback, wrk, /proc readings and
distributions. Standard library only; PostgreSQL and Redis come from the integration harness."""

import atexit
import contextlib
import os
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
# The shipped build (deploy/Dockerfile): release, no tests. VH_BIN picks another binary.
os.environ.setdefault("VH_BIN", str(ROOT / "build-bench" / "veza-health"))

import harness  # noqa: E402
import pg_server  # noqa: E402
import redis_server  # noqa: E402

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
HZ = os.sysconf("SC_CLK_TCK")
WRK_SECONDS = 1 if SMOKE else 10


def pick(full, smoke):
    """full normally, smoke under BENCH_SMOKE=1."""
    return smoke if SMOKE else full


def stop_on_sigterm():
    """Turns SIGTERM into SystemExit so that every `with` block tears its servers down."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


# --- figures -------------------------------------------------------------------------------

def percentile(values, p):
    """Nearest-rank percentile of values (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def dist(values, unit="ms", scale=1000.0):
    """'min/median/p90/max' of seconds, shown in unit (ms by default)."""
    v = [x * scale for x in values]
    return (f"min {min(v):.0f} / median {statistics.median(v):.0f} / p90 {percentile(v, 90):.0f}"
            f" / max {max(v):.0f} {unit} (n={len(v)})")


def verdict(ok):
    return "PASS" if ok else "FAIL"


def header(title):
    """The run's title, mode, machine and load; the load is printed again at exit, since other
    engineers share the machine and a figure taken under load is worth less."""
    print(f"== {title} ({'smoke' if SMOKE else 'full'} mode; {machine()}; {load()})", flush=True)
    atexit.register(lambda: print(f"== at the end: {load()}", flush=True))


def load():
    """The load averages and the time, as RESULTS.md records them beside each figure."""
    with open("/proc/loadavg") as f:
        one, five, fifteen = f.read().split()[:3]
    return (f"load average {one} {five} {fifteen} at "
            f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cpus, {model}, kernel {os.uname().release}"


# --- /proc -----------------------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of pid in seconds (clock-tick resolution)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def oncpu_seconds(pid):
    """Time pid spent on a CPU, from /proc/PID/schedstat (nanosecond resolution)."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def tree_pids(pid):
    """pid and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def pin_tree(pid, cpus):
    """Confines pid, its threads and its descendants to cpus (a taskset list, e.g. "0")."""
    for p in tree_pids(pid):
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(p)], check=True,
                       capture_output=True)


def tree_cpu_seconds(pid):
    """On-CPU time of pid and its descendants (schedstat: utime+stime are sampled at clock
    ticks and miss the short bursts of timer-driven processes that wake right after a tick);
    a process that exited meanwhile counts as 0."""
    total = 0.0
    for p in tree_pids(pid):
        with contextlib.suppress(OSError):
            total += oncpu_seconds(p)
    return total


def rss_kib(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} for {pid}")


# --- HTTP ------------------------------------------------------------------------------------

def get(port, path="/ready", conn=None, timeout=5.0):
    """(status, body) of one GET; reuses conn (keep-alive) when given."""
    resp = harness.http_request(port, path, conn=conn, timeout=timeout)
    return resp.status, resp.body


def wait_status(port, status=200, path="/ready", timeout=30.0, period=0.005):
    """Polls until path answers status; returns the seconds it took."""
    start = time.monotonic()
    while True:
        try:
            if get(port, path, timeout=2.0)[0] == status:
                return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{path} on port {port} did not answer {status} in {timeout}s")
        time.sleep(period)


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text):
    num, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(num) * _UNITS[unit]


def wrk(url, seconds=None, threads=2, conns=50, headers=(), pid=None, cpus=None):
    """Runs wrk --latency against url; returns a dict of rps, p50/p99 (s), requests, errors and,
    when pid is given, the CPU seconds of pid's process tree during the run. cpus (a taskset
    list, e.g. "1") confines wrk to those CPUs."""
    seconds = seconds or WRK_SECONDS
    argv = ["taskset", "-c", cpus] if cpus else []
    argv += ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency"]
    for h in headers:
        argv += ["-H", h]
    before = tree_cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    cpu = tree_cpu_seconds(pid) - before if pid else 0.0
    res = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _seconds(re.search(r"\n\s+50%\s+(\S+)", out).group(1)),
        "p99": _seconds(re.search(r"\n\s+99%\s+(\S+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "non2xx": int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1]),
        "sockerr": sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
        "cpu": cpu,
    }
    res["cpu_per_req_us"] = cpu / max(res["requests"], 1) * 1e6
    return res


def fmt_wrk(r):
    return (f"{r['rps']:9.0f} req/s  p50 {r['p50'] * 1e3:6.2f} ms  p99 {r['p99'] * 1e3:6.2f} ms"
            f"  cpu {r['cpu_per_req_us']:6.2f} us/req  ({r['requests']} req, "
            f"{r['non2xx']} non-2xx, {r['sockerr']} socket errors)")


# --- servers ---------------------------------------------------------------------------------

class _AppHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def app_stub():
    """The service's own /health (api.json's api-http check) as a tiny threaded HTTP server;
    yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AppHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def postgres(settings=None):
    """A throwaway PostgreSQL (run as the postgres user); yields the PgServer."""
    server = pg_server.PgServer("bench-pg", settings=settings)
    try:
        server.initdb().start()
        yield server
    finally:
        server.cleanup()


@contextlib.contextmanager
def redis():
    server = redis_server.RedisServer("bench-redis")
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@contextlib.contextmanager
def workdir():
    path = Path(tempfile.mkdtemp(prefix="vh-bench-"))
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=False)


@contextlib.contextmanager
def daemon(work, config, name="veza-health", wrapper=()):
    """veza-health serve with config on a free loopback port, started and always stopped; yields
    the harness.Daemon (port, proc.pid). wrapper prefixes the command (e.g. valgrind)."""
    d = harness.Daemon(work, config, name=name)
    if wrapper:
        inner = d.argv_for_port
        d.argv_for_port = lambda port: list(wrapper) + inner(port)
    try:
        d.start(timeout=60.0)
        yield d
    finally:
        with contextlib.suppress(AssertionError):
            d.stop(signal.SIGTERM, timeout=30.0)
        d.kill()


def api_config(pg, rd, app_port, interval=None, timeout=None, service="veza-api", **timing):
    """config/api.json's five checks against the bench's servers: the process check watches
    the daemon itself (there is no veza-backend-api here), api-http the app stub."""
    defaults = {"interval": interval or "5s", "timeout": timeout or "1s"}
    defaults.update(timing)
    return {
        "service": service,
        "defaults": defaults,
        "checks": [
            {"name": "api-process", "type": "process", "groups": ["liveness", "readiness"],
             "fall": 3, "process": {"self": True, "rss_warn": "768MiB", "rss_fail": "1GiB"}},
            {"name": "memory", "type": "cgroup", "groups": ["readiness"], "fall": 3,
             "cgroup": {"memory_warn_percent": 85, "memory_fail_percent": 95}},
            dep_checks(pg, rd)[0],
            dep_checks(pg, rd)[1],
            {"name": "api-http", "type": "http",
             "http": {"url": f"http://127.0.0.1:{app_port}/health"}},
        ],
    }


def dep_checks(pg, rd, pg_port=None, redis_port=None, backoff=None):
    """The postgres and redis checks; ports default to the servers' own."""
    pgc = {"name": "database", "type": "postgres",
           "postgres": {"params": {"host": "127.0.0.1", "port": str(pg_port or pg.port),
                                   "dbname": "postgres", "user": "postgres",
                                   "application_name": "veza-health"}, "role": "primary"}}
    rdc = {"name": "redis", "type": "redis",
           "redis": {"host": "127.0.0.1", "port": redis_port or rd.port}}
    if backoff:
        pgc["postgres"]["backoff"] = backoff
        rdc["redis"]["backoff"] = backoff
    return [pgc, rdc]


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
	access_log off;
	client_body_temp_path {work}/nginx-body;
	proxy_temp_path {work}/nginx-proxy;
	fastcgi_temp_path {work}/nginx-fastcgi;
	uwsgi_temp_path {work}/nginx-uwsgi;
	scgi_temp_path {work}/nginx-scgi;
	# veza-health keeps a keep-alive connection open for ever; so does the reference.
	keepalive_requests 100000000;
	server_tokens off;
	server {{
		listen 127.0.0.1:{port} backlog=4096;
		root {work}/www;
		etag off;
		location = /ready {{
			default_type application/json;
			add_header Cache-Control no-store;
			try_files /ready.json =404;
		}}
	}}
}}
"""


@contextlib.contextmanager
def nginx(work, body):
    """Debian's nginx, one worker, serving body as /ready with veza-health's headers; yields
    (port, master pid). CPU is read over the master and its worker."""
    (work / "www").mkdir(exist_ok=True)
    (work / "www" / "ready.json").write_bytes(body)
    os.chmod(work, 0o755)
    os.chmod(work / "www", 0o755)
    os.chmod(work / "www" / "ready.json", 0o644)
    for attempt in range(3):
        port = harness.free_port()
        conf = work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(work=work, port=port))
        proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            harness.poll(lambda: proc.poll() is not None or harness.can_connect("127.0.0.1", port),
                         10.0, what="nginx listening")
            if proc.poll() is None:
                break
        except AssertionError:
            _kill_group(proc)
            raise
    else:
        raise AssertionError("nginx did not start: " + (work / "nginx-error.log").read_text())
    try:
        yield port, proc.pid
    finally:
        _kill_group(proc)


def _kill_group(proc):
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGQUIT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Switch:
    """A loopback TCP forwarder to a server that can turn into a black hole: hole() makes it keep
    accepting connections and swallow every byte in both directions, answering nothing (a hung
    dependency); open() forwards again (new connections only reach the server again)."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self.listener.getsockname()[1]
        self.holed = False
        self.peers = {}
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def hole(self):
        self.holed = True

    def open(self):
        self.holed = False

    def close(self):
        self.stopping = True
        self.thread.join(5)
        for s in list(self.peers):
            s.close()
        self.listener.close()

    def _accept(self):
        conn, _ = self.listener.accept()
        if self.holed:
            self.peers[conn] = None
            return
        try:
            up = socket.create_connection(self.target, timeout=2)
        except OSError:
            conn.close()
            return
        self.peers[conn] = up
        self.peers[up] = conn

    def _pump(self, s):
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        other = self.peers.get(s)
        if not data:
            self.peers.pop(s, None)
            s.close()
            if other is not None:
                self.peers.pop(other, None)
                other.close()
            return
        if other is not None and not self.holed:
            with contextlib.suppress(OSError):
                other.sendall(data)

    def _run(self):
        while not self.stopping:
            readable, _, _ = select.select([self.listener] + list(self.peers), [], [], 0.05)
            for s in readable:
                if s is self.listener:
                    self._accept()
                elif s in self.peers:
                    self._pump(s)


def redis_calls(rd, exclude=("info",)):
    """Total commands Redis has run (INFO commandstats), leaving out the bench's own INFO."""
    text = rd.command("INFO", "commandstats").decode()
    total = 0
    for name, calls in re.findall(r"cmdstat_([^:]+):calls=(\d+)", text):
        if name not in exclude:
            total += int(calls)
    return total


def pg_xact_commit(pg):
    return int(pg.psql("SELECT sum(xact_commit) FROM pg_stat_database"))
