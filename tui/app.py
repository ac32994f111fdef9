"""The App: composes the dashboard, routes keys to flows, and feeds Fleet snapshots to the panes.

Nothing here talks to an engine. The Fleet is built and started in a worker thread (that is where
`kubernetes`, `docker` and friends get imported), so the first frame is drawn before any network
I/O; after that, snapshots arrive as `FleetUpdated` messages.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from mlops_tui.backends.state import FleetDelta, FleetState
from mlops_tui.backends.vocabulary import HealthState
from mlops_tui.themes import (
    THEME_NAMES,
    build_themes,
    palettes_text,
    parse_palettes,
    screens_stylesheet_path,
    stylesheet_path,
    textual_name,
)
from mlops_tui.tui.commands import BY_ACTION, BY_ID, COMMANDS, bindings, rebound_keys
from mlops_tui.tui.config import Settings
from mlops_tui.tui.dashboard_screen import DashboardScreen
from mlops_tui.tui.format import plain, production_scope, service_matches
from mlops_tui.tui.keyed_table import KeyedTable
from mlops_tui.tui.keygate import UNGATED, KeyGate
from mlops_tui.tui.keyline import KeyLine
from mlops_tui.tui.messages import (
    FleetFailed,
    FleetUpdated,
    NothingConfigured,
    VerificationCrashed,
    VerificationDone,
    VerificationLine,
)
from mlops_tui.tui.pane_tabs import PaneTabs
from mlops_tui.tui.panes import PANES, AlertsPane, GpuPane, LatencyPane, ServicesPane
from mlops_tui.tui.panes.base import PaneMixin, SemanticStyles
from mlops_tui.tui.panes.services import row_key
from mlops_tui.tui.refusals import readonly_refusal, refusal
from mlops_tui.tui.statusbar import StatusBar
from mlops_tui.tui.stylesheet_cache import CachedStylesheet, ParsedStore
from mlops_tui.tui.table_commands import TableCommands

# The Fleet, its plans, the dialogs and the action flows are imported where they are first used:
# the first frame needs none of them (bench/startup.py measures that frame).
if TYPE_CHECKING:
    from textual.driver import Driver

    from mlops_tui.backends.fleet import Fleet
    from mlops_tui.backends.model import Alert, GpuNode, ModelService, ObjectText, ServiceKey
    from mlops_tui.backends.plans import ActionOutcome, ActionPlan
    from mlops_tui.tui.exit_guard import ExitGuard
    from mlops_tui.tui.verification import Verification

FleetFactory = Callable[[Settings], "Fleet"]

COMPACT_WIDTH = 110
COMPACT_HEIGHT = 32
"""Below either, the panes collapse: the focused pane fills the screen and tab switches."""

VIEWS = tuple(pane.pane_id for pane in PANES)
"""The panes' names, in focus order (tab and the jump command)."""

