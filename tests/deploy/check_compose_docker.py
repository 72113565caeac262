#!/usr/bin/env python3
"""Checks the compose file and the Dockerfile without a Docker engine.

usage: check_compose_docker.py VH_BIN SOURCE_ROOT

The compose file: the sidecar shares the service's network and pid namespaces, every
healthcheck exists and the sidecar's runs `veza-health probe`, every depends_on waits on a
condition, and the mounted config passes `veza-health check-config` with the sidecar's
environment. The Dockerfile: bookworm stages, a numeric non-root user, a `veza-health probe`
HEALTHCHECK, runtime packages that are exactly those owning the built binary's NEEDED
libraries, COPY sources that exist and that .dockerignore lets through, and `meson setup` on
the tree the build stage's COPY lines make from that context, which fails when the context
lacks a file meson.build reads (tests/container builds the image itself).
Prints one line per check; exits 1 if any fails.
"""
import json
import os
import re
import shlex
import shutil
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
    if run.returncode != 0:
        return
    # Compose has no headless Service: the sidecar lists its peers by address, and a name
    # there must be a service of this file (Docker's DNS answers nothing else).
    peers = json.loads(run.stdout).get("peers", {})
    hosts = [a.rsplit(":", 1)[0] if a.count(":") == 1 else a for a in peers.get("addresses", [])]
    report(bool(hosts) and "dns" not in peers and all(h in services for h in hosts),
           f"{name}: the sidecar finds its peers by addresses that name compose services "
           f"({', '.join(hosts) or 'none'})")


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


def host_run(argv):
    return subprocess.run(argv, capture_output=True, text=True)


def sonames(binary):
    """The binary's NEEDED sonames. A sanitizer build (CI's second pass) links the sanitizer
    runtimes, which the image's release build does not, so those are left out."""
    dump = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True, check=True)
    return [so for so in re.findall(r"NEEDED\s+(\S+)", dump.stdout)
            if not re.match(r"lib(a|l|t|ub|hwa)san\.so", so)]


def owning_packages(binary, names, run=host_run):
    """{soname: the Debian package that owns the library ldd resolves it to, or None}, libc6
    aside. run(argv) runs ldd, readlink and dpkg where binary is installed: on this machine, or
    inside an image."""
    ldd = run(["ldd", binary])
    if ldd.returncode != 0:
        raise RuntimeError(f"ldd {binary}: {ldd.stdout}{ldd.stderr}")
    paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd.stdout, re.M))
    pkgs = {}
    for so in names:
        pkgs[so] = None
        if so not in paths:  # "not found"
            continue
        # dpkg knows a file by the path its package ships, before or after the /usr merge.
        real = run(["readlink", "-f", paths[so]]).stdout.strip()
        for candidate in (paths[so], real, real.removeprefix("/usr"), "/usr" + real):
            owner = run(["dpkg", "-S", candidate])
            if owner.returncode == 0:
                pkgs[so] = owner.stdout.split(":")[0]
                break
    return {so: p for so, p in pkgs.items() if p != "libc6"}


def runtime_packages(dockerfile):
    """The packages the Dockerfile's last stage installs with apt-get."""
    final = stages(dockerfile)[-1]
    installs = [a for op, a in final if op == "RUN" and "apt-get install" in a]
    if not installs:
        return set()
    words = shlex.split(installs[0].split("apt-get install", 1)[1].split("&&")[0])
    return {w for w in words if not w.startswith("-")}


def compare_packages(needed, runtime):
    """(ok, one line): whether the runtime packages are exactly those that own the NEEDED
    libraries, plus RUNTIME_EXTRAS."""
    missing = sorted({p for p in needed.values() if p and p not in runtime} | {
        so for so, p in needed.items() if p is None})
    extra = sorted(runtime - set(needed.values()) - RUNTIME_EXTRAS)
    line = ("the runtime packages are those of the binary's NEEDED libraries "
            f"({', '.join(f'{so}: {p}' for so, p in sorted(needed.items()))})"
            + (f"; missing {missing}" if missing else "")
            + (f"; not needed {extra}" if extra else ""))
    return not missing and not extra, line


def dockerignore_rules(root):
    """.dockerignore as (pattern, is_exception) pairs, cleaned as docker cleans them."""
    rules = []
    for line in open(os.path.join(root, ".dockerignore")):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        rules.append((os.path.normpath(line.lstrip("!").strip()).lstrip("/"), neg))
    return rules


