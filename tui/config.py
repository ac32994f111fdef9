"""Settings: one typed tree, from defaults, the TOML config file and the command line, in that order.

Each value remembers where it came from (`Settings.origin`), so `--help`-level surprises ("why is
it read-only?") can be answered. A bad config file is a one-line error naming the key and why.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mlops_tui.backends import registry
from mlops_tui.backends.engine_spec import EngineOption
from mlops_tui.backends.production import pattern_problem
from mlops_tui.themes import DEFAULT_THEME, THEME_NAMES
from mlops_tui.tui.commands import BY_ID, COMMANDS, default_keys, key_words, normal_key

APP_NAME = "mlops-tui"

class ConfigError(ValueError):
    """A bad setting: the message names the file, the key and what was wrong."""


def default_config_path() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP_NAME) / "config.toml"


def default_cache_dir() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME)


def default_audit_path() -> Path:
    from platformdirs import user_state_path

    return user_state_path(APP_NAME) / "audit.jsonl"


@dataclass
class Settings:
    """Everything the app and the one-shot commands need to know, explicitly passed around."""

    engines: dict[str, dict[str, Any]] = field(default_factory=lambda: {e.name: e.defaults()
                                                                        for e in registry.engines()})
    """Each engine's settings by option name (backends/registry.py declares them): which clusters,
    endpoints and URLs to read."""
    readonly: bool = False
    readonly_clusters: list[str] = field(default_factory=list)
    production: list[str] = field(default_factory=list)
    """Clusters and namespaces (Swarm: stacks) that are production, as 'CLUSTER' or 'CLUSTER/NAMESPACE'
    globs (backends/production.py); added to what the engines mark, never taking it away."""
    theme: str = DEFAULT_THEME
    ascii: bool = False
    """Draw trends with ASCII instead of Unicode block glyphs."""
    demo: bool = False
    demo_scale: int = 1
    demo_time_scale: float = 5.0
    """How much faster than the wall clock the demo's incident unfolds: at 5 the canaries regress
    ~20 s in and the GPU node is lost within a minute (at 1, the story takes ~7 minutes)."""
    replica_cap: int = 100
    """The highest replica count the scale dialog accepts."""
    audit_log: str | None = None
    keys: dict[str, str] = field(default_factory=default_keys)
    """The key of each rebindable command (tui/commands.py): the defaults, then `[keys]`."""
    timeout: float = 15.0
    """How long `status` waits for the first full sync."""
    config_path: str | None = None
    origin: dict[str, str] = field(default_factory=dict)
    """Where each non-default value came from: 'config' or 'cli'."""

    @property
    def audit_path(self) -> Path:
        """Where actions are recorded: `--audit-log`, else the state directory's audit.jsonl, or its
        demo-audit.jsonl with `--demo` (demo actions are kept apart from real ones)."""
        if self.audit_log:
            return Path(self.audit_log).expanduser()
        default = default_audit_path()
        return default.with_name("demo-audit.jsonl") if self.demo else default

    def with_engine(self, name: str, **options: Any) -> Settings:
        """A copy with some of one engine's options set (`with_engine("swarm", endpoints=[...])`)."""
        unknown = set(options) - set(self.engines[name])
        if unknown:
            raise TypeError(f"{name} has no option {', '.join(sorted(unknown))}")
        return replace(self, engines={**self.engines, name: {**self.engines[name], **options}})


_LIST_OF_STR = {"readonly_clusters", "production"}
_STR = {"theme", "audit_log"}
_BOOL = {"readonly", "ascii"}
_NUMBER = {"timeout"}
_INT = {"replica_cap", "demo_scale"}

# The config file groups keys in tables; these map onto a flat Settings field. Each engine's table
# holds its options (named 'engine.option' here), from the registry (`_tables`).
_APP_TABLES = {
    "ui": {"theme": "theme", "ascii": "ascii"},
    "actions": {"readonly": "readonly", "readonly_clusters": "readonly_clusters", "replica_cap": "replica_cap",
                "production": "production"},
    "audit": {"path": "audit_log"},
}


def _tables() -> dict[str, dict[str, str]]:
    engine_tables = {e.name: {o.name: f"{e.name}.{o.name}" for o in e.options} for e in registry.engines()}
    return {**engine_tables, **_APP_TABLES}


def load_config_file(path: Path) -> dict[str, Any]:
    """Read and validate a config file into flat Settings field values."""
    if sys.version_info >= (3, 11):  # here, not at the top: a start without a config file parses no TOML
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    values: dict[str, Any] = {}
    tables = _tables()
    for top, content in raw.items():
        if top == "keys":
            values["keys"] = _check_keys(path, content)
            continue
        if top not in tables:
            raise ConfigError(f"{path}: unknown section [{top}] (known: {', '.join([*tables, 'keys'])})")
        if not isinstance(content, dict):
            raise ConfigError(f"{path}: [{top}] must be a table")
        for key, value in content.items():
            target = tables[top].get(key)
            if target is None:
                raise ConfigError(f"{path}: unknown key '{top}.{key}' (known: {', '.join(tables[top])})")
            values[target] = _check_value(path, f"{top}.{key}", target, value)
    return values


