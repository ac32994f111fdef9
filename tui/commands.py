"""Every command the app has, declared once.

One frozen record per command: its id (the binding id and its name under `[keys]` in the config
file), its default key, what it says in the key line, the help screen, the command palette, the CLI's
`--help` and the README's key table, and, for an action, which capabilities a service needs for it
and which dialog it opens. The app's bindings, the keymap's valid names, the help screen, the palette,
the key line's choices and the README table are all generated from `COMMANDS`; nothing else lists them.

Plain data on purpose: the CLI reads it before Textual is imported (`--help` stays instant) and
`tui/app.py` builds its bindings from it before the first frame (bench/startup.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from textual.binding import BindingType

MOVE = "Navigate"
ACT = "Act (on the selected service or alert)"
TABLE = "The services table"
APP = "Views and the app"
GROUPS = (MOVE, ACT, TABLE, APP)
"""By purpose, in the order the help screen and the README list them: find it, act on it, order and
widen the table, the rest."""


class Command(NamedTuple):
    """One command: one binding, one keymap name, one line in help, palette and README. A NamedTuple
    rather than a frozen dataclass: as immutable, and cheaper to build on the first frame's path."""

    id: str
    """The binding id, and the command's name under `[keys]` in the config file."""
    key: str
    """The default key, as Textual names keys: "s", "R", "?", "enter", "shift+tab", "ctrl+p"."""
    description: str
    """Short, for the key line (cut to its first word on a narrow terminal) and the palette's title."""
    explanation: str
    """One line for the help screen, the palette and the README's key table (may quote `literals`)."""
    group: str
    action: str = ""
    """The app action the key runs (`action_<name>` on the app); empty: the same as `id`."""
    label: str = ""
    """How a sentence names it ("read-only mode: image update is disabled"); empty: the description."""
    needs: tuple[str, ...] = ()
    """`ActionKind` values (backends/model.py) of which the selected service must have at least one
    for the key to be offered: without any, the key is dimmed and pressing it says why."""
    mutates: bool = False
    """An action on a cluster or an Alertmanager: dimmed and refused in read-only mode."""
    target: Literal["service", "alert"] = "service"
    """What it acts on when it mutates: the selected "service" or the selected "alert"."""
    opens: str = ""
    """The screen the key opens (its class name), where it opens one."""
    shown: bool = True
    """Listed in the key line (the help screen and the palette list every command)."""
    rebindable: bool = True
    """Can be rebound under `[keys]`. Tab, shift+tab and esc also move between a dialog's fields and
    close it: rebinding them would leave dialogs without a way out."""
    priority: bool = False
    """Checked before the focused widget's bindings (tab must not be eaten by the table)."""
    in_palette: bool = True
    """Offered in the command palette (not quit and esc: the palette has its own quit, and esc closes it)."""

    @property
    def action_name(self) -> str:
        return self.action or self.id

    @property
    def words(self) -> str:
        return self.label or self.description.lower()


