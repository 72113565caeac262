"""pg_server.py - throwaway PostgreSQL servers for the integration tests: initdb'ed data in a
temporary directory, a free loopback port, a unix socket beside the data, fsync off. PostgreSQL
refuses to run as root, so under root every server and tool runs as the `postgres` user."""

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import harness



def _default_bindir() -> Path:
    """Debian keeps the server binaries out of PATH, under one directory per major version;
    the newest wins."""
    dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                  key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return dirs[-1] if dirs else Path("/usr/lib/postgresql/15/bin")


PG_BINDIR = Path(os.environ.get("PG_BINDIR") or _default_bindir())
# The database superuser every server is initialised with.
PG_USER = "postgres"
# The operating-system user servers run as when the tests run as root.
OS_USER = "postgres" if os.geteuid() == 0 else None
# The role the password tests use; every other role is trusted over loopback.
PASSWORD_ROLE = "vh_pw"

HBA = f"""\
local all all trust
local replication all trust
host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256
host all {PASSWORD_ROLE} ::1/128 scram-sha-256
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
host replication all 127.0.0.1/32 trust
"""

STOP_MODES = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}


def available() -> Optional[str]:
    """None when a server can be run here, else why not (for pytest.skip)."""
    if not (PG_BINDIR / "postgres").exists():
        return f"no PostgreSQL server binaries in {PG_BINDIR} (set PG_BINDIR)"
    if OS_USER:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"running as root, and there is no {OS_USER} user to run PostgreSQL as"
    return None


def _user_kwargs() -> dict:
    """Popen arguments that drop to OS_USER. Popen's user= rather than runuser, so that signals
    reach the process itself (runuser turns them into SIGTERM and a SIGKILL 2 s later)."""
    return {"user": OS_USER, "group": OS_USER, "extra_groups": []} if OS_USER else {}


def _own(path: Path) -> None:
    """Hands path to OS_USER, who must write in it."""
    if OS_USER:
        shutil.chown(path, OS_USER, OS_USER)


