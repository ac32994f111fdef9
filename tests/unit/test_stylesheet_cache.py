"""Stylesheet parses kept between starts (tui/stylesheet_cache.py): read back only when they are the
same parse (same text, same theme, same Textual), only from a file no one else could have written,
and a bad file never stops a start."""

from __future__ import annotations

import os
import pickle

import pytest
from textual.color import Color
from textual.css.stylesheet import Stylesheet, StylesheetParseError

from mlops_tui.tui.stylesheet_cache import CachedStylesheet, ParsedStore
from tests.stylesheets import count_parses

CSS = "Static { background: $surface; border: round $pane-border; } #title { color: $accent; }"
DARK = {"surface": "#101010", "pane-border": "#303030", "accent": "#ff8800"}
LIGHT = {"surface": "#f0f0f0", "pane-border": "#c0c0c0", "accent": "#0055aa"}


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """Every parse Textual really does (a cache hit does none)."""
    return count_parses(monkeypatch)


def start(folder, variables=DARK, css=CSS) -> tuple[CachedStylesheet, ParsedStore]:
    """One start: the stylesheet parsed, the store saved as the app saves it after its first frame."""
    store = ParsedStore(folder)
    sheet = CachedStylesheet(variables=dict(variables), store=store)
    sheet.add_source(css, read_from=("app.tcss", ""))
    sheet.parse()
    store.save()
    return sheet, store


def background(sheet: Stylesheet) -> Color:
    return next(rule for rule in sheet.rules if "Static" in rule.selectors).styles.background


def test_the_second_start_reads_the_parse_and_gets_the_same_rules(tmp_path, parses):
    first, _ = start(tmp_path)
    second, store = start(tmp_path)
    assert len(parses) == 1  # only the first start parsed
    assert not store.changed
    assert [rule.css for rule in second.rules] == [rule.css for rule in first.rules]
    assert background(second) == Color.parse(DARK["surface"])


def test_another_theme_is_parsed_afresh_not_read_from_the_cache(tmp_path, parses):
    start(tmp_path, DARK)
    light, _ = start(tmp_path, LIGHT)
    assert len(parses) == 2
    assert background(light) == Color.parse(LIGHT["surface"])


def test_changed_css_is_parsed_afresh(tmp_path, parses):
    start(tmp_path)
    changed, _ = start(tmp_path, css=CSS.replace("$surface", "$accent"))
    assert len(parses) == 2
    assert background(changed) == Color.parse(DARK["accent"])


@pytest.mark.parametrize("loosen", ["file writable by the group", "file writable by anyone",
                                    "folder writable by anyone", "file owned by someone else"])
def test_a_cache_someone_else_could_have_written_is_not_read(tmp_path, parses, monkeypatch, loosen):
    _, store = start(tmp_path)
    assert store.path is not None
    if loosen == "file writable by the group":
        store.path.chmod(0o620)
    elif loosen == "file writable by anyone":
        store.path.chmod(0o602)
    elif loosen == "folder writable by anyone":
        tmp_path.chmod(0o777)
    else:
        uid = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: uid + 1)
    start(tmp_path)
    assert len(parses) == 2


def from_another_textual(good: bytes) -> bytes:
    """The same parses, written by another Textual (whose classes may have changed)."""
    _identity, kept = pickle.loads(good)
    return pickle.dumps(("textual from another install", kept))


@pytest.mark.parametrize("spoil", [lambda _good: b"not a pickle", lambda _good: b"", from_another_textual],
                         ids=["corrupt", "empty", "from another Textual"])
def test_a_bad_cache_file_costs_one_parse_and_never_fails_the_start(tmp_path, parses, spoil):
    _, store = start(tmp_path)
    assert store.path is not None
    store.path.write_bytes(spoil(store.path.read_bytes()))
    sheet, _ = start(tmp_path)
    assert len(parses) == 2
    assert background(sheet) == Color.parse(DARK["surface"])
    # ... and the file is good again for the next start.
    start(tmp_path)
    assert len(parses) == 2


def test_a_cache_in_a_folder_that_cannot_be_written_is_only_a_missed_saving(tmp_path, parses):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    sheet, store = start(blocked / "cache")
    assert background(sheet) == Color.parse(DARK["surface"])
    assert store.changed  # nothing was written, nothing failed


def test_an_invalid_stylesheet_is_reported_at_every_start_never_kept(tmp_path):
    store = ParsedStore(tmp_path)
    sheet = CachedStylesheet(variables=dict(DARK), store=store)
    sheet.add_source("Static { background: not-a-colour; }", read_from=("app.tcss", ""))
    with pytest.raises(StylesheetParseError):
        sheet.parse()
    assert not store.changed
    store.save()
    assert not any(tmp_path.iterdir())


def test_the_palettes_are_read_back_unparsed_and_parsed_again_when_they_change(tmp_path):
    """The themes' palettes are kept as the stylesheets are: the next start reads them without a TOML parse;
    an edited palettes file is parsed afresh; a parse that fails is never kept."""
    from mlops_tui.themes import palettes_text, parse_palettes

    parsed: list[str] = []

    def counted(text: str) -> dict:
        parsed.append(text)
        return parse_palettes(text)

    def recall(text: str) -> dict:
        store = ParsedStore(tmp_path)
        try:
            return store.recall("palettes", text, counted)
        finally:
            store.save()

    text = palettes_text()
    first = recall(text)
    assert recall(text) == first and parsed == [text]
    edited = text.replace('primary = "#5fafd7"', 'primary = "#5fafd8"', 1)
    assert recall(edited)["mlops-dark"]["primary"] == "#5fafd8" and parsed == [text, edited]
    for _ in range(2):
        with pytest.raises(ValueError):  # tomllib.TOMLDecodeError, each time
            recall("[mlops-dark\n")
    assert parsed == [text, edited, "[mlops-dark\n", "[mlops-dark\n"]
