"""memory.py - budget 4: memory of veza-health idle with config/api.json's checks, under the load
of budget 1, and after each of repeated load runs (growth), with the idle figure broken down per
mapping from /proc/PID/smaps (Rss, Pss, shared and private pages; see MEMORY.md). Judged as
issue 12 decided, on private memory: RssAnon (/proc/PID/status) at most 1.5 MiB idle and 2 MiB
after load, shared library pages being paid once per node; Rss at most 8.5 MiB throughout; no
growth over the runs."""

import os
import re
import threading
import time

import benchlib as b

RUNS = b.pick(6, 2)
MIB = 1024.0
# Extra environment for the daemon, e.g. VH_ENV="GNUTLS_NO_IMPLICIT_INIT=1 PGSSLMODE=disable".
VH_ENV = tuple(os.environ.get("VH_ENV", "").split())
ROLLUP_KEYS = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
               "Anonymous")
_MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \d+\s*(.*)$")


def rollup(pid):
    """/proc/PID/smaps_rollup as a dict of KiB figures."""
    figures = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                figures[key] = int(value.split()[0])
    return figures


def uss(figures):
    """Pages no other process maps: what stopping this one process gives back."""
    return figures["Private_Clean"] + figures["Private_Dirty"]


def mapping_name(path):
    """A library's file name without its version suffix; [heap], [stack], [anon] as they are."""
    if not path:
        return "[anon]"
    if path.startswith("["):
        return path
    return re.sub(r"\.so[.\d]*$", ".so", os.path.basename(path))


def breakdown(pid):
    """{mapping name: {key: KiB}} summed over every mapping of that name, from /proc/PID/smaps."""
    out = {}
    current = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            match = _MAPPING.match(line)
            if match:
                current = out.setdefault(mapping_name(match.group(2).strip()),
                                         dict.fromkeys(ROLLUP_KEYS, 0))
                continue
            key, _, value = line.partition(":")
            if current is not None and key in current:
                current[key] += int(value.split()[0])
    return out


def print_breakdown(pid, top=16):
    """The per-mapping table, biggest Rss first; the smaller mappings are summed on one line."""
    rows = sorted(((name, f) for name, f in breakdown(pid).items() if f["Rss"]),
                  key=lambda row: -row[1]["Rss"])
    rest = dict.fromkeys(ROLLUP_KEYS, 0)
    for _, f in rows[top:]:
        for key in ROLLUP_KEYS:
            rest[key] += f[key]
    shown = rows[:top] + ([(f"{len(rows) - top} other mappings", rest)] if rows[top:] else [])
    print(f"  {'KiB':28s} {'Rss':>6s} {'Pss':>6s} {'ShrCln':>6s} {'PrvCln':>6s} {'PrvDty':>6s}"
          f" {'Anon':>6s}")
    for name, f in shown + [("total", rollup(pid))]:
        print(f"  {name:28s} {f['Rss']:6d} {f['Pss']:6d} {f['Shared_Clean']:6d}"
              f" {f['Private_Clean']:6d} {f['Private_Dirty']:6d} {f['Anonymous']:6d}")
    libs = sum(1 for name in dict(rows) if ".so" in name)
    print(f"  ({libs} shared objects mapped; Anon = Private_Dirty here: the heap, the stack and"
          " each library's relocated data)")


def figures_line(f):
    return (f"Rss {f['Rss'] / MIB:.2f} MiB, Pss {f['Pss'] / MIB:.2f} MiB, private (USS) "
            f"{uss(f) / MIB:.2f} MiB, anonymous {f['Anonymous'] / MIB:.2f} MiB")


def peak_during(fn, pid):
    """Runs fn while sampling smaps_rollup of pid every 50 ms; returns (fn's result, the peak of
    each figure in KiB)."""
    peak = rollup(pid)
    peak["USS"] = uss(peak)
    peak["RssAnon"] = b.rss_kib(pid, "RssAnon")
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            now = rollup(pid)
            now["USS"] = uss(now)
            now["RssAnon"] = b.rss_kib(pid, "RssAnon")
            for key, value in now.items():
                peak[key] = max(peak.get(key, 0), value)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        result = fn()
    finally:
        done.set()
        t.join()
    return result, peak


