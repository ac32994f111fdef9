"""What the frames carry under churn: the bytes of each frame, classified (a diagnosis tool, not a figure).

Same setup as `ssh_cost.py` (one Kubernetes sim, 500 services x 10 pods, 200 GPU nodes, 120x40 pty),
then --rate deployment changes/s for --churn seconds with every chunk of output kept. Each frame is
cut at its cursor moves into line writes (a move + what follows it); each write is classified as
cursor moves, SGR style sequences, other escapes and text, charged to the screen row it lands on, and
compared with that row before the frame: the cells that really changed, against the cells written.
At the end, the screen the frames built is checked against a full repaint (forced by a resize).

    .venv/bin/python bench/frame_bytes.py [--churn 20] [--rate 200] [--dump 3]
"""

from __future__ import annotations

import argparse
import fcntl
import re
import struct
import sys
import termios
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import _TOKEN, SYNC_END, SYNC_START, FleetApp, PtyApp, VirtualScreen, visible_rows

_RAW: list[str] = []
_feed = PtyApp._feed


def _recording_feed(self: PtyApp, text: str, t: float, nbytes: int) -> None:
    _RAW.append(text)
    _feed(self, text, t, nbytes)


PtyApp._feed = _recording_feed  # type: ignore[method-assign]


def frames_of(raw: str) -> list[str]:
    """The synchronized frames in `raw` (the text between each ?2026h and its ?2026l)."""
    out = []
    pos = 0
    while True:
        start = raw.find(SYNC_START, pos)
        if start < 0:
            return out
        end = raw.find(SYNC_END, start)
        if end < 0:
            return out
        out.append(raw[start + len(SYNC_START):end])
        pos = end + len(SYNC_END)


def classify(frames: list[str], screen: VirtualScreen, region: dict[int, str]) -> dict:
    """Bytes by kind and by region, and written cells against changed cells, applying each frame to `screen`."""
    kinds: Counter = Counter()
    by_region: Counter = Counter()
    writes_by_region: Counter = Counter()
    written_cells = changed_cells = 0
    sgr_runs: Counter = Counter()
    for frame in frames:
        before = [row[:] for row in screen.cells]
        touched: dict[int, set[int]] = defaultdict(set)
        last_sgr = None
        for m in _TOKEN.finditer(frame):
            size = len(m.group(0).encode())
            y = screen.y
            if m.group("text") is not None:
                kinds["text"] += size
                x0 = screen.x
                screen.apply(m)
                touched[y].update(range(x0, min(screen.x, screen.cols)))
            elif m.group("final") == "m":
                kinds["SGR"] += size
                sgr_runs["same as the one before" if m.group(0) == last_sgr else "new"] += 1
                last_sgr = m.group(0)
                screen.apply(m)
            elif m.group("final") in ("H", "f", "A", "B", "C", "D", "G", "d"):
                kinds["cursor"] += size
                screen.apply(m)
                y = screen.y
                writes_by_region[region.get(y, f"row {y}")] += 1
            else:
                kinds["other"] += size
                screen.apply(m)
            by_region[region.get(y, f"row {y}")] += size
        for y, xs in touched.items():
            written_cells += len(xs)
            changed_cells += sum(1 for x in xs if before[y][x] != screen.cells[y][x])
    return {"kinds": kinds, "regions": by_region, "writes": writes_by_region, "written": written_cells,
            "changed": changed_cells, "sgr": sgr_runs}


def regions_of(lines: list[str]) -> dict[int, str]:
    """A name for each screen row, from what it shows (the panes' titles and borders)."""
    names: dict[int, str] = {}
    current = "top"
    for y, line in enumerate(lines):
        low = line.lower()
        for word in ("services", "gpu", "alerts", "latency"):
            if word in low and ("─" in line or "━" in line):
                current = word
        names[y] = current
    names[len(lines) - 1] = "status/key line"
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--churn", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--dump", type=int, default=2, help="print this many frames raw (repr)")
    args = parser.parse_args()
    kube = [{"name": "sim-a", "fleet": "scaled", "services": args.services, "pods_per_service": 10,
             "gpu_nodes": 200}]
    with FleetApp(kube) as fa:
        app = fa.app
        assert app is not None and fa.sims is not None
        if app.wait_for(lambda s: len(visible_rows(s.lines())) >= 5, 120) is None:
            raise SystemExit("the services never appeared on screen")
        fa.wait_quiet(3.0, 120)
        with app._cond:
            mark = len(_RAW)
            screen = VirtualScreen(app.cols, app.rows)
            screen.cells = [row[:] for row in app.screen.cells]
            lines = app.screen.lines()
        fa.sims.call("churn", rate=args.rate, duration=args.churn + 5)
        time.sleep(args.churn)
        with app._cond:
            raw = "".join(_RAW[mark:])
        fa.sims.call("churn_stop")
        fa.sims.wait_event("churn_done", 30)
        # The check: the screen the frames built, against the app's full repaint at the same size (a
        # resize makes the app repaint everything, and its output forget what the terminal shows).
        fa.wait_quiet(3.0, 60)
        built = app.snapshot()
        for cols in (app.cols - 20, app.cols):  # (a change of height alone repaints nothing)
            resized = time.monotonic()
            fcntl.ioctl(app._master, termios.TIOCSWINSZ, struct.pack("HHHH", app.rows, cols, 0, 0))
            app.next_frame(resized, 30)
            fa.wait_quiet(2.0, 60)
        repainted = app.snapshot()
    frames = frames_of(raw)
    print("screen before churn:")
    for y, line in enumerate(lines):
        print(f"{y:2d} {line}")
    region = regions_of(lines)
    for frame in frames[len(frames) // 2: len(frames) // 2 + args.dump]:
        print(f"--- a frame, {len(frame.encode())} bytes:")
        for piece in re.split(r"(?=\x1b\[\d+;\d+H)", frame):
            print("  ", repr(piece)[:400])
    result = classify(frames, screen, region)
    total = sum(result["kinds"].values())
    print(f"{len(frames)} frames, {total} bytes ({total / max(len(frames), 1):.0f}/frame), "
          f"{len(raw.encode()) - total} bytes outside frames or in sync marks")
    for name, counter in (("kind", result["kinds"]), ("region", result["regions"])):
        for key, n in counter.most_common():
            print(f"  {name:6s} {key:22s} {n:8d} B  {n / total:6.1%}")
    for key, n in result["writes"].most_common():
        print(f"  line writes in {key}: {n} ({n / max(len(frames), 1):.1f}/frame)")
    print(f"  cells written {result['written']}, cells that changed {result['changed']}")
    print(f"  SGR sequences: {dict(result['sgr'])}")
    sizes = sorted(len(f.encode()) for f in frames)
    if sizes:
        print(f"  frame bytes: median {sizes[len(sizes) // 2]}, p90 {sizes[len(sizes) * 9 // 10]}, max {sizes[-1]}")
    diff = [y for y, (a, b) in enumerate(zip(built, repainted, strict=True)) if a != b]
    print("  the screen the frames built equals a full repaint" if not diff else
          f"  DIFFERS from a full repaint on rows {diff}:\n" + "\n".join(f"{built[y]}\n{repainted[y]}" for y in diff))


if __name__ == "__main__":
    main()
