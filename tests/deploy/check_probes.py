#!/usr/bin/env python3
"""Checks the rendered Kubernetes objects against the sidecar they run: configs, probe timing.

usage: check_probes.py VH_BIN RENDERED.yaml

For every Deployment with a veza-health container: its ConfigMap's config passes
`veza-health check-config` with the container's environment (Secret values replaced by dummies);
passwords come only from Secrets; the probes of the service container agree with the sidecar's
effective check timing (the rules explained in deploy/kubernetes/api/deployment.yaml); the pod
is hardened; the Service exposes the metrics port with scrape annotations. Then the sidecar runs
with each config on loopback and its answers are timed against the probes' timeoutSeconds.
Prints one line per check; exits 1 if any fails.
"""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import yaml

import deploy_report
from deploy_report import report

SIDECAR_RESTART_BACKOFF_S = 10  # kubelet's first CrashLoopBackOff delay
RESTART_MARGIN_S = 5
STARTUP_BUDGET_FLOOR_S = 60
ANSWER_SHARE_OF_TIMEOUT = 10  # an answer must take under 1/10 of the probe's timeoutSeconds


def seconds(duration):
    """The effective config prints durations as "250ms", "5s", "2m" or "1h"."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", duration)
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def size_bytes(quantity):
    """A Kubernetes memory quantity such as "64Mi" or "1Gi" in bytes."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(quantity))
    units = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
             "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    return int(m.group(1)) * units[m.group(2)]


def sidecar_env(container, config_maps, live):
    """The container's environment; Secret values become dummies. With live, every host
    becomes 127.0.0.1 and every port 1, so a run of the daemon only ever reaches loopback."""
    env, secret_vars = {}, set()
    for var in container.get("env", []):
        name = var["name"]
        if "value" in var:
            value = var["value"]
        elif "secretKeyRef" in var.get("valueFrom", {}):
            secret_vars.add(name)
            # The URL's host stays a name unless live: a loopback one would make the
            # check's default scope local (docs/configuration.md#peers).
            url = "redis://:dummy@127.0.0.1:1/0" if live else "redis://:dummy@redis:6379/0"
            value = url if name.endswith("_URL") else "dummy-secret"
        elif "configMapKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["configMapKeyRef"]
            value = config_maps[ref["name"]]["data"][ref["key"]]
        else:
            raise ValueError(f"env {name}: unsupported valueFrom")
        if live and name.endswith("_HOST"):
            value = "127.0.0.1"
        elif live and name.endswith("_PORT"):
            value = "1"
        env[name] = value
    return env, secret_vars


def config_of(deploy, sidecar, config_maps):
    """The config file the sidecar's `-c` names, read from the ConfigMap mounted there."""
    args = sidecar.get("args", [])
    path = args[args.index("-c") + 1]
    mounts = {m["mountPath"].rstrip("/"): m["name"] for m in sidecar.get("volumeMounts", [])}
    volume_name = mounts[os.path.dirname(path)]
    volumes = {v["name"]: v for v in deploy["spec"]["template"]["spec"]["volumes"]}
    cm_name = volumes[volume_name]["configMap"]["name"]
    return config_maps[cm_name]["data"][os.path.basename(path)]


def check_config(vh_bin, name, text, env):
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write(text)
        f.flush()
        run = subprocess.run([vh_bin, "check-config", f.name], capture_output=True, text=True,
                             env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env})
    report(run.returncode == 0, f"{name}: the ConfigMap's config passes check-config"
           + ("" if run.returncode == 0 else f": {run.stderr.strip()}"))
    return json.loads(run.stdout) if run.returncode == 0 else None


def check_secrets(name, text, secret_vars):
    """Every ${VAR} under a password key or in a redis url must come from a Secret."""
    wanted = set()

    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and (key.endswith("password") or key == "url"
                                        and node.startswith("${") or "@" in node):
            wanted.update(re.findall(r"\$\{(\w+)\}", node))

    walk(json.loads(text))
    missing = sorted(wanted - secret_vars)
    report(bool(wanted) and not missing,
           f"{name}: the passwords ({', '.join(sorted(wanted))}) come from Secret references"
           + (f"; not from a Secret: {', '.join(missing)}" if missing else ""))


def probe(container, kind):
    return container.get(kind + "Probe")


