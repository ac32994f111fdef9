"""Action dialogs: each asks for one intent, validates it as the operator types, and returns it.

Dialogs only build an `Intent` from what the operator typed about the service *as it was when the
key was pressed*; nothing is sent from here. Invalid input shows why and cannot be submitted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from mlops_tui.backends.model import Alert, AlertState, LatencySeries, ModelService, Platform, Revision
from mlops_tui.backends.plans import (
    Abort,
    ExpireSilence,
    Intent,
    Promote,
    Restart,
    Retry,
    Rollback,
    Scale,
    SetCanaryWeight,
    SilenceAlert,
    SwitchBlueGreen,
    UpdateImage,
)
from mlops_tui.tui.format import canary_comparison, literal, plain, production_scope
from mlops_tui.tui.production import production_label
from mlops_tui.tui.screens.modal import OnceModalScreen
from mlops_tui.tui.validate import (
    InvalidInput,
    nearest_reachable,
    parse_comment,
    parse_duration,
    parse_image,
    parse_replicas,
    parse_weight,
    replicas_warning,
)


class IntentDialog(OnceModalScreen[Intent | None]):
    """Base: a title about the target, a body, a line for errors and warnings; esc cancels.

    Enter only ever leads to the preview (nothing is sent from a dialog), and the result is given
    once: a second enter arriving with the first cannot submit again."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, title: str, production: str = "") -> None:
        super().__init__()
        self._title = title
        self.production = production
        """Where the target is production ('cluster/namespace'), or '': the dialog then says so."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            if self.production:
                yield production_label(self.production)
            yield Static(literal(self._title), classes="dialog-title")
            yield from self.body()
            yield Static("", id="dialog-message", classes="dialog-message")
            yield Static(Text(self.hint()), classes="dialog-hint")

    def body(self) -> ComposeResult:
        yield from ()

    def hint(self) -> str:
        return "enter: preview   esc: cancel (nothing is sent until you confirm the preview)"

    def say(self, text: str, kind: str = "error") -> None:
        message = self.query_one("#dialog-message", Static)
        message.update(Text(plain(text)))
        message.set_class(kind == "error", "-error")
        message.set_class(kind == "warning", "-warning")

    def action_cancel(self) -> None:
        self.dismiss(None)


class ScaleDialog(IntentDialog):
    """`s`: a replica count from 0 to the cap; over twice the current asks for a second look."""

    def __init__(self, service: ModelService, cap: int) -> None:
        super().__init__(f"Scale {service.key}  (now {service.desired} desired, {service.ready} ready)",
                         production=production_scope(service))
        self.service = service
        self.cap = cap

    def body(self) -> ComposeResult:
        yield Input(value=str(self.service.desired), placeholder=f"replicas, 0..{self.cap}", id="replicas")

    def on_input_changed(self, event: Input.Changed) -> None:
        try:
            replicas = parse_replicas(event.value, self.cap)
        except InvalidInput as exc:
            self.say(str(exc))
            return
        warning = replicas_warning(replicas, self.service.desired)
        self.say(warning, "warning") if warning else self.say("", "none")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            self.dismiss(Scale(parse_replicas(event.value, self.cap)))
        except InvalidInput as exc:
            self.say(str(exc))


FAILED_ANALYSIS_REASONS = ("AnalysisRunFailed", "AnalysisRunError")
"""Argo's event reasons for an analysis that judged the canary bad."""


def canary_trouble(service: ModelService, alerts: Sequence[Alert]) -> str:
    """Why the canary looks bad right now (a firing alert, a failed analysis), or ''."""
    if service.canary is not None and service.canary.aborted:
        return ""
    firing = sorted({a.name for a in alerts if a.state is AlertState.FIRING})
    if firing:
        return f"firing: {', '.join(firing)}"
    failed = next((c for c in service.conditions if c.reason in FAILED_ANALYSIS_REASONS), None)
    return f"analysis failed: {failed.message or failed.reason}" if failed else ""


