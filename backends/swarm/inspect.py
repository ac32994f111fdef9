"""Swarm objects as text, the way the docker CLI prints them: `docker service inspect` (JSON) and
`docker service inspect --pretty`, `docker node inspect` and `docker node inspect --pretty`.

Pure functions over what the Engine API sent: the object screen shows their result literally. The
pretty forms follow the CLI's own templates line for line (tabs included), then add what the CLI
leaves out and an on-call operator needs: the GPUs (generic resources) a service reserves and, for a
node, what it offers and which tasks hold its GPUs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from mlops_tui.backends.model import GpuNode


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_json(obj: Any) -> str:
    """`docker service inspect` / `docker node inspect`: a list of one object, indented by four spaces,
    text kept as sent (no \\u escapes for non-ASCII, as Go's encoder writes it)."""
    return json.dumps([obj], indent=4, ensure_ascii=False) + "\n"


def duration(nanoseconds: Any) -> str:
    """A Go `time.Duration` as `String()` writes it: '5s', '1m30s', '500ms', '0s'."""
    try:
        ns = int(nanoseconds)
    except (TypeError, ValueError):
        return str(nanoseconds)
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return f"{sign}{_trim(ns / size)}{unit}"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _trim(rest / 1_000_000_000)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _trim(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")


def go_time(stamp: Any) -> str:
    """An RFC 3339 UTC time as the CLI prints a Go `time.Time` ('2026-12-01 10:55:51.8951 +0000 utc')."""
    text = str(stamp)
    if not text.endswith("Z") or "T" not in text:
        return text
    day, clock = text[:-1].split("T", 1)
    if "." in clock:
        clock = clock.rstrip("0").rstrip(".")
    return f"{day} {clock} +0000 utc"


def bytes_size(value: Any) -> str:
    """docker's `units.BytesSize`: binary units, four significant digits ('1GiB', '512MiB', '1.5GiB')."""
    try:
        size = float(value)
    except (TypeError, ValueError):
        return str(value)
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size /= 1024
        i += 1
    return f"{size:.4g}{units[i]}"


def _cpus(nano: Any) -> str:
    try:
        return f"{int(nano) / 1e9:g}"
    except (TypeError, ValueError):
        return str(nano)


def _generic(resources: Any) -> list[str]:
    """Generic resources as `docker service create --generic-resource` writes them: KIND=VALUE."""
    out = []
    for item in _l(resources):
        for spec in ("DiscreteResourceSpec", "NamedResourceSpec"):
            entry = _d(_d(item).get(spec))
            if entry:
                out.append(f"{entry.get('Kind', '')}={entry.get('Value', '')}")
    return out


def _labels(lines: list[str], labels: Mapping[str, Any], dash: str = "") -> None:
    for key in sorted(labels):
        value = labels[key]
        lines.append(f" {dash}{key}" + (f"={value}" if value else ""))


def _update_config(lines: list[str], heading: str, order_word: str, config: Mapping[str, Any]) -> None:
    lines.append(f"{heading}:")
    lines.append(f" Parallelism:\t{config.get('Parallelism', 0)}")
    if config.get("Delay"):
        lines.append(f" Delay:\t\t{duration(config['Delay'])}")
    lines.append(f" On failure:\t{config.get('FailureAction', '')}")
    if config.get("Monitor"):
        lines.append(f" Monitoring Period: {duration(config['Monitor'])}")
    lines.append(f" Max failure ratio: {config.get('MaxFailureRatio', 0):g}"
                 if isinstance(config.get("MaxFailureRatio", 0), (int, float))
                 else f" Max failure ratio: {config.get('MaxFailureRatio')}")
    # The CLI's template pads the two words to one column: 'Update order:      ', 'Rollback order:    '.
    lines.append(f" {(order_word + ' order:').ljust(19)}{config.get('Order', '')}")


def pretty_service(service: Mapping[str, Any], network_names: Mapping[str, str] | None = None) -> str:
    """`docker service inspect --pretty`, from the service as `GET /services/{id}?insertDefaults=true`
    returns it; `network_names` names the attached networks' IDs, as the CLI looks them up."""
    spec = _d(service.get("Spec"))
    template = _d(spec.get("TaskTemplate"))
    container = _d(template.get("ContainerSpec"))
    lines = ["", f"ID:\t\t{service.get('ID', '')}", f"Name:\t\t{spec.get('Name', '')}"]
    labels = _d(spec.get("Labels"))
    if labels:
        lines.append("Labels:")
        _labels(lines, labels)
    mode = _d(spec.get("Mode"))
    if "Global" in mode:
        lines.append("Service Mode:\tGlobal")
    elif "Replicated" in mode:
        lines.append("Service Mode:\tReplicated")
        replicas = _d(mode["Replicated"]).get("Replicas")
        if replicas is not None:
            lines.append(f" Replicas:\t{replicas}")
    else:
        lines.append("Service Mode:" + "".join(f"\t{k}" for k in mode))
    update = _d(service.get("UpdateStatus"))
    if update:
        lines.append("UpdateStatus:")
        lines.append(f" State:\t\t{update.get('State', '')}")
        if update.get("StartedAt"):
            lines.append(f" Started:\t{update['StartedAt']}")
        if update.get("State") in ("completed", "rollback_completed") and update.get("CompletedAt"):
            lines.append(f" Completed:\t{update['CompletedAt']}")
        lines.append(f" Message:\t{update.get('Message', '')}")
    placement = _d(template.get("Placement"))
    lines.append("Placement:")
    if _l(placement.get("Constraints")):
        lines.append(f" Constraints:\t[{' '.join(map(str, placement['Constraints']))}]")
    preferences = [f"spread={_d(_d(p).get('Spread')).get('SpreadDescriptor', '')}" for p in
                   _l(placement.get("Preferences"))]
    if preferences:
        lines.append(f" Preferences:   [{' '.join(preferences)}]")
    if placement.get("MaxReplicas"):
        lines.append(f" Max Replicas Per Node:   {placement['MaxReplicas']}")
    if spec.get("UpdateConfig"):
        _update_config(lines, "UpdateConfig", "Update", _d(spec["UpdateConfig"]))
    if spec.get("RollbackConfig"):
        _update_config(lines, "RollbackConfig", "Rollback", _d(spec["RollbackConfig"]))
    lines.append("ContainerSpec:")
    lines.append(f" Image:\t\t{container.get('Image', '')}")
    if _l(container.get("Args")):
        lines.append(" Args:\t\t" + "".join(f"{a} " for a in container["Args"]))
    if _l(container.get("Env")):
        lines.append(" Env:\t\t" + "".join(f"{e} " for e in container["Env"]))
    if container.get("Dir"):
        lines.append(f" Dir:\t\t{container['Dir']}")
    if "Init" in container and container["Init"] is not None:
        lines.append(f" Init:\t\t{'true' if container['Init'] else 'false'}")
    if container.get("User"):
        lines.append(f" User: {container['User']}")
    mounts = [_d(m) for m in _l(container.get("Mounts"))]
    if mounts:
        lines.append("Mounts:")
        for m in mounts:
            lines += [f" Target:\t{m.get('Target', '')}", f"  Source:\t{m.get('Source', '')}",
                      f"  ReadOnly:\t{'true' if m.get('ReadOnly') else 'false'}", f"  Type:\t\t{m.get('Type', '')}"]
    resources = _d(template.get("Resources"))
    if resources.get("Limits") is not None or resources.get("Reservations") is not None:
        lines.append("Resources:")
        reservations, limits = _d(resources.get("Reservations")), _d(resources.get("Limits"))
        lines += _cpu_and_memory(" Reservations:", reservations) + _cpu_and_memory(" Limits:", limits)
        if limits.get("Pids"):
            lines.append(f"  PIDs:\t\t{limits['Pids']}")
        # Not in the CLI's template: the GPUs the service reserves, which is what an on-call operator asks.
        generic = _generic(reservations.get("GenericResources"))
        if generic:
            lines.append(" Generic resources (reserved):")
            lines += [f"  {g}" for g in generic]
    attached = attached_networks(service)
    if attached:
        lines.append("Networks:" + "".join(f" {(network_names or {}).get(n) or n}" for n in attached) + " ")
    endpoint = _d(spec.get("EndpointSpec"))
    lines.append(f"Endpoint Mode:\t{endpoint.get('Mode', 'vip')}")
    ports = [_d(p) for p in _l(endpoint.get("Ports"))]
    if ports:
        lines.append("Ports:")
        for p in ports:
            lines += [f" PublishedPort = {p.get('PublishedPort', 0)}", f"  Protocol = {p.get('Protocol', 'tcp')}",
                      f"  TargetPort = {p.get('TargetPort', 0)}", f"  PublishMode = {p.get('PublishMode', 'ingress')}"]
    health = _d(container.get("Healthcheck"))
    if health:
        lines.append(" Healthcheck:")
        lines.append(f"  Interval = {duration(health.get('Interval', 0))}")
        lines.append(f"  Retries = {health.get('Retries', 0)}")
        lines.append(f"  StartPeriod =\t{duration(health.get('StartPeriod', 0))}")
        lines.append(f"  Timeout =\t{duration(health.get('Timeout', 0))}")
        if _l(health.get("Test")):
            lines.append("  Tests:")
            lines += [f"\t Test = {t}" for t in health["Test"]]
    return "\n".join(lines) + "\n"


def pretty_node(node: Mapping[str, Any], gpu: GpuNode | None = None, tasks: Sequence[tuple[str, str]] = ()) -> str:
    """`docker node inspect --pretty`, then the node's GPUs: what it offers and has allocated per kind,
    and which tasks hold them (from `gpu`, the Fleet's reading of the same node's tasks)."""
    spec, description, status = _d(node.get("Spec")), _d(node.get("Description")), _d(node.get("Status"))
    lines = [f"ID:\t\t\t{node.get('ID', '')}"]
    if spec.get("Name"):
        lines.append(f"Name:\t\t\t{spec['Name']}")
    if _d(spec.get("Labels")):
        lines.append("Labels:")
        _labels(lines, _d(spec["Labels"]), "- ")
    lines.append(f"Hostname:              \t{description.get('Hostname', '')}")
    lines.append(f"Joined at:             \t{go_time(node.get('CreatedAt', ''))}")
    lines.append("Status:")
    lines.append(f" State:\t\t\t{str(status.get('State', '')).capitalize()}")
    if status.get("Message"):
        lines.append(f" Message:              \t{status['Message']}")
    lines.append(f" Availability:         \t{str(spec.get('Availability', '')).capitalize()}")
    if status.get("Addr"):
        lines.append(f" Address:\t\t{status['Addr']}")
    manager = _d(node.get("ManagerStatus"))
    if manager:
        lines.append("Manager Status:")
        lines.append(f" Address:\t\t{manager.get('Addr', '')}")
        lines.append(f" Raft Status:\t\t{str(manager.get('Reachability', '')).capitalize()}")
        lines.append(f" Leader:\t\t{'Yes' if manager.get('Leader') else 'No'}")
    platform = _d(description.get("Platform"))
    lines += ["Platform:", f" Operating System:\t{platform.get('OS', '')}",
              f" Architecture:\t\t{platform.get('Architecture', '')}"]
    resources = _d(description.get("Resources"))
    lines += ["Resources:", f" CPUs:\t\t\t{_cpus(resources.get('NanoCPUs', 0))}",
              f" Memory:\t\t{bytes_size(resources.get('MemoryBytes', 0))}"]
    plugins: dict[str, list[str]] = {}
    for plugin in _l(_d(description.get("Engine")).get("Plugins")):
        plugins.setdefault(str(_d(plugin).get("Type", "")), []).append(str(_d(plugin).get("Name", "")))
    if plugins:
        lines.append("Plugins:")
        lines += [f" {kind}:\t\t{', '.join(sorted(names))}" for kind, names in sorted(plugins.items())]
    engine = _d(description.get("Engine"))
    lines.append(f"Engine Version:\t\t{engine.get('EngineVersion', '')}")
    if _d(engine.get("Labels")):
        lines.append("Engine Labels:")
        _labels(lines, _d(engine["Labels"]), "- ")
    tls = _d(description.get("TLSInfo"))
    if tls:
        lines += ["TLS Info:", " TrustRoot:", str(tls.get("TrustRoot", "")).rstrip("\n"),
                  f" Issuer Subject:\t{tls.get('CertIssuerSubject', '')}",
                  f" Issuer Public Key:\t{tls.get('CertIssuerPublicKey', '')}"]
    # Not in the CLI's template: the node's GPUs, per generic resource kind, and who holds them.
    generic = _generic(resources.get("GenericResources"))
    lines.append("Generic Resources:" + ("" if generic else "\t<none>"))
    lines += [f" {g}" for g in generic]
    if gpu is not None:
        lines.append("GPUs (allocatable / allocated / free):")
        lines += [f" {r.name}:\t{r.allocatable} / {r.allocated} / {r.free}" for r in gpu.resources] or [" <none>"]
    lines.append("Tasks holding GPUs:" + ("" if tasks else "\t<none>"))
    lines += [f" {task}\t{held}" for task, held in tasks]
    return "\n".join(lines) + "\n"


def attached_networks(service: Mapping[str, Any]) -> list[str]:
    """The network IDs a service is attached to (its task template's, else the old spec field)."""
    spec = _d(service.get("Spec"))
    template = _d(spec.get("TaskTemplate"))
    return [str(_d(n).get("Target", "")) for n in _l(template.get("Networks")) or _l(spec.get("Networks"))]


def holders_of(gpu: GpuNode | None) -> list[tuple[str, str]]:
    """(task, 'KIND: count [device ids]') for each task holding GPUs on the node."""
    if gpu is None:
        return []
    return [(h.workload, f"{h.resource}: {h.gpus}" + (f" [{', '.join(h.devices)}]" if h.devices else ""))
            for h in gpu.holders]


def _cpu_and_memory(title: str, amounts: dict) -> list[str]:
    """A Reservations or Limits block as the CLI's template prints it: only what is set, none when empty."""
    lines = [f"  CPU:\t\t{_cpus(amounts['NanoCPUs'])}"] if amounts.get("NanoCPUs") else []
    if amounts.get("MemoryBytes"):
        lines.append(f"  Memory:\t{bytes_size(amounts['MemoryBytes'])}")
    return [title, *lines] if lines else []
