"""soak_chaos.py - kills PostgreSQL and Redis and brings them back on the same port, again and
again at seeded random moments, for the soak test."""

import os
import random
import signal
import socket
import threading
import time
from collections import Counter
from typing import Callable, Optional

import harness
from pg_server import PgServer
from redis_server import RedisServer

# How long a restarted server may take to answer again. PostgreSQL replays its WAL after a crash
# and may first wait for the backends a SIGKILLed postmaster left behind, on a loaded machine.
RESTART_TIMEOUT = harness.bound(30.0)


def quiet_port(rng: random.Random, host: str = "127.0.0.1") -> int:
    """A free port below the kernel's ephemeral range. A server that is down for a while leaves its
    port free, and a port of the ephemeral range could meanwhile be handed to one of the many
    outgoing connections of the soak, so that the server could not bind it again. Falls back to
    harness.free_port() when the ephemeral range leaves no room below it."""
    try:
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low <= 11000:
        return harness.free_port(host)
    for _ in range(200):
        port = rng.randrange(10000, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    return harness.free_port(host)


def _spawn_until_ready(server: harness.ManagedProcess, port: int, timeout: float) -> None:
    """Starts server on port and waits until it answers. A server that exits at once (PostgreSQL
    refuses to start while backends of a killed postmaster still hold its shared memory) is
    started again until timeout."""
    deadline = time.monotonic() + timeout
    while True:
        server._spawn(port)
        try:
            server._wait_ready(max(deadline - time.monotonic(), 1.0))
            return
        except harness.ProcessDied as died:
            server.returncode = server.proc.returncode
            if time.monotonic() >= deadline:
                raise AssertionError(f"{server.name} did not start again on port {port}: "
                                     f"{died}") from None
            time.sleep(0.1)


def start_on_quiet_port(server: harness.ManagedProcess, rng: random.Random,
                        timeout: float = RESTART_TIMEOUT) -> None:
    """Starts server on a quiet_port(); tries another port when that one was taken meanwhile."""
    for attempt in range(3):
        port = quiet_port(rng, server.host)
        try:
            _spawn_until_ready(server, port, timeout if attempt == 2 else 5.0)
            return
        except AssertionError:
            server.kill()
            if attempt == 2:
                raise


def _kill_and_reap(server: harness.ManagedProcess, how: Callable[[int], None]) -> None:
    how(server.proc.pid)
    try:
        server.proc.wait(RESTART_TIMEOUT)
    except Exception:
        server.kill()
        raise
    server.returncode = server.proc.returncode


def kill_redis(server: RedisServer, mode: str) -> None:
    """SIGKILL: no goodbye on the connection, the way an OOM kill or a node loss ends it."""
    _kill_and_reap(server, lambda pid: os.kill(pid, signal.SIGKILL))


def kill_pg(server: PgServer, mode: str) -> None:
    """"immediate" is `pg_ctl stop -m immediate` (SIGQUIT: backends quit at once, crash recovery
    at the next start); "postmaster" SIGKILLs the postmaster alone, whose orphaned backends exit
    when they notice; "group" SIGKILLs the postmaster and all its children, as a container kill."""
    if mode == "immediate":
        _kill_and_reap(server, lambda pid: os.kill(pid, signal.SIGQUIT))
    elif mode == "postmaster":
        _kill_and_reap(server, lambda pid: os.kill(pid, signal.SIGKILL))
    elif mode == "group":
        _kill_and_reap(server, lambda pid: os.killpg(pid, signal.SIGKILL))
    else:
        raise ValueError(f"unknown kill mode {mode!r}")


# Kills a server one way (a mode of modes) and reaps it.
KillFn = Callable[[harness.ManagedProcess, str], None]


class Bouncer(threading.Thread):
    """Keeps one server up for a random while, kills it with a random one of modes, leaves it
    down for a random while and restarts it on the same port, until stop is set; then makes sure
    the server is up. Counts kills per mode and restarts; an error ends the thread and is kept
    in .error for the test to raise."""

    def __init__(self, server: harness.ManagedProcess, kill: KillFn, modes: list, up: tuple,
                 down: tuple, seed: int):
        super().__init__(name=f"bouncer-{server.name}", daemon=True)
        self.server = server
        self.kill = kill
        self.modes = modes
        self.up = up
        self.down = down
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        self.kills: Counter = Counter()
        self.restarts = 0
        self.error: Optional[BaseException] = None

    def stop(self) -> None:
        self.stopping.set()
        self.join(RESTART_TIMEOUT + 10)
        if self.is_alive():
            raise AssertionError(f"{self.name} did not stop")
        if self.error is not None:
            raise AssertionError(f"{self.name} failed: {self.error!r}") from self.error

    def _restart(self) -> None:
        _spawn_until_ready(self.server, self.server.port, RESTART_TIMEOUT)
        self.restarts += 1

    def run(self) -> None:
        try:
            while not self.stopping.wait(self.rng.uniform(*self.up)):
                mode = self.rng.choice(self.modes)
                self.kill(self.server, mode)
                self.kills[mode] += 1
                self.stopping.wait(self.rng.uniform(*self.down))
                self._restart()
        except BaseException as exc:  # handed to the test thread by stop()
            self.error = exc
            return
        if not self.server.alive():
            try:
                self._restart()
            except BaseException as exc:
                self.error = exc