def _check_value(path: Path, where: str, target: str, value: Any) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{path}: key '{where}': expected {expected}, got {value!r}")

    if "." in target:
        engine, option = target.split(".", 1)
        try:
            return _engine_option(engine, option).kind.check(value)
        except ValueError as exc:
            raise bad(str(exc)) from None
    if target in _LIST_OF_STR:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad("a list of non-empty strings")
        if target == "production":
            for pattern in value:
                if problem := pattern_problem(pattern):
                    raise ConfigError(f"{path}: key '{where}': {problem}")
        return list(value)
    if target in _STR:
        if not isinstance(value, str):
            raise bad("a string")
        if target == "theme" and value not in THEME_NAMES:
            raise bad(f"one of {', '.join(THEME_NAMES)}")
        return value
    if target in _BOOL:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if target in _INT:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad("a positive integer")
        return value
    if target in _NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise bad("a positive number")
        return float(value)
    raise bad("a known setting")  # pragma: no cover


def _engine_option(engine: str, option: str) -> EngineOption:
    return next(o for e in registry.engines() if e.name == engine for o in e.options if o.name == option)


def _check_keys(path: Path, content: Any) -> dict[str, str]:
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: [keys] must be a table of command = key")
    keys = default_keys()
    for command, key in content.items():
        if command in BY_ID and command not in keys:
            fixed = BY_ID[command]
            raise ConfigError(f"{path}: key 'keys.{command}': {fixed.words} stays on {key_words(fixed.key)} "
                              f"(in a dialog it moves between the fields or closes it); rebindable: {', '.join(keys)}")
        if command not in keys:
            raise ConfigError(f"{path}: unknown command 'keys.{command}' (known: {', '.join(keys)})")
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{path}: key 'keys.{command}': expected a key name such as \"x\" or \"ctrl+s\"")
        keys[command] = key
    _refuse_clashes(path, keys)
    return keys


def _refuse_clashes(path: Path, keys: dict[str, str]) -> None:
    """One key, one command: the rebound keys against each other and against the keys that cannot
    be rebound (tab, shift+tab, esc), each spelling of a key counted as that key."""
    owners: dict[str, list[str]] = {}
    for command in COMMANDS:
        for key in keys.get(command.id, command.key).split(","):
            owners.setdefault(normal_key(key.strip()), []).append(command.id)
    clashes = [f"{key} ({' and '.join(ids)})" for key, ids in owners.items() if len(ids) > 1]
    if clashes:
        raise ConfigError(f"{path}: [keys] binds {', '.join(sorted(clashes))} to more than one command")


def build_settings(cli: dict[str, Any], config_path: str | None) -> Settings:
    """Defaults, then the config file (explicit path, or the default one if it exists), then CLI."""
    settings = Settings()
    path = Path(config_path).expanduser() if config_path else default_config_path()
    if config_path or path.exists():
        for name, value in load_config_file(path).items():
            _set(settings, name, value, "config")
        settings.config_path = str(path)
    known = {f.name for f in fields(Settings)}
    known |= {f"{e.name}.{o.name}" for e in registry.engines() for o in e.options}
    for name, value in cli.items():
        if name not in known or value is None or value == [] or value is False:
            continue
        if "." in name:
            option = _engine_option(*name.split(".", 1))
            value = _checked(option, value, f"{option.flags[0] if option.flags else name} {value}")
        _set(settings, name, value, "cli")
    for spec in registry.engines():
        for option in spec.options:
            if option.env and not settings.engines[spec.name][option.name] and os.environ.get(option.env):
                value = _checked(option, os.environ[option.env], f"${option.env}={os.environ[option.env]}")
                _set(settings, f"{spec.name}.{option.name}", value, "env")
    return settings


def _checked(option: EngineOption, value: Any, given: str) -> Any:
    """The command line and the environment are checked like the config file (one line, what was wrong)."""
    try:
        return option.kind.check(value)
    except ValueError as exc:
        raise ConfigError(f"{given}: expected {exc}") from None


def _set(settings: Settings, name: str, value: Any, origin: str) -> None:
    """A flat Settings field, or an engine's option named 'engine.option'."""
    if "." in name:
        engine, option = name.split(".", 1)
        settings.engines[engine][option] = value
    else:
        setattr(settings, name, value)
    settings.origin[name] = origin
