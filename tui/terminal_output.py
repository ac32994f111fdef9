"""Fewer bytes to the terminal: each style sent once, and cells the terminal already shows not sent again.

Over SSH every byte is latency. What Textual writes for a frame is, for each repainted line of a
widget, a cursor move and the whole line, every segment as `ESC[<full style>m text ESC[0m`: a services
row whose state changed resends its name, cluster and version, and eight full truecolour styles (~33
bytes each) with eight resets. Under churn 70 % of the bytes were styles and 7 % of the cells written
had changed (bench/frame_bytes.py). `OutputCompactor` rewrites that stream, keeping its meaning:

- It follows the style the original stream has in force (its "logical" style) and the style the
  terminal really has, and sends the difference only when a character, or anything else that may
  paint cells, is about to be written: nothing when they agree, only the colour that changed when the
  attributes agree, the full style after a reset otherwise.
- It keeps what it has put in each cell (character and style) and, where a line is rewritten at a
  known position, sends only the cells that differ, moving the cursor over those that do not (a gap
  of up to three cells is cheaper to resend than to jump). A line feed straight before a cursor move
  is dropped (the move places the next line).
- What it does not model (other escapes, a line feed it keeps, text at an unknown position, wide or
  zero-width characters) is passed through and makes it forget what it knew: the cells it can no
  longer vouch for are sent in full next time. `forget()` drops everything (the terminal was resized).

Each write ends with the terminal's cursor and style where the original stream left them (Textual
ends a frame with a reset and a move to the app's cursor), so whatever writes next starts where it
expects. It relies on Textual writing whole escape sequences, never half of one. The cells on screen
are exactly those the original stream paints (tests/unit/test_terminal_output.py checks cell by cell).
"""

from __future__ import annotations

import re
from functools import lru_cache

from rich.cells import get_character_cell_size

_TOKEN = re.compile(
    r"\x1b\[(?P<sgr>[0-9;:]*)m"  # sub-parameters (4:3) are kept, sent in the full form
    r"|(?P<cup>\x1b\[(\d+);(\d+)H)"  # an absolute cursor move (1-based row;column)
    r"|(?P<inert>\x1b\[\?(?:2026|25)[hl])"  # synchronized output, cursor shown/hidden: paint nothing
    r"|(?P<lf>\n)"
    r"|(?P<cr>\r)"
    r"|(?P<text>[^\x00-\x1f\x7f\x1b]+)"
    r"|(?P<other>\x1b\[[0-9;?<>=:]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.|[\x00-\x1f\x7f])",
    re.S,
)
_RESEND_GAP = 3  # cells: resending up to this many costs fewer bytes than a cursor move

Parsed = tuple[frozenset[str], str | None, str | None]  # attributes, foreground, background


@lru_cache(maxsize=4096)  # pure, and a screen uses a few dozen styles: parsed once each
def _parse(codes: tuple[str, ...]) -> Parsed | None:
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


@lru_cache(maxsize=4096)  # pure, and a screen uses a few dozen styles: parsed once each
def _transition(actual: tuple[str, ...], logical: tuple[str, ...]) -> str:
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


@lru_cache(maxsize=4096)  # pure, and a screen uses a few dozen styles: parsed once each
def _after(logical: tuple[str, ...], codes: str) -> tuple[str, ...]:
    """The codes in force after an SGR sequence with `codes` (a reset inside it, not a 0 inside a
    colour, drops what came before)."""
    parts = codes.split(";")
    i = start = 0
    while i < len(parts):
        if parts[i] in ("38", "48") and i + 1 < len(parts):
            i += 3 if parts[i + 1] == "5" else 5 if parts[i + 1] == "2" else 1
            continue
        if parts[i] in ("0", ""):
            start = i + 1
            logical = ()
        i += 1
    return logical + tuple(parts[start:])


class _Row:
    """What the terminal shows on one line: each cell's character and style (None: not known)."""

    __slots__ = ("chars", "styles")

    def __init__(self) -> None:
        self.chars: list[str | None] = []
        self.styles: list[tuple[str, ...] | None] = []

    def reach(self, end: int) -> None:
        """Make room for cells up to `end` (unknown until written)."""
        if len(self.chars) < end:
            pad = end - len(self.chars)
            self.chars.extend([None] * pad)
            self.styles.extend([None] * pad)


