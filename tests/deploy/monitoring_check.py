#!/usr/bin/env python3
"""Static checks of deploy/prometheus and deploy/grafana that promtool cannot do alone.

Subcommands (each prints what it found and exits non-zero on a problem):
  promtool-config SRC_DIR OUT_DIR   copy SRC_DIR to OUT_DIR, swapping the kubernetes_sd_configs
                                    blocks of prometheus.yml for file_sd_configs, because
                                    Debian's promtool is built without Kubernetes discovery;
                                    the __meta_kubernetes_* labels are checked here instead
  dashboard-rules DASHBOARD OUT     check the dashboard's structure and write every query (and
                                    every label_values() selector) as a recording rule
  names METRICS_MD DASHBOARD RULES...
                                    every metric the rules and the dashboard read is documented,
                                    and rate()/increase() only read counters and histograms
  coverage RULES TESTS              every alert has severity, summary and description, and a
                                    unit test where it fires and one where it stays quiet
  scrape-test METRICS_FILE OUT      turn a real /metrics answer into a promtool unit test
                                    that checks the alerts against the daemon's real labels
  fleet-scrape-test OUT RULES METRICS_FILE...
                                    the same for the scrapes of peered daemons in a shared
                                    outage, one target each
Standard library only.
"""
import json
import os
import re
import shutil
import sys

# Series Prometheus itself writes for every target.
STANDARD_METRICS = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added",
}
PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "atan2",
}
# The meta labels of the Kubernetes pod role (Prometheus 2.42, discovery/kubernetes/pod.go).
POD_META = {
    "namespace", "pod_name", "pod_ip", "pod_container_name", "pod_container_id",
    "pod_container_image", "pod_container_port_name", "pod_container_port_number",
    "pod_container_port_protocol", "pod_container_init", "pod_ready", "pod_phase",
    "pod_node_name", "pod_host_ip", "pod_uid", "pod_controller_kind", "pod_controller_name",
}
POD_META_PREFIXES = (
    "pod_label_", "pod_labelpresent_", "pod_annotation_", "pod_annotationpresent_",
)
# Grafana's built-in variables, replaced by values of the right kind for PromQL.
GRAFANA_BUILTINS = {
    "__rate_interval": "1m", "__interval": "30s", "__range": "1h", "__range_s": "3600",
    "__range_ms": "3600000", "__interval_ms": "30000",
}

failures = []


def fail(msg):
    failures.append(msg)
    print(f"FAIL: {msg}")


def finish(ok_msg):
    if failures:
        sys.exit(1)
    print(ok_msg)


# --- prometheus.yml -----------------------------------------------------------------------


def swap_kubernetes_sd(text, sd_file):
    """Replaces each kubernetes_sd_configs block by a file_sd_configs one; returns (text, n)."""
    lines = text.splitlines()
    out, i, n = [], 0, 0
    while i < len(lines):
        m = re.match(r"^(\s*)kubernetes_sd_configs:\s*$", lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        base = len(m.group(1))
        block = []
        i += 1
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > base):
            block.append(lines[i].strip())
            i += 1
        roles = [b for b in block if b]
        if roles != ["- role: pod"]:
            fail(f"kubernetes_sd_configs must be exactly one '- role: pod', got {roles}")
        out.append(" " * base + "file_sd_configs:")
        out.append(" " * base + f"  - files: [{json.dumps(sd_file)}]")
        n += 1
    return "\n".join(out) + "\n", n


def check_meta_labels(text):
    for name in sorted(set(re.findall(r"__meta_kubernetes_(\w+)", text))):
        known = name in POD_META or (name.startswith(POD_META_PREFIXES) and
                                     re.fullmatch(r"[a-z0-9_]+", name))
        if not known:
            fail(f"__meta_kubernetes_{name} is not a label of the Kubernetes pod role")


def cmd_promtool_config(src, out):
    shutil.copytree(src, out)
    path = os.path.join(out, "prometheus.yml")
    text = open(path).read()
    sd_file = os.path.join(out, "kubernetes-pods.json")
    with open(sd_file, "w") as f:
        f.write("[]\n")
    swapped, n = swap_kubernetes_sd(text, sd_file)
    if n == 0:
        fail("prometheus.yml has no kubernetes_sd_configs job")
    check_meta_labels(text)
    with open(path, "w") as f:
        f.write(swapped)
    finish(f"swapped {n} kubernetes_sd_configs block(s); Kubernetes meta labels known")


