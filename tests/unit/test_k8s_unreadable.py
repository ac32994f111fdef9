"""Which Kubernetes workloads the view skips and counts as unreadable (`unreadable_workload`): a shape
that would show a wrong number or no name, never a field that is merely missing."""

from __future__ import annotations

import pytest

from mlops_tui.backends.kubernetes.translate import unreadable_workload


def deployment(**spec) -> dict:
    return {"metadata": {"name": "bert", "namespace": "ml-prod"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "bert"}}, "template": {}, **spec},
            "status": {"replicas": 3, "readyReplicas": 2}}


def test_a_workload_with_every_count_a_whole_number_is_readable_even_with_fields_missing():
    assert unreadable_workload(deployment()) == ""
    assert unreadable_workload({"metadata": {"name": "bert", "namespace": "ml-prod"}, "spec": {}}) == ""
    isvc = {"metadata": {"name": "llm", "namespace": "ml-prod"}, "spec": {"predictor": {"minReplicas": 1}}}
    assert unreadable_workload(isvc) == ""


@pytest.mark.parametrize(("obj", "why"), [
    (deployment(replicas="three"), "spec.replicas is 'three', not a count"),
    (deployment(replicas=-1), "spec.replicas is -1, not a count"),
    (deployment(replicas=True), "spec.replicas is True, not a count"),
    (deployment(replicas=2.5), "spec.replicas is 2.5, not a count"),
    ({**deployment(), "status": {"readyReplicas": "2"}}, "status.readyReplicas is '2', not a count"),
    ({**deployment(), "status": []}, "status is not an object"),
    (deployment(selector="app=bert"), "spec.selector is not an object"),
    ({"spec": {"replicas": 1}}, "no metadata.name"),
    ({"metadata": {"name": "", "namespace": "ml-prod"}, "spec": {}}, "no metadata.name"),
    ({"metadata": {"name": "bert"}, "spec": {}}, "no metadata.namespace"),
    ({"metadata": {"name": "bert", "namespace": "ml-prod"}}, "no spec"),
    ({"metadata": {"name": "llm", "namespace": "ml-prod"}, "spec": {"predictor": {"maxReplicas": "4"}}},
     "spec.predictor.maxReplicas is '4', not a count"),
    ("bert", "not an object"),
])
def test_a_shape_that_would_show_a_wrong_number_or_no_name_is_unreadable_with_its_reason(obj, why):
    assert unreadable_workload(obj) == why
