"""redis_server.py - throwaway redis-server 7 instances and a fake RESP server for the tests."""

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import harness

# VH_REDIS_SERVER points the suite at another redis-server binary.
REDIS_SERVER = os.environ.get("VH_REDIS_SERVER") or shutil.which("redis-server") or ""


def available() -> Optional[str]:
    """None when a server can be run here, else why not (for pytest.skip)."""
    if not REDIS_SERVER or not os.access(REDIS_SERVER, os.X_OK):
        return "no redis-server (install redis-server or set VH_REDIS_SERVER)"
    return None


class RespError(Exception):
    """An error reply ("-ERR ...") from a server; str() is the text without the dash."""


def encode(args: Sequence[Union[str, bytes, int]]) -> bytes:
    """A command as a RESP array of bulk strings, the way every client sends it."""
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Incomplete(Exception):
    pass


class _Reader:
    """Reads RESP values from a socket. A value is parsed only once it is complete, so a read
    timeout (the fake server polls for shutdown) never loses part of one."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""

    def _parse(self, pos: int):
        end = self.buf.find(b"\r\n", pos)
        if end < 0:
            raise _Incomplete
        kind, rest, pos = self.buf[pos:pos + 1], self.buf[pos + 1:end], end + 2
        if kind == b"+":
            return rest.decode(), pos
        if kind == b"-":
            return RespError(rest.decode()), pos
        if kind == b":":
            return int(rest), pos
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None, pos
            if len(self.buf) < pos + n + 2:
                raise _Incomplete
            return self.buf[pos:pos + n], pos + n + 2
        if kind == b"*":
            n = int(rest)
            items = []
            for _ in range(max(n, 0)):
                item, pos = self._parse(pos)
                items.append(item)
            return (None if n < 0 else items), pos
        raise ValueError(f"bad RESP line {self.buf[pos:end]!r}")

    def value(self):
        while True:
            try:
                value, pos = self._parse(0)
            except _Incomplete:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed") from None
                self.buf += chunk
                continue
            self.buf = self.buf[pos:]
            return value


class Client:
    """A tiny blocking RESP client, so the tests need nothing beyond the standard library."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", unix: Optional[str] = None,
                 password: Optional[str] = None, timeout: float = 5.0):
        if unix:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.reader = _Reader(self.sock)
        if password:
            self.command("AUTH", password)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def command(self, *args):
        """Sends one command and returns its reply; raises RespError for an error reply."""
        self.sock.sendall(encode(args))
        reply = self.reader.value()
        if isinstance(reply, RespError):
            raise reply
        return reply


def parse_client_list(text: Union[str, bytes]) -> list:
    """CLIENT LIST as a list of dicts ("id", "name", "db", ...), one per connection."""
    if isinstance(text, bytes):
        text = text.decode()
    clients = []
    for line in text.splitlines():
        fields = dict(item.split("=", 1) for item in line.split(" ") if "=" in item)
        if fields:
            clients.append(fields)
    return clients


def parse_info(text: Union[str, bytes]) -> dict:
    if isinstance(text, bytes):
        text = text.decode()
    info = {}
    for line in text.split("\r\n"):
        if line and not line.startswith("#") and ":" in line:
            key, value = line.split(":", 1)
            info[key] = value
    return info


