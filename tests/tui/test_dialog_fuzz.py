"""Whatever an operator types into a dialog and submits with enter, it ends one of two ways: the
intent the preview is built from carries exactly the value typed, or the dialog stays open with an
error line that says why. Never silently open, never a crash, never a value other than the one typed.

The expectations come from the operator's rules written out here (a replica count is ASCII digits up
to the cap, ...), not from the dialog's own parsers: a parser that drifts fails these tests."""

from __future__ import annotations

import asyncio
import string
from dataclasses import dataclass

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from textual.app import App
from textual.widgets import Static

from mlops_tui.backends.model import Alert, AlertState, Canary, Severity, freeze_labels
from mlops_tui.backends.plans import Scale, SetCanaryWeight, SilenceAlert, UpdateImage
from mlops_tui.tui.screens.dialogs import CanaryDialog, ScaleDialog, SilenceDialog, UpdateImageDialog
from tests.fakes import service
from tests.tui.conftest import until

# Tab, newline and the other control whitespace move focus or submit: they are keys, not text.
TYPED = st.text(alphabet=string.digits + string.ascii_letters + string.punctuation + " ¹٣é", max_size=12)
FUZZ = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Ended:
    """How a dialog ended after enter: the intent it returned, or the error line it shows."""

    intent: object = None
    error: str = ""


def run_dialog(make_dialog, keys: list[str]) -> Ended:
    """Replace the field's text with `keys`, press enter, and wait for the dialog to either return an
    intent or show an error line; fail if it does neither."""

    class Host(App[None]):
        def __init__(self) -> None:
            super().__init__()
            self.ended = Ended()
            self.returned = False

        def on_mount(self) -> None:
            self.push_screen(make_dialog(), self._done)

        def _done(self, value) -> None:
            self.ended.intent, self.returned = value, True

    def error_line(app: Host) -> str:
        message = app.screen.query_one("#dialog-message", Static) if not app.returned else None
        return str(message.render()) if message is not None and message.has_class("-error") else ""

    async def go() -> Ended:
        app = Host()
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.press("ctrl+a", "shift+end", *keys, "enter")
            await until(pilot, lambda: app.returned or bool(error_line(app).strip()), timeout=3)
            if not app.returned:
                app.ended.error = error_line(app)
            return app.ended

    return asyncio.run(go())


def ascii_whole_number(text: str) -> int | None:
    return int(text) if text and text.isascii() and text.isdigit() else None


@FUZZ
@given(TYPED)
@example("")  # nothing typed: the current count stands
@example("50")
@example("51")
@example(" 7 ")
@example("٣")  # an Arabic-Indic three is not a replica count the engine takes
def test_scale_dialog_returns_the_count_typed_or_says_why(text):
    ended = run_dialog(lambda: ScaleDialog(service("valuation", desired=3), cap=50), list(text))
    count = ascii_whole_number(text.strip() if text else "3")
    if count is not None and count <= 50:
        assert ended.intent == Scale(count), ended
    else:
        assert ended.intent is None and ended.error, ended


@FUZZ
@given(TYPED)
@example("35")
@example("35 %")
@example("101")
@example("-5")
def test_canary_dialog_returns_the_weight_typed_or_says_why(text):
    svc = service("price", canary=Canary("kserve", "v1", "v2", weight=10))
    ended = run_dialog(lambda: CanaryDialog(svc), list(text))
    weight = ascii_whole_number((text or "10").strip().removesuffix("%").strip())
    if weight is not None and weight <= 100:
        assert ended.intent == SetCanaryWeight(weight), ended
    else:
        assert ended.intent is None and ended.error, ended


IMAGE_PATH_CHARS = set(string.ascii_lowercase + string.digits + "._-/")
GOOD_IMAGES = ("repo/x:v2", "registry.example:5000/ml/model:v2.2")


@FUZZ
@given(TYPED)
@example(GOOD_IMAGES[0])
@example(GOOD_IMAGES[1])
@example("Repo/X")
@example("repo x")
def test_update_image_dialog_returns_the_image_typed_or_says_why(text):
    current = "proptechusa/valuation:v1"
    ended = run_dialog(lambda: UpdateImageDialog(service("valuation", image=current)), list(text))
    typed = text.strip() or current
    name = typed.split(":")[0]  # the registry host or the repository path: lower case, no spaces
    if typed in GOOD_IMAGES:
        assert ended.intent == UpdateImage(typed, container=""), ended
    elif " " in typed or not set(name) <= IMAGE_PATH_CHARS:
        assert ended.intent is None and ended.error, ended
    else:  # the reference grammar's finer rules (separators, tag length): either way, exactly what was typed
        assert ended.intent == UpdateImage(typed, container="") or (ended.intent is None and ended.error), ended


@FUZZ
@given(TYPED)
@example("")
@example("   ")
@example("rolling  back")
def test_silence_dialog_returns_the_comment_typed_or_says_why(text):
    alert = Alert("HighInferenceLatency", Severity.WARNING, AlertState.FIRING,
                  freeze_labels({"alertname": "HighInferenceLatency", "service": "price"}))
    ended = run_dialog(lambda: SilenceDialog(alert), ["tab", "tab", *list(text)])
    comment = " ".join(text.split())
    if comment:
        assert isinstance(ended.intent, SilenceAlert), ended
        assert (ended.intent.comment, ended.intent.duration_seconds) == (comment, 2 * 3600)
        assert ended.intent.matchers == (("alertname", "HighInferenceLatency", False), ("service", "price", False))
    else:
        assert ended.intent is None and ended.error, ended