COMMANDS: tuple[Command, ...] = (
    # Key line order: the actions first, so that a narrow terminal still shows what can be done.
    Command("scale", "s", "Scale",
            "scale: a replica count from 0 to the cap (where an autoscaler owns the count, the preview offers "
            "its bounds)",
            ACT, needs=("scale", "set-autoscaler-bounds"), mutates=True, opens="ScaleDialog"),
    Command("canary", "w", "Canary weight",
            "canary weight; on an Argo Rollout: promote, promote --full, abort, retry",
            ACT, needs=("canary-weight", "promote", "promote-full", "abort", "retry"), mutates=True,
            opens="CanaryDialog"),
    Command("bluegreen", "b", "Blue/green switch",
            "blue-green switch to another colour that exists",
            ACT, label="blue-green switch", needs=("blue-green-switch",), mutates=True, opens="BlueGreenDialog"),
    Command("rollback", "R", "Roll back",
            "roll back (revision picker: image, change cause, what differs, age)",
            ACT, needs=("rollback",), mutates=True, opens="RollbackDialog"),
    Command("update_image", "u", "Update image",
            "update image (Deployment, Argo Rollout, KServe predictor with an image, Swarm; pick the container "
            "first when there are several)",
            ACT, label="image update", needs=("update-image",), mutates=True, opens="UpdateImageDialog"),
    Command("restart", "r", "Restart",
            "restart every pod/task on the same spec (`kubectl rollout restart`, Argo `restartAt`, "
            "`docker service update --force`)",
            ACT, needs=("restart",), mutates=True, opens="RestartDialog"),
    Command("silence", "S", "Silence alert",
            "silence the selected alert (on a silenced one: expire its silence)",
            ACT, label="silence", mutates=True, target="alert", opens="SilenceDialog"),
    Command("logs", "l", "Logs",
            "logs of the selected service, followed live: every pod/task with its name, or one (`o`); "
            "container (`c`), crashed instance (`P`), since 5m/1h/all (`a`); `/` `n` `N` search, `p` pause, "
            "`w` wrap, `s` save",
            ACT, shown=False, opens="LogScreen"),
    Command("details", "enter", "Details",
            "service details: replicas/tasks with node, state and GPUs, revisions, events, latency chart, alerts",
            MOVE, shown=False, opens="ServiceDetailScreen"),
    Command("describe", "d", "Describe",
            "describe the selected service or GPU node (`kubectl describe`, `docker service inspect --pretty`; on a "
            "node: allocated per resource, taints, conditions, pods holding GPUs): `/` search, `n`/`N`, `s` save",
            MOVE, shown=False, opens="ObjectScreen"),
    Command("yaml", "y", "YAML/JSON",
            "the selected service or GPU node as YAML (Kubernetes, managed fields hidden: `m` shows them) or JSON "
            "(Swarm), read-only: `/` search, `n`/`N`, `s` saves it to `objects/` beside the audit log, `d`/`y` "
            "switch views",
            MOVE, shown=False, opens="ObjectScreen"),
    Command("jump", ":", "Jump",
            "jump to a view (`services`, `gpus`, `latency`, `alerts`), the incident `timeline`, a cluster, "
            "or a service by name (its start is enough)",
            MOVE, opens="PromptScreen"),
    Command("filter", "/", "Filter",
            "filter services by name, namespace, cluster, or `label=value`; `esc` clears",
            MOVE),
    # k9s's scheme: shift + the column's letter sorts by it, again reverses. STATE's order (trouble first)
    # is T, as R and S are actions; CANARY is W, its weight (C is CLUSTER).
    Command("sort_trouble", "T", "Trouble first",
            "order services by trouble, worst first (the default; again: healthiest first)",
            TABLE, shown=False),
    Command("sort_name", "N", "Order by name",
            "order services by name (again: reversed)",
            TABLE, shown=False),
    Command("sort_cluster", "C", "Order by cluster",
            "order services by cluster (again: reversed)",
            TABLE, shown=False),
    Command("sort_version", "V", "Order by version",
            "order services by version (again: reversed)",
            TABLE, shown=False),
    Command("sort_canary", "W", "Order by canary weight",
            "order services by canary weight, heaviest first (again: reversed)",
            TABLE, shown=False),
    Command("sort_alerts", "A", "Order by alerts",
            "order services by alerts firing or pending, most first (again: reversed)",
            TABLE, shown=False),
    Command("wide", "ctrl+w", "Wide",
            "wide mode: every column at full width, scrolling sideways (again: columns that fit)",
            TABLE, shown=False),
    Command("help", "?", "Help",
            "help: every command and its key",
            APP, opens="HelpScreen"),
    Command("theme", "t", "Next theme",
            "next theme (dark, light, high-contrast)",
            APP, action="cycle_theme", shown=False),
    Command("next_pane", "tab", "Next pane",
            "next pane (at 80×24 the focused pane fills the screen; its tab's badges say what is wrong in each)",
            APP, shown=False, rebindable=False, priority=True),
    Command("previous_pane", "shift+tab", "Previous pane",
            "previous pane",
            APP, shown=False, rebindable=False, priority=True),
    Command("back", "escape", "Back / clear filter",
            "clear the filter (on any other screen, esc closes it)",
            MOVE, shown=False, rebindable=False, in_palette=False),
    Command("quit", "q", "Quit",
            "quit (an action still verifying is audited as applied, not verified)",
            APP, in_palette=False),
    # Textual's own palette key, declared here so that help, the README and `[keys]` treat it like the others.
    Command("palette", "ctrl+p", "palette",
            "command palette: every command, searchable",
            APP, action="command_palette", priority=True, in_palette=False, opens="CommandPalette"),
)

BY_ID = {command.id: command for command in COMMANDS}
BY_ACTION = {command.action_name: command for command in COMMANDS}
ACTION_COMMANDS = tuple(command.id for command in COMMANDS if command.mutates)
"""Commands that change a cluster or an Alertmanager: dimmed and refused in read-only mode."""


def default_keys() -> dict[str, str]:
    """`[keys]` as it is when the config file says nothing: every rebindable command's default key."""
    return {command.id: command.key for command in COMMANDS if command.rebindable}


def rebound_keys(keys: dict[str, str]) -> dict[str, str]:
    """Of `keys` (command id -> key), those away from their default key: the keymap the app applies."""
    return {command: key for command, key in keys.items()
            if key != BY_ID[command].key and normal_key(key) != normal_key(BY_ID[command].key)}


def bindings() -> list[BindingType]:
    """The app's `BINDINGS`, in the table's order (the key line's order), with their default keys;
    the app applies the configured keys on top as a Textual keymap."""
    from textual.binding import Binding

    return [Binding(c.key, c.action_name, c.description, show=c.shown, priority=c.priority, id=c.id)
            for c in COMMANDS]


def normal_key(key: str) -> str:
    """A key in Textual's long form ("?" -> "question_mark"), so that two spellings of one key compare
    equal. Mirrors `textual.keys._character_to_key` without importing Textual (the CLI reads the config
    file before Textual is loaded)."""
    if len(key) == 1 and not key.isalnum():
        import unicodedata  # only the config file's check needs it

        try:
            return unicodedata.name(key).lower().replace("-", "_").replace(" ", "_")
        except ValueError:
            return key
    return key


def key_words(key: str) -> str:
    """A default key as the docs write it (`esc` rather than `escape`)."""
    return {"escape": "esc"}.get(key, key)


def cli_key_summary() -> str:
    """Every command's default key, for `mlops-tui --help`."""
    return ", ".join(f"{key_words(c.key)} {c.words}" for c in COMMANDS)


def readme_key_table() -> str:
    """The README's key table: every command with its default key, by group, in Markdown."""
    rows = ["| key | what it does | `[keys]` name |", "|---|---|---|"]
    for group in GROUPS:
        rows += [f"| `{key_words(c.key)}` | {c.explanation} | {f'`{c.id}`' if c.rebindable else 'fixed'} |"
                 for c in COMMANDS if c.group == group]
    return "\n".join(rows)
