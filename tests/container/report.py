"""report.py - the figures the container suite measures (step times, bounds against measured
times, sizes), printed after the run and written as JSON where VH_CONTAINER_REPORT says."""

import json
import os
from typing import Optional


class Report:
    """An ordered list of measurements; one line each in the summary."""

    def __init__(self) -> None:
        self.entries: list = []

    def seconds(self, what: str, value: float, bound: Optional[float] = None,
                note: str = "") -> None:
        """Records a duration; with bound, the most it may take (the test asserts it)."""
        self.entries.append({"what": what, "seconds": round(value, 2),
                             "bound": None if bound is None else round(bound, 2), "note": note})

    def value(self, what: str, value, unit: str, note: str = "") -> None:
        self.entries.append({"what": what, "value": value, "unit": unit, "note": note})

    def lines(self) -> list:
        out = []
        for e in self.entries:
            if "seconds" in e:
                text = f"{e['what']}: {e['seconds']:.2f} s"
                if e["bound"] is not None:
                    text += f" (bound {e['bound']:.2f} s)"
            else:
                text = f"{e['what']}: {e['value']}" + (f" {e['unit']}" if e["unit"] else "")
            out.append(text + (f"; {e['note']}" if e["note"] else ""))
        return out

    def write(self) -> None:
        path = os.environ.get("VH_CONTAINER_REPORT")
        if path:
            with open(path, "w") as f:
                json.dump(self.entries, f, indent=1)
                f.write("\n")
