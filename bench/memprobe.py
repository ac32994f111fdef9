"""`mlops-tui` with a memory probe, for `bench/soak.py --probe`: is RSS growth memory the app still
holds (a leak), or memory the allocator keeps after a peak (high-water)?

A daemon thread appends one JSON line to $MLOPS_MEMPROBE every 10 s: RSS, live Python blocks
(`sys.getallocatedblocks`, what pymalloc and the object allocator hold *now*), objects the collector
tracks, and tracemalloc's current/peak. It also acts on command files `$MLOPS_MEMPROBE.cmd.<n>.<what>`:
- `snapshot`: a tracemalloc snapshot (with $MLOPS_MEMPROBE_TRACE=1), dumped beside it; `compare()`
  lists the lines of code whose memory grew between two of them;
- `trim`: `gc.collect()` then glibc's `malloc_trim(0)`, with RSS before and after (memory the app no
  longer holds goes back to the OS: a drop to the baseline is high-water, no drop is retained memory).

    .venv/bin/python bench/memprobe.py [mlops-tui options]
"""

from __future__ import annotations

import ctypes
import gc
import glob
import json
import os
import sys
import tempfile
import threading
import time
import tracemalloc

OUT = os.environ.get("MLOPS_MEMPROBE", "")
START = time.monotonic()


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def write(record: dict) -> None:
    record["t"] = round(time.monotonic() - START, 1)
    with open(OUT, "a") as f:
        f.write(json.dumps(record) + "\n")


def pymalloc() -> dict[str, int]:
    """pymalloc's own figures (`sys._debugmallocstats`, which writes to fd 2): arenas held now and at
    most, bytes in live blocks and in free ones. RSS that grows while live bytes do not is arenas kept
    partly used (fragmentation), not objects kept."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    wanted = {"arenas allocated current": "arenas", "arenas highwater mark": "arenas_peak",
              "bytes in allocated blocks": "live_bytes", "bytes in available blocks": "free_bytes"}
    figures = {}
    for line in text.splitlines():
        name, _, value = line.lstrip("# ").partition("=")
        if name.strip() in wanted:
            figures[wanted[name.strip()]] = int(value.strip().replace(",", ""))
    return figures


def sample() -> dict:
    current, peak = tracemalloc.get_traced_memory()
    return {"what": "sample", "rss": round(rss_mb(), 1), "blocks": sys.getallocatedblocks(),
            "gc_objects": len(gc.get_objects()), "traced_mb": round(current / 2**20, 1),
            "traced_peak_mb": round(peak / 2**20, 1), **pymalloc()}


def probe() -> None:
    next_sample = 0.0
    while True:
        if time.monotonic() >= next_sample:
            write(sample())
            next_sample = time.monotonic() + 10.0
        for path in sorted(glob.glob(f"{OUT}.cmd.*")):
            number, what = path.rsplit(".", 2)[1:]
            os.remove(path)
            if what == "snapshot" and tracemalloc.is_tracing():
                # To a file, compared after the run (`compare`): a snapshot held here would be the growth.
                tracemalloc.take_snapshot().dump(f"{OUT}.snap.{number}")
                write({**sample(), "what": "snapshot", "file": f"{OUT}.snap.{number}"})
            elif what == "trim":
                before = sample()
                gc.collect()
                ctypes.CDLL("libc.so.6").malloc_trim(0)
                write({"what": "trim", "before": before, "after": sample()})
        time.sleep(0.5)


def compare(first: str, last: str, top: int = 15) -> list[str]:
    """The lines of code holding more memory in `last` than in `first` (tracemalloc dumps), largest first."""
    ignore = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__))
    old = tracemalloc.Snapshot.load(first).filter_traces(ignore)
    new = tracemalloc.Snapshot.load(last).filter_traces(ignore)
    return [f"{s.size_diff / 2**20:+.2f} MB {s.count_diff:+d} blocks {s.traceback[0].filename}:{s.traceback[0].lineno}"
            for s in new.compare_to(old, "lineno")[:top]]


def main() -> int:
    if OUT:
        if os.environ.get("MLOPS_MEMPROBE_TRACE") == "1":
            tracemalloc.start(1)
        threading.Thread(target=probe, name="memprobe", daemon=True).start()
    from mlops_tui.tui.cli import main as mlops_tui

    return mlops_tui(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