class MlopsApp(TableCommands):
    """mlops-tui: model services, GPUs, latency and alerts across Kubernetes and Swarm."""

    TITLE = "mlops-tui"
    CSS_PATH = stylesheet_path()
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = bindings()
    """Generated from `tui/commands.py`; `[keys]` in the config file rebinds them (a Textual keymap)."""

    def __init__(
        self,
        settings: Settings,
        fleet_factory: FleetFactory,
        *,
        clock: Callable[[], datetime] | None = None,
        crash_dir: Path | None = None,
        stylesheet_cache: Path | None = None,
    ) -> None:
        super().__init__()
        self.parsed_stylesheets = ParsedStore(stylesheet_cache)
        """This start's stylesheet parses, read from `stylesheet_cache` (a folder; None: kept in memory
        only) and written back after the first frame (tui/stylesheet_cache.py)."""
        self.stylesheet = CachedStylesheet(store=self.parsed_stylesheets)  # variables: `_start_with_theme`
        self.settings = settings
        self._fleet_factory = fleet_factory
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self.crash_dir = crash_dir
        """Where crash reports go (default: the platform's state dir, beside the audit log)."""
        self.crash_report: Path | None = None
        """The report of the error that ended the app, if one did (the CLI prints its path)."""
        self.verify_timeout: float | None = None
        """How long an applied action is followed (default: `tui.flows.VERIFY_TIMEOUT`)."""
        self.verifications: set[Verification] = set()
        """Applied actions whose outcome is not known yet (on screen or in the background)."""
        self.exit_guard: ExitGuard | None = None
        """Armed as the exit begins, so that it ends in bounded time (the CLI sets it; tests do not)."""
        self._front_flows: set[Worker] = set()
        self._keys = KeyGate(self, lambda event: App.on_event(self, event), self._action_between_screens)
        self.fleet: Fleet | None = None
        self.state = FleetState(readonly=settings.readonly)
        self.active_pane = "services"
        self.compact: bool | None = None
        """The layout `_layout_for` last set up: one pane at a time (True) or all four (None: none yet)."""
        self._synced = False
        for theme in build_themes(self.parsed_stylesheets.recall("palettes", palettes_text(), parse_palettes)):
            self.register_theme(theme)
        self._start_with_theme(textual_name(settings.theme))
        # Only the keys the config moved: Textual re-applies the keymap to every binding each time it
        # works out which keys are live (each key press, each key line), and a default needs no remap.
        self.set_keymap(rebound_keys(settings.keys))

    def get_driver_class(self) -> type[Driver]:
        # Over SSH every byte is latency: each style is sent once, when a character needs it (tui/terminal_output.py).
        from mlops_tui.tui.driver import compact  # imports Textual's Linux driver: not on Windows

        return compact(super().get_driver_class())

    def _start_with_theme(self, name: str) -> None:
        """The operator's theme from the first frame, with the stylesheet parsed once.

        Setting `theme` runs Textual's watcher, which queues a re-parse of every stylesheet (ours and
        each widget's) for the first frame: about a fifth of our start-up (bench/startup.py). Nothing is
        parsed yet, so the stylesheet takes the theme's variables now and its first parse is the only one.
        What else the watcher does at this point is the dark/light class, which the App set for its
        default theme (and the ANSI colour filter, also chosen by darkness): when the darkness differs,
        the watcher runs as usual. Either way the stylesheet is given the theme's variables here (it is
        built without them: generating a theme's variables costs as much as drawing a pane)."""
        theme = self.get_theme(name)
        if theme is None or theme.dark != self.current_theme.dark:
            self.theme = name
        else:
            self.set_reactive(App.theme, name)
            self.set_class(True, f"-theme-{name}", update=False)
        self.stylesheet.set_variables(self.get_css_variables())

    def get_default_screen(self) -> DashboardScreen:
        return DashboardScreen()

    def compose(self) -> ComposeResult:
        yield StatusBar(self._clock, readonly=self.settings.readonly, demo=self.settings.demo)
        yield PaneTabs()
        # The services pane starts active: composed with its classes, so that mounting does not
        # restyle the screen once more (bench/startup.py).
        # One 2x2 grid (themes/app.tcss), row by row: services | latency, GPUs | alerts. Not two
        # columns of their own: Textual renders every line of a container, even under its children.
        with Container(id="panes"):
            yield ServicesPane(clock=self._clock).add_class("-active", update=False)
            yield LatencyPane(ascii_only=self.settings.ascii)
            yield GpuPane(clock=self._clock)
            yield AlertsPane(clock=self._clock)
        # The filter bar (`/`) is mounted the first time it is wanted (`_filter_bar`).
        yield KeyLine()
        yield SemanticStyles()

    def push_screen(self, *args: Any, **kwargs: Any) -> Any:
        self._read_screens_stylesheet()
        return super().push_screen(*args, **kwargs)

    def _read_screens_stylesheet(self) -> None:
        """The other screens' rules (themes/screens.tcss), added when the first of them opens: the first
        frame does not parse them. Added as a source, so that only this file is parsed now (Textual's
        own screen CSS_PATH would re-parse every stylesheet); a theme switch re-parses it with the rest."""
        path = screens_stylesheet_path()
        if not self.stylesheet.has_source(path):
            self.stylesheet.add_source(Path(path).read_text("utf-8"), read_from=(path, ""), is_default_css=False)

    # -- start-up -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._layout_for(self.size.width, self.size.height)
        self.query_one(ServicesPane).focus()
        self.call_after_refresh(self._after_first_frame)
        self.set_timer(5.0, gc.enable)  # should that never run, the collector still comes back on

    def _after_first_frame(self) -> None:
        # Connect only now: the worker's imports and sockets would otherwise compete with the first
        # frame for the interpreter. The CLI paused the cyclic collector for that frame; what start-up
        # built lives as long as the app, so freeze it out of the collector's sight, then collect.
        gc.freeze()
        # Collect ~14x less often than Python's default (700 allocations): under churn the default made
        # a full collection every ~4 s, each holding every thread for 120-180 ms over the long-lived
        # snapshots (bench/churn.py, 15 minutes); the garbage it waits for is mostly Textual's
        # rendered strips, a few MB at most.
        gc.set_threshold(10_000, 10, 10)
        gc.enable()
        self.run_worker(self._start_fleet, thread=True, name="fleet-start", exclusive=True)
        if self.parsed_stylesheets.changed:
            self.run_worker(self.parsed_stylesheets.save, thread=True, name="stylesheet-cache")

    def _start_fleet(self) -> None:
        """Worker thread: build the backends (heavy imports happen here) and start them."""
        try:
            fleet = self._fleet_factory(self.settings)
        except Exception as exc:
            self.post_message(FleetFailed(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)))
            return
        def publish(state: FleetState, delta: FleetDelta) -> None:
            self.post_message(FleetUpdated(state, delta))

        fleet.subscribe(publish)
        self.fleet = fleet
        if not fleet.backends:
            self.post_message(NothingConfigured())
        fleet.start()

    def exit(self, *args: Any, **kwargs: Any) -> None:
        if self.exit_guard is not None:
            self.exit_guard.arm()
        super().exit(*args, **kwargs)

    def on_unmount(self) -> None:
        if self.exit_guard is not None:  # an exit that did not go through `exit()` (an error)
            self.exit_guard.arm()
        if self.fleet is not None:
            self._abandon_verifications()
            self.fleet.stop()

    # -- keys: one at a time, each after the previous one took effect (tui/keygate.py) ------------

    async def on_event(self, event: events.Event) -> None:
        if not isinstance(event, events.Key) or event.key in UNGATED:
            await super().on_event(event)
        elif event.is_forwarded:  # a key coming back up from the focused widget: bindings run now
            self._keys.coming_back(event)
            await super().on_event(event)
            self._keys.came_back(event)
        elif self._keys.admit(event):
            await super().on_event(event)
            self._keys.sent(event)
        # else held: the gate dispatches it once the app has settled after the key before

    def _action_between_screens(self) -> bool:
        """An action flow is running in front of the operator but none of its screens is up yet
        (it is opening the dialog or planning): the next key belongs to the screen it will show."""
        self._front_flows = {w for w in self._front_flows if w.state in (WorkerState.PENDING, WorkerState.RUNNING)}
        return bool(self._front_flows) and self.screen is self.screen_stack[0]

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._clock

    # -- errors: shown, reported, never a silent exit ---------------------------------------------

    def _handle_exception(self, error: Exception) -> None:
        # Textual ends the app on an error no handler caught (its state may be broken); keep the
        # traceback for the operator's bug report first. The CLI prints the path and exits non-zero.
        from mlops_tui.tui.crash import write_crash_report

        if self.crash_report is None:
            self.crash_report = write_crash_report(error, self.crash_dir, what="the app stopped on this error")
        super()._handle_exception(error)

    def report_error(self, error: BaseException, what: str) -> None:
        """An error the app survives (a worker, an action's follow-up): say what failed, keep the
        traceback in a crash report, carry on."""
        from mlops_tui.tui.crash import write_crash_report

        path = write_crash_report(error, self.crash_dir, what=what)
        where = f"; details in {path}" if path else ""
        self.notify(plain(f"{what} failed: {type(error).__name__}: {error}{where}"), title="Error",
                    severity="error", timeout=30)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.report_error(event.worker.error, event.worker.name or "a background task")

    # -- applied actions: followed in the background of the screens ------------------------------

    def start_verification(self, plan: ActionPlan, typed: str) -> Verification:
        """Apply a confirmed plan and follow it in a thread; its row says "verifying…" until the outcome."""
        from mlops_tui.tui.flows import VERIFY_TIMEOUT, report_verifying
        from mlops_tui.tui.verification import Verification

        assert self.fleet is not None
        verification = Verification(self.post_message, self.fleet, plan, typed, self.verify_timeout or VERIFY_TIMEOUT)
        self.verifications.add(verification)
        report_verifying(self, plan)
        verification.start()
        return verification

    def on_verification_line(self, message: VerificationLine) -> None:
        verification: Verification = message.verification  # type: ignore[assignment]
        verification.lines.append(message.text)
        self._show_progress_of(verification)

    def on_verification_done(self, message: VerificationDone) -> None:
        """The outcome, wherever the operator is: a notice and the row always, the progress screen
        if it is still open (on a conflict it gives way to the new plan's preview)."""
        from mlops_tui.backends.plans import Outcome
        from mlops_tui.tui.flows import report

        verification: Verification = message.verification  # type: ignore[assignment]
        outcome: ActionOutcome = message.outcome  # type: ignore[assignment]
        verification.outcome = outcome
        self.verifications.discard(verification)
        report(self, outcome)
        screen = self._show_progress_of(verification)
        if screen is not None and outcome.outcome is Outcome.CONFLICT and outcome.replanned is not None:
            screen.dismiss("replan")

    def on_verification_crashed(self, message: VerificationCrashed) -> None:
        from mlops_tui.tui.flows import mark_row

        verification: Verification = message.verification  # type: ignore[assignment]
        self.verifications.discard(verification)
        mark_row(self, verification.plan, (f"✖ unknown: {verification.plan.description}", False))
        plan = verification.plan
        self.report_error(message.error, f"following {plan.description} on {plan.target_name}")

    def _show_progress_of(self, verification: Verification):
        from mlops_tui.tui.screens.preview import ProgressScreen

        for screen in self.screen_stack:
            if isinstance(screen, ProgressScreen) and screen.verification is verification:
                screen.show_progress()
                return screen
        return None

    def _abandon_verifications(self) -> None:
        """Quitting while actions are still being verified: the audit log says so for each."""
        for verification in list(self.verifications):
            try:
                self.fleet.abandon(verification.plan)  # type: ignore[union-attr]
            except Exception:  # the other records must still be written
                import logging

                logging.getLogger(__name__).exception("could not audit an abandoned verification")
        self.verifications.clear()

    # -- live data ------------------------------------------------------------------------------

    def on_fleet_updated(self, message: FleetUpdated) -> None:
        panes = list(self._panes())
        if not panes or not self.is_running:
            # The app is closing: its panes are gone, or being taken apart (children first) while
            # an update still in the queue is handled (Textual's run_test shuts the app down from
            # outside its message loop; CI saw the latency pane's own line gone); nowhere to go.
            return
        if not self._synced and message.state.health and all(
            h.state is not HealthState.CONNECTING for h in message.state.health.values()
        ):
            # The initial sync built millions of long-lived objects (the cache). Moving them out of
            # the collector's sight keeps full collections, which stop every thread, short.
            self._synced = True
            gc.freeze()
        before = self._selected_service()
        self.state = message.state
        with self.batch_update():
            for pane in panes:
                pane.show(message.state, message.delta)
            if message.delta.health:
                self.query_one(StatusBar).show(message.state)
            delta = message.delta
            # The tabs are shown only in the compact layout; latency alone never changes a badge.
            if self.compact and (delta.services or delta.removed or delta.alerts or delta.gpus or delta.health):
                self.query_one(PaneTabs).show_state(message.state)
        after = self._selected_service()
        self._show_production_context(after)
        # The footer greys out keys the selected service cannot do; redraw it only when that changes
        # (redrawing it on every update would cost bytes over SSH for nothing).
        if (before and (before.actions, before.denied)) != (after and (after.actions, after.denied)):
            self.refresh_bindings()

        if self.screen.__class__.__name__ == "ServiceDetailScreen":
            key = self.screen.service.key  # type: ignore[attr-defined]
            delta = message.delta
            if key in delta.services or key in delta.latency or delta.alerts:
                self.screen.refresh_from_state()  # type: ignore[attr-defined]

    def on_fleet_failed(self, message: FleetFailed) -> None:
        self.notify(message.error, title="Cannot start", severity="error", timeout=30)

    def on_nothing_configured(self, _message: NothingConfigured) -> None:
        """No source at all: say so, and how to start, rather than "starting" forever."""
        from mlops_tui.tui.empty import how_to_start

        self.query_one(StatusBar).show_nothing_configured()
        self.mount(Static(Text(how_to_start()), id="nothing-configured"), before="#panes")

    def on_services_pane_selected(self, message: ServicesPane.Selected) -> None:
        latency = self.query(LatencyPane)
        if not latency:
            return  # the app is closing: the selection has nowhere to go
        latency.first().select(message.key)
        self._show_production_context(self._selected_service())
        self.refresh_bindings()

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        if isinstance(event.table, ServicesPane):
            event.stop()
            self.action_details()

    def action_details(self) -> None:
        service = self._selected_service()
        if service is None:
            self.notify("select a service in the services pane first", severity="warning")
            return
        from mlops_tui.tui.screens.detail import ServiceDetailScreen  # plotext: only when a detail is opened

        self.push_screen(ServiceDetailScreen(service))

    def action_describe(self) -> None:
        self._open_object("describe")

    def action_yaml(self) -> None:
        self._open_object("yaml")

    def _open_object(self, view: Literal["describe", "yaml"]) -> None:
        """The object screen for the service on the detail screen, or the GPU pane's node when that
        pane is active, or the services pane's service: captured now, read in the screen's worker."""
        target: ModelService | GpuNode | None
        if self.screen is not self.screen_stack[0] and self.screen.__class__.__name__ != "ServiceDetailScreen":
            return  # a dialog or the preview is open: `d` and `y` there are not about an object
        if self.screen.__class__.__name__ == "ServiceDetailScreen":
            target = self.screen.service  # type: ignore[attr-defined]
        elif self.active_pane == "gpus":
            cluster, _, node = (self.query_one(GpuPane).table.selected_key() or "").partition("\x1f")
            target = self.state.gpu_nodes.get((cluster, node))
        else:
            target = self._selected_service()
        if target is None:
            self.notify("select a service, or a node in the GPU pane, first", severity="warning")
            return
        from mlops_tui.backends.model import ModelService
        from mlops_tui.tui.screens.object import ObjectScreen

        fleet = self.fleet
        name = (f"{target.key.kind.value} {target.key.name}" if isinstance(target, ModelService)
                else f"node {target.node}")

        def load(which: Literal["describe", "yaml"], managed: bool) -> ObjectText:
            if fleet is None:
                raise RuntimeError("no sources are connected")
            return fleet.object_text(target, which, managed)

        self.push_screen(ObjectScreen(name, load, view, self.settings.audit_path.parent / "objects"))

    def _panes(self) -> Iterable[PaneMixin]:
        """The dashboard's panes that are mounted (none once the app is closing)."""
        for pane_type in PANES:
            yield from self.query(pane_type)

    def selected_service_key(self) -> ServiceKey | None:
        # The footer asks (check_action) before the panes are mounted, and again while the app exits.
        panes = self.query(ServicesPane)
        return panes.first().selected_service_key() if panes else None

    # -- layout ---------------------------------------------------------------------------------

    def on_resize(self, event) -> None:
        self._layout_for(event.size.width, event.size.height)

    def _layout_for(self, width: int, height: int) -> None:
        compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        if compact == self.compact:
            return  # a resize that keeps the layout: the panes and tabs follow their own sizes
        self.compact = compact
        self.screen_stack[0].set_class(compact, "-compact")  # the dashboard, even under a dialog
        self._show_active_pane()
        if compact:
            self.query_one(PaneTabs).show_state(self.state)

    def _show_active_pane(self) -> None:
        for pane in self._panes():
            pane.set_class(pane.pane_id == self.active_pane, "-active")
        self.query_one(PaneTabs).show_tabs(VIEWS, self.active_pane, f"{self.key_display('next_pane')}: next pane")

    def focus_pane(self, name: str) -> None:
        self.active_pane = name
        self._show_active_pane()
        pane = {p.pane_id: p for p in self._panes()}[name]
        target = pane.table if isinstance(pane, GpuPane) else pane
        self.call_after_refresh(target.focus)

    def action_next_pane(self) -> None:
        self._step_pane(+1)

    def action_previous_pane(self) -> None:
        self._step_pane(-1)

    def _step_pane(self, step: int) -> None:
        if self.screen is not self.screen_stack[0]:  # in a dialog, tab moves between its fields
            self.screen.focus_next() if step > 0 else self.screen.focus_previous()
            return
        self.focus_pane(VIEWS[(VIEWS.index(self.active_pane) + step) % len(VIEWS)])

    def on_descendant_focus(self, event) -> None:
        if not self.screen_stack:
            return  # the app is closing: a focus restored as its last screen left arrives after it
        if self.screen is not self.screen_stack[0]:
            return  # focus inside a dialog (e.g. the `:` prompt): the panes are not on this screen
        for pane in self._panes():
            if event.widget is pane or pane in event.widget.ancestors:
                if self.active_pane != pane.pane_id:
                    self.active_pane = pane.pane_id
                    self._show_active_pane()
                return

    # -- filter and jump ------------------------------------------------------------------------

    async def action_filter(self) -> None:
        # Awaited: keys typed together with `/` are handled after it, so they land in the field.
        field = await self._filter_bar()
        self.query_one("#filter-bar").display = True
        field.focus()

    async def _filter_bar(self, value: str = "") -> Input:
        """The filter's field, mounted (above the key line) the first time it is wanted: its Input and
        their styles cost the first frame about 2 % of its instructions (bench/startup.py)."""
        fields = self.query("#filter").results(Input)
        field = next(fields, None)
        if field is not None:
            return field
        field = Input(value, placeholder="name, namespace, cluster or label=value; enter applies, esc clears",
                      id="filter")
        await self.mount(Horizontal(Static("/", id="filter-label"), field, id="filter-bar"),
                         before=self.query_one(KeyLine))
        return field

    def on_input_changed(self, event: Input.Changed) -> None:
        # Setting the field's value (esc, a `:` jump) posts this too, and it can arrive as the app closes.
        panes = self.query(ServicesPane)
        if event.input.id == "filter" and panes:
            panes.first().set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(ServicesPane).set_filter(event.value)
            if not event.value:
                self.query_one("#filter-bar").display = False
            self.focus_pane("services")

    async def action_back(self) -> None:
        filter_input = next(self.query("#filter").results(Input), None)
        if filter_input is None:  # never opened: nothing to clear
            return
        if filter_input.value or self.query_one("#filter-bar").display:
            filter_input.value = ""
            self.query_one(ServicesPane).set_filter("")
            self.query_one("#filter-bar").display = False
            self.focus_pane("services")

    def action_jump(self) -> None:
        from mlops_tui.tui.jump import clusters
        from mlops_tui.tui.screens.prompt import PromptScreen

        cluster_names = clusters(self.state.health, self.state.services)
        names = sorted({key.name for key in self.state.services})
        self.push_screen(
            PromptScreen(":  jump to a view, a cluster or a service", [*VIEWS, "timeline", *cluster_names, *names],
                         "a view, timeline, a cluster, or a service's name (its start is enough)",
                         shown=[*VIEWS, "timeline", *cluster_names]),
            self._jump_to,
        )

    async def _jump_to(self, typed: str | None) -> None:
        from mlops_tui.tui.jump import clusters, resolve

        if not typed:
            return
        first, _, rest = typed.strip().partition(" ")
        if first.lower() == "timeline":  # `:timeline` or `:timeline NAME cluster:X kind:alert`
            from mlops_tui.tui.screens.timeline import TimelineScreen

            self.push_screen(TimelineScreen(rest.strip()))
            return
        jump = resolve(typed, VIEWS, clusters(self.state.health, self.state.services), self.state.services)
        if jump is None:
            self.notify(plain(f"no view, cluster or service called {typed!r}"), severity="warning")
        elif jump.kind == "view":
            self.focus_pane(jump.target)
        elif jump.kind == "cluster":
            await self._set_filter(jump.target)
        else:
            assert jump.service is not None
            services = self.query_one(ServicesPane)
            if services.filter_text and not service_matches(self.state.services[jump.service], services.filter_text):
                await self._set_filter("")  # the filter hides it: the operator asked for this service
            services.move_cursor_to_key(row_key(jump.service))
            self.focus_pane("services")

    async def _set_filter(self, text: str) -> None:
        if text or self.query("#filter"):
            field = await self._filter_bar(text)
            self.query_one("#filter-bar").display = bool(text)
            field.value = text
        self.query_one(ServicesPane).set_filter(text)
        self.focus_pane("services")

    # -- help, themes, palette ------------------------------------------------------------------

    def action_help(self) -> None:
        from mlops_tui.tui.screens.help import HelpScreen, help_rows

        self.push_screen(HelpScreen(help_rows(self.key_display), self.key_display))

    def action_cycle_theme(self) -> None:
        names = [textual_name(n) for n in THEME_NAMES]
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self.notify(f"theme: {self.theme.removeprefix('mlops-')}", timeout=2)

    def watch_theme(self, _theme: str) -> None:
        # Cell styles are resolved from the theme when rows are built: rebuild them once.
        self.call_after_refresh(self._restyle)

    def _restyle(self) -> None:
        for pane in self._panes():
            pane.restyle(self.state)
        self.query_one(StatusBar).show(self.state)

    def key_display(self, command_id: str) -> str:
        """The key that runs a command now (after `[keys]` in the config file), as the key line shows it."""
        key = self.settings.keys.get(command_id) or BY_ID[command_id].key
        return "/".join(self.get_key_display(binding) for binding in Binding.make_bindings([Binding(key, "")]))

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for command in COMMANDS:
            if command.in_palette:
                yield SystemCommand(command.description,
                                    f"key {self.key_display(command.id)} · {command.explanation.replace('`', '')}",
                                    lambda action=command.action_name: self.run_action(action))

    # -- actions: each key opens its dialog; tui/flows.py does the rest -----------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Action keys stay live even where they cannot work, so that pressing one says why
        # (`_service_for`); the key line dims them through `refusal_for`.
        return True

    def refusal_for(self, action: str) -> str | None:
        """Why `action` cannot be done on the current selection, in one line; None when it can be
        asked for (the Fleet and the engine still have the last word)."""
        return self.refusals()(action)

    def refusals(self) -> Callable[[str], str | None]:
        """`refusal_for`, for any number of actions against one look at the selection: the key line
        asks for each of its keys, and finding the services pane walks the screen."""
        selection: list[ModelService | None] = []

        def refusal_of(action: str) -> str | None:
            command = BY_ACTION.get(action)
            if command is None or not command.mutates:
                return None
            if self.settings.readonly:
                return readonly_refusal(command)
            if command.target != "service":
                return None  # an alert: the alerts pane's selection, checked when the key is pressed
            if not selection:
                selection.append(self._selected_service())
            service = selection[0]
            if service is None:
                return None  # pressing it says "select a service first"
            return refusal(command, service, self.state.health.get(service.key.cluster))

        return refusal_of

    def _show_production_context(self, service: ModelService | None) -> None:
        """The status bar's PRODUCTION band follows the services pane's cursor."""
        for bar in self.query(StatusBar):
            bar.show_production(production_scope(service) if service else "")

    def _selected_service(self) -> ModelService | None:
        key = self.selected_service_key()
        return self.state.services.get(key) if key else None

    def _service_for(self, action: str) -> ModelService | None:
        """The selected service as it is now (a snapshot), if `action` can be asked of it; else say why."""
        reason = self.refusal_for(action)
        if reason is not None:
            denied = reason.startswith("not allowed")
            self.notify(plain(reason), title="Not possible here", severity="error" if denied else "warning")
            return None
        service = self._selected_service()
        if service is None:
            self.notify("select a service in the services pane first", severity="warning")
        return service

    def action_scale(self) -> None:
        from mlops_tui.tui.screens.dialogs import ScaleDialog

        if service := self._service_for("scale"):
            self._run_flow(service, ScaleDialog(service, self.settings.replica_cap))

    def action_canary(self) -> None:
        from mlops_tui.tui.screens.dialogs import CanaryDialog

        if service := self._service_for("canary"):
            self._run_flow(service, CanaryDialog(service, self.state.alerts_for(service.key),
                                                 self.state.latency.get(service.key), self.clock().timestamp()))

    def action_bluegreen(self) -> None:
        from mlops_tui.tui.screens.dialogs import BlueGreenDialog

        if service := self._service_for("bluegreen"):
            self._run_flow(service, BlueGreenDialog(service))

    def action_update_image(self) -> None:
        if service := self._service_for("update_image"):
            # In front of the operator: keys typed next wait for its dialog (it lists containers first).
            self._front_flows.add(self._update_image_flow(service))

    @work(exclusive=True, group="action")
    async def _update_image_flow(self, service: ModelService) -> None:
        from mlops_tui.tui.flows import run_action
        from mlops_tui.tui.screens.dialogs import UpdateImageDialog

        containers: list[tuple[str, str]] = []
        if self.fleet is not None:
            try:
                containers = await asyncio.to_thread(self.fleet.containers, service)
            except Exception as exc:
                self.notify(plain(f"could not list containers: {exc}"), severity="warning")
                return
        await run_action(self, service, UpdateImageDialog(service, containers))

    def action_logs(self) -> None:
        from mlops_tui.tui.screens.logs import LogScreen

        service = self._service_for("logs")
        if service is None or self.fleet is None:
            return
        streamer = self.fleet.log_streamer(service)
        if streamer is None:
            self.notify(plain(f"{service.key.cluster} cannot show logs"), title="Not possible here", severity="warning")
            return
        self.push_screen(LogScreen(service, streamer, self.settings.audit_path.parent / "logs"))

    def action_restart(self) -> None:
        from mlops_tui.tui.screens.dialogs import RestartDialog

        if service := self._service_for("restart"):
            self._run_flow(service, RestartDialog(service))

    def action_rollback(self) -> None:
        if service := self._service_for("rollback"):
            self._front_flows.add(self._rollback_flow(service))

    @work(exclusive=True, group="action", exit_on_error=False, name="the roll back")
    async def _rollback_flow(self, service: ModelService) -> None:
        from mlops_tui.tui.flows import run_action
        from mlops_tui.tui.screens.dialogs import RollbackDialog

        revisions = []
        if self.fleet is not None:
            try:
                revisions = await asyncio.to_thread(self.fleet.revisions, service)
            except Exception as exc:
                self.notify(plain(f"could not list revisions: {exc}"), severity="warning")
        # A history that holds only the revision running now has nothing to go back to. (An empty
        # list means the backend cannot tell: the picker then offers 'previous' and the engine decides.)
        if revisions and all(r.revision == service.revision for r in revisions):
            self.notify(plain(f"{service.key.name} has no earlier revision to roll back to "
                              f"(only revision {service.revision} is kept)"), title="Not possible here",
                        severity="warning")
            return
        await run_action(self, service, RollbackDialog(service, revisions, now=self._clock()))

    def action_silence(self) -> None:
        if self.settings.readonly:
            self.notify(readonly_refusal(BY_ID["silence"]), title="Not possible here", severity="warning")
            return
        alert = self.query_one(AlertsPane).selected_alert()
        if alert is None:
            self.notify("select an alert in the alerts pane first", severity="warning")
            return
        source = self._silence_source()
        if source is None:
            self.notify("silencing needs an Alertmanager (--alertmanager URL)", severity="warning")
            return
        from mlops_tui.tui.screens.dialogs import ExpireSilenceDialog, SilenceDialog

        dialog = ExpireSilenceDialog(alert) if alert.silenced_by else SilenceDialog(alert)
        self._run_flow(None, dialog, source=source, target=alert)

    def _silence_source(self) -> str | None:
        if self.fleet is None:
            return None
        from mlops_tui.backends.base import HoldsSilences

        return next((name for name, b in self.fleet.backends.items() if isinstance(b, HoldsSilences)), None)

    def _run_flow(self, service: ModelService | None, dialog, *, source: str | None = None,
                  target: Alert | None = None) -> None:
        # Keys typed from now on wait for the dialog (and, after it, for the preview).
        self._front_flows.add(self._action_flow(service, dialog, source=source, target=target))

    @work(exclusive=True, group="action", exit_on_error=False, name="the action")
    async def _action_flow(self, service: ModelService | None, dialog, *, source: str | None = None,
                           target: Alert | None = None) -> None:
        from mlops_tui.tui.flows import run_action

        await run_action(self, service, dialog, source=source, target=target)
