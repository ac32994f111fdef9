"""The preview (before → after, every warning, the exact calls) and the progress that follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from time import monotonic
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import _time, events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Static

from mlops_tui.backends.plans import ActionOutcome, ActionPlan, Intent, Outcome
from mlops_tui.tui.format import describe_plan_header, literal, literal_lines, plain
from mlops_tui.tui.production import production_label
from mlops_tui.tui.screens.modal import OnceModalScreen

if TYPE_CHECKING:
    from mlops_tui.tui.verification import Verification


@dataclass(frozen=True)
class Decision:
    """What the operator decided on a preview."""

    confirmed: bool
    typed: str = ""
    override: bool = False
    """Re-plan with the explicit, audited override of a blocking precondition."""
    alternative: Intent | None = None


EARLY_KEY = "A key pressed before this preview was on screen was ignored: read it, then press y to apply."
EARLY_ENTER = "An enter pressed before this preview was on screen was ignored: read it, then press enter again."


class PreviewScreen(OnceModalScreen[Decision]):
    """Shows what will be sent and what will change; `y` applies (or the typed name and enter, where
    it is asked), esc cancels. Enter alone never applies: it is the key that opened this preview from
    the dialog, and a second one can arrive with the first. A confirming key that was pressed before
    the preview was on screen is ignored, and the preview says so."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("n", "cancel", "Cancel", show=False),
        Binding("y", "confirm", "Apply", show=False),
        Binding("o", "override", "Override", show=False),
        Binding("a", "alternative", "Alternative", show=False),
    ]

    def __init__(self, plan: ActionPlan, note: str = "") -> None:
        super().__init__()
        self.plan = plan
        self.note = note
        self.shown_at: float | None = None
        """When the preview was first drawn, on the clock Textual stamps key events with."""
        self._key_time: float | None = None

    def compose(self) -> ComposeResult:
        plan = self.plan
        # The title, the before → after table and the confirmation stay on screen (at 80×24 too);
        # warnings and the exact calls, which can run long, scroll between them.
        with Vertical(classes="dialog", id="preview"):
            if plan.production:
                scope = "/".join(p for p in (plan.source, plan.target.namespace if plan.target else "") if p)
                yield production_label(scope)
            yield Static(literal(describe_plan_header(plan)), classes="dialog-title", id="preview-title")
            changes = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
            changes.add_column("field")
            changes.add_column("before")
            changes.add_column("")
            changes.add_column("after")
            for field in sorted(set(plan.before) | set(plan.after)):
                changes.add_row(literal(field), literal(plan.before.get(field, "-")), Text("→"),
                                literal(plan.after.get(field, "-")))
            yield Static(changes, id="preview-changes")
            with VerticalScroll(id="preview-details"):
                if self.note:
                    yield Static(literal(self.note), classes="dialog-message -warning")
                for warning in plan.warnings:
                    glyph = "✖ BLOCKED:" if warning.blocking else "▲"
                    yield Static(literal(f"{glyph} {warning.text}"), classes="preview-warning " +
                                 ("-blocking" if warning.blocking else ""))
                calls = [f"{m.method} {m.path}" + (f"  ({m.summary})" if m.summary else "") for m in plan.mutations]
                yield Static(literal_lines(["Calls:", *calls] if calls else ["No call: nothing would change."]),
                             id="preview-calls")
            if plan.confirm_text:
                yield Static(literal(f"Type {plan.confirm_text!r} to confirm:"))
                yield Input(id="confirm-text")
            yield Static("", id="preview-ignored", classes="dialog-message -warning")
            yield Static(Text(self._hint()), classes="dialog-hint", id="preview-hint")

    def _hint(self) -> str:
        parts = []
        if self.plan.blocked:
            parts.append("blocked: nothing can be sent")
            if any(w.overridable for w in self.plan.blocked):
                parts.append("o: override (audited)")
        elif self.plan.confirm_text:
            parts.append("type the name, then enter: apply")
        else:
            parts.append("y: apply")
        if self.plan.alternatives:
            parts.append("a: " + ", ".join(alt.kind.value for alt in self.plan.alternatives) + " instead")
        parts.append("esc: cancel")
        return "   ".join(parts)

    def on_mount(self) -> None:
        self.query_one("#preview-ignored", Static).display = False
        if self.plan.confirm_text:
            self.query_one("#confirm-text", Input).focus()
        self.call_after_refresh(self._drawn)

    def _drawn(self) -> None:
        if self.shown_at is None:
            self.shown_at = _time.get_time()

    def _compositor_refresh(self) -> None:
        # The moment the preview reaches the terminal: a key typed after it is one the operator typed
        # having seen it. (The after-refresh callback above runs later, behind messages already queued:
        # on a loaded machine a `y` pressed on sight of "y: apply" was taken for one typed ahead.)
        super()._compositor_refresh()
        if self.shown_at is None and self.is_current:
            self.shown_at = _time.get_time()

    def on_key(self, event: events.Key) -> None:
        # Keys reach the screen (directly or bubbling up from the name field) before the app looks
        # up their binding, so the confirming action knows when its key was pressed.
        self._key_time = event.time

    def _pressed_before_shown(self, what: str) -> bool:
        """Was the key now confirming pressed before the operator could see this preview?"""
        early = self._key_time is not None and (self.shown_at is None or self._key_time < self.shown_at)
        if early:
            notice = self.query_one("#preview-ignored", Static)
            notice.update(Text(what))
            notice.display = True
        return early

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._pressed_before_shown(EARLY_ENTER):
            return
        if event.value == self.plan.confirm_text:
            self.dismiss(Decision(True, typed=event.value))
        else:
            self.notify(f"type exactly {plain(self.plan.confirm_text)!r} to confirm", severity="warning")

    def action_confirm(self) -> None:
        if self.plan.blocked or self.plan.confirm_text or self._pressed_before_shown(EARLY_KEY):
            return
        self.dismiss(Decision(True))

    def action_override(self) -> None:
        if any(w.overridable for w in self.plan.blocked):
            self.dismiss(Decision(False, override=True))

    def action_alternative(self) -> None:
        if self.plan.alternatives:
            self.dismiss(Decision(False, alternative=self.plan.alternatives[0]))

    def action_cancel(self) -> None:
        self.dismiss(Decision(False))