class RedisServer(harness.ManagedProcess):
    """One redis-server in a temporary directory, configured through a file there (so that a
    password never shows in `ps`): loopback only, no RDB or AOF, optionally a password, a unix
    socket and a master to replicate. start() picks a free port (retrying when it was taken
    meanwhile); restart() keeps that port. cleanup() kills it and deletes the directory."""

    def __init__(self, name: str = "redis", password: Optional[str] = None,
                 replicaof: Optional["RedisServer"] = None, unix_socket: bool = False,
                 settings: Optional[dict] = None, root: Optional[Path] = None,
                 host: str = "127.0.0.1", wrapper: Optional[Callable[[list], list]] = None):
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix=f"vh-{name}-"))
        self.password = password
        self.unix_path = str(self.root / "redis.sock") if unix_socket else None
        self.settings = {
            "bind": host,
            "save": '""',
            "appendonly": "no",
            "dir": str(self.root),
            "logfile": '""',
            "daemonize": "no",
        }
        if password:
            self.settings["requirepass"] = password
        if replicaof is not None:
            self.settings["replicaof"] = f"127.0.0.1 {replicaof.port}"
            if replicaof.password:
                self.settings["masterauth"] = replicaof.password
        if self.unix_path:
            self.settings["unixsocket"] = self.unix_path
            self.settings["unixsocketperm"] = "700"
        self.settings.update(settings or {})
        self.conf_path = self.root / f"{name}.conf"
        # wrapper(argv) runs the server another way, e.g. inside a network namespace
        # (netns.NetNs.exec_argv); give start() a port then: free ports are looked for on the
        # host, which may not have that address.
        self.wrapper = wrapper
        super().__init__(name, self.root, self._argv, host=host)

    def _argv(self, port: int) -> list:
        lines = [f"{key} {value}" for key, value in self.settings.items()]
        self.conf_path.write_text("\n".join(lines) + "\n")
        self.conf_path.chmod(0o600)
        argv = [REDIS_SERVER, str(self.conf_path), "--port", str(port)]
        return self.wrapper(argv) if self.wrapper else argv

    def _wait_ready(self, timeout: float) -> None:
        """Waits until PING is answered, not just until the port is open."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise harness.ProcessDied(self)
            try:
                with self.client(timeout=1.0) as c:
                    if c.command("PING") == "PONG":
                        return
            except (OSError, RespError) as exc:
                last = exc
            time.sleep(0.02)
        log = self.log_text()
        self.kill()
        raise AssertionError(
            f"{self.name} did not answer PING within {timeout:.0f} s (last: {last!r}):\n{log}")

    def restart(self, timeout: float = harness.START_TIMEOUT, wait: str = "pong") -> "RedisServer":
        """Stops the server if it runs and starts it again on the same port, with the current
        settings. wait="pong" returns once PING is answered; wait="port" as soon as the port
        accepts connections (a server loading its dataset answers -LOADING until done)."""
        if self.alive():
            self.stop()
        self._spawn(self.port)
        if wait == "pong":
            self._wait_ready(timeout)
        else:
            harness.poll(lambda: self.alive() and harness.can_connect(self.host, self.port),
                         timeout, interval=0.01, what=f"{self.name} listening")
        return self

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self, timeout: float = 5.0) -> Client:
        return Client(self.port, host=self.host, password=self.password, timeout=timeout)

    def command(self, *args):
        with self.client() as c:
            return c.command(*args)

    def clients(self, name: Optional[str] = None) -> list:
        """CLIENT LIST, optionally only the connections with that name."""
        found = parse_client_list(self.command("CLIENT", "LIST"))
        return [c for c in found if name is None or c.get("name") == name]

    def info(self, section: Optional[str] = None) -> dict:
        return parse_info(self.command(*(["INFO"] + ([section] if section else []))))

    def wait_link_up(self, timeout: float = 10.0) -> None:
        """On a replica: waits until master_link_status is up."""
        harness.poll(lambda: self.info("replication").get("master_link_status") == "up",
                     timeout, what=f"{self.name} replication link up")


# A plain INFO of a redis-server 7 master, trimmed to the fields the check reads.
FAKE_INFO = (
    "# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:1\r\n\r\n"
    "# Memory\r\nused_memory:1013960\r\nused_memory_rss:12525568\r\nmaxmemory:0\r\n\r\n"
    "# Persistence\r\nloading:0\r\n\r\n# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
)


class FakeRedis:
    """A loopback RESP server that answers what a test tells it to, for replies a real server
    will not give on demand. replies maps an upper-case command name to raw RESP bytes, or None
    to close the connection instead of answering, or to a function of the argument list
    returning either; AUTH, SELECT, CLIENT, PING and INFO have sensible defaults. hang=True
    accepts connections and reads commands but never answers. Every command received is kept
    in .commands as (connection number, list of bytes arguments). Use as a context manager."""

    def __init__(self, replies: Optional[dict] = None, hang: bool = False,
                 host: str = "127.0.0.1"):
        self.replies = {
            "AUTH": b"+OK\r\n",
            "SELECT": b"+OK\r\n",
            "CLIENT": b"+OK\r\n",
            "PING": b"+PONG\r\n",
            "INFO": lambda args: b"$%d\r\n%s\r\n" % (len(FAKE_INFO), FAKE_INFO.encode()),
        }
        self.replies.update(replies or {})
        self.hang = hang
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.commands: list = []
        self.connections = 0
        self.lock = threading.Lock()
        self.conns: list = []
        self.threads: list = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "FakeRedis":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(5)
        for t in self.threads:
            t.join(5)
        for conn in self.conns:
            conn.close()
        self.sock.close()

    def set_reply(self, command: str, reply: Union[bytes, Callable]) -> None:
        with self.lock:
            self.replies[command.upper()] = reply

    def received(self) -> list:
        with self.lock:
            return list(self.commands)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            self.conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(0.05)
        reader = _Reader(conn)
        while not self.stopping.is_set():
            try:
                args = reader.value()
            except socket.timeout:
                continue
            except (OSError, ValueError):
                return
            if not isinstance(args, list) or not args:
                return
            with self.lock:
                self.commands.append((number, args))
                reply = self.replies.get(args[0].decode(errors="replace").upper(),
                                         b"-ERR unknown command\r\n")
            if self.hang:
                continue
            if callable(reply):
                reply = reply(args)
            if reply is None:
                conn.close()
                return
            try:
                conn.sendall(reply)
            except OSError:
                return