def check_probe_arithmetic(name, service, effective, port):
    checks = [c for c in effective["checks"] if c["critical"]]
    ready = [c for c in checks if "readiness" in c["groups"]]
    live = [c for c in checks if "liveness" in c["groups"]]
    r_min = min(seconds(c["interval"]) for c in ready)
    first_round = max(seconds(c["initial_delay"]) + seconds(c["timeout"]) + seconds(c["jitter"])
                      for c in ready)
    expect = {"startup": "/startup", "readiness": "/ready", "liveness": "/live"}
    for kind, path in expect.items():
        p = probe(service, kind)
        if not report(p is not None, f"{name}: the service container has a {kind}Probe"):
            continue
        get = p.get("httpGet", {})
        report(get.get("path") == path and get.get("port") == port,
               f"{name}: {kind}Probe asks the sidecar's {path} on port {port}")
        report(p.get("timeoutSeconds", 1) < p.get("periodSeconds", 10),
               f"{name}: {kind}Probe timeoutSeconds < periodSeconds")
    r, lv, s = (probe(service, k) or {} for k in ("readiness", "liveness", "startup"))
    r_span = r.get("periodSeconds", 10) * r.get("failureThreshold", 3)
    report(r_span <= r_min, f"{name}: readiness periodSeconds x failureThreshold = {r_span}s <= "
           f"the shortest readiness interval {r_min:g}s (the sidecar's fall is the hysteresis)")
    l_gap = lv.get("periodSeconds", 10) * (lv.get("failureThreshold", 3) - 1)
    report(l_gap >= SIDECAR_RESTART_BACKOFF_S + RESTART_MARGIN_S,
           f"{name}: liveness periodSeconds x (failureThreshold - 1) = {l_gap}s >= "
           f"{SIDECAR_RESTART_BACKOFF_S}s sidecar restart back-off + {RESTART_MARGIN_S}s")
    report(bool(live), f"{name}: /live has critical liveness checks to fail on "
           f"({', '.join(c['name'] for c in live)})")
    s_budget = s.get("periodSeconds", 10) * s.get("failureThreshold", 3)
    floor = max(STARTUP_BUDGET_FLOOR_S, 3 * first_round)
    report(s_budget >= floor and s.get("periodSeconds", 10) <= r_min,
           f"{name}: startup budget {s_budget}s >= {floor:g}s (3 x first round "
           f"{first_round:g}s, at least {STARTUP_BUDGET_FLOOR_S}s), period <= {r_min:g}s")


def check_pod(name, spec, service, sidecar, effective):
    targets_other = any(c["type"] == "process" and "self" not in c["process"]
                        for c in effective["checks"])
    report(not targets_other or spec.get("shareProcessNamespace") is True,
           f"{name}: shareProcessNamespace lets the process checks see the service")
    pod_sc = spec.get("securityContext", {})
    for c in spec["containers"]:
        sc = c.get("securityContext", {})
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True and \
            sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0
        report(non_root and sc.get("readOnlyRootFilesystem") is True
               and sc.get("allowPrivilegeEscalation") is False
               and "ALL" in sc.get("capabilities", {}).get("drop", []),
               f"{name}: container {c['name']} is non-root, read-only, no privilege escalation,"
               " no capabilities")
        res = c.get("resources", {})
        report("memory" in res.get("requests", {}) and "cpu" in res.get("requests", {})
               and "memory" in res.get("limits", {}),
               f"{name}: container {c['name']} has cpu/memory requests and a memory limit")
    limit = size_bytes(service["resources"]["limits"]["memory"])
    for c in effective["checks"]:
        if c["type"] == "process" and c["process"].get("cmdline") and c["process"]["rss_fail"]:
            report(0 < c["process"]["rss_fail"] < limit,
                   f"{name}: {c['name']} rss_fail {c['process']['rss_fail']} < the service's "
                   f"memory limit {limit}, so liveness acts before the OOM killer")


def check_service(name, objects, deploy, port):
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    services = [o for o in objects if o["kind"] == "Service" and o["spec"].get("selector")
                and all(labels.get(k) == v for k, v in o["spec"]["selector"].items())]
    ok = False
    for svc in services:
        ann = svc["metadata"].get("annotations", {})
        ports = [p for p in svc["spec"]["ports"] if p["port"] == port]
        ok = ok or (ann.get("prometheus.io/scrape") == "true"
                    and ann.get("prometheus.io/port") == str(port)
                    and ann.get("prometheus.io/path") == "/metrics" and bool(ports))
    report(ok, f"{name}: a Service exposes metrics port {port} with prometheus.io annotations")
    # deploy/prometheus/prometheus.yml keeps pods with these annotations and a container named
    # veza-health: the two files must agree or the sidecars are never scraped.
    template = deploy["spec"]["template"]
    ann = template["metadata"].get("annotations", {})
    names = [c["name"] for c in template["spec"]["containers"]]
    report(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(port)
           and ann.get("prometheus.io/path") == "/metrics" and "veza-health" in names,
           f"{name}: the pod carries the scrape annotations and a veza-health container, as "
           "prometheus.yml's pod job expects")