class ProgressScreen(OnceModalScreen[str]):
    """Follows an applied action until it converges, fails or its deadline passes, with a countdown.

    The operator is never held here: esc sends the wait to the background (the service's row says
    "verifying…" and the outcome arrives later as a notice and in the row), and q quits (the audit
    log then records the action as applied and not verified). Dismissed with "closed", "background",
    or "replan" (the object changed since the preview: the flow shows a new one).
    """

    BINDINGS = [
        Binding("escape", "close", "Close / background", show=False),
        Binding("enter", "close_finished", "Close", show=False),
        Binding("q", "quit", "Quit", show=False),
    ]

    def __init__(self, verification: Verification, clock=None) -> None:
        super().__init__()
        self.verification = verification
        self.plan: ActionPlan = verification.plan
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._outcome_drawn = False

    @property
    def finished(self) -> bool:
        """The outcome is known and drawn (the verification can end before this screen is mounted)."""
        return self._outcome_drawn

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="progress"):
            yield Static(literal(describe_plan_header(self.plan)), classes="dialog-title")
            yield Static("", id="progress-lines")
            yield Static("", id="progress-wait")
            yield Static(Text(""), classes="dialog-hint", id="progress-hint")

    def on_mount(self) -> None:
        self.show_progress()
        self.set_interval(1.0, self._show_countdown)

    def show_progress(self) -> None:
        """Redraw from the verification: its lines, the countdown, or its outcome."""
        if not self.is_mounted:
            return  # on_mount draws everything the verification holds by then
        lines = list(self.verification.lines)
        outcome = self.verification.outcome
        if outcome is not None:
            self._outcome_drawn = True
            lines.append(outcome_line(outcome))
            self.query_one("#progress-wait", Static).display = False
            self.query_one("#progress-hint", Static).update(Text("enter or esc: close"))
        else:
            self.query_one("#progress-hint", Static).update(
                Text("esc: wait in the background (the row says verifying…)   q: quit (audited as not verified)"))
            self._show_countdown()
        self.query_one("#progress-lines", Static).update(Text("\n".join(plain(line) for line in lines[-12:])))

    def _show_countdown(self) -> None:
        if self.verification.outcome is not None or not self.is_mounted:
            return
        left = max(0, round(self.verification.deadline - monotonic()))
        at = (self._clock() + timedelta(seconds=left)).astimezone().strftime("%H:%M:%S")
        waiting = self.verification.lines[-1] if self.verification.lines else "the first read-back"
        self.query_one("#progress-wait", Static).update(Text(plain(
            f"⏳ waiting for {self.plan.description} to converge (now: {waiting}); "
            f"gives up in {left // 60}:{left % 60:02d}, at {at}")))

    def action_close(self) -> None:
        self.dismiss("closed" if self.verification.outcome is not None else "background")

    def action_close_finished(self) -> None:
        # Enter closes only a finished wait: a stray enter (typed ahead with the y) must not decide
        # for the operator to stop watching.
        if self.verification.outcome is not None:
            self.dismiss("closed")

    async def action_quit(self) -> None:
        await self.app.action_quit()


def outcome_line(outcome: ActionOutcome) -> str:
    glyph = "✔" if outcome.ok else ("▲" if outcome.outcome is Outcome.APPLIED_NOT_CONVERGED else "✖")
    return f"{glyph} {outcome.outcome.value}: {outcome.detail}"