# --- PromQL -------------------------------------------------------------------------------


def metric_names(expr):
    """The metric names an expression selects (functions, keywords and labels left out)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    names = set(re.findall(r"([A-Za-z_:][\w:]*)\s*\{", e))
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    for m in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?", e):
        if m.group(2) is None and m.group(1).lower() not in PROMQL_KEYWORDS:
            names.add(m.group(1))
    return names


def rate_arguments(expr):
    return re.findall(r"\b(?:rate|irate|increase)\s*\(\s*([A-Za-z_:][\w:]*)", expr)


def substitute_grafana(expr, variables):
    """Replaces Grafana variables by valid values; unknown variables are failures."""
    def repl(m):
        name = m.group(1) or m.group(2)
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if name in variables:
            return ".*"
        fail(f"unknown Grafana variable ${name} in: {expr}")
        return ".*"
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


# --- the dashboard ------------------------------------------------------------------------


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def dashboard_queries(dash):
    """(where, expr) for every panel target and every label_values() selector."""
    variables = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    out = []
    for v in dash["templating"]["list"]:
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", q, re.S)
        if not m:
            fail(f"variable {v['name']}: expected label_values(SELECTOR, LABEL), got {q}")
            continue
        out.append((f"variable {v['name']}", substitute_grafana(m.group(1), variables)))
    for p in all_panels(dash["panels"]):
        for t in p.get("targets", []):
            out.append((f"panel {p['id']} ({p['title']}) {t.get('refId')}",
                        substitute_grafana(t["expr"], variables)))
    return out


def check_dashboard_shape(dash):
    if not 36 <= dash.get("schemaVersion", 0) <= 41:
        fail(f"schemaVersion {dash.get('schemaVersion')} is not a Grafana 10/11 one")
    for key in ("uid", "title"):
        if not dash.get(key):
            fail(f"dashboard has no {key}")
    variables = dash.get("templating", {}).get("list", [])
    ds = [v for v in variables if v.get("type") == "datasource"]
    if len(ds) != 1 or ds[0].get("query") != "prometheus" or ds[0].get("name") != "datasource":
        fail("the dashboard needs one datasource variable named datasource of type prometheus")
    for want in ("namespace", "service", "check"):
        if want not in {v["name"] for v in variables}:
            fail(f"no {want} variable")
    ids = set()
    for p in all_panels(dash["panels"]):
        if p.get("id") in ids:
            fail(f"panel id {p.get('id')} used twice")
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if not all(k in g for k in "hwxy") or g["x"] + g["w"] > 24:
            fail(f"panel {p.get('id')} ({p.get('title')}) has a bad gridPos {g}")
        if p["type"] == "row":
            continue
        if not p.get("targets"):
            fail(f"panel {p['id']} ({p['title']}) has no query")
        sources = [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]
        for s in sources:
            if s != {"type": "prometheus", "uid": "${datasource}"}:
                fail(f"panel {p['id']} ({p['title']}) does not use the datasource variable: {s}")


def cmd_dashboard_rules(path, out):
    dash = json.load(open(path))
    check_dashboard_shape(dash)
    queries = dashboard_queries(dash)
    with open(out, "w") as f:
        f.write("groups:\n  - name: dashboard-queries\n    rules:\n")
        for i, (where, expr) in enumerate(queries):
            f.write(f"      # {where}\n")
            f.write(f"      - record: dashboard:query_{i}:expr\n")
            f.write(f"        expr: {json.dumps(expr)}\n")
    finish(f"{len(queries)} dashboard queries written as recording rules")


# --- metric names -------------------------------------------------------------------------


def documented_metrics(md_path):
    """{name: type} from the tables of docs/metrics.md (first column name, second type)."""
    found = {}
    for line in open(md_path):
        m = re.match(r"^\|\s*`([a-zA-Z_:][\w:]*)`\s*\|\s*(\w+)\s*\|", line)
        if m:
            found[m.group(1)] = m.group(2)
    for name, kind in list(found.items()):
        if kind == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                found[name + suffix] = "counter"
    return found


def rule_exprs(path):
    """(name, expr, recorded) for each rule of a rules file written in this repo's layout."""
    text = open(path).read()
    out = []
    for m in re.finditer(r"^\s*- (record|alert): (\S+)\n\s*expr: (\|\n((?:\s{10,}.*\n)+)|.*)",
                         text, re.M):
        expr = m.group(4) if m.group(4) is not None else m.group(3)
        out.append((m.group(2), expr.strip(), m.group(1) == "record"))
    if not out:
        fail(f"{path}: no rules found")
    return out