class CanaryDialog(IntentDialog):
    """`w`: a weight 0-100 (up/down step by 10, snapped to what the engine can reach), or for an
    Argo Rollout, its plugin's operations: abort / promote / promote --full / retry. Abort comes
    first while the canary has a firing alert or a failed analysis: that is when it is reached for."""

    BINDINGS = [
        *IntentDialog.BINDINGS,
        Binding("up", "step(10)", "+10%", show=False),
        Binding("down", "step(-10)", "-10%", show=False),
    ]

    def __init__(self, service: ModelService, alerts: Sequence[Alert] = (),
                 latency: LatencySeries | None = None, now: float | None = None) -> None:
        """`latency`: the service's series, whose canary figures the dialog shows side by side as
        they were when the key was pressed; `now` (unix time) judges them stale."""
        canary = service.canary
        current = (f"{canary.weight}% to {canary.canary_version or 'canary'}"
                   if canary and canary.weight is not None else "?")
        super().__init__(f"Canary of {service.key}  (now {current})",
                         production=production_scope(service))
        self.service = service
        self.argo = bool(canary and canary.source == "argo")
        self.reachable = canary.reachable_weights if canary else ()
        self.trouble = canary_trouble(service, alerts)
        self.comparison = canary_comparison(service, latency, time.time() if now is None else now,
                                            one_line_each=True)

    def body(self) -> ComposeResult:
        if self.comparison:
            *table, verdict = self.comparison
            yield Static(Text("\n").join(literal(line) for line in table), id="canary-vs-stable")
            warn = verdict.startswith(("canary worse", "stale", "canary vs stable: no figures"))
            yield Static(literal(verdict), classes="dialog-message -warning" if warn else "")
        if self.argo:
            canary = self.service.canary
            step = f"step {canary.step}/{canary.total_steps}" if canary and canary.total_steps else ""
            yield Static(Text(f"Argo Rollout {step} {'paused' if canary and canary.paused else ''}".strip()))
            if self.trouble:
                yield Static(Text(plain(f"▲ the canary is unhealthy ({self.trouble})")),
                             classes="dialog-message -warning")
            yield OptionList(*self._argo_options(), id="argo-choice")
        else:
            current = self.service.canary.weight if self.service.canary and self.service.canary.weight else 0
            yield Input(value=str(current), placeholder="canary weight 0-100", id="weight")
            if self.reachable:
                yield Static(Text("reachable weights: " + ", ".join(f"{w}%" for w in self.reachable)))

    def _argo_options(self) -> list[Option]:
        canary = self.service.canary
        stable = canary.stable_version if canary and canary.stable_version else "stable"
        abort = Option(Text(plain(f"abort: canary weight → 0%, {stable} serves everything")), id="abort")
        others = [
            Option("promote: continue to the next step", id="promote"),
            Option("promote --full: skip the remaining steps", id="promote-full"),
            Option("retry: resume an aborted rollout", id="retry"),
        ]
        return [abort, *others] if self.trouble else [*others[:2], abort, others[2]]

    def hint(self) -> str:
        if self.argo:
            return "enter: preview   esc: cancel"
        return "up/down: ±10%   enter: preview   esc: cancel"

    def action_step(self, delta: int) -> None:
        if self.argo:
            return
        box = self.query_one("#weight", Input)
        try:
            weight = parse_weight(box.value)
        except InvalidInput:
            weight = 0
        box.value = str(max(0, min(100, weight + delta)))

    def on_input_changed(self, event: Input.Changed) -> None:
        try:
            weight = parse_weight(event.value)
        except InvalidInput as exc:
            self.say(str(exc))
            return
        reachable = nearest_reachable(weight, self.reachable)
        if reachable != weight:
            self.say(f"{weight}% is not reachable here: the nearest is {reachable}%", "warning")
        else:
            self.say("", "none")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            self.dismiss(SetCanaryWeight(parse_weight(event.value)))
        except InvalidInput as exc:
            self.say(str(exc))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        intents: dict[str | None, Intent] = {"promote": Promote(), "promote-full": Promote(full=True),
                                             "abort": Abort(), "retry": Retry()}
        self.dismiss(intents[event.option.id])


class BlueGreenDialog(IntentDialog):
    """`b`: switch production traffic to another colour that exists (with its ready count)."""

    def __init__(self, service: ModelService) -> None:
        bg = service.blue_green
        super().__init__(f"Blue-green {service.key}  (active: {bg.active if bg else '?'})",
                         production=production_scope(service))
        self.service = service

    def body(self) -> ComposeResult:
        bg = self.service.blue_green
        options = []
        if bg is not None:
            if bg.source == "argo":
                options.append(Option(f"promote the preview ({bg.preview or '?'}) to active", id="\x00promote"))
            for colour in bg.colours:
                if colour.name == bg.active:
                    continue
                ready = f"{colour.ready}/{colour.desired} ready"
                mark = "  ▲ NOT READY" if colour.ready == 0 else ""
                options.append(Option(Text(plain(f"{colour.name}   {ready}{mark}")), id=colour.name))
        if not options:
            yield Static(Text("There is no other colour to switch to."))
        yield OptionList(*options, id="colours")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id == "\x00promote":
            self.dismiss(Promote())
        else:
            self.dismiss(SwitchBlueGreen(event.option.id or ""))