class OutputCompactor:
    """Rewrites a terminal output stream: styles sent once, unchanged cells not sent again."""

    def __init__(self) -> None:
        self._actual: tuple[str, ...] = ()  # SGR codes in force on the terminal, since its last reset
        self._logical: tuple[str, ...] = ()  # SGR codes the original stream has in force
        self._cursor: tuple[int, int] | None = None  # where the terminal's cursor is (x, y), if known
        self._at: tuple[int, int] | None = None  # where the original stream's cursor is, if known
        self._rows: dict[int, _Row] = {}  # y -> what the terminal shows on that line

    def forget(self) -> None:
        """Forget what the terminal shows: every cell is sent again (after a resize, say)."""
        self._rows.clear()

    def feed(self, data: str) -> str:
        """`data` as the terminal should receive it; leaves cursor and style where `data` leaves them."""
        out: list[str] = []
        tokens = list(_TOKEN.finditer(data))
        for i, m in enumerate(tokens):
            kind = m.lastgroup
            if kind == "sgr":
                self._logical = _after(self._logical, m.group("sgr"))
            elif kind == "cup":
                self._at = (int(m.group(4)) - 1, int(m.group(3)) - 1)
            elif kind == "text":
                self._text(m.group("text"), out)
            elif kind == "inert":
                out.append(m.group(0))
            elif kind == "cr":
                self._place(out)
                out.append("\r")
                self._at = self._cursor = (0, self._at[1]) if self._at is not None else None
            elif kind == "lf" and i + 1 < len(tokens) and tokens[i + 1].lastgroup == "cup":
                continue  # the move that follows places the next line; a line feed could only scroll
            else:  # a line feed that may scroll, another escape, a control: not modelled
                self._place(out)
                self._style(self._logical, out)
                out.append(m.group(0))
                self._at = self._cursor = None
                self.forget()
        self._place(out)
        self._style(self._logical, out)
        return "".join(out)

    def _place(self, out: list[str]) -> None:
        """Move the terminal's cursor to the original stream's, if it is elsewhere."""
        if self._at is not None and self._at != self._cursor:
            out.append(f"\x1b[{self._at[1] + 1};{self._at[0] + 1}H")
            self._cursor = self._at

    def _style(self, codes: tuple[str, ...], out: list[str]) -> None:
        """Put the terminal in the style `codes` (since a reset) if it is not in it already."""
        if self._actual == codes:
            return
        have = _parse(self._actual)
        if have is None or have != _parse(codes):
            out.append(f"\x1b[{_transition(self._actual, codes)}m")
        self._actual = codes

    def _text(self, text: str, out: list[str]) -> None:
        if self._at is None or not (text.isascii() or all(get_character_cell_size(c) == 1 for c in text)):
            self._place(out)
            self._style(self._logical, out)
            out.append(text)
            if self._at is None:
                self.forget()
            else:  # wide or zero-width characters: the rest of this line is no longer known
                x, y = self._at
                row = self._rows.get(y)
                if row is not None:
                    del row.chars[x:], row.styles[x:]
            self._at = self._cursor = None
            return
        x, y = self._at
        row = self._rows.get(y)
        if row is None:
            row = self._rows[y] = _Row()
        style = self._logical
        n = len(text)
        end = x + n
        row.reach(end)
        chars, styles = row.chars, row.styles
        # Whole segments first, at C speed: the same text in the same style (an unchanged cell run: nothing
        # to send) or cells never seen (the first frame, after a resize: sent as they are).
        if chars[x:end] == list(text) and styles[x:end] == [style] * n:
            self._at = (end, y)
            return
        if chars[x:end].count(None) == n:
            self._reach(x, y, row, out)
            self._style(style, out)
            out.append(text)
            chars[x:end] = text
            styles[x:end] = [style] * n
            self._cursor = self._at = (end, y)
            return
        for ch in text:
            if chars[x] != ch or styles[x] != style:
                self._reach(x, y, row, out)
                self._style(style, out)
                out.append(ch)
                chars[x], styles[x] = ch, style
                self._cursor = (x + 1, y)
            x += 1
        self._at = (x, y)

    def _reach(self, x: int, y: int, row: _Row, out: list[str]) -> None:
        """Bring the terminal's cursor to (x, y): over a short gap of known cells by resending them."""
        if self._cursor == (x, y):
            return
        if self._cursor is not None and self._cursor[1] == y and 0 < x - self._cursor[0] <= _RESEND_GAP:
            start = self._cursor[0]
            chars, styles = row.chars[start:x], row.styles[start:x]
            if None not in chars:
                for ch, style in zip(chars, styles, strict=True):
                    assert ch is not None and style is not None
                    self._style(style, out)
                    out.append(ch)
                self._cursor = (x, y)
                return
        out.append(f"\x1b[{y + 1};{x + 1}H")
        self._cursor = (x, y)