def check_names(where, expr, known):
    for name in sorted(metric_names(expr)):
        if name not in known:
            fail(f"{where}: metric {name} is not in docs/metrics.md")
    for name in rate_arguments(expr):
        if known.get(name) not in ("counter", "recorded"):
            fail(f"{where}: rate()/increase() over {name}, which is not a counter")


def cmd_names(md_path, dash_path, rule_paths):
    documented = documented_metrics(md_path)
    if len(documented) < 20:
        fail(f"only {len(documented)} metrics found in {md_path}")
    known = dict(documented)
    known.update({m: "counter" if m == "scrape_series_added" else "gauge"
                  for m in STANDARD_METRICS})
    rules = [r for p in rule_paths for r in rule_exprs(p)]
    with_recorded = dict(known)
    with_recorded.update({name: "recorded" for name, _, rec in rules if rec})
    for name, expr, _ in rules:
        check_names(f"rule {name}", expr, with_recorded)
    dash = json.load(open(dash_path))
    queries = dashboard_queries(dash)
    # The dashboard reads raw series only, so it works on a Prometheus without these rules.
    for where, expr in queries:
        check_names(f"dashboard {where}", expr, known)
    used = set()
    for _, expr, _ in rules:
        used |= metric_names(expr)
    for _, expr in queries:
        used |= metric_names(expr)
    finish(f"{len(used)} metric names used by {len(rules)} rules and {len(queries)} dashboard "
           f"queries, all documented")


# --- alert coverage -----------------------------------------------------------------------


def cmd_coverage(rules_path, tests_path):
    text = open(rules_path).read()
    blocks = re.split(r"^\s*- (?=alert:|record:)", text, flags=re.M)[1:]
    alerts = []
    for block in blocks:
        m = re.match(r"alert: (\S+)", block)
        if not m:
            continue
        alerts.append(m.group(1))
        for need in (r"^\s+severity: (critical|warning)$", r"^\s+summary: ",
                     r"^\s+description: "):
            if not re.search(need, block, re.M):
                fail(f"alert {m.group(1)} lacks {need.strip('^$').strip()}")
    tests = open(tests_path).read()
    cases = re.findall(r"alertname: (\S+)\n\s+exp_alerts:( \[\])?", tests)
    fires = {name for name, empty in cases if not empty}
    quiet = {name for name, empty in cases if empty}
    for name in alerts:
        if name not in fires:
            fail(f"alert {name} has no test where it fires")
        if name not in quiet:
            fail(f"alert {name} has no test where it stays quiet")
    for name, _ in cases:
        if name not in alerts:
            fail(f"the tests name an alert the rules do not have: {name}")
    finish(f"{len(alerts)} alerts, each with a firing and a quiet test")


# --- a real scrape ------------------------------------------------------------------------

TARGET = {"job": "veza-health-static", "instance": "127.0.0.1:8099", "service": "scraped"}


def parse_scrape(path):
    """[(name, {labels}, value)] of a text exposition; malformed lines are failures."""
    samples = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)', line)
        if not m:
            fail(f"unparsable sample line: {line}")
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples


def series_text(name, labels):
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{body}}}"


def alerts_test(rules_path, targets, firing):
    """The lines of a promtool test that replays each (target labels, samples) of targets for
    6 minutes (counters frozen) plus up=1, and expects exactly the firing alerts (label dicts)
    at 5m through the ALERTS series."""
    lines = [
        "rule_files:", f"  - {json.dumps(os.path.abspath(rules_path))}",
        "evaluation_interval: 15s", "tests:", "  - interval: 15s", "    input_series:",
    ]
    for target, samples in targets:
        values = {(n, tuple(sorted(l.items()))): v for n, l, v in samples}
        for (name, labels), value in sorted(values.items()):
            full = dict(target)
            full.update(labels)
            lines.append(f"      - series: {json.dumps(series_text(name, full))}")
            lines.append(f"        values: '{value!r}x24'")
        lines.append(f"      - series: {json.dumps(series_text('up', target))}")
        lines.append("        values: '1x24'")
    lines += ["    promql_expr_test:", '      - expr: ALERTS{alertstate="firing"}',
              "        eval_time: 5m", "        exp_samples:"]
    for labels in firing:
        full = {k: v for k, v in {"alertstate": "firing", **labels}.items() if v != ""}
        lines.append(f"          - labels: {json.dumps(series_text('ALERTS', full))}")
        lines.append("            value: 1")
    return lines


