"""The Swarm simulator at 2,000 services keeps each service's tasks in their own index (a filtered
`GET /tasks` or one service's status costs what it returns, not the whole Swarm) and sends an event
as soon as it is emitted: what a client reads must be what the whole task list says."""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request

import pytest

from mlops_tui.sim.docker import SimSwarm


@pytest.fixture
def swarm():
    sim = SimSwarm.start(seed=3, fleet="demo")
    assert sim.wait_until(lambda s: all(t["Status"]["State"] == "running" for t in s.tasks()), timeout=10)
    yield sim
    sim.stop()


def get(sim: SimSwarm, path: str, **filters) -> list:
    query = f"?filters={urllib.parse.quote(json.dumps(filters))}" if filters else ""
    with urllib.request.urlopen(sim.http_url + path + query + ("&" if query else "?") + "status=true") as r:
        return json.loads(r.read())


def test_after_scaling_and_removing_services_each_services_tasks_and_counts_match_the_whole_list(swarm):
    names = [s["Spec"]["Name"] for s in swarm.services()]
    swarm.update_service(names[0], lambda spec: spec["Mode"]["Replicated"].__setitem__("Replicas", 4))
    swarm.update_service(names[1], lambda spec: spec["Mode"]["Replicated"].__setitem__("Replicas", 0))
    with urllib.request.urlopen(urllib.request.Request(
            f"{swarm.http_url}/services/{names[2]}", method="DELETE")) as r:
        r.read()
    assert swarm.wait_until(lambda s: sum(t["ServiceID"] == s.service(names[0])["ID"] and t["Status"]["State"]
                                          == "running" for t in s.tasks()) == 4, timeout=10)
    every = get(swarm, "/tasks")
    assert every, "the demo Swarm has tasks"
    for service in swarm.services():
        sid = service["ID"]
        mine = get(swarm, "/tasks", service=[sid])
        assert sorted(t["ID"] for t in mine) == sorted(t["ID"] for t in every if t["ServiceID"] == sid)
        [listed] = get(swarm, "/services", id=[sid])
        running = sum(1 for t in every if t["ServiceID"] == sid and t["Status"]["State"] == "running")
        assert listed["ServiceStatus"]["RunningTasks"] == running
    assert not [t for t in every if t["ServiceID"] not in {s["ID"] for s in swarm.services()}]
    with swarm.state.lock:  # the removed service's tasks left the index too (no stale entries kept)
        indexed = {tid: sid for sid, tasks in swarm.state.by_service.items() for tid in tasks}
        assert indexed == {tid: t["ServiceID"] for tid, t in swarm.state.tasks.items()}


def test_an_event_wakes_the_streams_when_it_is_emitted_not_at_their_next_poll(swarm):
    st = swarm.state
    woken = []
    ready = threading.Event()

    def stream() -> None:
        with st.lock:
            ready.set()
            woken.append(st.changed.wait(30))  # True: notified; False: only the timeout

    reader = threading.Thread(target=stream)
    reader.start()
    ready.wait(5)
    with st.lock:  # the reader waits on the condition once this is let go
        pass
    name = swarm.services()[0]["Spec"]["Name"]
    st.emit("service", "update", swarm.service(name)["ID"], {"name": name})  # from a thread without the lock
    reader.join(10)
    assert woken == [True]


def test_a_tick_lets_the_api_in_and_never_brings_back_a_service_removed_meanwhile():
    """dockerd answers reads while its orchestrator works: a tick over 2,000 services hands the
    lock to waiting requests every few dozen services (it held it 20-130 ms under churn). What a
    request did meanwhile stands: a service deleted then gets no task from the rest of the tick."""
    from mlops_tui.sim.docker import services as engine
    from mlops_tui.sim.docker.orchestrator import BREATHE_EVERY

    sim = SimSwarm(seed=3, fleet="scaled", services=5 * BREATHE_EVERY, replicas=1)
    state, orchestrator = sim.state, sim.orchestrator
    with state.lock:
        while orchestrator.tick():
            pass
    names = sorted(s["Spec"]["Name"] for s in state.services.values())
    for name in names:  # every service has something to do in the next tick
        sim.update_service(name, lambda spec: spec["Mode"]["Replicated"].__setitem__("Replicas", 2))
    victim = state.find_service(names[-1])["ID"]
    breaths: list[int] = []

    def api_takes_the_lock() -> None:
        breaths.append(len(state.tasks))
        if len(breaths) == 1:
            engine.remove_service(state, victim)  # `docker service rm`, served in the pause

    orchestrator._breathe = api_takes_the_lock  # type: ignore[method-assign]
    with state.lock:
        orchestrator.tick()
    assert len(breaths) >= 5, "the lock was offered to the API every BREATHE_EVERY services"
    assert victim not in state.services and not state.tasks_of(victim)