def check_peers(name, objects, deploy, effective, port):
    """The sidecar's peers.dns must name a headless Service over every replica, ready or not
    (docs/configuration.md#peers): without publishNotReadyAddresses an unready replica drops
    out of DNS and the shared-outage count is wrong."""
    peers = effective.get("peers")
    if not report(peers is not None and "dns" in peers,
                  f"{name}: the sidecar finds its peers through a headless Service (peers.dns)"):
        return
    wanted = peers["dns"].split(".")[0]
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    svc = next((o for o in objects if o["kind"] == "Service"
                and o["metadata"]["name"] == wanted), None)
    if not report(svc is not None, f"{name}: peers.dns {peers['dns']!r} names a Service in the "
                  "same kustomization"):
        return
    spec = svc["spec"]
    selects = bool(spec.get("selector")) and all(
        labels.get(k) == v for k, v in spec["selector"].items())
    report(spec.get("clusterIP") == "None" and selects,
           f"{name}: Service {wanted} is headless (clusterIP None) and selects the pods")
    report(spec.get("publishNotReadyAddresses") is True,
           f"{name}: Service {wanted} publishes not-ready addresses, so unready replicas count")
    # A port left out of the effective config follows the listen address.
    peer_port = peers.get("port", port)
    report(peer_port == port and any(p["port"] == port for p in spec.get("ports", [])),
           f"{name}: peers.port {peer_port} is the sidecar's listen port and a port of "
           f"Service {wanted}")
    shared = [c["name"] for c in effective["checks"] if c.get("scope") == "shared"]
    local_ports = [c["name"] for c in effective["checks"] if c["type"] in ("http", "tcp")
                   and c.get("scope") == "shared"
                   and "127.0.0.1" in json.dumps(c.get(c["type"], {}))]
    report(bool(shared) and not local_ports,
           f"{name}: the dependency checks are shared ({', '.join(shared)}) and no check of "
           "the pod's own port is")


def loopback_only(text):
    """The config for a run on this machine: peers found through DNS would send a query to
    the host's nameserver, so they become one loopback address where nothing answers."""
    config = json.loads(text)
    if "peers" in config:
        peers = {k: v for k, v in config["peers"].items() if k not in ("dns", "addresses")}
        config["peers"] = {**peers, "addresses": ["127.0.0.1:1"]}
    return json.dumps(config)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    start = time.monotonic()
    conn.request("GET", path)
    status = conn.getresponse().status
    conn.close()
    return status, (time.monotonic() - start) * 1000


def time_answers(vh_bin, name, text, env, service, sidecar):
    """Runs the sidecar on loopback with the pod's config and times each probe's answer."""
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write(loopback_only(text))
        f.flush()
        proc = subprocess.Popen([vh_bin, "serve", "-c", f.name, "--listen", f"127.0.0.1:{port}",
                                 "--log-level", "error"], env={"PATH": "/usr/bin:/bin", **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 5
            while True:
                try:
                    get(port, "/live")
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        err = proc.stderr.read().decode(errors="replace").strip()
                        report(False, f"{name}: the sidecar starts with its config: {err}")
                        return
                    time.sleep(0.02)
            time.sleep(0.3)  # let the first round of checks start: answers must not wait on it
            probes = [(k, probe(service, k)) for k in ("startup", "readiness", "liveness")]
            probes.append(("sidecar liveness", probe(sidecar, "liveness")))
            for kind, p in probes:
                path = p["httpGet"]["path"]
                timings = [get(port, path) for _ in range(20)]
                worst = max(ms for _, ms in timings)
                limit = p.get("timeoutSeconds", 1) * 1000 / ANSWER_SHARE_OF_TIMEOUT
                report(worst < limit, f"{name}: {kind} {path} answers in at most {worst:.1f} ms "
                       f"(status {timings[-1][0]}), under {limit:g} ms = timeoutSeconds/"
                       f"{ANSWER_SHARE_OF_TIMEOUT}")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def check_deployment(vh_bin, deploy, objects):
    name = f"Deployment {deploy['metadata']['name']}"
    spec = deploy["spec"]["template"]["spec"]
    sidecars = [c for c in spec["containers"] if "veza-health" in c["image"]]
    others = [c for c in spec["containers"] if c not in sidecars]
    if not report(len(sidecars) == 1 and len(others) == 1,
                  f"{name}: one service container and one veza-health sidecar"):
        return
    sidecar, service = sidecars[0], others[0]
    config_maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    text = config_of(deploy, sidecar, config_maps)
    env, secret_vars = sidecar_env(sidecar, config_maps, live=False)
    effective = check_config(vh_bin, name, text, env)
    if effective is None:
        return
    check_secrets(name, text, secret_vars)
    port = int(effective["listen"][0].rsplit(":", 1)[1])
    report(any(p["containerPort"] == port for p in sidecar.get("ports", [])),
           f"{name}: the sidecar's containerPort is its listen port {port}")
    sp = probe(sidecar, "liveness")
    report(sp is not None and sp["httpGet"]["path"] == "/health/sidecar",
           f"{name}: the sidecar's own livenessProbe asks /health/sidecar, not the service's /live")
    check_probe_arithmetic(name, service, effective, port)
    check_pod(name, spec, service, sidecar, effective)
    check_service(name, objects, deploy, port)
    check_peers(name, objects, deploy, effective, port)
    live_env, _ = sidecar_env(sidecar, config_maps, live=True)
    time_answers(vh_bin, name, text, live_env, service, sidecar)


def main():
    vh_bin, rendered = sys.argv[1], sys.argv[2]
    with open(rendered) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    report(bool(deployments), f"{os.path.basename(rendered)}: holds Deployments ({len(deployments)})")
    for deploy in deployments:
        check_deployment(vh_bin, deploy, objects)
    return 1 if deploy_report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
