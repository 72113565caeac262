#!/usr/bin/env python3
"""Checks the compose file and the Dockerfile without a Docker engine.

usage: check_compose_docker.py VH_BIN SOURCE_ROOT

The compose file: the sidecar shares the service's network and pid namespaces, every
healthcheck exists and the sidecar's runs `veza-health probe`, every depends_on waits on a
condition, and the mounted config passes `veza-health check-config` with the sidecar's
environment. The Dockerfile: bookworm stages, a numeric non-root user, a `veza-health probe`
HEALTHCHECK, runtime packages that are exactly those owning the built binary's NEEDED
libraries, and COPY sources that exist and that .dockerignore lets through.
Prints one line per check; exits 1 if any fails.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

import deploy_report
from deploy_report import report

RUNTIME_EXTRAS = {"ca-certificates"}  # not a soname: libpq's verify-full needs the roots


def interpolate(value):
    """Compose's ${VAR:?msg} / ${VAR:-default} / ${VAR}: a dummy stands in for the value."""
    return re.sub(r"\$\{(\w+)[^}]*\}", lambda m: "dummy-" + m.group(1).lower(), str(value))


def as_dict(env):
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return dict(env or {})


def check_compose(vh_bin, root):
    path = os.path.join(root, "deploy/compose/docker-compose.yml")
    name = "deploy/compose/docker-compose.yml"
    with open(path) as f:
        services = yaml.safe_load(f)["services"]
    sidecars = [s for s, v in services.items() if "veza-health" in str(v.get("image", ""))]
    if not report(len(sidecars) == 1, f"{name}: one veza-health service ({', '.join(sidecars)})"):
        return
    side = services[sidecars[0]]
    net, pid = side.get("network_mode", ""), side.get("pid", "")
    target = net.split(":", 1)[1] if net.startswith("service:") else None
    report(target in services and pid == f"service:{target}",
           f"{name}: the sidecar uses network_mode and pid service:{target}")
    for s, v in services.items():
        test = v.get("healthcheck", {}).get("test", [])
        report(bool(test), f"{name}: {s} has a healthcheck")
        deps = v.get("depends_on", {})
        report(isinstance(deps, dict) and all("condition" in d for d in deps.values()),
               f"{name}: every depends_on of {s} waits on a condition")
        for d, cond in (deps.items() if isinstance(deps, dict) else []):
            if "healthcheck" in services.get(d, {}):
                report(cond.get("condition") == "service_healthy",
                       f"{name}: {s} waits for {d} to be service_healthy")
    test = side["healthcheck"]["test"]
    report(test[:3] == ["CMD", "veza-health", "probe"] and
           re.match(r"http://127\.0\.0\.1:8099/", test[3]) is not None,
           f"{name}: the sidecar's healthcheck is `veza-health probe` of its own port")
    if "--timeout" in test:
        probe_ms = int(test[test.index("--timeout") + 1])
        hc_s = int(side["healthcheck"]["timeout"].rstrip("s"))
        report(probe_ms < hc_s * 1000,
               f"{name}: the probe's --timeout {probe_ms} ms ends before the healthcheck's {hc_s}s")
    mounts = [v.split(":") for v in side.get("volumes", []) if isinstance(v, str)]
    args = side["command"]
    config_in = args[args.index("-c") + 1]
    src = [m[0] for m in mounts if m[1] == config_in]
    if not report(len(src) == 1, f"{name}: the sidecar's config {config_in} is mounted"):
        return
    env = {k: interpolate(v) for k, v in as_dict(side.get("environment")).items()}
    config = os.path.normpath(os.path.join(os.path.dirname(path), src[0]))
    run = subprocess.run([vh_bin, "check-config", config], capture_output=True, text=True,
                         env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env})
    report(run.returncode == 0, f"{name}: {os.path.relpath(config, root)} passes check-config "
           "with the sidecar's environment" + (f": {run.stderr.strip()}" if run.returncode else ""))