def _as_postgres(argv: Sequence[str], timeout: float = 60.0, check: bool = True,
                 input_text: Optional[str] = None) -> subprocess.CompletedProcess:
    """Runs a PostgreSQL tool (as OS_USER under root) and captures its output."""
    proc = subprocess.run(
        list(argv),
        input=input_text,
        stdin=None if input_text is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        **_user_kwargs(),
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited with status {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        )
    return proc


_template: Optional[Path] = None


def _template_datadir() -> Path:
    """A data directory made by initdb once per test session (removed at exit); servers copy
    it, which takes a tenth of the time. Locale C, so the server's messages are English."""
    global _template
    if _template is None:
        root = Path(tempfile.mkdtemp(prefix="vh-pg-template-"))
        atexit.register(shutil.rmtree, root, True)
        _own(root)
        datadir = root / "data"
        _as_postgres([str(PG_BINDIR / "initdb"), "-D", str(datadir), "-U", PG_USER, "-A",
                      "trust", "-E", "UTF8", "--locale=C", "-N"])
        (datadir / "pg_hba.conf").write_text(HBA)
        _own(datadir / "pg_hba.conf")
        _template = datadir
    return _template


class PgServer(harness.ManagedProcess):
    """One postmaster in a temporary directory owned by postgres: the data directory and the
    unix socket directory live under it. settings become `-c key=value` options. start() picks
    a free loopback port (retrying when it was taken meanwhile); restart() keeps that port.
    cleanup() kills the server if it still runs and deletes the directory."""

    def __init__(self, name: str = "pg", settings: Optional[dict] = None,
                 root: Optional[Path] = None, host: str = "127.0.0.1",
                 wrapper: Optional[Callable[[list], list]] = None):
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix=f"vh-{name}-"))
        self.datadir = self.root / "data"
        self.sockdir = self.root / "sock"
        # wrapper(argv) runs the postmaster another way, e.g. inside a network namespace
        # (netns.NetNs.exec_argv): it is started as the current user then and must drop to
        # OS_USER itself. host is the address it listens on and clients connect to.
        self.wrapper = wrapper
        self.settings = {
            "listen_addresses": host,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "log_connections": "on",
            "log_line_prefix": "%m [%p] ",
            "max_wal_senders": "4",
            "wal_level": "replica",
        }
        self.settings.update(settings or {})
        super().__init__(name, self.root, self._argv, host=host)
        _own(self.root)
        self.root.chmod(0o700)

    def _argv(self, port: int) -> list:
        argv = [str(PG_BINDIR / "postgres"), "-D", str(self.datadir), "-p", str(port),
                "-k", str(self.sockdir)]
        for key, value in self.settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def _spawn(self, port: int) -> None:
        log = open(self.log_path, "ab")
        argv = self._argv(port)
        try:
            self.proc = subprocess.Popen(
                self.wrapper(argv) if self.wrapper else argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
                **({} if self.wrapper else _user_kwargs()),
            )
        finally:
            log.close()
        self.port = port
        self.returncode = None

    def _wait_ready(self, timeout: float) -> None:
        """Waits until the server answers queries, not just until the port is open: a starting
        postmaster accepts TCP connections and refuses them with "starting up"."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise harness.ProcessDied(self)
            if harness.can_connect(self.host, self.port) and self.is_ready():
                return
            time.sleep(0.02)
        log = self.log_text()
        self.kill()
        raise AssertionError(f"{self.name} did not become ready within {timeout:.0f} s:\n{log}")

    def is_ready(self) -> bool:
        proc = _as_postgres([str(PG_BINDIR / "pg_isready"), "-q", "-h", str(self.sockdir),
                             "-p", str(self.port), "-t", "1"], check=False, timeout=10)
        return proc.returncode == 0

    def initdb(self) -> "PgServer":
        """Gives the server a fresh data directory: a copy of one initdb run per session."""
        self.sockdir.mkdir()
        _own(self.sockdir)
        subprocess.run(["cp", "-a", str(_template_datadir()), str(self.datadir)], check=True)
        return self

    def start(self, timeout: float = 30.0, attempts: int = 3,
              port: Optional[int] = None) -> "PgServer":
        """port: listen there (no free-port search), e.g. in a namespace of its own."""
        super().start(timeout=timeout, attempts=attempts, port=port)
        return self

    def stop_mode(self, mode: str = "fast", timeout: float = 30.0) -> None:
        """Stops the server: "smart" waits for clients, "fast" disconnects them, "immediate"
        quits without a checkpoint (crash recovery at the next start)."""
        self.stop(STOP_MODES[mode], timeout)

    def restart(self, mode: str = "fast", timeout: float = 30.0) -> "PgServer":
        """Stops the server if it runs and starts it again on the same port."""
        if self.alive():
            self.stop_mode(mode)
        self._spawn(self.port)
        self._wait_ready(timeout)
        return self

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn_params(self, **extra) -> dict:
        """libpq keyword/value settings for a TCP connection to this server."""
        params = {"host": self.host, "port": str(self.port), "user": PG_USER,
                  "dbname": "postgres"}
        params.update(extra)
        return params

    def psql(self, sql: str, user: str = PG_USER, dbname: str = "postgres",
             check: bool = True) -> str:
        """Runs sql over the unix socket as user and returns the unaligned, tuples-only output
        with surrounding white space removed."""
        proc = _as_postgres([str(PG_BINDIR / "psql"), "-X", "-q", "-A", "-t", "-v",
                             "ON_ERROR_STOP=1", "-h", str(self.sockdir), "-p", str(self.port),
                             "-U", user, "-d", dbname, "-c", sql], check=check, timeout=30)
        return proc.stdout.strip()

    def set_password(self, role: str, password: str) -> None:
        """Creates role (a login role) if needed and sets its password, with scram-sha-256. The
        password goes through psql's standard input so that no command line shows it."""
        quoted = password.replace("'", "''")
        sql = (f"SET password_encryption = 'scram-sha-256';\n"
               f"DO $$BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN "
               f"NULL; END$$;\n"
               f"ALTER ROLE {role} PASSWORD '{quoted}';\n")
        _as_postgres([str(PG_BINDIR / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
                      str(self.sockdir), "-p", str(self.port), "-U", PG_USER, "-d", "postgres"],
                     input_text=sql)

    def backends(self, application_name: str) -> list:
        """The pids of client backends with that application_name."""
        out = self.psql("SELECT pid FROM pg_stat_activity WHERE application_name = "
                        f"'{application_name}' ORDER BY pid")
        return [int(line) for line in out.splitlines() if line]

    def hold_all_connections(self, timeout: float = 10.0) -> "HeldConnections":
        """Fills every connection slot (of a server started with superuser_reserved_connections=0)
        with sleeping psql sessions, until the server refuses one more. A session that lost a
        race for a slot exits and is replaced. Returns a handle whose release() ends them."""
        total = int(self.psql("SHOW max_connections"))
        held = HeldConnections()
        deadline = time.monotonic() + timeout
        try:
            while True:
                held.procs = [p for p in held.procs if p.poll() is None]
                for _ in range(total - len(held.procs)):
                    held.add(self._sleeper())
                time.sleep(0.1)
                if self._is_full():
                    return held
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name} did not fill up within {timeout:.0f} s")
        except BaseException:
            held.release()
            raise

    def _sleeper(self) -> subprocess.Popen:
        return subprocess.Popen(
            [str(PG_BINDIR / "psql"), "-X", "-q", "-h", str(self.sockdir), "-p", str(self.port),
             "-U", PG_USER, "-d", "postgres", "-c", "SELECT pg_sleep(120)"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd="/", start_new_session=True,
            # Without it a backend whose psql was killed sleeps on and keeps its slot.
            env=dict(os.environ, PGOPTIONS="-c client_connection_check_interval=100ms"),
            **_user_kwargs())

    def _is_full(self) -> bool:
        proc = _as_postgres([str(PG_BINDIR / "psql"), "-X", "-q", "-A", "-t", "-h",
                             str(self.sockdir), "-p", str(self.port), "-U", PG_USER, "-d",
                             "postgres", "-c", "SELECT 1"], check=False, timeout=10)
        return proc.returncode != 0 and "too many clients" in proc.stderr

    def make_standby(self, name: Optional[str] = None) -> "PgServer":
        """A streaming replica of this (running) server: pg_basebackup -R into a second
        directory, then started on a port of its own. The caller cleans it up."""
        standby = PgServer(name or f"{self.name}-standby", settings=dict(self.settings))
        try:
            standby.sockdir.mkdir()
            _own(standby.sockdir)
            _as_postgres([str(PG_BINDIR / "pg_basebackup"), "-h", str(self.sockdir), "-p",
                          str(self.port), "-U", PG_USER, "-D", str(standby.datadir), "-R",
                          "-X", "stream", "-c", "fast"], timeout=120)
            standby.start()
        except BaseException:
            standby.cleanup()
            raise
        return standby


class HeldConnections:
    """psql sessions that occupy connection slots until release()."""

    def __init__(self):
        self.procs: list = []

    def add(self, proc: subprocess.Popen) -> None:
        self.procs.append(proc)

    def release(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.procs.clear()
