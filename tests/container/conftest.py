"""conftest.py - the container suite's shared state: one private engine, the base image, the
sidecar image and the stand-ins, made once per session, and the report of what was measured."""

import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "integration"), str(HERE.parent / "deploy")]

import base_image  # noqa: E402
import images  # noqa: E402
from engine import Engine  # noqa: E402
from report import Report  # noqa: E402

_REPORT = pytest.StashKey()


@pytest.fixture(scope="session")
def report(request) -> Report:
    rep = Report()
    request.config.stash[_REPORT] = rep
    return rep


def pytest_terminal_summary(terminalreporter, config):
    rep = config.stash.get(_REPORT, None)
    if rep is None:
        return
    terminalreporter.section("container suite: measured")
    for line in rep.lines():
        terminalreporter.write_line(line)
    rep.write()


@pytest.fixture(scope="session")
def engine(report):
    """The private dockerd. When it cannot be installed or started, every test errors with the
    reason (engine.EngineError); the suite never passes without an engine. At the end it fails
    the last test if a container, network or volume was left behind."""
    eng = Engine().start()
    report.seconds("dockerd start", eng.start_seconds,
                   note=f"engine {eng.server_version}, data-root {eng.data_root}")
    yield eng
    left = eng.stop()
    assert not left, f"left behind after the suite: {', '.join(left)}"


@pytest.fixture(scope="session")
def base(engine, report) -> str:
    """debian:bookworm-slim from the cached debootstrap tarball (made first when missing)."""
    tarball, made = base_image.cached_tarball()
    for step, seconds in made.items():
        report.seconds(step, seconds)
    if not made:
        report.value("debootstrap", "skipped", "", note=f"cached {tarball}")
    began = time.monotonic()
    base_image.import_base(engine, tarball)
    report.seconds("base import", time.monotonic() - began,
                   note=f"{images.size_bytes(engine, base_image.TAG) / 1e6:.1f} MB")
    return base_image.TAG


@pytest.fixture(scope="session")
def sidecar_image(engine, base, report) -> str:
    """veza/veza-health:VERSION built from deploy/Dockerfile and the repository as shipped."""
    seconds = images.build_sidecar(engine)
    tag = images.sidecar_tag()
    report.seconds("image build", seconds)
    report.value("image size", f"{images.size_bytes(engine, tag) / 1e6:.1f}", "MB",
                 note=f"{tag}; base {images.size_bytes(engine, base) / 1e6:.1f} MB")
    return tag


@pytest.fixture(scope="session")
def compose_standins(engine, base, report) -> dict:
    """The postgres, redis and python stand-ins under the tags the compose file names."""
    built = images.build_compose_standins(engine)
    for tag, seconds in built.items():
        report.seconds(f"stand-in build {tag}", seconds)
    return built
