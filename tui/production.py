"""The PRODUCTION label every dialog and preview about a production service carries: a word and a
colour (`$badge-production`), so it holds in every theme, in 256 colours and without colour."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mlops_tui.tui.format import plain

PRODUCTION_WORD = "PRODUCTION"


def production_text(scope: str) -> Text:
    """' PRODUCTION prod-a/ml-prod ' (the scope is the cluster's own text: shown literally)."""
    return Text(f" {PRODUCTION_WORD} {plain(scope)} " if scope else f" {PRODUCTION_WORD} ", no_wrap=True,
                overflow="ellipsis")


def production_label(scope: str) -> Static:
    return Static(production_text(scope), classes="production-label")
