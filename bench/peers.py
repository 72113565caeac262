"""peers.py - fleet-aware readiness (issue 12): what asking the other replicas costs.

1. DNS: how many of a headless name's A records reach the daemon from a responder that follows
   RFC 1035 (512-byte UDP answers, TC set when records are left out) and RFC 7766 (TCP on the
   same port, which the daemon asks when evdns's UDP answer is truncated), from the same one with
   TCP refused, and from one that puts every record in one oversized datagram.
2. Per daemon, with 0 peers (no "peers" block), 16 and 200: its on-CPU time per peer round (idle,
   schedstat) and /ready throughput under wrk -t2 -c50 (shared cores, as throughput.py).
3. Per fleet of N = 5, 16, 50, 200: the /peers/state requests served per round, from every
   daemon's veza_health_http_requests_total, against N x min(sample, known peers).
4. Peer traffic never touches PostgreSQL or Redis: a fleet checking both, counted with
   log_statement=all and INFO commandstats, idle and while wrk hammers one daemon's /peers/state.

Every daemon of a fleet listens on its own loopback address (127.77.x.y) and one port, as pods
do; up to 64 peers are listed in "addresses", more are found through "dns" answered by a
responder in this script. All traffic stays on loopback; every load is bounded in time."""

import contextlib
import json
import os
import re
import signal
import socket
import statistics
import sys
import subprocess
import threading
import time

import benchlib as b

SAMPLE = 16
ADDRESSES_MAX = 64  # the config's cap on "addresses"
ROUND_S = 1.0  # peers.interval
PEERS_TIMEOUT = "500ms"
DNS_NAME = "peers.bench.test"
# Peers of the measured daemon (its fleet is one larger) and the fleets whose request rate is
# counted. Smoke: small fleets, one of them through DNS so that path runs too.
PEER_COUNTS = b.pick((0, 16, 200), (0, 4))
FLEETS = b.pick((5, 16, 50, 200), (3, 6))
DNS_RECORDS = 200
# Fleets found through DNS: those too big for "addresses", and in smoke mode the last one.
DNS_FLEETS = b.pick((), (6,))
CPU_WINDOW = b.pick(20, 2)
RATE_WINDOW = b.pick(10, 2)
DEP_WINDOW = b.pick(10, 2)
DEP_FLEET = b.pick(5, 3)
WRK_ROUNDS = b.pick(3, 1)
SETTLE_ROUNDS = b.pick(3, 2)


def address(i):
    """The i-th daemon's loopback address: 127.77.0.1, 127.77.0.2, ..., 127.77.1.1, ..."""
    return f"127.77.{i // 250}.{i % 250 + 1}"


# --- a DNS responder: the tests' (UDP as RFC 1035 says, 512 bytes and TC; TCP on the same port)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from dns_fake import FakeDns  # noqa: E402  (tests/integration is no package)


def Dns(name, addresses, mode="rfc"):
    """A responder for name's addresses. mode "rfc": 512-byte UDP answers with TC, and TCP;
    "udp-only": the same with TCP refused; "oversize": every record in one datagram."""
    return FakeDns({name: list(addresses)}, tcp="none" if mode == "udp-only" else "serve",
                   udp_max=None if mode == "oversize" else 512)


# --- a dependency that always answers ----------------------------------------------------------

