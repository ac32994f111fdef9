"""Fewer style bytes on the wire: SGR sequences sent only when the style a character needs changes.

Rich renders every segment as `ESC[<full style>m text ESC[0m`, so a table row of eight segments sends
eight full truecolour styles (~33 bytes each) and eight resets, even where two neighbours share a
background and differ only in foreground. Under churn that was 70 % of the bytes sent to the terminal
(bench/frame_bytes.py). `SgrCompactor` rewrites what Textual writes: it follows the style the original
stream has in force (its "logical" style) and the style the terminal really has, and only when text,
or anything else that paints cells (an erase, a line feed), is about to be written does it send the
difference between the two: nothing when they agree, just the colour that changed when the attributes
agree, the full style after a reset otherwise. Cursor moves paint nothing and do not flush. Each
write ends with the terminal in the style the original stream left it in (Textual ends in a reset), so
whatever writes next starts where it expects. The screen's cells, characters and styles, are exactly
those the original stream paints (tests/unit/test_sgr.py checks it cell by cell).
"""

from __future__ import annotations

import re

# An SGR sequence, a cursor move (paints nothing), or a run of anything else.
_TOKEN = re.compile(r"\x1b\[(?P<sgr>[0-9;]*)m|(?P<move>\x1b\[[0-9;]*[HfABCDGd])")

Parsed = tuple[frozenset[str], str | None, str | None]  # attributes, foreground, background


def _parse(codes: list[str]) -> Parsed | None:
    """The style `codes` set from a reset, or None for anything this module does not model."""
    attrs: set[str] = set()
    fg = bg = None
    i = 0
    while i < len(codes):
        code = codes[i]
        if code in ("38", "48"):
            if i + 2 < len(codes) and codes[i + 1] == "5":
                colour, i = ";".join(codes[i:i + 3]), i + 3
            elif i + 4 < len(codes) and codes[i + 1] == "2":
                colour, i = ";".join(codes[i:i + 5]), i + 5
            else:
                return None
            if code == "38":
                fg = colour
            else:
                bg = colour
            continue
        if not code.isdigit():
            return None
        n = int(code)
        if n == 0:
            attrs, fg, bg = set(), None, None
        elif 30 <= n <= 37 or 90 <= n <= 97:
            fg = code
        elif 40 <= n <= 47 or 100 <= n <= 107:
            bg = code
        elif n == 39:
            fg = None
        elif n == 49:
            bg = None
        elif 1 <= n <= 9 or n in (51, 52, 53):
            attrs.add(code)
        else:  # attribute-off codes (21-29...) and the rest: left to the full form
            return None
        i += 1
    return frozenset(attrs), fg, bg


def _transition(actual: list[str], logical: list[str]) -> str:
    """The SGR parameters that take the terminal from `actual` to `logical` (both: codes since a reset)."""
    if not logical:
        return "0"
    have, want = _parse(actual), _parse(logical)
    if have is None or want is None or not have[0] <= want[0]:
        return ";".join(["0", *logical])
    out = sorted(want[0] - have[0], key=int)
    for now, wanted, default in ((have[1], want[1], "39"), (have[2], want[2], "49")):
        if now != wanted:
            out.append(wanted if wanted is not None else default)
    return ";".join(out)


class SgrCompactor:
    """Rewrites a terminal output stream so that each style is sent once, when it is needed."""

    def __init__(self) -> None:
        self._actual: list[str] = []  # SGR codes in force on the terminal, since its last reset
        self._logical: list[str] = []  # SGR codes the original stream has in force

    def _set(self, codes: str) -> None:
        parts = codes.split(";")
        i = start = 0
        while i < len(parts):  # a reset inside the list (not a 0 inside a colour) drops what came before
            if parts[i] in ("38", "48") and i + 1 < len(parts):
                i += 3 if parts[i + 1] == "5" else 5 if parts[i + 1] == "2" else 1
                continue
            if parts[i] in ("0", ""):
                start = i + 1
                self._logical = []
            i += 1
        self._logical = self._logical + parts[start:]

    def _flush(self, out: list[str]) -> None:
        if self._actual == self._logical:
            return
        have, want = _parse(self._actual), _parse(self._logical)
        if have is not None and have == want:
            self._actual = list(self._logical)
            return
        out.append(f"\x1b[{_transition(self._actual, self._logical)}m")
        self._actual = list(self._logical)

    def feed(self, data: str) -> str:
        """`data` as the terminal should receive it; ends in the style `data` leaves in force."""
        out: list[str] = []
        pos = 0
        for m in _TOKEN.finditer(data):
            if m.start() > pos:  # text or another sequence: it may paint cells with the current style
                self._flush(out)
                out.append(data[pos:m.start()])
            pos = m.end()
            sgr = m.group("sgr")
            if sgr is not None:
                self._set(sgr)
            else:
                out.append(m.group("move"))
        if pos < len(data):
            self._flush(out)
            out.append(data[pos:])
        self._flush(out)
        return "".join(out)