def stages(dockerfile):
    """The Dockerfile as stages of (instruction, argument) with continuations joined."""
    text = re.sub(r"\\\n", " ", open(dockerfile).read())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, arg = line.partition(" ")
        if op.upper() == "FROM":
            out.append([])
        out[-1].append((op.upper(), arg.strip()))
    return out


def needed_packages(vh_bin):
    """The Debian packages that own the binary's NEEDED sonames (libc6 aside)."""
    dump = subprocess.run(["objdump", "-p", vh_bin], capture_output=True, text=True, check=True)
    # A sanitizer build (CI's second pass) links the sanitizer runtimes, which the image's
    # release build does not.
    sonames = [so for so in re.findall(r"NEEDED\s+(\S+)", dump.stdout)
               if not re.match(r"lib(a|l|t|ub|hwa)san\.so", so)]
    ldd = subprocess.run(["ldd", vh_bin], capture_output=True, text=True, check=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    pkgs = {}
    for so in sonames:
        # dpkg knows a file by the path its package ships, before or after the /usr merge.
        real = os.path.realpath(paths[so])
        for candidate in (paths[so], real, real.removeprefix("/usr"), "/usr" + real):
            owner = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if owner.returncode == 0:
                pkgs[so] = owner.stdout.split(":")[0]
                break
        else:
            pkgs[so] = None
    return {so: p for so, p in pkgs.items() if p != "libc6"}


def dockerignore_allows(root, path):
    rules = [r.strip() for r in open(os.path.join(root, ".dockerignore")) if r.strip()
             and not r.startswith("#")]
    allowed = True
    for rule in rules:
        neg = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        if pattern == "*" or path == pattern or path.startswith(pattern + "/"):
            allowed = neg
    return allowed


def check_dockerfile(vh_bin, root):
    name = "deploy/Dockerfile"
    st = stages(os.path.join(root, name))
    report(len(st) >= 2 and all(re.match(r"debian:bookworm", s[0][1]) for s in st),
           f"{name}: {len(st)} stages, all FROM debian:bookworm")
    final = st[-1]
    users = [a for op, a in final if op == "USER"]
    report(bool(users) and re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]) is not None,
           f"{name}: the runtime stage runs as a numeric non-root USER ({users[-1:]})")
    hc = [a for op, a in final if op == "HEALTHCHECK"]
    report(bool(hc) and re.search(r'CMD \["veza-health", "probe", "http://127\.0\.0\.1:8099/',
                                  hc[0]) is not None,
           f"{name}: HEALTHCHECK runs `veza-health probe`")
    installs = [a for op, a in final if op == "RUN" and "apt-get install" in a]
    words = shlex.split(installs[0].split("apt-get install", 1)[1].split("&&")[0]) if installs else []
    runtime = {w for w in words if not w.startswith("-")}
    needed = needed_packages(vh_bin)
    missing = sorted({p for p in needed.values() if p not in runtime} | {
        so for so, p in needed.items() if p is None})
    extra = sorted(runtime - set(needed.values()) - RUNTIME_EXTRAS)
    report(not missing and not extra,
           f"{name}: the runtime packages are those of the binary's NEEDED libraries "
           f"({', '.join(f'{so}: {p}' for so, p in sorted(needed.items()))})"
           + (f"; missing {missing}" if missing else "") + (f"; not needed {extra}" if extra else ""))
    for s in st:
        for op, arg in s:
            if op != "COPY" or arg.startswith("--from"):
                continue
            for src in arg.split()[:-1]:
                ok = os.path.exists(os.path.join(root, src)) and dockerignore_allows(root, src)
                report(ok, f"{name}: COPY {src} exists and .dockerignore lets it through")


def main():
    vh_bin, root = sys.argv[1], sys.argv[2]
    check_compose(vh_bin, root)
    check_dockerfile(vh_bin, root)
    return 1 if deploy_report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
