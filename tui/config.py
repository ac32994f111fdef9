"""Settings: one typed tree, from defaults, the TOML config file and the command line, in that order.

Each value remembers where it came from (`Settings.origin`), so `--help`-level surprises ("why is
it read-only?") can be answered. A bad config file is a one-line error naming the key and why.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mlops_tui.themes import DEFAULT_THEME, THEME_NAMES
from mlops_tui.tui.commands import BY_ID, COMMANDS, default_keys, key_words, normal_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

APP_NAME = "mlops-tui"

class ConfigError(ValueError):
    """A bad setting: the message names the file, the key and what was wrong."""


def default_config_path() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP_NAME) / "config.toml"


def default_audit_path() -> Path:
    from platformdirs import user_state_path

    return user_state_path(APP_NAME) / "audit.jsonl"


@dataclass
class Settings:
    """Everything the app and the one-shot commands need to know, explicitly passed around."""

    contexts: list[str] = field(default_factory=list)
    """Kubeconfig contexts to watch (empty: the current context)."""
    all_contexts: bool = False
    kubeconfig: str | None = None
    namespaces: list[str] = field(default_factory=list)
    """Namespaces to watch (empty: all)."""
    selector: str = ""
    """Label selector for model services (empty: every Deployment, Rollout, InferenceService)."""
    swarm: list[str] = field(default_factory=list)
    """Swarm managers: unix://, tcp://, ssh:// URLs or docker context names."""
    prometheus: str | None = None
    alertmanager: str | None = None
    readonly: bool = False
    readonly_clusters: list[str] = field(default_factory=list)
    theme: str = DEFAULT_THEME
    ascii: bool = False
    """Draw trends with ASCII instead of Unicode block glyphs."""
    demo: bool = False
    demo_scale: int = 1
    refresh_seconds: float = 10.0
    """How often Prometheus and Alertmanager are polled."""
    slo_ms: float = 100.0
    """Default p95 latency SLO per service."""
    slo: dict[str, float] = field(default_factory=dict)
    """Per-service p95 SLO in ms, keyed by service name."""
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
        return Path(self.audit_log).expanduser() if self.audit_log else default_audit_path()


_LIST_OF_STR = {"contexts", "namespaces", "swarm", "readonly_clusters"}
_STR = {"kubeconfig", "selector", "prometheus", "alertmanager", "theme", "audit_log"}
_BOOL = {"all_contexts", "readonly", "ascii"}
_NUMBER = {"refresh_seconds", "slo_ms", "timeout"}
_INT = {"replica_cap", "demo_scale"}

# The config file groups keys in tables; each maps onto a flat Settings field.
_TABLES = {
    "kubernetes": {"contexts": "contexts", "all_contexts": "all_contexts", "kubeconfig": "kubeconfig",
                   "namespaces": "namespaces", "selector": "selector"},
    "swarm": {"endpoints": "swarm"},
    "prometheus": {"url": "prometheus", "refresh_seconds": "refresh_seconds", "slo_ms": "slo_ms", "slo": "slo"},
    "alertmanager": {"url": "alertmanager"},
    "ui": {"theme": "theme", "ascii": "ascii"},
    "actions": {"readonly": "readonly", "readonly_clusters": "readonly_clusters", "replica_cap": "replica_cap"},
    "audit": {"path": "audit_log"},
}


def load_config_file(path: Path) -> dict[str, Any]:
    """Read and validate a config file into flat Settings field values."""
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
    for top, content in raw.items():
        if top == "keys":
            values["keys"] = _check_keys(path, content)
            continue
        if top not in _TABLES:
            raise ConfigError(f"{path}: unknown section [{top}] (known: {', '.join([*_TABLES, 'keys'])})")
        if not isinstance(content, dict):
            raise ConfigError(f"{path}: [{top}] must be a table")
        for key, value in content.items():
            target = _TABLES[top].get(key)
            if target is None:
                raise ConfigError(f"{path}: unknown key '{top}.{key}' (known: {', '.join(_TABLES[top])})")
            values[target] = _check_value(path, f"{top}.{key}", target, value)
    return values


def _check_value(path: Path, where: str, target: str, value: Any) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{path}: key '{where}': expected {expected}, got {value!r}")

    if target in _LIST_OF_STR:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad("a list of non-empty strings")
        return list(value)
    if target in _STR:
        if not isinstance(value, str):
            raise bad("a string")
        if target == "theme" and value not in THEME_NAMES:
            raise bad(f"one of {', '.join(THEME_NAMES)}")
        if target in ("prometheus", "alertmanager") and not value.startswith(("http://", "https://")):
            raise bad("an http:// or https:// URL")
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
    if target == "slo":
        if not isinstance(value, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value.values()
        ):
            raise bad("a table of service name = positive milliseconds")
        return {str(k): float(v) for k, v in value.items()}
    raise bad("a known setting")  # pragma: no cover


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
            setattr(settings, name, value)
            settings.origin[name] = "config"
        settings.config_path = str(path)
    known = {f.name for f in fields(Settings)}
    for name, value in cli.items():
        if name not in known or value is None or value == [] or value is False:
            continue
        setattr(settings, name, value)
        settings.origin[name] = "cli"
    if not settings.prometheus and os.environ.get("PROMETHEUS_URL"):
        settings.prometheus = os.environ["PROMETHEUS_URL"]
        settings.origin["prometheus"] = "env"
    if not settings.alertmanager and os.environ.get("ALERTMANAGER_URL"):
        settings.alertmanager = os.environ["ALERTMANAGER_URL"]
        settings.origin["alertmanager"] = "env"
    return settings
