"""The reconcile loop both simulated controller threads run (sim/kube/controllers.py for Deployments,
Rollouts, pods and the rest; sim/kube/workloads.py for namespaces, Jobs and DaemonSets): a thread woken
by store changes or a tick, keys marked dirty per resource, timers that make a key dirty later, and a
sync of each dirty key that a client's concurrent write (an ApiError) sends round again."""

from __future__ import annotations

import heapq
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from mlops_tui.sim.kube.errors import ApiError

Timer = tuple[float, int, str, Any]
"""(due on the monotonic clock, tie-breaker, resource, key)."""


def run_rounds(stop: threading.Event, wake: threading.Event, tick: float, round_: Callable[[], None],
               busy: threading.Event | None = None) -> None:
    """Call `round_` whenever woken (or every `tick`) until `stop`; a round that raises is printed and
    the loop goes on, as a controller keeps running past one bad object."""
    while not stop.is_set():
        wake.wait(tick)
        wake.clear()
        if stop.is_set():
            return
        if busy is not None:
            busy.set()
        try:
            round_()
        except Exception:
            traceback.print_exc()
        finally:
            if busy is not None:
                busy.clear()


def release_due(timers: list[Timer], dirty: dict[str, set[Any]]) -> None:
    """Mark dirty every key whose timer is due."""
    now = time.monotonic()
    while timers and timers[0][0] <= now:
        _due, _seq, resource, key = heapq.heappop(timers)
        dirty[resource].add(key)


def sync_dirty(dirty: dict[str, set[Any]], handlers: Iterable[tuple[str, Callable[[Any], None]]],
               after_each: Callable[[], None] | None = None) -> None:
    """One pass over the resources in order, each dirty key synced once; a key whose sync raced a
    client's write (ApiError) is dirty again for the next pass."""
    for resource, sync in handlers:
        keys, dirty[resource] = dirty[resource], set()
        for key in sorted(keys):
            try:
                sync(key)
            except ApiError:
                dirty[resource].add(key)
        if after_each is not None:
            after_each()
