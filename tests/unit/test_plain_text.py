"""What a cluster sends is shown as it is, never acted on by the terminal: control characters and
Unicode's invisible format characters (a bidi override would reverse the rest of the line, a zero-width
space would make two different names look the same) are made visible as escapes."""

from __future__ import annotations

import sys
import unicodedata

from mlops_tui.tui.format import plain


def test_a_bidi_override_in_a_name_is_shown_as_an_escape_not_obeyed():
    name = "model\u202eevil.exe"
    assert plain(name) == "model\\u202eevil.exe"


def test_zero_width_and_separator_characters_are_made_visible():
    assert plain("a\u200bb\u2028c\ufeffd") == "a\\u200bb\\u2028c\\ufeffd"
    assert plain("tag\U000e0041") == "tag\\U000e0041"


def test_terminal_escapes_and_c1_controls_stay_visible_and_ordinary_text_is_untouched():
    assert plain("ns\x1b[31m\x9b") == "ns\\x1b[31m\\x9b"
    assert plain("property-valuation-model v2.1 • 東京 ✓ é") == "property-valuation-model v2.1 • 東京 ✓ é"


def test_every_invisible_format_character_unicode_knows_is_escaped():
    """The escaped set is written out in tui/format.py (scanning Unicode at start-up would cost ~100 ms);
    this keeps it complete for the Unicode version of the interpreter that runs the tests."""
    missed = [f"U+{code:04X}" for code in range(sys.maxunicode + 1)
              if unicodedata.category(chr(code)) in ("Cf", "Zl", "Zp", "Cc") and plain(chr(code)) == chr(code)]
    assert missed == []
