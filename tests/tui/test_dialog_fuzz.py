"""Whatever an operator types into a dialog, it either returns a valid intent or stays open with
a reason; it never crashes and never returns something out of range."""

from __future__ import annotations

import asyncio
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.app import App

from mlops_tui.backends.model import Alert, AlertState, Canary, Severity, freeze_labels
from mlops_tui.backends.plans import Scale, SetCanaryWeight, SilenceAlert, UpdateImage
from mlops_tui.tui.screens.dialogs import CanaryDialog, ScaleDialog, SilenceDialog, UpdateImageDialog
from tests.fakes import service

TYPED = st.text(alphabet=string.printable + "¹٣é", max_size=12).map(lambda s: s.replace("\n", "").replace("\r", ""))
FUZZ = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_dialog(make_dialog, keys: list[str]):
    """Type `keys` into a fresh dialog and press enter; the dialog's result, or 'open' if it refused."""

    class Host(App[None]):
        result: object = "open"

        def on_mount(self) -> None:
            self.push_screen(make_dialog(), self._done)

        def _done(self, value) -> None:
            self.result = value

    async def go():
        app = Host()
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.press("ctrl+a", "shift+end", *keys, "enter")
            await pilot.pause()
            return app.result

    return asyncio.run(go())


@FUZZ
@given(TYPED)
def test_scale_dialog(text):
    result = run_dialog(lambda: ScaleDialog(service("valuation"), cap=50), list(text))
    assert result == "open" or (isinstance(result, Scale) and 0 <= result.replicas <= 50)


@FUZZ
@given(TYPED)
def test_canary_dialog(text):
    svc = service("price", canary=Canary("kserve", "v1", "v2", weight=10))
    result = run_dialog(lambda: CanaryDialog(svc), list(text))
    assert result == "open" or (isinstance(result, SetCanaryWeight) and 0 <= result.weight <= 100)


@FUZZ
@given(TYPED)
def test_update_image_dialog(text):
    result = run_dialog(lambda: UpdateImageDialog(service("valuation")), list(text))
    assert result == "open" or (isinstance(result, UpdateImage) and result.image and " " not in result.image)


@FUZZ
@given(TYPED)
def test_silence_dialog_comment(text):
    alert = Alert("HighInferenceLatency", Severity.WARNING, AlertState.FIRING,
                  freeze_labels({"alertname": "HighInferenceLatency", "service": "price"}))
    result = run_dialog(lambda: SilenceDialog(alert), ["tab", "tab", *list(text)])
    assert result == "open" or (isinstance(result, SilenceAlert) and result.comment.strip()
                                and 0 < result.duration_seconds <= 7 * 86400)