def glob_regex(pattern):
    """Go's filepath.Match syntax, with docker's **, as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            body = pattern[i + 1:end]
            out += "[" + ("^" + body[1:] if body.startswith("^") or body.startswith("!")
                          else body) + "]"
            i = end + 1
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
            i += 1
    return re.compile(out + "$")


def dockerignore_allows(rules, path):
    """Whether docker sends path (relative to the context): the last rule that matches the
    path, or the parent directory of it at the rule's depth, decides."""
    parts = path.split("/")
    allowed = True
    for pattern, neg in rules:
        regex = glob_regex(pattern)
        depth = pattern.count("/") + 1
        if regex.match(path) or (len(parts) > depth and regex.match("/".join(parts[:depth]))):
            allowed = neg
    return allowed


def context_files(root):
    """The working tree's files that docker sends as the build context."""
    rules = dockerignore_rules(root)
    out = []
    for dirpath, dirnames, files in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), root)
            if dockerignore_allows(rules, rel):
                out.append(rel)
    return sorted(out)


def build_stage_tree(root, stage, dest):
    """Lays out under dest what the stage's COPY lines put in its image, from the context as
    .dockerignore filters it, by COPY's rules: a directory's contents go into the target, a
    file goes to the target path, or into it when that names a directory. Returns the path of
    the stage's WORKDIR under dest."""
    files = context_files(root)
    workdir = "/"
    for op, arg in stage:
        if op == "WORKDIR":
            workdir = os.path.join(workdir, arg)
        if op != "COPY" or arg.startswith("--from"):
            continue
        *srcs, target = arg.split()
        into = os.path.join(dest, os.path.join(workdir, target).lstrip("/"))
        target_is_dir = target.endswith("/") or target == "." or len(srcs) > 1
        for src in map(os.path.normpath, srcs):
            if src == "." or os.path.isdir(os.path.join(root, src)):
                pairs = [(rel, os.path.join(into, os.path.relpath(rel, src)))
                         for rel in files if src == "." or rel.startswith(src + "/")]
            elif src in files:
                pairs = [(src, os.path.join(into, os.path.basename(src)) if target_is_dir
                          else into)]
            else:
                pairs = []
            for rel, to in pairs:
                os.makedirs(os.path.dirname(to), exist_ok=True)
                shutil.copy2(os.path.join(root, rel), to)
    return os.path.join(dest, workdir.lstrip("/"))


def meson_setup_options(stage):
    """The -D options of the stage's `meson setup`."""
    runs = [a for op, a in stage if op == "RUN" and "meson setup" in a]
    words = shlex.split(runs[0].split("meson setup", 1)[1].split("&&")[0]) if runs else []
    return [w for w in words if w.startswith("-D")]


def check_build_stage(root, name, stage):
    """`meson setup`, with the stage's options, on the tree its COPY lines make: fails when the
    build context lacks a file that meson.build reads."""
    with tempfile.TemporaryDirectory() as tmp:
        src = build_stage_tree(root, stage, os.path.join(tmp, "stage"))
        run = subprocess.run(["meson", "setup", os.path.join(tmp, "build"), src,
                              *meson_setup_options(stage)], capture_output=True, text=True)
    errors = [line for line in run.stdout.splitlines() if "ERROR" in line]
    report(run.returncode == 0, f"{name}: `meson setup` succeeds on what the build stage copies "
           "from the context that .dockerignore lets through"
           + (f": {' '.join(errors) or run.stderr.strip()}" if run.returncode else ""))


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
    ok, line = compare_packages(owning_packages(vh_bin, sonames(vh_bin)),
                                runtime_packages(os.path.join(root, name)))
    report(ok, f"{name}: {line}")
    rules = dockerignore_rules(root)
    for s in st:
        for op, arg in s:
            if op != "COPY" or arg.startswith("--from"):
                continue
            for src in map(os.path.normpath, arg.split()[:-1]):
                ok = os.path.exists(os.path.join(root, src)) and (
                    src == "." or dockerignore_allows(rules, src))
                report(ok, f"{name}: COPY {src} exists and .dockerignore lets it through")
    check_build_stage(root, name, st[0])


def main():
    vh_bin, root = sys.argv[1], sys.argv[2]
    check_compose(vh_bin, root)
    check_dockerfile(vh_bin, root)
    return 1 if deploy_report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
