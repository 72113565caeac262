"""ready_watch.py - polls GET /ready of several daemons from a background thread through an
episode (a dependency stopped and restarted, daemons killed) and records every answer, so that a
test can show that no replica ever answered 503 and when each one changed its mind."""

import http.client
import json
import threading
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence


class Sample(NamedTuple):
    """One answer: when it arrived (time.monotonic()), from which daemon (its index in the
    list given), its status (None when no answer came: error says why) and summary(body)."""

    t: float
    index: int
    status: Optional[int]
    summary: Optional[dict]
    error: str = ""


def fleet_summary(doc: dict) -> dict:
    """What the fleet tests look at in a /ready JSON body: the top-level "fleet" object and,
    per check, its status ("ready", "unready", "shared_outage"), result and fleet verdict."""
    checks = doc.get("checks") or {}
    return {
        "status": doc.get("status"),
        "fleet": doc.get("fleet"),
        "checks": {
            name: {"status": c.get("status"), "result": c.get("result"),
                   "verdict": (c.get("fleet") or {}).get("verdict")}
            for name, c in checks.items()
        },
    }


class ReadyWatcher:
    """Asks each daemon (anything with .host and .port) for path every `every` seconds, one
    keep-alive connection per daemon, all from one thread, and keeps every answer as a Sample.
    forget(i) stops asking daemon i (one killed on purpose). Use as a context manager."""

    def __init__(self, daemons: Sequence, every: float = 0.03, path: str = "/ready",
                 summary: Callable[[dict], dict] = fleet_summary, timeout: float = 2.0):
        self.targets = [(d.host, d.port) for d in daemons]
        self.every = every
        self.path = path
        self.summary = summary
        self.timeout = timeout
        self._samples: List[Sample] = []
        self._forgotten: set = set()
        self._conns: Dict[int, http.client.HTTPConnection] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = 0.0  # time.monotonic() when polling began

    def __enter__(self) -> "ReadyWatcher":
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._thread.join(10)
        for conn in self._conns.values():
            conn.close()

    def forget(self, index: int) -> None:
        with self._lock:
            self._forgotten.add(index)

    def samples(self, index: Optional[int] = None, since: float = 0.0) -> List[Sample]:
        with self._lock:
            return [s for s in self._samples
                    if (index is None or s.index == index) and s.t >= since]

    def latest(self, index: int) -> Optional[Sample]:
        with self._lock:
            for s in reversed(self._samples):
                if s.index == index:
                    return s
        return None

    def rounds(self) -> int:
        """How many times every daemon still asked has been polled (at least)."""
        with self._lock:
            counts: Dict[int, int] = {}
            for s in self._samples:
                counts[s.index] = counts.get(s.index, 0) + 1
            asked = [i for i in range(len(self.targets)) if i not in self._forgotten]
            return min((counts.get(i, 0) for i in asked), default=0)

    def _ask(self, index: int) -> Sample:
        host, port = self.targets[index]
        conn = self._conns.get(index)
        if conn is None:
            conn = self._conns[index] = http.client.HTTPConnection(host, port,
                                                                   timeout=self.timeout)
        try:
            conn.request("GET", self.path)
            resp = conn.getresponse()
            body = resp.read()
            summary = None
            try:
                summary = self.summary(json.loads(body))
            except ValueError:
                pass
            return Sample(time.monotonic(), index, resp.status, summary)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self._conns.pop(index, None)
            return Sample(time.monotonic(), index, None, None, repr(exc))

    def _run(self) -> None:
        while not self._stopping.is_set():
            for index in range(len(self.targets)):
                with self._lock:
                    if index in self._forgotten:
                        continue
                sample = self._ask(index)
                with self._lock:
                    if index not in self._forgotten:
                        self._samples.append(sample)
            self._stopping.wait(self.every)