@contextlib.contextmanager
def tcp_target():
    """A listener on 127.0.0.1 that accepts and closes: the fleet's tcp check ("the same
    dependency" on every replica; scope shared is set by hand, loopback defaulting to local)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    listener.settimeout(0.1)
    stopping = threading.Event()

    def serve():
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join(5)
        listener.close()


# --- a fleet of daemons ------------------------------------------------------------------------

class Fleet:
    """n daemons on address(0..n-1), one port, each with make_config(i, port) as its config;
    started together, always stopped (SIGTERM, then SIGKILL of the process group)."""

    def __init__(self, work, n, make_config, tag):
        self.work, self.n, self.make_config, self.tag = work, n, make_config, tag
        self.procs, self.port = [], 0

    def __enter__(self):
        for attempt in range(3):
            self.port = b.harness.free_port()
            try:
                self._start()
                return self
            except RuntimeError as exc:
                self.stop()
                if "in use" not in str(exc) or attempt == 2:
                    raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def log(self, i):
        return (self.work / f"{self.tag}-{i}.log").read_text(errors="replace")

    def _start(self):
        self.procs = []
        for i in range(self.n):
            path = self.work / f"{self.tag}-{i}.json"
            path.write_text(json.dumps(self.make_config(i, self.port)))
            with open(self.work / f"{self.tag}-{i}.log", "wb") as log:
                self.procs.append(subprocess.Popen(
                    [b.harness.vh_bin(), "serve", "-c", str(path)], stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 60
        for i, proc in enumerate(self.procs):
            while not b.harness.can_connect(address(i), self.port):
                if proc.poll() is not None:
                    raise RuntimeError(f"daemon {i} exited: {self.log(i)[-600:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"daemon {i} not listening after 60 s")
                time.sleep(0.01)

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs = []

    def get(self, i, path):
        resp = b.harness.http_request(self.port, path, host=address(i), timeout=5.0)
        return resp.status, resp.body

    def fleet_status(self, i):
        """The "fleet" object of daemon i's /ready (peers_known, peers_reachable, ...)."""
        return json.loads(self.get(i, "/ready")[1]).get("fleet", {})

    def http_answers(self, i):
        """Every answer daemon i has sent, from /metrics (counted as sent, so a scrape is in the
        next scrape's figure, not its own)."""
        text = self.get(i, "/metrics")[1].decode()
        return sum(int(v) for v in re.findall(r"^veza_health_http_requests_total\{[^}]*\} (\d+)",
                                              text, re.M))

    def wait_ready(self):
        for i in range(self.n):
            deadline = time.monotonic() + 30
            while self.get(i, "/ready")[0] != 200:
                if time.monotonic() > deadline:
                    raise AssertionError(f"daemon {i} not ready: {self.get(i, '/ready')}")
                time.sleep(0.05)


def via_dns(n):
    return n > ADDRESSES_MAX or n in DNS_FLEETS


def peers_block(n, port):
    """The "peers" object of a fleet of n on port: every address listed (the daemon skips its
    own) while they fit in "addresses", else the DNS name."""
    block = {"port": port, "interval": f"{int(ROUND_S * 1000)}ms", "timeout": PEERS_TIMEOUT,
             "sample": SAMPLE}
    if not via_dns(n):
        block["addresses"] = [address(i) for i in range(n)]
    else:
        block["dns"] = DNS_NAME
    return block


def tcp_config(n, target, dns_port=None, peers=True):
    """make_config for a fleet of n daemons with one tcp check (shared) at 1 s."""
    def make(i, port):
        config = {"service": "bench", "listen": [f"{address(i)}:{port}"],
                  "defaults": {"interval": "1s", "timeout": "1s"},
                  "checks": [{"name": "dep", "type": "tcp", "tcp": {"host": "127.0.0.1",
                                                                  "port": target}}]}
        if peers:
            config["peers"] = peers_block(n, port)
            config["checks"][0]["scope"] = "shared"
            if dns_port:
                config["dns"] = {"nameservers": [f"127.0.0.1:{dns_port}"]}
        return config
    return make


@contextlib.contextmanager
def fleet_of(work, n, target, tag, peers=True):
    """A started, ready fleet of n with the tcp check; through DNS when n > 64. Yields (fleet,
    the responder or None)."""
    with contextlib.ExitStack() as stack:
        dns = None
        if peers and via_dns(n):
            dns = stack.enter_context(Dns(DNS_NAME, [address(i) for i in range(n)]))
        t0 = time.monotonic()
        fleet = stack.enter_context(
            Fleet(work, n, tcp_config(n, target, dns.port if dns else None, peers), tag))
        fleet.wait_ready()
        up = time.monotonic() - t0
        time.sleep(SETTLE_ROUNDS * ROUND_S + 0.5)  # every daemon has run a few rounds
        print(f"  fleet of {n} up and ready in {up:.2f}"
              f" s, port {fleet.port}" + (f", peers through DNS ({DNS_NAME})" if dns else
                                          ", peers listed in \"addresses\"" if peers else
                                          ", no \"peers\""), flush=True)
        yield fleet, dns


