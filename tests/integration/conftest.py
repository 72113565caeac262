"""conftest.py - pytest fixtures over harness.py: daemons and child processes cleaned up always."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


@pytest.fixture(scope="session")
def vh_bin() -> str:
    """Fails every test at once, with the reason, when there is no binary to test."""
    return harness.vh_bin()


@pytest.fixture
def daemon(tmp_path, vh_bin):
    """A factory: daemon(config_dict_or_text, args=(), env=None) starts `veza-health serve` on a
    free loopback port and returns a ready harness.Daemon. Every daemon is stopped with SIGTERM
    after the test, even a failed one, and the test errors unless each exited with status 0."""
    daemons = harness.DaemonSet(tmp_path)
    yield daemons.start
    daemons.stop_all()


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory, vh_bin):
    """Like daemon, but the daemons live for the whole module: for tests that only read."""
    daemons = harness.DaemonSet(tmp_path_factory.mktemp("daemons"))
    yield daemons.start
    daemons.stop_all()


@pytest.fixture
def spawn():
    """A factory: spawn(argv, **popen_kwargs) starts a child process that is killed and reaped
    after the test. spawn.kill(proc) kills and reaps one early."""
    spawned = harness.Spawned()

    def start(argv, **kwargs):
        return spawned.start(argv, **kwargs)

    start.kill = harness.Spawned.kill
    yield start
    spawned.kill_all()
