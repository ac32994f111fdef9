"""The action flow: dialog → plan → preview → apply → follow → report. One place, every action.

The service acted on is the snapshot taken when the key was pressed: later refreshes do not change
what "scale this" means. Planning runs in a thread (it talks to engines); the screens only show
what the Fleet returned. Nothing is sent before the operator confirms a preview.

Applying and verifying run in a `Verification` (tui/verification.py), which outlives the screen, so
the operator can send the wait to the background (esc) or quit (q) at any time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from mlops_tui.backends.model import Alert, ModelService
from mlops_tui.backends.plans import ActionError, ActionOutcome, ActionPlan, Intent, Outcome, SwitchBlueGreen
from mlops_tui.tui.format import outcome_mark, plain, verifying_mark
from mlops_tui.tui.screens.preview import Decision, PreviewScreen, ProgressScreen

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel
    from textual.screen import ModalScreen

    from mlops_tui.backends.fleet import Fleet
    from mlops_tui.tui.panes import ServicesPane
    from mlops_tui.tui.verification import Verification


class ActionHost(Protocol):
    """What a flow needs of the app (`MlopsApp` is the one): typed here, so that the app imports the
    flows and the flows never import the app."""

    @property
    def fleet(self) -> Fleet | None: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None) -> None: ...

    async def push_screen_wait(self, screen: Any) -> Any: ...

    def start_verification(self, plan: ActionPlan, typed: str) -> Verification: ...

    def query_one(self, selector: type[ServicesPane]) -> ServicesPane: ...


VERIFY_TIMEOUT = 120.0
"""How long the Fleet follows an applied action before reporting it as not converged (seconds)."""


async def run_action(app: ActionHost, service: ModelService | None, dialog: ModalScreen, *,
                     source: str | None = None, target: Alert | None = None) -> ActionOutcome | None:
    """Drive one action up to its confirmation and follow it while the operator watches.

    Must run inside a Textual worker (it waits on screens). Returns the outcome, or None when
    nothing was sent or the operator sent the wait to the background (the outcome is then reported
    when it arrives, by `MlopsApp.on_verification_done`)."""
    fleet = app.fleet
    if fleet is None:
        app.notify("not connected yet: nothing was sent", severity="warning")
        return None
    intent: Intent | None = await app.push_screen_wait(dialog)
    if intent is None:
        return None

    async def make_plan(wanted: Intent) -> ActionPlan | None:
        try:
            if service is not None:
                return await asyncio.to_thread(fleet.plan, service, wanted)
            return await asyncio.to_thread(fleet.plan_on, source or "", target, wanted)
        except ActionError as exc:
            app.notify(plain(str(exc)), title="Not sent", severity="error", timeout=10)
        except Exception as exc:  # an engine failure while reading state: say so, send nothing
            app.notify(plain(f"could not plan: {exc}"), title="Not sent", severity="error", timeout=10)
        return None

    plan = await make_plan(intent)
    note = ""
    while plan is not None:
        decision: Decision = await app.push_screen_wait(PreviewScreen(plan, note))
        note = ""
        if decision.override and isinstance(plan.intent, SwitchBlueGreen):
            plan = await make_plan(replace(plan.intent, override_unready=True))
            continue
        if decision.alternative is not None:
            plan = await make_plan(decision.alternative)
            continue
        if not decision.confirmed:
            app.notify("cancelled: nothing was sent", timeout=3)
            return None
        verification = app.start_verification(plan, decision.typed)
        choice = await app.push_screen_wait(ProgressScreen(verification, app.clock))
        outcome = verification.outcome
        if choice == "replan" and outcome is not None and outcome.replanned is not None:
            plan = outcome.replanned
            note = f"The object changed since your preview: {outcome.detail}. Here is a new plan."
            continue
        if choice == "background":
            app.notify(plain(f"{plan.description} on {plan.target_name}: still verifying in the background; "
                             "the outcome will be shown here and in its row"), timeout=5)
        return outcome
    return None


def report(app: ActionHost, outcome: ActionOutcome) -> None:
    severity: SeverityLevel = "information" if outcome.ok else (
        "warning" if outcome.outcome is Outcome.APPLIED_NOT_CONVERGED else "error")
    app.notify(plain(f"{outcome.plan.description} on {outcome.plan.target_name}: {outcome.outcome.value}: "
                     f"{outcome.detail}"), title="Action", severity=severity, timeout=8)
    mark_row(app, outcome.plan, outcome_mark(outcome))


def report_verifying(app: ActionHost, plan: ActionPlan) -> None:
    mark_row(app, plan, verifying_mark(plan))


def mark_row(app: ActionHost, plan: ActionPlan, mark: tuple[str, bool | None]) -> None:
    if plan.target is not None:
        from mlops_tui.tui.panes import ServicesPane

        app.query_one(ServicesPane).mark(plan.target, mark)