def main():
    b.stop_on_sigterm()
    b.header("memory: RSS idle, under load, over repeated runs")
    wrapper = ("env",) + VH_ENV if VH_ENV else ()
    if VH_ENV:
        print(f"daemon environment: {' '.join(VH_ENV)}")
    print(f"daemon: {os.environ['VH_BIN']}")
    with b.workdir() as work, b.postgres() as pg, b.redis() as rd, b.app_stub() as app, \
            b.daemon(work, b.api_config(pg, rd, app), wrapper=wrapper) as vh:
        pid = vh.proc.pid
        url = f"http://127.0.0.1:{vh.port}/ready"
        b.wait_status(vh.port, 200)
        time.sleep(b.pick(6, 1))  # every check (5 s interval) has run at least once more
        idle_f = rollup(pid)
        idle = b.rss_kib(pid)
        idle_anon = b.rss_kib(pid, "RssAnon")
        print(f"idle VmRSS: {idle / MIB:.2f} MiB, RssAnon {idle_anon / MIB:.2f} MiB "
              f"(config/api.json's 5 checks); {figures_line(idle_f)}")
        print_breakdown(pid)
        after = []
        peaks = []
        for i in range(RUNS):
            headers = ("Connection: close",) if i % 2 else ()
            _, peak = peak_during(lambda: b.wrk(url, headers=headers), pid)
            time.sleep(0.5)
            after.append(rollup(pid))
            after[-1]["RssAnon"] = b.rss_kib(pid, "RssAnon")
            peaks.append(peak)
            print(f"  run {i + 1} ({'close' if headers else 'keep-alive'}): peak Rss "
                  f"{peak['Rss'] / MIB:.2f} MiB (RssAnon {peak['RssAnon'] / MIB:.2f}, USS "
                  f"{peak['USS'] / MIB:.2f}); after: Rss {after[-1]['Rss'] / MIB:.2f} MiB, "
                  f"RssAnon {after[-1]['RssAnon'] / MIB:.2f} MiB", flush=True)
        hwm = b.rss_kib(pid, "VmHWM")
        print("after the runs:")
        print_breakdown(pid, top=8)
    load = max([p["Rss"] for p in peaks] + [a["Rss"] for a in after])
    rss_max = max(load, idle)
    anon_after = max(a["RssAnon"] for a in after)
    anon_peak = max(p["RssAnon"] for p in peaks)
    growth = after[-1]["Rss"] - after[0]["Rss"]
    anon_growth = after[-1]["RssAnon"] - after[0]["RssAnon"]
    print(f"peak Rss under load {load / MIB:.2f} MiB, VmHWM {hwm / MIB:.2f} MiB; RssAnon idle "
          f"{idle_anon / MIB:.2f} MiB, after the runs at most {anon_after / MIB:.2f} MiB (peak "
          f"during them {anon_peak / MIB:.2f}); after-run Rss first {after[0]['Rss'] / MIB:.2f} "
          f"MiB, last {after[-1]['Rss'] / MIB:.2f} MiB (growth {growth} KiB, RssAnon "
          f"{anon_growth} KiB, over {RUNS - 1} runs)")
    ok_idle, ok_after = idle_anon <= 1.5 * 1024, anon_after <= 2 * 1024
    ok_rss = rss_max <= 8.5 * 1024
    ok_growth = growth <= 64 and anon_growth <= 64
    print(f"budget 4 (private memory, issue 12): RssAnon idle <= 1.5 MiB {b.verdict(ok_idle)}; "
          f"RssAnon after load <= 2 MiB {b.verdict(ok_after)}; Rss <= 8.5 MiB idle and under "
          f"load {b.verdict(ok_rss)}; no growth (<= 64 KiB after the first run) "
          f"{b.verdict(ok_growth)}")
    print(f"SUMMARY memory: RssAnon idle {idle_anon / MIB:.2f} MiB {b.verdict(ok_idle)}, after "
          f"load {anon_after / MIB:.2f} MiB {b.verdict(ok_after)}; Rss idle {idle / MIB:.2f}, "
          f"peak {load / MIB:.2f} MiB {b.verdict(ok_rss)} (Pss {idle_f['Pss'] / MIB:.2f}, USS "
          f"{uss(idle_f) / MIB:.2f}); growth {growth} KiB {b.verdict(ok_growth)}")

if __name__ == "__main__":
    main()
