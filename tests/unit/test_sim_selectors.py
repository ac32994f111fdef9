"""Label and field selectors as the simulated API server parses and applies them."""

from __future__ import annotations

import pytest

from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.selectors import (
    make_filter,
    map_matches,
    match_labels,
    parse_field_selector,
    parse_label_selector,
    selector_string,
)

LABELS = {"app": "ml-model", "version": "v2.1", "tier": "gpu"}


@pytest.mark.parametrize("selector, matches", [
    ("app=ml-model", True), ("app==ml-model", True), ("app!=ml-model", False), ("app!=other", True),
    ("version in (v2.0,v2.1)", True), ("version in (v2.0)", False), ("version notin (v2.0, v3)", True),
    ("tier", True), ("!tier", False), ("canary", False), ("!canary", True),
    ("app=ml-model,version in (v2.1),!canary", True), ("app=ml-model,version=v2.0", False),
    ("", True), ("example.com/team!=x", True),
])
def test_label_selector_operators(selector, matches):
    assert match_labels(parse_label_selector(selector), LABELS) is matches


@pytest.mark.parametrize("selector", ["app in (a", "a==b=c", "app in ()", "bad key!=x", "=x", "-app=x", "app=x,",
                                      "a=(b)"])
def test_bad_label_selectors_are_400s_with_the_servers_words(selector):
    with pytest.raises(ApiError) as info:
        parse_label_selector(selector)
    assert info.value.code == 400 and info.value.message.startswith("unable to parse requirement")


def test_field_selectors_know_each_resources_fields():
    pod = {"metadata": {"name": "p", "namespace": "ml-prod"}, "spec": {"nodeName": "gpu-node-1"},
           "status": {"phase": "Running"}}
    match = make_filter("", "spec.nodeName=gpu-node-1,status.phase!=Pending", "pods")
    assert match is not None and match(pod)
    assert not make_filter("", "metadata.name==q", "pods")(pod)
    assert make_filter("", "metadata.namespace=ml-prod", "deployments")(pod)
    event = {"metadata": {"name": "e"}, "type": "Warning", "reason": "FailedScheduling",
             "involvedObject": {"kind": "Pod", "name": "p"}, "source": {"component": "default-scheduler"}}
    assert make_filter("", "type=Warning,involvedObject.name=p,source=default-scheduler", "events")(event)
    assert make_filter("", "", "pods") is None
    with pytest.raises(ApiError, match=r"field label not supported: spec\.nodeName"):
        parse_field_selector("spec.nodeName=x", "deployments")
    with pytest.raises(ApiError) as info:
        parse_field_selector("status.phase", "pods")
    assert info.value.code == 400


def test_both_selectors_combine():
    pod = {"metadata": {"name": "p", "labels": LABELS}, "status": {"phase": "Running"}}
    assert make_filter("app=ml-model", "status.phase=Running", "pods")(pod)
    assert not make_filter("app=other", "status.phase=Running", "pods")(pod)


def test_service_selectors_and_scale_selector_strings():
    assert map_matches({"app": "ml-model", "version": "v2.1"}, LABELS)
    assert not map_matches({"app": "ml-model", "version": "v2.0"}, LABELS)
    assert not map_matches({}, LABELS)  # a Service without a selector selects nothing
    assert selector_string({"matchLabels": {"b": "2", "a": "1"},
                            "matchExpressions": [{"key": "c", "operator": "In", "values": ["y", "x"]},
                                                 {"key": "d", "operator": "DoesNotExist"}]}) == \
        "a=1,b=2,c in (x,y),!d"  # sorted by key, as labels.Selector.String() does