def check_infos(samples, checks):
    info = {l["check"]: l for n, l, _ in samples if n == "veza_health_check_info"}
    for check in checks:
        if check not in info:
            fail(f"the scrape has no veza_health_check_info for check {check}")
    if failures:
        sys.exit(1)
    return info


def cmd_scrape_test(scrape, out, rules_path):
    """Replays one scrape and expects exactly the alerts that the daemon's state calls for: the
    config run by check_monitoring.sh has a critical tcp check `dead` to a closed port and a
    passing tcp check `self`, so only VezaHealthDependencyDown (for dead) and
    VezaHealthNotReady fire."""
    samples = parse_scrape(scrape)
    dead = check_infos(samples, ("dead", "self", "sidecar"))["dead"]
    firing = [
        {"alertname": "VezaHealthDependencyDown", "severity": "critical", **TARGET,
         "check": "dead", "type": dead["type"], "groups": dead["groups"]},
        {"alertname": "VezaHealthNotReady", "severity": "warning", **TARGET},
    ]
    with open(out, "w") as f:
        f.write("\n".join(alerts_test(rules_path, [(TARGET, samples)], firing)) + "\n")
    finish(f"{len(samples)} scraped samples written as a promtool test expecting "
           f"{', '.join(a['alertname'] for a in firing)} and no other alert")


FLEET_TARGET = {"job": "veza-health-static", "service": "scraped-fleet"}


def cmd_fleet_scrape_test(out, rules_path, scrapes):
    """Replays the scrapes of peered daemons whose critical shared check `dead` (a closed port)
    is in a shared outage on each, as targets 10.0.0.1:8099, 10.0.0.2:8099, ...: exactly one
    VezaHealthSharedOutage fires, for the service and check, and neither
    VezaHealthDependencyDown nor VezaHealthNotReady, since the pods stay ready."""
    targets = []
    for i, path in enumerate(scrapes, 1):
        samples = parse_scrape(path)
        dead = check_infos(samples, ("dead", "sidecar"))["dead"]
        shared = [v for n, l, v in samples
                  if n == "veza_health_check_shared_outage" and l.get("check") == "dead"]
        if shared != [1.0]:
            fail(f"{path}: veza_health_check_shared_outage{{check=\"dead\"}} is {shared}, not 1")
        targets.append(({**FLEET_TARGET, "instance": f"10.0.0.{i}:8099"}, samples))
    if failures:
        sys.exit(1)
    firing = [{"alertname": "VezaHealthSharedOutage", "severity": "critical", **FLEET_TARGET,
               "check": "dead", "type": dead["type"]}]
    with open(out, "w") as f:
        f.write("\n".join(alerts_test(rules_path, targets, firing)) + "\n")
    finish(f"{len(targets)} peered scrapes written as a promtool test expecting "
           f"VezaHealthSharedOutage and no other alert")


def main(argv):
    cmds = {
        "promtool-config": (2, lambda a: cmd_promtool_config(a[0], a[1])),
        "dashboard-rules": (2, lambda a: cmd_dashboard_rules(a[0], a[1])),
        "names": (3, lambda a: cmd_names(a[0], a[1], a[2:])),
        "coverage": (2, lambda a: cmd_coverage(a[0], a[1])),
        "scrape-test": (3, lambda a: cmd_scrape_test(a[0], a[1], a[2])),
        "fleet-scrape-test": (3, lambda a: cmd_fleet_scrape_test(a[0], a[1], a[2:])),
    }
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 < cmds[argv[1]][0]:
        sys.exit(__doc__)
    cmds[argv[1]][1](argv[2:])


if __name__ == "__main__":
    main(sys.argv)
