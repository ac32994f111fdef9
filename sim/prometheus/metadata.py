"""/api/v1/metadata: each metric family's type, help and unit, as the exporters' `# TYPE` and
`# HELP` lines would give them. The simulator's series come without those lines, so the type is read
from the naming conventions the exporters follow (`_bucket`/`_sum`/`_count` beside `le` buckets is a
histogram, `_total` a counter, anything else a gauge) unless the scenario described the family."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SYNTHETIC = {"up", "ALERTS", "ALERTS_FOR_STATE"}
"""Written by Prometheus itself (scrape loop, rule manager): no exporter metadata."""


def metadata(names: Iterable[str], described: Mapping[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    names = sorted(set(names) - SYNTHETIC)
    histograms = {n[: -len("_bucket")] for n in names if n.endswith("_bucket")}
    out: dict[str, dict[str, str]] = {}
    for name in names:
        family = next((name[: -len(s)] for s in ("_bucket", "_sum", "_count")
                       if name.endswith(s) and name[: -len(s)] in histograms), None)
        if family is not None:
            out.setdefault(family, {"type": "histogram", "help": "", "unit": ""})
        elif name.endswith("_total"):
            out[name] = {"type": "counter", "help": "", "unit": ""}
        else:
            out[name] = {"type": "gauge", "help": "", "unit": ""}
    for name, meta in described.items():
        if name in out:
            out[name] = {**out[name], **meta}
    return out
