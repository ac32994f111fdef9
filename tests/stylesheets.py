"""Counting the stylesheet parses Textual really does (a parse read from the cache is not one)."""

from __future__ import annotations

from textual.css.stylesheet import Stylesheet


def count_parses(monkeypatch) -> list[str]:
    """From now on, the CSS text of every parse Textual does, in order."""
    calls: list[str] = []
    real = Stylesheet._parse_rules

    def counted(self, css, *args, **kwargs):
        calls.append(css)
        return real(self, css, *args, **kwargs)

    monkeypatch.setattr(Stylesheet, "_parse_rules", counted)
    return calls
