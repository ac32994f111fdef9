"""The action flow: dialog → plan → preview → apply → follow → report. One place, every action.

The service acted on is the snapshot taken when the key was pressed: later refreshes do not change
what "scale this" means. Planning and applying run in threads (they talk to engines); the screens
only show what the Fleet returned. Nothing is sent before the operator confirms a preview.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from backends.model import Alert, ModelService
from backends.plans import ActionError, ActionOutcome, ActionPlan, Intent, Outcome, SwitchBlueGreen
from tui.format import outcome_mark, plain
from tui.screens.preview import Decision, PreviewScreen, ProgressScreen

if TYPE_CHECKING:
    from textual.screen import ModalScreen

    from tui.app import MlopsApp


async def run_action(app: MlopsApp, service: ModelService | None, dialog: ModalScreen, *,
                     source: str | None = None, target: Alert | None = None) -> ActionOutcome | None:
    """Drive one action end to end. Must run inside a Textual worker (it waits on screens)."""
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
        progress = ProgressScreen(plan)
        app.push_screen(progress)
        outcome = await asyncio.to_thread(
            fleet.apply, plan, confirmed_text=decision.typed,
            progress=lambda text, screen=progress: screen.post_message(ProgressScreen.Line(text)),
        )
        progress.post_message(ProgressScreen.Done(outcome))
        report(app, outcome)
        if outcome.outcome is Outcome.CONFLICT and outcome.replanned is not None:
            if app.screen is progress:
                app.pop_screen()
            plan, note = outcome.replanned, f"The object changed since your preview: {outcome.detail}. Here is a new plan."
            continue
        return outcome
    return None


def report(app: MlopsApp, outcome: ActionOutcome) -> None:
    severity = "information" if outcome.ok else ("warning" if outcome.outcome is Outcome.APPLIED_NOT_CONVERGED else "error")
    app.notify(plain(f"{outcome.plan.description} on {outcome.plan.target_name}: {outcome.outcome.value}: "
                     f"{outcome.detail}"), title="Action", severity=severity, timeout=8)
    if outcome.plan.target is not None:
        from tui.panes import ServicesPane

        app.query_one(ServicesPane).mark(outcome.plan.target, outcome_mark(outcome))
