"""A large Swarm's full resync is read in parts (by the first characters of the objects' IDs), so no
one body holds the GIL long enough to delay a key press; what the operator sees is what one read
of everything shows, and a change announced while the parts were being read is not forgotten."""

from __future__ import annotations

import pytest

from mlops_tui.backends.swarm import watch
from mlops_tui.backends.swarm.watch import ID_ALPHABET, SwarmBackend, id_prefix_parts
from mlops_tui.sim.docker import SimSwarm

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def swarm():
    sim = SimSwarm.start(seed=11, fleet="scaled", services=120, replicas=2)
    # Settled: every task running, or pending for GPUs no node has (the fleet keeps a few so), which the
    # scheduler says why. (Every new task is "pending" first: without the reason, this held at once.)
    assert sim.wait_until(lambda s: len(s.tasks()) == 240 and all(settled(t) for t in s.tasks()), timeout=30)
    yield sim
    sim.stop()


def settled(task: dict) -> bool:
    state, reason = task["Status"]["State"], task["Status"].get("Err", "")
    return state == "running" or (state == "pending" and "no suitable node" in reason)


def reading(swarm, monkeypatch, services_per_read: int, tasks_per_read: int) -> tuple[SwarmBackend, list]:
    monkeypatch.setattr(watch, "SERVICES_PER_READ", services_per_read)
    monkeypatch.setattr(watch, "TASKS_PER_READ", tasks_per_read)
    backend = SwarmBackend(swarm.url, name="parts")
    calls: list[tuple[str, str]] = []
    request = backend.client.request

    def recorded(method, path, params=None, *args, **kwargs):
        calls.append((path, (params or {}).get("filters", "")))
        return request(method, path, params, *args, **kwargs)

    backend.client.request = recorded  # type: ignore[method-assign]
    return backend, calls


def test_prefix_parts_cover_every_id_once():
    assert id_prefix_parts(100, 300) == [None]
    for count in (301, 2_000, 10_000, 1_000_000):
        parts = id_prefix_parts(count, 300)
        letters = [c for part in parts for c in part]
        assert sorted(letters) == sorted(ID_ALPHABET) and len(letters) == len(set(letters))
        assert 1 < len(parts) <= len(ID_ALPHABET)


def test_a_swarm_read_in_parts_shows_what_one_read_shows(swarm, monkeypatch):
    whole, _ = reading(swarm, monkeypatch, 10_000, 10_000)
    whole.full_resync()
    whole.full_resync()
    parted, calls = reading(swarm, monkeypatch, 10, 40)
    parted.full_resync()  # the first read knows no size yet: one of each
    calls.clear()
    view = parted.full_resync()
    assert sum(path == "/services" for path, _ in calls) == len(id_prefix_parts(120, 10)) > 1
    assert sum(path == "/tasks" and "running" in f for path, f in calls) == len(id_prefix_parts(240, 40)) > 1
    assert view.services == whole.view.services and len(view.services) == 120
    assert view.gpu_nodes == whole.view.gpu_nodes and view.pending_gpu == whole.view.pending_gpu
    whole.client.close()
    parted.client.close()


def test_a_service_announced_while_the_parts_were_read_is_refreshed_after(swarm, monkeypatch):
    backend, _ = reading(swarm, monkeypatch, 10, 40)
    backend.full_resync()
    moved = sorted(backend._services)[0]
    services = backend.client.services
    parts_read: list[int] = []

    def services_then_an_event(*args, **kwargs):
        parts_read.append(1)
        if len(parts_read) == 2:  # an event arrives between two parts
            backend._on_event({"Type": "service", "Action": "update", "Actor": {"ID": moved}})
        return services(*args, **kwargs)

    backend.client.services = services_then_an_event  # type: ignore[method-assign]
    backend.full_resync()
    assert len(parts_read) > 2
    assert moved in backend._dirty, "the update told during the read would wait for the next resync"
    backend.client.close()
