"""The output compactor (tui/terminal_output.py): fewer bytes, and every cell painted exactly as before."""

from __future__ import annotations

import random
import re

import pytest
from rich.cells import get_character_cell_size
from rich.color import Color
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from mlops_tui.tui.terminal_output import OutputCompactor

_TOKEN = re.compile(r"\x1b\[(?P<params>[0-9;?]*)(?P<final>[A-Za-z])|(?P<ctl>[\r\n])|(?P<text>[^\x1b\r\n]+)")
_OFF = {"22": ("1", "2"), "23": ("3",), "24": ("4", "21"), "25": ("5", "6"), "27": ("7",), "28": ("8",),
        "29": ("9",), "54": ("51", "52"), "55": ("53",)}


class StyledTerminal:
    """A terminal that keeps every cell's character and the full SGR state it was painted with."""

    def __init__(self, cols: int = 40, rows: int = 6) -> None:
        self.cols, self.rows = cols, rows
        self.x = self.y = 0
        self.attrs: set[str] = set()
        self.fg: str | None = None
        self.bg: str | None = None
        self.cells: dict[tuple[int, int], tuple[str, frozenset[str], str | None, str | None]] = {}

    def sgr(self, params: str) -> None:
        codes = params.split(";") if params else ["0"]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code in ("38", "48"):
                n = 3 if codes[i + 1] == "5" else 5
                colour = ";".join(codes[i:i + n])
                if code == "38":
                    self.fg = colour
                else:
                    self.bg = colour
                i += n
                continue
            if code in ("0", ""):
                self.attrs, self.fg, self.bg = set(), None, None
            elif code == "39":
                self.fg = None
            elif code == "49":
                self.bg = None
            elif code in _OFF:
                self.attrs -= set(_OFF[code])
            elif 30 <= int(code) <= 37 or 90 <= int(code) <= 97:
                self.fg = code
            elif 40 <= int(code) <= 47 or 100 <= int(code) <= 107:
                self.bg = code
            else:
                self.attrs.add(code)
            i += 1

    def write(self, data: str) -> StyledTerminal:
        for m in _TOKEN.finditer(data):
            if m.group("text") is not None:
                for ch in m.group("text"):
                    width = get_character_cell_size(ch)
                    if width == 0:
                        continue
                    self.cells[(self.x, self.y)] = (ch, frozenset(self.attrs), self.fg, self.bg)
                    if width == 2:
                        self.cells[(self.x + 1, self.y)] = ("", frozenset(self.attrs), self.fg, self.bg)
                    self.x += width
            elif m.group("ctl") == "\r":
                self.x = 0
            elif m.group("ctl") == "\n":
                self.y += 1
            elif m.group("final") == "m":
                self.sgr(m.group("params"))
            elif m.group("final") == "H":
                row, _, col = m.group("params").partition(";")
                self.y, self.x = int(row or 1) - 1, int(col or 1) - 1
            elif m.group("final") == "K":  # erase to the end of the line, in the current background
                for x in range(self.x, self.cols):
                    self.cells[(x, self.y)] = (" ", frozenset(), None, self.bg)
        return self

    def state(self) -> tuple:
        return frozenset(self.attrs), self.fg, self.bg, self.x, self.y


COMMON = [Style(color="#d0d0d0", bgcolor="#1c1c1c"), Style(color="#d787d7", bgcolor="#1c1c1c"),
          Style(color="#d0d0d0", bgcolor="#3a3a3a", bold=True)]


def random_style(rng: random.Random) -> Style | None:
    if rng.random() < 0.1:
        return None
    if rng.random() < 0.6:  # a table's few styles, most of the time
        return rng.choice(COMMON)
    colours = [Color.from_rgb(208, 208, 208), Color.from_rgb(215, 135, 215), Color.parse("red"),
               Color.parse("color(240)"), None]
    return Style(color=rng.choice(colours), bgcolor=rng.choice(colours), bold=rng.random() < 0.3,
                 reverse=rng.random() < 0.1, italic=rng.random() < 0.1, underline=rng.random() < 0.1)


def random_frame(rng: random.Random, console: Console) -> str:
    """What Textual writes for a frame: for each chop, a cursor move and the strip's rendering. Lines
    come back often to the same places with much the same content, as a table's rows do."""
    parts = []
    for _ in range(rng.randint(1, 6)):
        parts.append(f"\x1b[{rng.randint(1, 6)};{rng.choice([1, 2, 5, 9])}H")
        words = ["ab", " ", "─", "x y z", "◼ full", "ok"] * 6 + ["日本", "e\u0301"]  # wide, zero-width: rare
        segments = [Segment(rng.choice(words), random_style(rng)) for _ in range(rng.randint(1, 8))]
        parts.append(Strip(segments).render(console))
        parts.append(rng.choice(["", "", "", "\n", "\r\n", "\x1b[K", "\x1b[?25l"]))
    parts.append(f"\x1b[{rng.randint(1, 6)};{rng.randint(1, 20)}H")  # the app's cursor, last
    return "".join(parts)


def test_every_cell_keeps_its_character_and_style_while_bytes_are_cut() -> None:
    console = Console(color_system="truecolor", force_terminal=True, width=40)
    rng = random.Random(21)
    compactor = OutputCompactor()
    original, compact = StyledTerminal(), StyledTerminal()
    sent = received = 0
    for n in range(600):
        frame = random_frame(rng, console)
        if n % 100 == 99:  # the terminal was resized: what it shows is no longer known
            compactor.forget()
            original.cells.clear()
            compact.cells.clear()
        rewritten = compactor.feed(frame)
        original.write(frame)
        compact.write(rewritten)
        sent, received = sent + len(frame), received + len(rewritten)
        assert compact.cells == original.cells
        assert compact.state() == original.state()  # each write leaves cursor and style as the original did
    assert received < 0.85 * sent


