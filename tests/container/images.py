"""images.py - builds the sidecar image from the repository and the stand-in images from
tests/container/standins, each with `docker build --network host`: with no default bridge, the
host's network is the only way a build reaches Debian's packages."""

import time
from pathlib import Path
from typing import Optional

import harness

STANDINS = Path(__file__).resolve().parent / "standins"

# The official images the compose file names, and the stand-in directory built under each tag.
COMPOSE_STANDINS = {
    "postgres:15-bookworm": "postgres",
    "redis:7-bookworm": "redis",
    "python:3.11-slim-bookworm": "python",
}


def sidecar_tag() -> str:
    """The tag the compose file, the kustomizations and deploy/README.md use."""
    return f"veza/veza-health:{harness.project_version()}"


def build(engine, tag: str, context: Path, dockerfile: Optional[Path] = None,
          args: Optional[dict] = None) -> float:
    """Builds context (with dockerfile, by default context/Dockerfile) as tag and returns the
    seconds it took. --force-rm keeps a failed step's container from outliving the build."""
    argv = ["build", "--network", "host", "--force-rm", "-q", "-t", tag,
            "-f", str(dockerfile or context / "Dockerfile")]
    for key, value in (args or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    began = time.monotonic()
    engine.docker(*argv, str(context), timeout=1200)
    return time.monotonic() - began


def build_sidecar(engine) -> float:
    """deploy/Dockerfile with the repository root as its context, as deploy/README.md says."""
    root = harness.SOURCE_ROOT
    return build(engine, sidecar_tag(), root, root / "deploy" / "Dockerfile")


def build_compose_standins(engine) -> dict:
    """Every stand-in the compose file needs, under the official tag; returns seconds per tag."""
    return {tag: build(engine, tag, STANDINS / name) for tag, name in COMPOSE_STANDINS.items()}


def build_service_standin(engine, tag: str, name: str, port: int) -> float:
    """A platform service's stand-in under tag: NAME on its command line, /health on PORT."""
    return build(engine, tag, STANDINS / "service", args={"NAME": name, "PORT": port})


def size_bytes(engine, tag: str) -> int:
    return int(engine.docker("image", "inspect", "-f", "{{.Size}}", tag).stdout)