# --- 1. DNS ------------------------------------------------------------------------------------

def rfc_fit(name):
    """A records that fit a 512-byte answer to name: header 12, question, 16 bytes a record."""
    return (512 - 12 - (len(name) + 2 + 4)) // 16


def sent_text(dns, n):
    """The first A answer over UDP, and over TCP when one followed."""
    parts = []
    for tcp, what in ((False, "UDP"), (True, "TCP")):
        first = next((a for a in dns.answers if a[0] == tcp and a[1] == 1), None)
        if first:
            parts.append(f"{what} {first[2]} records in {first[3]} bytes"
                         + (" with TC" if not tcp and first[2] < n else ""))
    return ", then ".join(parts) or "no A answer"


def dns_probe(work, target):
    """peers_known of one daemon (address(0), itself among the records) whose peers.dns has n
    A records behind a responder in each mode."""
    fit = rfc_fit(DNS_NAME)
    print(f"-- DNS: {DNS_NAME} answered with n A records, one of them the daemon's own; "
          f"peers_known of one daemon after its first lookup (an RFC 1035 answer holds {fit})")
    out = {}
    for mode, n in (("rfc", fit), ("rfc", fit + 1), ("rfc", DNS_RECORDS),
                    ("udp-only", DNS_RECORDS), ("oversize", DNS_RECORDS)):
        addrs = [address(i) for i in range(n)]
        with Dns(DNS_NAME, addrs, mode) as dns, \
                Fleet(work, 1, tcp_config(DNS_RECORDS, target, dns.port), f"dns-{mode}{n}") as f:
            f.wait_ready()
            deadline, known, errors = time.monotonic() + 3, 0, []
            while not known and not errors and time.monotonic() < deadline:
                time.sleep(0.05)
                known = f.fleet_status(0).get("peers_known")
                errors = [line for line in f.log(0).splitlines() if "cannot find peers" in line]
        print(f"  {mode:8} n={n:3d}: sent {sent_text(dns, n)}; daemon knows {known} peers; "
              f"{dns.edns} of {len(dns.queries) + len(dns.tcp_queries)} queries carried EDNS0"
              + (f"; log: {json.loads(errors[0]).get('error')}" if errors else ""), flush=True)
        out[(mode, n)] = known
    return out


# --- 2. per daemon: CPU per round, /ready throughput -------------------------------------------

def cpu_per_round(fleet, seconds):
    """Daemon 0's on-CPU seconds per second, idle, and the answers it sent per second."""
    pid = fleet.procs[0].pid
    a0, c0, t0 = fleet.http_answers(0), b.oncpu_seconds(pid), time.monotonic()
    others0 = sum(b.oncpu_seconds(p.pid) for p in fleet.procs[1:])
    time.sleep(seconds)
    c1, t1 = b.oncpu_seconds(pid), time.monotonic()
    others1 = sum(b.oncpu_seconds(p.pid) for p in fleet.procs[1:])
    a1 = fleet.http_answers(0)
    w = t1 - t0
    return {"cpu_s": (c1 - c0) / w, "served_s": (a1 - a0 - 1) / w,
            "others_s": (others1 - others0) / w}