def test_an_unchanged_line_costs_no_bytes_and_a_changed_cell_only_itself() -> None:
    console = Console(color_system="truecolor", force_terminal=True, width=80)
    base, ok = Style(color="#d0d0d0", bgcolor="#1c1c1c"), Style(color="#5fd787", bgcolor="#1c1c1c")

    def row(ready: str) -> str:
        cells = [Segment(" ", base), Segment("● ok     ", ok), Segment(f"  model-00060  sim-a  {ready}  v1.3 ", base)]
        return "\x1b[7;2H" + Strip(cells).render(console)

    compactor = OutputCompactor()
    compactor.feed(row("10/10") + "\x1b[1;2H")
    assert compactor.feed(row("10/10") + "\x1b[1;2H") == ""  # nothing changed: nothing sent
    changed = compactor.feed(row("11/10") + "\x1b[1;2H")
    assert "model-00060" not in changed and "1" in changed and len(changed) < 60
    before = StyledTerminal(80, 10).write(row("10/10") + "\x1b[1;2H")
    assert before.write(changed).cells == StyledTerminal(80, 10).write(row("11/10")).cells


def test_a_row_of_segments_sharing_a_background_sends_each_colour_once() -> None:
    console = Console(color_system="truecolor", force_terminal=True, width=40)
    base, accent = Style(color="#d0d0d0", bgcolor="#1c1c1c"), Style(color="#d787d7", bgcolor="#1c1c1c")
    row = "\x1b[5;2H" + Strip([Segment(" ", base), Segment("◼ full ", accent), Segment(" gpu-node-1 ", base),
                               Segment("8/8", accent), Segment("  0  ", base)]).render(console)
    rewritten = OutputCompactor().feed(row)
    assert StyledTerminal().write(rewritten).cells == StyledTerminal().write(row).cells
    assert rewritten.count("48;2;28;28;28") == 1  # the shared background: once
    assert rewritten.count("\x1b[0m") == 1  # one reset, at the end
    assert len(rewritten) < 0.7 * len(row)


@pytest.mark.parametrize("unknown", ["resized", "\x1b[K", "\x1b[2J", "\x1b[9;1H\n", "\x1b[9;1H\nz", "\x1b[3A"])
def test_after_anything_it_does_not_model_the_next_line_is_sent_in_full(unknown: str) -> None:
    line = "\x1b[7;2H\x1b[38;2;1;2;3;48;2;4;5;6mmodel-00060  10/10\x1b[0m"
    compactor = OutputCompactor()
    terminal = StyledTerminal(80, 10).write(compactor.feed(line))
    if unknown == "resized":
        compactor.forget()
        terminal.cells.clear()
    else:
        terminal.write(compactor.feed(unknown))
    again = compactor.feed(line)
    assert "model-00060  10/10" in again
    shown = terminal.write(again).cells
    assert all(shown[cell] == painted for cell, painted in StyledTerminal(80, 10).write(line).cells.items())


def test_a_style_with_sub_parameters_is_sent_as_the_original_stream_has_it() -> None:
    data = "\x1b[1;1H\x1b[38;2;1;2;3mA\x1b[0m\x1b[4:3;38;2;1;2;3mB\x1b[0m"
    rewritten = OutputCompactor().feed(data)
    assert "\x1b[0;4:3;38;2;1;2;3mB" in rewritten


def test_text_after_a_reset_is_painted_unstyled() -> None:
    data = "\x1b[1;38;2;1;2;3mA\x1b[0mB\x1b[2;1H\x1b[38;2;0;0;0mC\x1b[0m"
    rewritten = OutputCompactor().feed(data)
    assert StyledTerminal().write(rewritten).cells == StyledTerminal().write(data).cells


def test_cursor_moves_alone_send_no_style_and_only_the_last_move() -> None:
    assert OutputCompactor().feed("\x1b[1;1H\x1b[31m\x1b[0m\x1b[3;4H") == "\x1b[3;4H"


def test_a_resize_signal_in_the_middle_of_a_write_leaves_the_compactor_whole_and_the_next_write_in_full(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGWINCH's handler runs in the main thread between any two bytecodes, also inside `write`: it only
    marks the memory stale; the next write forgets it and goes out in full."""
    from textual.drivers.linux_driver import LinuxDriver

    from mlops_tui.tui.driver import CompactLinuxDriver

    written: list[str] = []
    monkeypatch.setattr(LinuxDriver, "write", lambda self, data: written.append(data))
    monkeypatch.setattr(LinuxDriver, "_get_terminal_size", lambda self: (80, 10))
    driver = object.__new__(CompactLinuxDriver)  # no terminal: only the write path is exercised
    driver._compactor = OutputCompactor()
    driver._resized = False
    line = "\x1b[7;2H\x1b[38;2;1;2;3;48;2;4;5;6mmodel-00060  10/10\x1b[0m"
    driver.write(line)
    memory = dict(driver._compactor._rows)
    assert driver._get_terminal_size() == (80, 10)  # what the signal handler calls
    assert driver._compactor._rows == memory  # nothing torn down under a write in progress
    driver.write(line)
    assert "model-00060  10/10" in written[-1]  # the terminal may have cleared: sent in full
    driver.write(line)
    assert written[-1] == ""  # and remembered again
