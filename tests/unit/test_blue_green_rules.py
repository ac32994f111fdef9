"""Which Services are a blue-green switch (`b`), written as the rules in `selector_switches`' docstring.

The operator's trap this guards: the Istio per-track Services `rent-predictor-stable` / `-canary` each
select one version, like a blue-green router does; offering `b` on them would point the canary Service
at the stable pods and silently end the canary.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from mlops_tui.backends.kubernetes import translate as tr

DATA = Path(__file__).parent / "data" / "k8s"


def load(name: str):
    return json.loads((DATA / name).read_text())


def _deployment(name: str, labels: dict, replicas: int = 3) -> dict:
    return {"metadata": {"name": name, "namespace": "ml-prod"},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": labels}}},
            "status": {"readyReplicas": replicas}}


def _service(name: str, selector: dict) -> dict:
    return {"metadata": {"name": name, "namespace": "ml-prod"}, "spec": {"selector": selector}}


def rent_predictor() -> tuple[list, list, dict]:
    """The demo's Istio canary: two per-track Services, each selecting one version, behind a weighted route."""
    deployments = [
        _deployment("rent-predictor-stable", {"app": "rent-predictor", "version": "v1.1", "track": "stable"}),
        _deployment("rent-predictor-canary", {"app": "rent-predictor", "version": "v1.2", "track": "canary"}, 1),
    ]
    services = [
        _service("rent-predictor-stable", {"app": "rent-predictor", "version": "v1.1"}),
        _service("rent-predictor-canary", {"app": "rent-predictor", "version": "v1.2"}),
    ]
    return services, deployments, load("virtualservice_rent.json")


def test_rule_3_a_selector_over_two_colour_deployments_is_a_switch():
    data = load("bluegreen.json")
    (switch,) = tr.selector_switches([data["service"]], data["deployments"])
    assert (switch.service, switch.key, switch.active) == ("ml-model-service", "version", "v2.0")


def test_without_the_weighted_route_rule_the_istio_track_services_look_like_switches():
    # What went wrong before: by selector shape alone both per-track Services qualify.
    services, deployments, _vs = rent_predictor()
    assert {s.service for s in tr.selector_switches(services, deployments)} == {
        "rent-predictor-stable", "rent-predictor-canary"}


def test_rule_2_a_weighted_route_destination_is_part_of_a_canary_never_a_switch():
    services, deployments, vs = rent_predictor()
    # Hosts are matched by their short name: 'rent-predictor-stable.ml-prod.svc.cluster.local' too.
    assert tr.weighted_destinations(vs) == {"rent-predictor-stable", "rent-predictor-canary"}
    assert tr.selector_switches(services, deployments, weighted_destinations=tr.weighted_destinations(vs)) == []


def test_a_single_destination_route_is_not_a_weighted_route():
    _services, _deployments, vs = rent_predictor()
    single = copy.deepcopy(vs)
    single["spec"]["http"][0]["route"] = single["spec"]["http"][0]["route"][:1]
    assert tr.weighted_destinations(single) == set()
    # A blue-green router fronted by a VirtualService with one destination stays a switch.
    data = load("bluegreen.json")
    plain_vs = {"spec": {"http": [{"route": [{"destination": {"host": "ml-model-service"}}]}]}}
    (switch,) = tr.selector_switches([data["service"]], data["deployments"],
                                     weighted_destinations=tr.weighted_destinations(plain_vs))
    assert switch.service == "ml-model-service"


def test_rule_2_does_not_hide_another_services_switch_in_the_namespace():
    services, deployments, vs = rent_predictor()
    data = load("bluegreen.json")
    switches = tr.selector_switches([*services, data["service"]], [*deployments, *data["deployments"]],
                                    weighted_destinations=tr.weighted_destinations(vs))
    assert [s.service for s in switches] == ["ml-model-service"]


def test_rule_1_services_an_argo_rollout_names_are_argos_to_switch():
    rollout = {"metadata": {"name": "bg-model", "namespace": "ml-prod"},
               "spec": {"strategy": {"blueGreen": {"activeService": "bg-active", "previewService": "bg-preview"}}}}
    assert tr.argo_managed_services(rollout) == {"bg-active", "bg-preview"}
    canary = {"spec": {"strategy": {"canary": {"stableService": "s-stable", "canaryService": "s-canary"}}}}
    assert tr.argo_managed_services(canary) == {"s-stable", "s-canary"}
    # The active Service selects one colour of two colour-labelled Deployments: shape says "switch"...
    deployments = [_deployment("bg-blue", {"app": "bg", "color": "blue"}),
                   _deployment("bg-green", {"app": "bg", "color": "green"})]
    active = _service("bg-active", {"app": "bg", "color": "blue"})
    assert tr.selector_switches([active], deployments)
    # ...but Argo switches it: our selector patch would fight the controller.
    assert tr.selector_switches([active], deployments, argo_services=tr.argo_managed_services(rollout)) == []


def test_argo_blue_green_is_read_from_the_rollout_itself():
    rollout = load("rollout_ensemble.json")
    rollout["spec"]["strategy"] = {"blueGreen": {"activeService": "ens-active", "previewService": "ens-preview"}}
    rollout["status"]["blueGreen"] = {"activeSelector": "aaa", "previewSelector": "bbb"}
    bg = tr.argo_blue_green(rollout)
    assert (bg.source, bg.router, bg.selector_key) == ("argo", "ens-active", tr.ROLLOUTS_POD_TEMPLATE_HASH)
