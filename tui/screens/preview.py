"""The preview (before → after, every warning, the exact calls) and the progress that follows."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from backends.plans import ActionOutcome, ActionPlan, Intent, Outcome
from tui.format import describe_plan_header, literal, literal_lines, plain


@dataclass(frozen=True)
class Decision:
    """What the operator decided on a preview."""

    confirmed: bool
    typed: str = ""
    override: bool = False
    """Re-plan with the explicit, audited override of a blocking precondition."""
    alternative: Intent | None = None


class PreviewScreen(ModalScreen[Decision]):
    """Shows what will be sent and what will change; `y`/enter applies, esc cancels."""

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

    def compose(self) -> ComposeResult:
        plan = self.plan
        with VerticalScroll(classes="dialog", id="preview"):
            yield Static(literal(describe_plan_header(plan)), classes="dialog-title")
            if self.note:
                yield Static(literal(self.note), classes="dialog-message -warning")
            changes = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
            changes.add_column("field")
            changes.add_column("before")
            changes.add_column("")
            changes.add_column("after")
            for field in sorted(set(plan.before) | set(plan.after)):
                changes.add_row(literal(field), literal(plan.before.get(field, "-")), Text("→"),
                                literal(plan.after.get(field, "-")))
            yield Static(changes, id="preview-changes")
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
            yield Static(Text(self._hint()), classes="dialog-hint")

    def _hint(self) -> str:
        parts = []
        if self.plan.blocked:
            parts.append("blocked: nothing can be sent")
            if any(w.code == "selector-no-ready-pods" for w in self.plan.blocked):
                parts.append("o: override (audited)")
        elif self.plan.confirm_text:
            parts.append("type the name, then enter: apply")
        else:
            parts.append("y or enter: apply")
        if self.plan.alternatives:
            parts.append("a: " + ", ".join(alt.kind.value for alt in self.plan.alternatives) + " instead")
        parts.append("esc: cancel")
        return "   ".join(parts)

    def on_mount(self) -> None:
        if self.plan.confirm_text:
            self.query_one("#confirm-text", Input).focus()

    def key_enter(self) -> None:
        if not self.plan.confirm_text:
            self.action_confirm()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value == self.plan.confirm_text:
            self.dismiss(Decision(True, typed=event.value))
        else:
            self.notify(f"type exactly {plain(self.plan.confirm_text)!r} to confirm", severity="warning")

    def action_confirm(self) -> None:
        if self.plan.blocked or self.plan.confirm_text:
            return
        self.dismiss(Decision(True))

    def action_override(self) -> None:
        if any(w.code == "selector-no-ready-pods" for w in self.plan.blocked):
            self.dismiss(Decision(False, override=True))

    def action_alternative(self) -> None:
        if self.plan.alternatives:
            self.dismiss(Decision(False, alternative=self.plan.alternatives[0]))

    def action_cancel(self) -> None:
        self.dismiss(Decision(False))


class ProgressScreen(ModalScreen[None]):
    """Follows an applied action in place until it converges, fails or times out."""

    BINDINGS = [Binding("escape", "close", "Close", show=False), Binding("enter", "close", "Close", show=False)]

    @dataclass
    class Line(Message):
        text: str

    @dataclass
    class Done(Message):
        outcome: ActionOutcome

    def __init__(self, plan: ActionPlan) -> None:
        super().__init__()
        self.plan = plan
        self.finished = False
        self.lines: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="progress"):
            yield Static(literal(describe_plan_header(self.plan)), classes="dialog-title")
            yield Static("", id="progress-lines")
            yield Static(Text("working: the result will also be in the audit log"), classes="dialog-hint",
                         id="progress-hint")

    def on_progress_screen_line(self, message: Line) -> None:
        self.lines.append(plain(message.text))
        self.query_one("#progress-lines", Static).update(Text("\n".join(self.lines[-12:])))

    def on_progress_screen_done(self, message: Done) -> None:
        self.finished = True
        outcome = message.outcome
        glyph = "✔" if outcome.ok else ("▲" if outcome.outcome is Outcome.APPLIED_NOT_CONVERGED else "✖")
        self.lines.append(plain(f"{glyph} {outcome.outcome.value}: {outcome.detail}"))
        self.query_one("#progress-lines", Static).update(Text("\n".join(self.lines[-12:])))
        self.query_one("#progress-hint", Static).update(Text("enter or esc: close"))

    def action_close(self) -> None:
        if self.finished:
            self.dismiss(None)