def ready_throughput(fleet):
    """Median of WRK_ROUNDS wrk runs on daemon 0's /ready; the fleet's CPU during the last."""
    runs = []
    for _ in range(WRK_ROUNDS):
        others0 = sum(b.oncpu_seconds(p.pid) for p in fleet.procs[1:])
        t0 = time.monotonic()
        r = b.wrk(f"http://{address(0)}:{fleet.port}/ready", pid=fleet.procs[0].pid)
        r["others"] = (sum(b.oncpu_seconds(p.pid) for p in fleet.procs[1:]) - others0) / (
            time.monotonic() - t0)
        runs.append(r)
        print(f"    wrk /ready {b.fmt_wrk(r)}; the rest of the fleet "
              f"{r['others'] * 100:.1f}% of a core", flush=True)
    return {k: statistics.median(r[k] for r in runs)
            for k in ("rps", "p99", "cpu_per_req_us", "others", "non2xx", "sockerr")}


def per_daemon(work, target, k, results):
    """Daemon 0 with k peers (a fleet of k + 1; k = 0: no "peers" block at all)."""
    n = k + 1
    with fleet_of(work, n, target, f"cost{k}", peers=k > 0) as (fleet, dns):
        status = fleet.fleet_status(0) if k else {}
        body = fleet.get(0, "/ready")[1]
        cpu = cpu_per_round(fleet, CPU_WINDOW)
        print(f"  daemon 0 with {k} peers: knows {status.get('peers_known', 0)}, "
              f"{status.get('peers_reachable', 0)} reachable; /ready body {len(body)} bytes; "
              f"idle on-CPU {cpu['cpu_s'] * 1e6:.0f} us/s, served "
              f"{cpu['served_s']:.1f} requests/s (others' rounds)", flush=True)
        thr = ready_throughput(fleet)
    results[k] = {"known": status.get("peers_known", 0), "cpu": cpu, "thr": thr,
                  "body": len(body)}


# --- 3. per fleet: requests per round ----------------------------------------------------------

def request_rate(work, target, n):
    with fleet_of(work, n, target, f"rate{n}") as (fleet, dns):
        known = [fleet.fleet_status(i).get("peers_known", 0) for i in range(n)]
        before = [(fleet.http_answers(i), time.monotonic()) for i in range(n)]
        cpu0 = [b.oncpu_seconds(p.pid) for p in fleet.procs]
        time.sleep(RATE_WINDOW)
        cpu1 = [b.oncpu_seconds(p.pid) for p in fleet.procs]
        after = [(fleet.http_answers(i), time.monotonic()) for i in range(n)]
        reach = [fleet.fleet_status(i).get("peers_reachable", 0) for i in range(n)]
    # per daemon: answers per round over its own window; less the first scrape's own answer
    served = [(a1 - a0 - 1) / ((t1 - t0) / ROUND_S) for (a0, t0), (a1, t1) in zip(before, after)]
    window = statistics.mean(t1 - t0 for (_, t0), (_, t1) in zip(before, after))
    cpu = [(c1 - c0) / window for c0, c1 in zip(cpu0, cpu1)]
    expect = sum(min(SAMPLE, k) for k in known)
    total = sum(served)
    print(f"  N={n}: {total:.0f} /peers/state requests per round (expected sum of "
          f"min({SAMPLE}, known) = {expect}; N x min({SAMPLE}, N-1) = {n * min(SAMPLE, n - 1)}); "
          f"peers known per daemon min {min(known)} / max {max(known)}, reachable min "
          f"{min(reach)} / max {max(reach)}; served per daemon min {min(served):.1f} / median "
          f"{statistics.median(served):.1f} / max {max(served):.1f}; CPU per daemon median "
          f"{statistics.median(cpu) * 1e6:.0f} us/s" + (f"; DNS: {sent_text(dns, n)}" if dns else ""),
          flush=True)
    return {"n": n, "total": total, "expect": expect, "ideal": n * min(SAMPLE, n - 1),
            "known": (min(known), max(known)), "served": (min(served), max(served)),
            "cpu_median": statistics.median(cpu)}


# --- 4. dependencies ----------------------------------------------------------------------------

