"""test_image.py - the sidecar image built from the repository as shipped: its build context,
--version, its user, its HEALTHCHECK, `probe` inside it, its libraries against its packages."""

import json
import re
import subprocess
import tarfile
import uuid

import pytest

import check_compose_docker as static
import harness
from engine import docker_time

DOCKERFILE = harness.SOURCE_ROOT / "deploy" / "Dockerfile"


def test_build_context_holds_what_meson_needs(engine, base, tmp_path):
    """The context exactly as docker sends it (its own .dockerignore rules), copied out of a
    throwaway image and given to `meson setup` with the Dockerfile's options."""
    tag = f"vh-tests/context:{uuid.uuid4().hex[:8]}"
    engine.docker("build", "-q", "--force-rm", "-t", tag, "-f", "-", str(harness.SOURCE_ROOT),
                  input=f"FROM {base}\nCOPY . /context\n")
    name = f"vh-context-{uuid.uuid4().hex[:8]}"
    archive = tmp_path / "context.tar"
    try:
        engine.docker("create", "--name", name, tag)
        archive.write_bytes(engine.docker_bytes("cp", f"{name}:/context", "-"))
    finally:
        engine.docker("rm", "-f", name, check=False)
        engine.docker("rmi", tag, check=False)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path)
    options = static.meson_setup_options(static.stages(DOCKERFILE)[0])
    run = subprocess.run(["meson", "setup", str(tmp_path / "build"), str(tmp_path / "context"),
                          *options], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (
        f"meson setup {' '.join(options)} fails on the build context:\n"
        + "\n".join(line for line in run.stdout.splitlines() if "ERROR" in line) + run.stderr)


def test_image_builds(sidecar_image, engine):
    config = engine.inspect(sidecar_image)["Config"]
    assert config["Entrypoint"] == ["veza-health"]
    assert config["Cmd"] == ["serve", "-c", "/etc/veza-health/veza-health.json"]


def test_version(sidecar_image, engine):
    run = engine.docker("run", "--rm", "--network", "none", sidecar_image, "--version")
    assert run.stdout.strip() == f"veza-health {harness.project_version()}"


@pytest.fixture(scope="module")
def running(sidecar_image, engine):
    """The image run as it is, with its default command and config, on no network at all."""
    name = f"vh-image-{uuid.uuid4().hex[:8]}"
    engine.docker("run", "-d", "--name", name, "--network", "none", sidecar_image)
    yield name
    engine.docker("rm", "-f", name, check=False)


def test_runs_as_the_fixed_non_root_uid(running, engine, sidecar_image):
    assert engine.inspect(sidecar_image)["Config"]["User"] == "65532:65532"
    pid = engine.inspect(running)["State"]["Pid"]
    status = open(f"/proc/{pid}/status").read()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
    assert set(uids) == {"65532"} and set(gids) == {"65532"}, (uids, gids)


def test_healthcheck_turns_healthy(running, engine, report):
    """Docker runs the first check one interval (10s) after the start, and that one passes:
    healthy within interval + timeout of the start, read from docker inspect."""
    health = engine.inspect(running)["Config"]["Healthcheck"]
    bound = (health["Interval"] + health["Timeout"]) / 1e9

    def healthy():
        state = engine.inspect(running)["State"]
        return state if state["Health"]["Status"] == "healthy" else None

    state = harness.poll(healthy, bound + 5, interval=0.25, what="HEALTHCHECK healthy")
    first = state["Health"]["Log"][0]
    took = docker_time(first["End"]) - docker_time(state["StartedAt"])
    report.seconds("image HEALTHCHECK healthy after start", took, bound=bound)
    assert first["ExitCode"] == 0 and "200 OK" in first["Output"], state["Health"]
    assert took <= bound


def test_probe_inside(running, engine):
    ok = engine.docker("exec", running, "veza-health", "probe",
                       "http://127.0.0.1:8099/health/sidecar", check=False)
    assert ok.returncode == 0 and "200 OK" in ok.stderr + ok.stdout, ok
    refused = engine.docker("exec", running, "veza-health", "probe", "http://127.0.0.1:1/",
                            check=False)
    assert refused.returncode == 1, refused
    bad = engine.docker("exec", running, "veza-health", "probe", "not-a-url", check=False)
    assert bad.returncode == 2, bad


def test_needed_libraries_are_the_runtime_packages(running, engine, tmp_path):
    """The check_compose_docker.py comparison with the built image's binary, resolved by the
    image's own ldd and dpkg: every NEEDED library is there, from exactly the packages the
    Dockerfile installs."""
    binary = tmp_path / "veza-health"
    engine.docker("cp", f"{running}:/usr/bin/veza-health", str(binary))

    def in_image(argv):
        return engine.docker("exec", running, *argv, check=False)

    ldd = in_image(["ldd", "/usr/bin/veza-health"]).stdout
    assert "not found" not in ldd, ldd
    needed = static.owning_packages("/usr/bin/veza-health", static.sonames(str(binary)),
                                    in_image)
    ok, line = static.compare_packages(needed, static.runtime_packages(DOCKERFILE))
    assert ok, line


def test_runtime_stage_has_no_build_tools(running, engine):
    tools = engine.docker("exec", running, "sh", "-c",
                          "for t in gcc cc meson ninja pkg-config; do command -v $t; done",
                          check=False)
    assert tools.stdout.strip() == "", tools.stdout
    packages = json.dumps(engine.docker("exec", running, "dpkg-query", "-W", "-f",
                                        "${Package}\n").stdout.split())
    assert "-dev" not in packages, packages
