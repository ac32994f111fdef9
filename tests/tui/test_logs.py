"""`l`: a service's logs, followed live. The operator's story: mid-incident they open the logs of the
slow model, search for errors while lines keep coming, pause to read, switch container, save what
they saw for the post-mortem; nothing a container prints can change their terminal.

The fake backend streams lines from a thread as an engine would; keys are sent together, as over SSH."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import LogLine, LogOptions, LogSources, ModelService
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from mlops_tui.tui.logview import LogView
from mlops_tui.tui.screens import logs as log_screen
from tests.fakes import T0, InMemoryBackend
from tests.tui.conftest import seed_fleet, until, visible_text
from tests.tui.keys import burst
from tests.tui.test_actions_flow import select

PODS = ("property-valuation-model-7d4-abc", "property-valuation-model-7d4-def")


class LoggingBackend(InMemoryBackend):
    """Prints `history` at once, then `per_tick` lines every `tick` seconds per pod until stopped."""

    def __init__(self, history: list[str], per_tick: int = 0, tick: float = 0.01, status: str = "") -> None:
        super().__init__()
        self.history, self.per_tick, self.tick, self.status = history, per_tick, tick, status
        self.asked: list[LogOptions] = []
        self.streams_open = 0

    def log_sources(self, service: ModelService) -> LogSources:
        return LogSources(replicas=PODS, containers=("kserve-container", "istio-proxy"), previous=True)

    def stream_logs(self, service: ModelService, options: LogOptions, on_line: Callable[[LogLine], None],
                    on_status: Callable[[str], None], stop: threading.Event) -> None:
        self.asked.append(options)
        self.streams_open += 1
        try:
            on_status(self.status)
            pods = [options.replica] if options.replica else list(PODS)
            for text in self.history:
                for pod in pods:
                    on_line(LogLine(f"{pod}/{options.container or 'kserve-container'}", text,
                                    datetime.now(timezone.utc)))
            n = 0
            while not stop.wait(self.tick):
                for _ in range(self.per_tick):
                    n += 1
                    on_line(LogLine(pods[n % len(pods)], f"POST /v1/models/m:predict 200 latency_ms={n}"))
        finally:
            self.streams_open -= 1


def make(backend: LoggingBackend, tmp_path=None) -> MlopsApp:
    seed_fleet(backend)
    settings = Settings(audit_log=str(tmp_path / "audit.jsonl")) if tmp_path else Settings()
    return MlopsApp(settings, lambda s: Fleet([backend], max_rate=100, clock=lambda: T0), clock=lambda: T0)


def screen(app) -> log_screen.LogScreen:
    assert isinstance(app.screen, log_screen.LogScreen), app.screen
    return app.screen


async def test_l_then_a_search_typed_together_finds_the_error_among_live_lines():
    backend = LoggingBackend(["GET /healthz 200", "POST /predict 500 error: CUDA out of memory", "GET /healthz 200"],
                             per_tick=5)
    app = make(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "l", "slash", "e", "r", "r", "o", "r", "enter")
        await until(pilot, lambda: isinstance(app.screen, log_screen.LogScreen) and screen(app).search == "error")
        logs = screen(app)
        await until(pilot, lambda: logs.matches)
        assert "CUDA out of memory" in logs.current_match().text
        assert logs.paused, "a found line stays put while new lines arrive"
        assert f"/error: {logs.match + 1}/{len(logs.matches)}" in logs.status_line()
        assert backend.asked[0] == LogOptions(), "every replica, the main container, the last 5 minutes, followed"


async def test_every_replica_is_interleaved_with_its_name_and_one_can_be_picked():
    backend = LoggingBackend(["ready"])
    app = make(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("l")
        await until(pilot, lambda: len(screen(app).lines) == 2)
        assert {line.source.split("/")[0] for line in screen(app).lines} == set(PODS)
        await until(pilot, lambda: screen(app).sources.replicas == PODS)
        burst(app, "o", "c")  # one pod, then the sidecar
        await until(pilot, lambda: backend.asked[-1] == LogOptions(replica=PODS[0], container="istio-proxy"))
        await until(pilot, lambda: [line.source for line in screen(app).lines] == [f"{PODS[0]}/istio-proxy"])
        text = visible_text(app)
        assert f"{PODS[0]}/istio-proxy │ ready" in text and "container istio-proxy" in text
        await until(pilot, lambda: backend.streams_open == 1)  # the replaced streams were stopped
        burst(app, "escape")
        await until(pilot, lambda: backend.streams_open == 0)


async def test_a_flood_of_lines_is_drawn_in_batches_into_a_bounded_buffer(monkeypatch):
    drains: list[int] = []
    original = log_screen.LogScreen.drain

    def counting(self):
        drains.append(len(self._incoming))
        original(self)

    monkeypatch.setattr(log_screen.LogScreen, "drain", counting)
    backend = LoggingBackend([f"old line {i}" for i in range(8_000)], per_tick=20)
    app = make(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("l")
        await until(pilot, lambda: len(screen(app).lines) == log_screen.BUFFER_LINES, timeout=10)
        await until(pilot, lambda: len(drains) > 5)
        view = screen(app).query_one(LogView)
        assert view.virtual_size.height == log_screen.BUFFER_LINES
        assert view.text_rows()[-1].strip().endswith(screen(app).lines[-1].text), "following: the newest line is last"
        assert max(drains) > 1_000, "lines arriving between two drains are drawn together"
        assert screen(app).lines[-1].text.startswith("POST"), "the newest lines are kept, the oldest dropped"


async def test_colour_codes_are_stripped_and_escapes_shown_never_passed_to_the_terminal():
    hostile = "\x1b[31mred\x1b[0m then \x1b]0;pwned\x07 title \x1b[2J clear [bold]markup[/]"
    backend = LoggingBackend([hostile])
    app = make(backend)
    async with app.run_test(size=(160, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("l")
        await until(pilot, lambda: len(screen(app).lines) == 2)
        text = visible_text(app)
        assert "red then \\x1b]0;pwned\\x07 title \\x1b[2J clear [bold]markup[/]" in text
        assert "\x1b" not in text and "31m" not in text


async def test_pause_stops_following_and_the_status_says_so():
    backend = LoggingBackend([], per_tick=2)
    app = make(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "l", "p")
        await until(pilot, lambda: isinstance(app.screen, log_screen.LogScreen) and screen(app).paused)
        logs = screen(app)
        await until(pilot, lambda: "paused" in visible_text(app) and len(logs.lines) > 50)
        view = logs.query_one(LogView)
        top = view.scroll_offset.y
        await until(pilot, lambda: len(logs.lines) > 100)
        assert view.scroll_offset.y == top, "paused: the view stays where it was while lines arrive"
        burst(app, "space")
        await until(pilot, lambda: not logs.paused and "following" in visible_text(app))


async def test_save_writes_the_buffer_to_the_state_directory_and_shows_the_path(tmp_path):
    backend = LoggingBackend(["first", "\x1b[32msecond\x1b[0m"])
    app = make(backend, tmp_path)
    async with app.run_test(size=(200, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "l")
        await until(pilot, lambda: isinstance(app.screen, log_screen.LogScreen) and len(screen(app).lines) == 4)
        burst(app, "s")
        await until(pilot, lambda: screen(app).saved is not None)
        saved = screen(app).saved
        assert saved.parent == tmp_path / "logs"
        lines = saved.read_text().splitlines()
        assert len(lines) == 4 and lines[-1].endswith("| second") and "\x1b" not in saved.read_text()
        assert "saved to" in screen(app).status_line()


async def test_an_engine_error_is_shown_in_one_line():
    backend = LoggingBackend([], status='pod-x: container "kserve-container" in pod "pod-x" is waiting to start: '
                                        'ContainerCreating')
    app = make(backend)
    async with app.run_test(size=(200, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("l")
        await until(pilot, lambda: "is waiting to start: ContainerCreating" in visible_text(app))


async def test_wrap_toggles_and_since_cycles_through_5m_1h_and_all():
    backend = LoggingBackend(["x" * 300])
    app = make(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "l", "w")
        await until(pilot, lambda: isinstance(app.screen, log_screen.LogScreen) and screen(app).wrap)
        await until(pilot, lambda: screen(app).query_one(LogView).virtual_size.height >= 6)
        burst(app, "a", "a")
        await until(pilot, lambda: backend.asked[-1].since_seconds is None)
        assert [o.since_seconds for o in backend.asked] == [300, 3600, None]


async def test_l_on_an_engine_that_keeps_no_logs_says_so_and_opens_nothing():
    backend = InMemoryBackend()
    seed_fleet(backend)
    app = MlopsApp(Settings(), lambda s: Fleet([backend], max_rate=100, clock=lambda: T0), clock=lambda: T0)
    async with app.run_test(size=(140, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("l")
        await until(pilot, lambda: any("cannot show logs" in str(n.message) for n in app._notifications))
        assert not isinstance(app.screen, log_screen.LogScreen)


class FailsLater(LoggingBackend):
    """Healthy lines first; the failure only once `fail` is set."""

    def __init__(self) -> None:
        super().__init__(["GET /healthz 200"])
        self.fail = threading.Event()

    def stream_logs(self, service, options, on_line, on_status, stop) -> None:
        on_status("")
        on_line(LogLine(PODS[0], "GET /healthz 200"))
        while not stop.wait(0.01):
            if self.fail.is_set():
                on_line(LogLine(PODS[0], "POST /predict 500 error: CUDA out of memory"))
                self.fail.clear()


async def test_a_search_typed_before_any_line_matches_shows_the_first_match_when_it_arrives():
    backend = FailsLater()
    app = make(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "l", "slash", "c", "u", "d", "a", "enter")
        await until(pilot, lambda: isinstance(app.screen, log_screen.LogScreen) and screen(app).search == "cuda")
        logs = screen(app)
        await until(pilot, lambda: len(logs.lines) >= 1)
        assert logs.current_match() is None and "/cuda: no match" in logs.status_line()
        backend.fail.set()  # the model server fails later
        await until(pilot, lambda: logs.matches)
        assert "CUDA out of memory" in logs.current_match().text, "the match the status counts is the one shown"
        assert "/cuda: 1/1" in logs.status_line() and logs.paused


def _newest(logs: log_screen.LogScreen) -> int:
    text = logs.lines[-1].text if logs.lines else ""
    return int(text.rsplit("=", 1)[1]) if "latency_ms=" in text else 0


async def test_paused_the_lines_being_read_stay_on_screen_while_the_full_buffer_drops_its_oldest(monkeypatch):
    monkeypatch.setattr(log_screen, "BUFFER_LINES", 600)
    backend = LoggingBackend([], per_tick=3)
    app = make(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, log_screen.LogScreen) and len(screen(app).lines) == 600,
                    timeout=20)
        logs = screen(app)
        view = logs.query_one(LogView)
        burst(app, "p")
        await until(pilot, lambda: logs.paused, timeout=20)
        await pilot.pause()
        read = view.text_rows()
        paused_at = _newest(logs)
        await until(pilot, lambda: _newest(logs) >= paused_at + 60, timeout=20)  # 60 older lines dropped
        await pilot.pause()
        assert view.text_rows() == read, "the operator reads the same lines, where they were"


async def test_wrapped_rows_are_kept_count_as_lines_arrive_and_the_oldest_drop(monkeypatch):
    monkeypatch.setattr(log_screen, "BUFFER_LINES", 300)
    backend = LoggingBackend(["short", "x" * 150, "y" * 400], per_tick=3)
    app = make(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "l", "w")
        await until(pilot, lambda: isinstance(app.screen, log_screen.LogScreen) and screen(app).wrap, timeout=20)
        logs = screen(app)
        view = logs.query_one(LogView)
        await until(pilot, lambda: _newest(logs) > 400, timeout=20)  # the long history lines are gone
        width = view.scrollable_content_region.width
        expected = sum(max(1, -(-(view.source_width + 3 + len(line.text)) // width)) for line in logs.lines)
        assert view.virtual_size.height == expected, "each line's rows, counted once as it arrived"
        assert view.text_rows()[-1].strip().endswith(logs.lines[-1].text), "following: the newest line is last"


async def test_letters_of_a_search_are_typed_never_run_as_the_keys_they_are():
    backend = LoggingBackend(["GET /healthz 200", "WARN slow answer: 812 ms"])
    app = make(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "l", "slash", "w", "a", "r", "n", "enter")
        await until(pilot, lambda: isinstance(app.screen, log_screen.LogScreen) and screen(app).search == "warn",
                    timeout=20)
        logs = screen(app)
        await until(pilot, lambda: logs.matches, timeout=20)
        assert not logs.wrap, "w was a letter of the query"
        assert [o.since_seconds for o in backend.asked] == [300], "a was a letter, not `since`"
        burst(app, "w")  # the query is done: w wraps again
        await until(pilot, lambda: logs.wrap)


async def test_shift_p_reads_the_crashed_containers_previous_instance_and_the_title_says_so():
    backend = LoggingBackend(["Traceback (most recent call last):", "torch.cuda.OutOfMemoryError"])
    app = make(backend)
    async with app.run_test(size=(160, 40)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "l", "P")
        await until(pilot, lambda: len(backend.asked) == 2 and backend.asked[-1].previous, timeout=20)
        await until(pilot, lambda: "previous instance" in visible_text(app), timeout=20)
        burst(app, "P")  # and back to the live container
        await until(pilot, lambda: len(backend.asked) == 3 and not backend.asked[-1].previous, timeout=20)


def test_a_key_waits_for_the_work_of_the_key_before_it_never_for_a_repaint():
    """Under a flood the view asks for a frame ten times a second; a key pressed then must not wait
    for a quiet moment between two drains (tui/keygate.py), only for earlier keys' own work."""
    from textual import events, messages
    from textual.widget import Widget

    from mlops_tui.tui.keygate import _work_queued

    view = Widget()
    for repaint in (messages.Update(view), messages.Layout(view), messages.UpdateScroll(), messages.Prompt()):
        view.post_message(repaint)
    assert view.message_queue_size == 4 and not _work_queued(view), "only repaints queued: the key goes through"
    view.post_message(events.Key("w", "w"))
    assert _work_queued(view), "an earlier key still on its way: this one waits"