def dep_counts(pg, rd):
    lines = [ln for ln in pg.log_text().splitlines() if "statement:" in ln]
    per = {}
    for ln in lines:
        m = re.search(r" (vh-peer-\d+) ", ln)
        if m:
            per[m.group(1)] = per.get(m.group(1), 0) + 1
    return {"pg": sum(per.values()), "pg0": per.get("vh-peer-0", 0),
            "redis": b.redis_calls(rd)}


def dependency_traffic(work):
    """A fleet of DEP_FLEET checking PostgreSQL and Redis (scope shared) at 1 s: counts in a
    window of peer rounds only, then in one where wrk hammers daemon 0's /peers/state."""
    settings = {"log_statement": "all", "log_line_prefix": "%m [%p] %a "}
    n = DEP_FLEET
    with b.postgres(settings) as pg, b.redis() as rd:
        def make(i, port):
            checks = b.dep_checks(pg, rd)
            checks[0]["postgres"]["params"]["application_name"] = f"vh-peer-{i}"
            for c in checks:
                c["scope"] = "shared"
            return {"service": "bench", "listen": [f"{address(i)}:{port}"],
                    "defaults": {"interval": "1s", "timeout": "1s"},
                    "peers": peers_block(n, port), "checks": checks}
        with Fleet(work, n, make, "deps") as fleet:
            fleet.wait_ready()
            time.sleep(SETTLE_ROUNDS * ROUND_S)
            a0, s0 = dep_counts(pg, rd), fleet.http_answers(0)
            time.sleep(DEP_WINDOW)
            a1, s1 = dep_counts(pg, rd), fleet.http_answers(0)
            r = b.wrk(f"http://{address(0)}:{fleet.port}/peers/state", seconds=DEP_WINDOW)
            a2 = dep_counts(pg, rd)
            status = fleet.fleet_status(0)
    idle = {k: a1[k] - a0[k] for k in a0}
    busy = {k: a2[k] - a1[k] for k in a0}
    print(f"-- dependencies: a fleet of {n}, postgres + redis checks (scope shared) at 1 s, "
          f"{DEP_WINDOW} s windows; daemon 0 knows {status.get('peers_known')} peers, "
          f"{status.get('peers_reachable')} reachable, served {s1 - s0 - 1} /peers/state in the "
          f"first window")
    print(f"  {'count':38} {'peer rounds':>12} {'+ wrk on /peers/state':>22}")
    print(f"  {'/peers/state requests to daemon 0':38} {s1 - s0 - 1:12d} {r['requests']:22d}")
    for key, label in (("pg0", "PG statements of daemon 0"), ("pg", "PG statements, fleet"),
                       ("redis", "Redis commands, fleet")):
        print(f"  {label:38} {idle[key]:12d} {busy[key]:22d}")
    schedule = n * DEP_WINDOW
    # A window edge may move one run per daemon; PG counts are exact (the log), Redis's less
    # the bench's own INFO.
    ok = (abs(busy["pg0"] - idle["pg0"]) <= 1 and abs(busy["pg"] - idle["pg"]) <= n
          and abs(busy["redis"] - idle["redis"]) <= n and abs(idle["pg"] - schedule) <= n
          and abs(idle["redis"] - schedule) <= n and r["non2xx"] == 0)
    print(f"  schedule: {n} daemons x {DEP_WINDOW} runs = {schedule} per dependency; "
          f"peer traffic leaves the counts at the schedule: {b.verdict(ok)}")
    return {"idle": idle, "busy": busy, "wrk": r["requests"], "ok": ok}


def main():
    b.stop_on_sigterm()
    b.header("peers: the cost of asking the other replicas")
    results, rates = {}, []
    with b.workdir() as work, tcp_target() as target:
        dns = dns_probe(work, target)
        print(f"-- per daemon: idle CPU over {CPU_WINDOW} s and wrk -t2 -c50 "
              f"-d{b.WRK_SECONDS}s on /ready (shared cores), peers every {ROUND_S:.0f} s, "
              f"sample {SAMPLE}")
        for k in PEER_COUNTS:
            per_daemon(work, target, k, results)
        print(f"-- per fleet: /peers/state requests per round over {RATE_WINDOW} s")
        for n in FLEETS:
            rates.append(request_rate(work, target, n))
        deps = dependency_traffic(work)
    report(dns, results, rates, deps)