class RollbackDialog(IntentDialog):
    """`R`: pick a revision that exists (default: the previous one)."""

    def __init__(self, service: ModelService, revisions: Sequence[Revision], now: datetime | None = None) -> None:
        super().__init__(f"Roll back {service.key}  (now revision {service.revision or '?'}, {service.version or '?'})",
                         production=production_scope(service))
        self.service = service
        self.revisions = list(revisions)
        self.now = now
        """The time ages are counted to (the app's clock)."""

    def body(self) -> ComposeResult:
        options = [Option("previous revision (like `rollout undo`)", id="\x00previous")]
        options += [Option(Text(plain(r.label(self.now))), id=r.revision) for r in self.revisions]
        yield OptionList(*options, id="revisions")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        chosen = event.option.id
        self.dismiss(Rollback(None if chosen == "\x00previous" else chosen))


class UpdateImageDialog(IntentDialog):
    """`u`: a new image reference, as a rolling update. With several containers (an Argo Rollout's
    models, a KServe predictor) the operator picks which one first; sidecars are not offered."""

    def __init__(self, service: ModelService, containers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(f"Update image of {service.key}  (now {service.image or '?'})",
                         production=production_scope(service))
        self.service = service
        self.containers = list(containers)
        self.container, self.current = self.containers[0] if self.containers else ("", service.image)

    def body(self) -> ComposeResult:
        if len(self.containers) > 1:
            yield Static(Text("Container:"))
            yield OptionList(*(Option(Text(plain(f"{name}   {image}")), id=name) for name, image in self.containers),
                             id="containers")
        yield Input(value=self.current, placeholder="registry/name:tag", id="image")

    def on_mount(self) -> None:
        # Several containers: choose which first (enter moves on to its image); one: type at once.
        self.query_one("#containers" if len(self.containers) > 1 else "#image").focus()

    def hint(self) -> str:
        if len(self.containers) > 1:
            return "up/down: container   enter: edit its image   enter again: preview   esc: cancel"
        return super().hint()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.container, self.current = self.containers[event.option_index]
        self.query_one("#image", Input).value = self.current

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#image", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        try:
            image = parse_image(event.value)
        except InvalidInput as exc:
            self.say(str(exc))
            return
        self.say("that is the current image" if image == self.current else "", "warning")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            self.dismiss(UpdateImage(parse_image(event.value), container=self.container))
        except InvalidInput as exc:
            self.say(str(exc))


class RestartDialog(IntentDialog):
    """`r`: replace every replica with a fresh one on the same spec; the preview says how fast."""

    def __init__(self, service: ModelService) -> None:
        super().__init__(f"Restart {service.key}  ({service.ready}/{service.desired} ready)",
                         production=production_scope(service))
        self.service = service

    def body(self) -> ComposeResult:
        unit = "task" if self.service.platform is Platform.SWARM else "pod"
        like = "docker service update --force" if self.service.platform is Platform.SWARM else "kubectl rollout restart"
        yield OptionList(Option(Text(f"restart: replace every {unit} on the same spec (like `{like}`)"), id="restart"),
                         id="restart-choice")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(Restart())


class SilenceDialog(IntentDialog):
    """`S`: silence an alert: matchers (its identifying labels by default), duration, comment."""

    def __init__(self, alert: Alert) -> None:
        super().__init__(f"Silence {alert.name}")
        self.alert = alert

    def body(self) -> ComposeResult:
        matchers = " ".join(f"{k}={v}" for k, v in self.alert.labels)
        yield Static(Text("Matchers (label=value, label=~regex; space separated):"))
        yield Input(value=plain(matchers), id="matchers")
        yield Static(Text("For how long (30m, 2h, 1d):"))
        yield Input(value="2h", id="duration")
        yield Static(Text("Why (shown to everyone on call):"))
        yield Input(placeholder="e.g. known canary regression, rolling back", id="comment")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            matchers = parse_matchers(self.query_one("#matchers", Input).value)
            seconds = parse_duration(self.query_one("#duration", Input).value)
            comment = parse_comment(self.query_one("#comment", Input).value)
        except InvalidInput as exc:
            self.say(str(exc))
            return
        self.dismiss(SilenceAlert(matchers=matchers, duration_seconds=seconds, comment=comment))


class ExpireSilenceDialog(IntentDialog):
    """`S` on a silenced alert: end one of the silences that hold it."""

    def __init__(self, alert: Alert) -> None:
        super().__init__(f"{alert.name} is silenced: expire a silence to bring it back")
        self.alert = alert

    def body(self) -> ComposeResult:
        yield OptionList(*(Option(Text(plain(f"expire silence {sid}")), id=sid) for sid in self.alert.silenced_by),
                         id="silences")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(ExpireSilence(event.option.id or ""))


def parse_matchers(text: str) -> tuple[tuple[str, str, bool], ...]:
    matchers = []
    for word in text.split():
        regex = "=~" in word
        name, _, value = word.partition("=~" if regex else "=")
        if not name or not _ or not value:
            raise InvalidInput(f"{word!r} is not a matcher: use label=value or label=~regex")
        matchers.append((name, value, regex))
    if not matchers:
        raise InvalidInput("a silence needs at least one matcher")
    return tuple(matchers)
