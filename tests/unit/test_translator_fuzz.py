"""Whatever an engine sends, the translators answer: recorded engine JSON with one field dropped or
replaced by anything (None, the wrong type, huge or negative numbers, NaN/inf, unicode and control
characters) is translated without an exception, so one odd object never takes a cluster's view down.

Hypothesis walks every path of every recorded object; a translator that raises fails here with the
path and the value that broke it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_tui.backends.alerts import translate as alerts
from mlops_tui.backends.kubernetes import translate as k8s
from mlops_tui.backends.prometheus import translate as prom
from mlops_tui.backends.swarm import translate as swarm

DATA = Path(__file__).parent / "data"

ANYTHING = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),  # unicode, control and bidi characters included
    st.sampled_from(["", "-1", "1e400", "NaN", "inf", "\u202e", "\x1b[31m", "[red]x[/]", "9" * 40, "1.5Gi", "-3"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


def load(path: str) -> Any:
    return json.loads((DATA / path).read_text())


def first(body: Any) -> Any:
    if isinstance(body, dict) and "items" in body:
        return body["items"][0]
    return body[0] if isinstance(body, list) else body


def paths(obj: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from paths(value, (*prefix, index))


def broken(obj: Any, path: tuple, value: Any, drop: bool) -> Any:
    """`obj` with the field at `path` dropped, or set to `value`."""
    if not path:
        return value
    obj = copy.deepcopy(obj)
    parent = obj
    for step in path[:-1]:
        parent = parent[step]
    if drop and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return obj


def swarm_view(services: Any, tasks: Any, nodes: Any) -> Any:
    return swarm.translate("swarm-a", services, tasks, nodes)


SWARM = (load("swarm/services.json"), load("swarm/tasks.json"), load("swarm/nodes.json"))

CASES: dict[str, tuple[Any, Callable[[Any], Any]]] = {
    # Kubernetes: the service translators and the reducers the watch cache keeps.
    "a Deployment": (first(load("k8s/deployment_valuation.json")), lambda o: k8s.deployment_service("c", o)),
    "an Argo Rollout": (first(load("k8s/rollout_ensemble.json")), lambda o: k8s.rollout_service("c", o)),
    "a KServe InferenceService": (first(load("k8s/isvc_price.json")), lambda o: k8s.isvc_service("c", o)),
    "a Pod": (first(load("k8s/pods.json")), k8s.pod_facts),
    "a ReplicaSet": (first(load("k8s/replicasets_valuation.json")), k8s.replicaset_facts),
    "a Node": (first(load("k8s/nodes.json")), k8s.node_facts),
    "a GPU node with its pods": (first(load("k8s/nodes.json")),
                                 lambda o: k8s.gpu_node("c", k8s.node_facts(o),
                                                        [k8s.pod_facts(p) for p in load("k8s/pods.json")["items"]])),
    "an HPA": (first(load("k8s/hpa_model.json")), k8s.autoscaler),
    "an Istio VirtualService": (first(load("k8s/virtualservice_rent.json")), k8s.istio_splits),
    # Swarm: services, tasks and nodes as the Engine API lists them.
    "a Swarm service": (SWARM[0][0], lambda o: swarm_view([o, *SWARM[0][1:]], SWARM[1], SWARM[2])),
    "a Swarm task": (SWARM[1][0], lambda o: swarm_view(SWARM[0], [o, *SWARM[1][1:]], SWARM[2])),
    "a Swarm node": (SWARM[2][0], lambda o: swarm_view(SWARM[0], SWARM[1], [o, *SWARM[2][1:]])),
    # Prometheus and Alertmanager answers.
    "Prometheus' alerts": (load("prometheus/prom_alerts.json"), lambda o: alerts.prometheus_alerts(o, "prometheus")),
    "Alertmanager's alerts": (load("prometheus/am_alerts.json"), lambda o: alerts.alertmanager_alerts(o, "am")),
    "Alertmanager's silences": (load("prometheus/am_silences.json"), alerts.silences),
    "a range query": (load("prometheus/query_range_p95.json"), prom.parse_matrix),
    "an instant query": (load("prometheus/query_rps.json"), prom.parse_vector),
}


ENVELOPES = {"Prometheus' alerts": 2, "Alertmanager's alerts": 0, "Alertmanager's silences": 0, "a range query": 2,
             "an instant query": 2}
"""Whole answers of an HTTP API, and how deep their list lies (`data.alerts`: 2; a bare list: 0): an
answer whose list is gone (or that says `status: error`) is the source's error, a ValueError the poller
shows as such; one odd item inside the list is skipped, never an error."""


@pytest.mark.parametrize("what", list(CASES))
def test_one_odd_field_in_what_an_engine_sends_never_raises(what):
    obj, translate = CASES[what]
    every_path = list(paths(obj))

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(path=st.sampled_from(every_path), value=ANYTHING, drop=st.booleans())
    def translates(path, value, drop):
        answer = broken(obj, path, value, drop)
        if what not in ENVELOPES:
            translate(answer)
            return
        try:
            translate(answer)
        except ValueError as error:  # only when the list itself is gone: never for one odd item
            assert len(path) <= ENVELOPES[what], f"one odd item at {path} failed the whole answer: {error}"

    translates()


def test_an_odd_object_is_set_aside_and_counted_and_the_rest_of_the_swarm_is_shown():
    services, tasks, nodes = copy.deepcopy(SWARM)
    whole = swarm.translate("swarm-a", services, tasks, nodes)
    tasks[0]["Status"]["State"] = ["not", "a", "state"]  # unhashable: once took the whole Swarm down
    nodes.append("not a node")
    view = swarm.translate("swarm-a", services, [*tasks, None], nodes)
    assert view.unreadable == 3
    assert set(view.services) == set(whole.services)
