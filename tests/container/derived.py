"""derived.py - the time bounds the deployment files' comments derive from the sidecar's check
timing, computed from its effective config (`veza-health check-config` in the image) so the
tests hold the running stack to them."""

import json
from pathlib import Path

from check_probes import seconds


def effective_config(engine, image: str, config: Path, env: dict) -> dict:
    """The effective config the image's daemon makes of config with env (values as given)."""
    argv = ["run", "--rm", "--network", "none", "-v", f"{config}:/tmp/veza-health.json:ro"]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    run = engine.docker(*argv, image, "check-config", "/tmp/veza-health.json")
    return json.loads(run.stdout)


def check_named(effective: dict, name: str) -> dict:
    return next(c for c in effective["checks"] if c["name"] == name)


def check_of_type(effective: dict, kind: str) -> dict:
    return next(c for c in effective["checks"] if c["type"] == kind)


def settles_failed(check: dict) -> float:
    """The longest a fault takes to turn the check failed: its next run comes within interval
    + jitter and ends within timeout; each further run of fall comes unknown_interval + jitter
    after the last one ended."""
    first = seconds(check["interval"]) + seconds(check["jitter"]) + seconds(check["timeout"])
    again = seconds(check["unknown_interval"]) + seconds(check["jitter"]) + \
        seconds(check["timeout"])
    return first + (check["fall"] - 1) * again


def settles_passed(check: dict) -> float:
    """The longest a failed check takes to pass again once its dependency is back: its next
    run comes within fail_interval + jitter, and rise - 1 more at unknown_interval."""
    first = seconds(check["fail_interval"]) + seconds(check["jitter"]) + \
        seconds(check["timeout"])
    again = seconds(check["unknown_interval"]) + seconds(check["jitter"]) + \
        seconds(check["timeout"])
    return first + (check["rise"] - 1) * again
