"""netns.py - a network namespace for one test module: `ip netns add`, a veth pair with a /30 of
10.200.X.0 (X.1 on the host end, X.2 inside), and iptables rules inside the namespace only.
Nothing else on the machine is touched: no other interface, no route beyond the one the kernel
adds for the veth's own /30, no host firewall rule. Everything is undone by close(), which the
context manager, an atexit hook and the next run's sweep of namespaces whose creator died all
call, so a failed or killed test run leaves nothing behind."""

import atexit
import os
import re
import shutil
import signal
import subprocess
import time
from typing import List, Optional, Sequence

# Namespaces are named PREFIX + the creating pid (+ a counter), so a later run can tell its
# own from a crashed run's, and both from anybody else's.
PREFIX = "vhnf"
SUBNET = "10.200"
CMD_TIMEOUT = 10.0


def _run(argv: Sequence[str], check: bool = True, timeout: float = CMD_TIMEOUT
         ) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with status {proc.returncode}: "
                           f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def available() -> Optional[str]:
    """None when namespaces and iptables inside them work here, else why not (for a loud
    pytest.skip). Tries it for real: a throwaway namespace, iptables -S and a statistic rule
    inside, then removes it."""
    for tool in ("ip", "iptables"):
        if not shutil.which(tool):
            return f"no `{tool}` (Debian packages iproute2 and iptables)"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN)"
    name = f"{PREFIX}{os.getpid()}probe"
    try:
        _run(["ip", "netns", "add", name])
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create a network namespace: {exc}"
    try:
        _run(["ip", "netns", "exec", name, "iptables", "-A", "INPUT", "-m", "statistic",
              "--mode", "random", "--probability", "0.3", "-j", "DROP"])
        _run(["ip", "netns", "exec", name, "iptables", "-F"])
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return f"iptables does not work inside a network namespace: {exc}"
    finally:
        _run(["ip", "netns", "del", name], check=False)
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> List[str]:
    """Deletes namespaces (and their processes) left by an earlier run of this module whose
    process is gone, e.g. after a SIGKILL. Returns their names."""
    out = _run(["ip", "netns", "list"], check=False).stdout
    removed = []
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        match = re.fullmatch(rf"{PREFIX}(\d+)(?:n(\d+)|probe)", name)
        if match and not _pid_alive(int(match.group(1))):
            count = int(match.group(2)) if match.group(2) else 0
            NetNs._remove(name, f"{_if_tag(int(match.group(1)), count)}h")
            removed.append(name)
    return removed


def _if_tag(pid: int, count: int) -> str:
    """The veth pair's names without their h/n ending: at most 15 characters in all."""
    return f"{PREFIX}{pid % 100000}{count}"


def _used_subnets() -> set:
    out = _run(["ip", "-4", "-o", "addr", "show"], check=False).stdout
    return {int(m) for m in re.findall(rf"inet {re.escape(SUBNET)}\.(\d+)\.", out)}


class NetNs:
    """One namespace with a veth pair: host_addr (on the host end, host_if) and ns_addr (inside,
    on ns_if, with lo up). exec_argv() wraps a command to run inside; iptables() adds a rule
    inside, and clear() removes them all again. close() kills whatever still runs inside, deletes
    the namespace and the host end, and waits until both are gone."""

    _count = 0

    def __init__(self):
        NetNs._count += 1
        self.name = f"{PREFIX}{os.getpid()}n{NetNs._count}"
        tag = _if_tag(os.getpid(), NetNs._count)
        self.host_if = f"{tag}h"
        self.ns_if = f"{tag}n"
        used = _used_subnets()
        free = [x for x in range(1, 255) if x not in used]
        if not free:
            raise RuntimeError(f"every {SUBNET}.X.0/30 is in use on this machine")
        self.x = free[os.getpid() % len(free)]
        self.host_addr = f"{SUBNET}.{self.x}.1"
        self.ns_addr = f"{SUBNET}.{self.x}.2"
        self.rules: List[list] = []
        self.closed = False
        atexit.register(self.close)
        try:
            self._create()
        except BaseException:
            self.close()
            raise

    def _create(self) -> None:
        _run(["ip", "netns", "add", self.name])
        _run(["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if])
        _run(["ip", "link", "set", self.ns_if, "netns", self.name])
        _run(["ip", "addr", "add", f"{self.host_addr}/30", "dev", self.host_if])
        _run(["ip", "link", "set", self.host_if, "up"])
        _run(["ip", "-n", self.name, "addr", "add", f"{self.ns_addr}/30", "dev", self.ns_if])
        _run(["ip", "-n", self.name, "link", "set", self.ns_if, "up"])
        _run(["ip", "-n", self.name, "link", "set", "lo", "up"])

    def __enter__(self) -> "NetNs":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def exec_argv(self, argv: Sequence[str], user: Optional[str] = None) -> list:
        """argv run inside the namespace. `ip netns exec` needs root, so a user is switched to
        after it, with setpriv, which execs in place: signals sent to the child reach the
        server itself."""
        prefix = ["ip", "netns", "exec", self.name]
        if user:
            prefix += ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"]
        return prefix + list(argv)

    def iptables(self, *rule: str) -> None:
        """Appends a rule to the namespace's filter table ("-A", "INPUT", ...); clear() or
        delete() takes it out again."""
        rule = list(rule)
        _run(self.exec_argv(["iptables", "-w", "2"] + rule))
        if rule and rule[0] in ("-A", "-I"):
            self.rules.append(rule)

    def delete(self, *rule: str) -> None:
        """Deletes one rule added by iptables() (give the same words, with -A or -I)."""
        rule = list(rule)
        _run(self.exec_argv(["iptables", "-w", "2", "-D"] + rule[1:]))
        self.rules = [r for r in self.rules if r[1:] != rule[1:]]

    def clear(self) -> None:
        """Removes every rule inside the namespace."""
        _run(self.exec_argv(["iptables", "-w", "2", "-F"]))
        self.rules.clear()

    def rule_list(self) -> str:
        return _run(self.exec_argv(["iptables", "-w", "2", "-S"])).stdout

    def pids(self) -> List[int]:
        out = _run(["ip", "netns", "pids", self.name], check=False).stdout
        return [int(p) for p in out.split() if p.isdigit()]

    @staticmethod
    def _remove(name: str, host_if: str) -> None:
        out = _run(["ip", "netns", "pids", name], check=False).stdout
        for pid in (int(p) for p in out.split() if p.isdigit()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _run(["ip", "netns", "del", name], check=False)
        # The kernel destroys the namespace's end asynchronously, and the host end with it.
        _run(["ip", "link", "del", host_if], check=False)

    def close(self) -> None:
        """Kills what still runs inside, deletes the namespace and the veth pair, and waits
        (at most 5 s) until neither is listed any more. Safe to call more than once."""
        if self.closed:
            return
        self.closed = True
        atexit.unregister(self.close)
        self._remove(self.name, self.host_if)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if not self.exists() and not self._host_if_exists():
                return
            _run(["ip", "link", "del", self.host_if], check=False)
            time.sleep(0.05)
        raise RuntimeError(f"namespace {self.name} or {self.host_if} is still there after 5 s")

    def exists(self) -> bool:
        out = _run(["ip", "netns", "list"], check=False).stdout
        return any(line.split()[0] == self.name for line in out.splitlines() if line.split())

    def _host_if_exists(self) -> bool:
        return _run(["ip", "link", "show", self.host_if], check=False).returncode == 0