def report(dns, results, rates, deps):
    base = results[0]
    print("-- summary")
    fit = rfc_fit(DNS_NAME)
    print(f"  DNS: an RFC 1035 answer (512 bytes) holds {fit} records: daemon knows "
          f"{dns[('rfc', fit)]}; {fit + 1} records (TC): {dns[('rfc', fit + 1)]}; "
          f"{DNS_RECORDS} (TC, then TCP): {dns[('rfc', DNS_RECORDS)]}; with TCP refused: "
          f"{dns[('udp-only', DNS_RECORDS)]}; {DNS_RECORDS} in one oversized "
          f"datagram: {dns[('oversize', DNS_RECORDS)]} (evdns keeps 32 A records of an answer)")
    print(f"  {'peers':>5} {'known':>5} {'CPU us/s':>9} {'us/round':>9} {'served/s':>9} "
          f"{'/ready req/s':>12} {'vs 0':>5} {'p99 ms':>7} {'us/req':>7} {'fleet CPU':>9}")
    for k, r in results.items():
        extra = (r["cpu"]["cpu_s"] - base["cpu"]["cpu_s"]) * ROUND_S * 1e6
        print(f"  {k:5d} {r['known']:5d} {r['cpu']['cpu_s'] * 1e6:9.0f} "
              f"{extra if k else 0:9.0f} {r['cpu']['served_s']:9.1f} {r['thr']['rps']:12.0f} "
              f"{r['thr']['rps'] / base['thr']['rps']:5.2f} {r['thr']['p99'] * 1e3:7.2f} "
              f"{r['thr']['cpu_per_req_us']:7.2f} {r['thr']['others'] * 100:8.1f}%")
    print(f"  {'N':>5} {'req/round':>10} {'expected':>9} {'N x min(16, N-1)':>17} "
          f"{'per daemon':>10} {'CPU us/s per daemon':>20}")
    for r in rates:
        print(f"  {r['n']:5d} {r['total']:10.0f} {r['expect']:9d} {r['ideal']:17d} "
              f"{r['total'] / r['n']:10.1f} {r['cpu_median'] * 1e6:20.0f}")
    linear = all(abs(r["total"] - r["expect"]) <= 0.05 * r["expect"] + 1 for r in rates)
    big = max(results)
    flat = results[big]["thr"]["cpu_per_req_us"] <= 1.25 * base["thr"]["cpu_per_req_us"]
    print(f"requests per round = sum of min(sample, known) within 5%: {b.verdict(linear)}; "
          f"/ready CPU per request with {big} peers within 1.25x of 0 peers: {b.verdict(flat)}; "
          f"dependency counts unchanged by peer traffic: {b.verdict(deps['ok'])}")
    per_round = {k: (r["cpu"]["cpu_s"] - base["cpu"]["cpu_s"]) * ROUND_S * 1e6
                 for k, r in results.items() if k}
    print("SUMMARY peers: CPU per round " + ", ".join(f"{k} peers {v:.0f} us"
                                                  for k, v in per_round.items())
          + "; /ready " + ", ".join(f"{k}: {r['thr']['rps']:.0f}" for k, r in results.items())
          + " req/s; req/round " + ", ".join(f"N={r['n']} {r['total']:.0f}/{r['expect']}"
                                            for r in rates)
          + f" {b.verdict(linear)}; peers known through DNS of {DNS_RECORDS}: RFC server "
          f"{dns[('rfc', DNS_RECORDS)]}, TCP refused {dns[('udp-only', DNS_RECORDS)]}, oversized "
          f"{dns[('oversize', DNS_RECORDS)]}; deps "
          f"{b.verdict(deps['ok'])}")


if __name__ == "__main__":
    main()
