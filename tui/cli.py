"""Command line: `mlops-tui` (the dashboard), `mlops-tui status` (one-shot) and `mlops-tui audit`.

Imports stay light here: Textual and the engine clients are imported only by the command that
needs them, so `--help` and `--version` are instant and the first frame comes early. Even the
config and the engine registry are imported inside `main`, after it paused the cyclic collector.
"""

from __future__ import annotations

import argparse
import gc
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_tui.backends.engine_spec import EngineOption
    from mlops_tui.tui.config import Settings


def _version() -> str:
    from importlib import metadata  # only for --version: it costs ~25 ms of start-up

    try:
        return metadata.version("mlops-tui")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


class _VersionAction(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        print(f"mlops-tui {_version()}")
        parser.exit()


def _options() -> argparse.ArgumentParser:
    """Options shared by every command (so `mlops-tui status --context prod` works)."""
    # SUPPRESS: an option absent from the command line leaves no attribute, so a subcommand's
    # copy of the option never overwrites a value given before the subcommand.
    from mlops_tui.backends import registry
    from mlops_tui.themes import THEME_NAMES

    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    for spec in registry.engines():
        group = common.add_argument_group(spec.title)
        for option in spec.options:
            if option.flags:
                group.add_argument(*option.flags, dest=f"{spec.name}.{option.name}", **_argparse_shape(option))
    general = common.add_argument_group("General")
    general.add_argument("--readonly", action="store_true", help="refuse every mutation")
    general.add_argument("--theme", choices=THEME_NAMES, help="colour theme (default: dark)")
    general.add_argument("--ascii", action="store_true", help="draw trends without Unicode block glyphs")
    general.add_argument("--config", metavar="PATH", help="TOML config file (default: in the platform's config dir)")
    general.add_argument("--audit-log", metavar="PATH", help="where actions are recorded (default: platform state dir)")
    general.add_argument("--demo", action="store_true",
                         help="run against the built-in simulated fleet (Kubernetes, Swarm, Prometheus, Alertmanager)")
    general.add_argument("--demo-scale", type=_positive_int, metavar="N", help="multiply the demo fleet's size by N")
    general.add_argument("--time-scale", dest="demo_time_scale", type=_positive_factor, metavar="N",
                         help="run the demo's incident N times faster than the wall clock (default: 5; 1 is real time)")
    return common


def _argparse_shape(option: EngineOption) -> dict:
    """How an engine option reads on the command line (values are checked in build_settings)."""
    from mlops_tui.backends.engine_spec import OptionKind

    help_text = option.help + (f" (or ${option.env})" if option.env else "")
    if option.kind is OptionKind.FLAG:
        return {"action": "store_true", "help": help_text}
    if option.kind is OptionKind.STRINGS:
        return {"action": "append", "metavar": option.metavar or "VALUE", "help": help_text}
    return {"metavar": option.metavar or "VALUE", "help": help_text}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_factor(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _span(text: str):
    from mlops_tui.tui.timeline_cli import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    from mlops_tui.tui.commands import cli_key_summary

    common = _options()
    top = argparse.ArgumentParser(
        prog="mlops-tui",
        parents=[common],
        description="Live model services, GPUs, latency and alerts across Kubernetes and Docker Swarm, "
                    "with previewed, verified and audited scale / canary / blue-green / rollback actions.",
        epilog=f"Keys (rebind them under [keys] in the config file): {cli_key_summary()}. Try: mlops-tui --demo",
    )
    top.add_argument("--version", action=_VersionAction, nargs=0, help="show the version and exit")
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    status = commands.add_parser("status", parents=[common], help="print the fleet once (table or --json) and exit",
                                 description="Connect, wait for the first full sync, print the fleet, exit "
                                             "non-zero when a cluster could not be read.")
    status.add_argument("--output", "-o", choices=("table", "json"), default="table",
                        help="table for people (default), or json: versioned, described by docs/status.schema.json")
    status.add_argument("--json", dest="output", action="store_const", const="json", help="the same as --output json")
    status.add_argument("--timeout", type=_positive_float, default=15.0, metavar="SECONDS",
                        help="how long to wait for every source's first sync (default: 15)")
    timeline = commands.add_parser(
        "timeline", parents=[common], help="print what happened, in order, for a postmortem, and exit",
        description="Connect, read what the engines keep (Events, alert starts, Swarm task history) and the "
                    "audit log, print the incident timeline oldest first; non-zero when a source could not be read.")
    timeline.add_argument("--since", type=_span, default="1h", metavar="SPAN",
                          help="how far back: 30m, 1h, 2d (default: 1h)")
    timeline.add_argument("--service", default="", metavar="NAME", help="only this service (its name)")
    shape = timeline.add_mutually_exclusive_group()
    shape.add_argument("--json", dest="output", action="store_const", const="json", default="text",
                       help="versioned JSON (schema_version, entries oldest first)")
    shape.add_argument("--markdown", dest="output", action="store_const", const="markdown",
                       help="a Markdown table to paste into the postmortem")
    timeline.add_argument("--timeout", type=_positive_float, default=15.0, metavar="SECONDS",
                          help="how long to wait for every source's first sync (default: 15)")
    audit = commands.add_parser("audit", parents=[common], help="print the last entries of the audit log")
    audit.add_argument("--last", type=_positive_int, default=20, metavar="N", help="how many (default: 20)")
    audit.add_argument("--json", action="store_true", help="print the raw JSON lines")
    return top


def settings_from(args: argparse.Namespace) -> Settings:
    from mlops_tui.tui.config import build_settings

    cli = {k: v for k, v in vars(args).items()
           if k not in ("command", "config", "json", "last", "timeout", "since", "service", "output")}
    return build_settings(cli, getattr(args, "config", None))


def main(argv: list[str] | None = None) -> int:
    # No cyclic collection until the dashboard's first frame is out (the app turns it back on then):
    # our imports, Textual's and composing the screen allocate a lot and free almost nothing, and the
    # collector's passes over that cost 20-40 ms of the first frame (bench/startup.py). The other
    # commands get it back as soon as they are known.
    gc.disable()
    try:
        from mlops_tui.tui.config import ConfigError

        args = parser().parse_args(argv)
        settings = settings_from(args)
    except ConfigError as exc:
        gc.enable()
        print(f"mlops-tui: {exc}", file=sys.stderr)
        return 2
    except BaseException:  # --help, --version, a usage error (SystemExit) or a bug: collect as usual
        gc.enable()
        raise
    if args.command is not None:
        gc.enable()
    if args.command == "status":
        from mlops_tui.tui.status import run_status

        return run_status(settings, as_json=args.output == "json", timeout=args.timeout)
    if args.command == "timeline":
        from mlops_tui.tui.timeline_cli import run_timeline

        return run_timeline(settings, since=args.since, service=args.service, output=args.output,
                            timeout=args.timeout)
    if args.command == "audit":
        from mlops_tui.tui.audit import AuditLog, format_record, readable

        records = AuditLog(settings.audit_path).last(args.last)
        if not records:
            print(f"no actions recorded yet in {settings.audit_path}")
        if args.json:
            import orjson

            for record in records:
                print(orjson.dumps(record).decode())
            return 0
        for record in readable(records):
            print(format_record(record))
        return 0
    status = run_dashboard(settings)
    # The interpreter's own shutdown (joining threads, atexit) is bounded as the app's exit was.
    from mlops_tui.tui.exit_guard import ExitGuard

    ExitGuard(lambda: status).arm()
    return status


def run_dashboard(settings: Settings, build_fleet=None, *, headless: bool = False, exit_grace: float | None = None,
                  crash_dir=None) -> int:
    """Run the app; 0 when the operator quit. When an error ended it, its traceback is in a crash
    report whose path is printed, and the exit status is non-zero (scripts and shells see it).
    The process ends within `exit_grace` seconds of the exit's start (tui/exit_guard.py)."""
    from mlops_tui.tui.app import MlopsApp
    from mlops_tui.tui.config import default_cache_dir
    from mlops_tui.tui.crash import write_crash_report
    from mlops_tui.tui.exit_guard import EXIT_GRACE, ExitGuard

    app = MlopsApp(settings, build_fleet or _build_fleet, crash_dir=crash_dir, stylesheet_cache=default_cache_dir())
    _warn_if_unaudited(settings)
    stopped_by: list[int] = []
    app.exit_guard = ExitGuard(lambda: 128 + stopped_by[0] if stopped_by else (app.return_code or 0), crash_dir,
                               EXIT_GRACE if exit_grace is None else exit_grace)
    restore = _stop_cleanly_on_signals(app, stopped_by)
    try:
        app.run(headless=headless)
    except Exception as exc:  # raised by Textual itself (driver, terminal): no report was written yet
        gc.enable()
        app.crash_report = app.crash_report or write_crash_report(exc, what="mlops-tui could not run")
        print(f"mlops-tui: stopped by an error: {type(exc).__name__}: {exc}", file=sys.stderr)
        _print_crash_report(app.crash_report)
        return 1
    finally:
        app.exit_guard.cancel()
        restore()
    if stopped_by:
        import signal

        print(f"mlops-tui: stopped by {signal.Signals(stopped_by[0]).name}; actions still being followed are "
              f"recorded in the audit log as abandoned", file=sys.stderr)
        return 128 + stopped_by[0]
    if app.return_code:
        _print_crash_report(app.crash_report)
        return app.return_code
    return 0


def _warn_if_unaudited(settings: Settings) -> None:
    """One clear line before the screen opens: without a writable audit log the app is read-only."""
    from mlops_tui.tui.audit import AuditLog

    problem = AuditLog(settings.audit_path).problem()
    if problem:
        print(f"mlops-tui: {problem}", file=sys.stderr)


STOP_SIGNALS = ("SIGTERM", "SIGHUP")
"""An SSH drop (SIGHUP) or a `kill` (SIGTERM): not the operator's quit, but the record must be as good."""


def _stop_cleanly_on_signals(app, stopped_by: list[int]):
    """SIGTERM/SIGHUP while actions are followed: audit each as abandoned (the intent and its calls are
    already on disk: write-ahead), then end the app as a quit would (a client key is never on disk on
    Linux, elsewhere only while `ssl` loads it: backends/kubernetes/client.py `tls_context`).
    A second signal exits at once (the records are written). Returns what restores the old handlers."""
    import os
    import signal

    def stop(signum, _frame) -> None:
        name = signal.Signals(signum).name
        _abandon_followed(app, f"the app was stopped by {name}")
        if stopped_by:
            os._exit(128 + signum)
        stopped_by.append(signum)
        try:
            import asyncio

            asyncio.get_running_loop().call_soon_threadsafe(app.exit)
        except RuntimeError:  # no loop yet (still starting) or already gone
            raise SystemExit(128 + signum) from None

    previous = {}
    for name in STOP_SIGNALS:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, stop)

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    return restore


def _abandon_followed(app, reason: str) -> None:
    fleet = getattr(app, "fleet", None)
    for verification in list(getattr(app, "verifications", ())):
        try:
            fleet.abandon(verification.plan, reason=reason)  # type: ignore[union-attr]
        except Exception:  # the other records must still be written
            import logging

            logging.getLogger(__name__).exception("could not audit an abandoned verification")


def _print_crash_report(path) -> None:
    where = str(path) if path else "(could not be written)"
    print(f"mlops-tui: the app stopped on an error; its traceback is in {where}", file=sys.stderr)


def _build_fleet(settings: Settings):
    """Runs in the app's worker thread, so the engine clients are imported after the first frame."""
    from mlops_tui.tui.sources import build_fleet

    return build_fleet(settings)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
