"""First frame in instructions: process start -> the first frame composed, counted by callgrind.

`startup.py` times the first frame on the wall clock, and on a shared machine its medians swing more
than most changes move them (one run saw the hello-world app's median at 484 ms in one scenario and
340 ms in the next). The instructions executed to the same point do not swing (two runs of one tree
agree within 0.01 % with a fixed hash seed), so a change to start-up is judged here, against the
hello-world Textual app counted in the same run, and `startup.py` says what it costs in time.

Each start is `mlops-tui`'s own `main(argv)`, its App run headless at 120x40 (`App.run` given
`headless=True, size=...`), with a fixed PYTHONHASHSEED, the bytecode compiled (as `pip install`
leaves it), and ends with `os._exit` right after Textual hands its first frame to the driver. The app
keeps its stylesheet parses between starts (tui/stylesheet_cache.py): each tree is started once,
uncounted, before it is counted, as an operator's previous start left it; this tree is also counted
from an empty cache (the first start after an install, an upgrade or a theme change). The app is
`mlops-tui --swarm tcp://127.0.0.1:9` (an engine nobody answers: the first frame never waits for
one, and no simulator's work is counted). `--before COMMIT` counts that commit's tree too (a
`git archive` export run with the same interpreter).

Target (issue 21): the first frame within 1.25x the hello-world app's (read here without the noise).

    .venv/bin/python bench/first_frame_instructions.py [--before COMMIT] [--write]
    .venv/bin/python bench/first_frame_instructions.py --dry   # the starts alone, no valgrind (smoke)
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import PYTHON, command_line, isolated_env, machine_line, table, update_results

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.25
SIZE = (120, 40)

LAUNCHER = """
import os, sys
tree, which, SIZE = sys.argv[1], sys.argv[2], (int(sys.argv[3]), int(sys.argv[4]))
if tree:
    sys.path.insert(0, tree)  # ahead of the installed package: the tree being counted
import textual.app

def first_frame_then_exit(self, screen, renderable):
    show(self, screen, renderable)
    sys.stdout.flush()
    if os.environ.get("KEEP_PARSES") and hasattr(self, "parsed_stylesheets"):
        self.parsed_stylesheets.save()  # what the app does just after its first frame
    os._exit(0)

show, run = textual.app.App._display, textual.app.App.run
textual.app.App._display = first_frame_then_exit
textual.app.App.run = lambda self, *a, **k: run(self, *a, **{**k, "size": SIZE, "headless": True})
if which == "hello":
    from textual.widgets import Static

    class Hello(textual.app.App):
        def compose(self):
            yield Static("hello")

    Hello().run(headless=True)
else:
    from mlops_tui.tui.cli import main  # the `mlops-tui` command itself, its App run headless

    main(["--swarm", "tcp://127.0.0.1:9", "--audit-log", os.environ["AUDIT_LOG"]])
sys.exit("no frame was drawn")
"""


def compile_tree(folder: Path) -> None:
    subprocess.run([PYTHON, "-m", "compileall", "-q", *(str(folder / part) for part in ("tui", "backends", "themes"))],
                   check=True, stdout=subprocess.DEVNULL)


def export(commit: str, into: Path) -> Path:
    """The commit's tree laid out as the package (`mlops_tui/tui`, ...), compiled: what goes on sys.path."""
    source = into / "source"
    source.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
    with tempfile.TemporaryFile() as fh:
        fh.write(archive)
        fh.seek(0)
        with tarfile.open(fileobj=fh) as tar:
            tar.extractall(source, filter="data")
    package = into / "package" / "mlops_tui"
    package.mkdir(parents=True)
    (package / "__init__.py").symlink_to(source / "mlops_tui" / "__init__.py")
    for part in ("tui", "backends", "themes", "sim"):
        (package / part).symlink_to(source / part)
    compile_tree(source)
    return package.parent


def count(which: str, tree: str, home: Path, dry: bool, warm: bool = True) -> int | None:
    """Instructions to the first frame (None with --dry: the start alone, checked to reach its frame).
    `warm`: after one uncounted start that kept its stylesheet parses; otherwise from an empty cache."""
    env = isolated_env(home, {"PYTHONHASHSEED": "0", "AUDIT_LOG": str(home / "audit.jsonl")})
    shutil.rmtree(home / "cache", ignore_errors=True)
    argv = [PYTHON, "-c", LAUNCHER, tree, which, *map(str, SIZE)]
    if warm:
        subprocess.run(argv, env={**env, "KEEP_PARSES": "1"}, check=True, capture_output=True, timeout=120)
    if dry:
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=120)
        return None
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], env=env,
                         check=True, capture_output=True, text=True, timeout=900)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if not found:
        raise SystemExit(f"callgrind printed no count:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def millions(n: int) -> str:
    return f"{n / 1e6:,.0f} M"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="also count this commit's tree (e.g. the session's first commit)")
    parser.add_argument("--dry", action="store_true", help="run the starts without valgrind (a smoke check)")
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    args = parser.parse_args()
    if not args.dry and shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    compile_tree(ROOT)
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        home = Path(tmp)
        trees = [("hello-world Textual app (one Static)", "hello", "", True),
                 ("this tree", "app", "", True),
                 ("this tree, first start (no stylesheet parses kept)", "app", "", False)]
        if args.before:
            trees.insert(1, (f"{args.before} (`git archive`)", "app", str(export(args.before, home / "before")), True))
        counts = [(name, count(which, tree, home, args.dry, warm)) for name, which, tree, warm in trees]
    if args.dry:
        print("every start reached its first frame")
        return
    (hello_name, hello), *apps = counts
    assert hello is not None
    rows = [[hello_name, millions(hello), "", "", ""]]
    for name, n in apps:
        assert n is not None
        ok = n <= TARGET * hello
        rows.append([name, millions(n), f"{n / hello:.2f}x", millions(n - hello),
                     f"<= {TARGET:.2f}x: {'met' if ok else '**missed**'}"])
    out = table(["start", "instructions to the first frame", "/ hello-world", "ours above it", "target"], rows)
    print(out)
    if args.write:
        update_results("First frame in instructions (`bench/first_frame_instructions.py`)",
                       f"`{command_line()}` ({machine_line()}; callgrind, PYTHONHASHSEED=0, headless "
                       f"{SIZE[0]}x{SIZE[1]}, bytecode compiled)\n\n{out}\n")


if __name__ == "__main__":
    main()
