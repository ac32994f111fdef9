"""Rewrite the README's key table from the command table (tui/commands.py).

    .venv/bin/python scripts/readme_keys.py          # rewrite README.md in place
    .venv/bin/python scripts/readme_keys.py --check  # exit 1 if README.md is out of date

tests/unit/test_commands.py fails while the README's table and the command table disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlops_tui.tui.commands import readme_key_table

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- keys: generated from tui/commands.py by scripts/readme_keys.py; edit the table there -->"
END = "<!-- /keys -->"


def with_key_table(text: str) -> str:
    """The README text with the block between the markers replaced by the generated table."""
    head, begin, rest = text.partition(BEGIN)
    _old, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"{README.name}: the markers {BEGIN!r} and {END!r} are missing")
    return f"{head}{BEGIN}\n{readme_key_table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    text = README.read_text("utf-8")
    updated = with_key_table(text)
    if "--check" in argv:
        if updated != text:
            print(f"{README.name}: the key table is out of date: run scripts/readme_keys.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(updated, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
