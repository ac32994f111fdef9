"""An operator's service is found through a Deployment or PodDisruptionBudget LabelSelector: each
matchExpressions operator decides like the API server's, and an expression whose key is missing or not a
string names no label, so that label reads as absent."""

import pytest

from mlops_tui.backends.kubernetes.translate import label_selector_match

POD = {"app": "ranker", "track": "canary"}


def expr(operator: str, key: object = "track", values: tuple[str, ...] = ()) -> dict:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


@pytest.mark.parametrize(("selector", "matches"), [
    (expr("In", values=("canary", "stable")), True),
    (expr("In", values=("stable",)), False),
    (expr("NotIn", values=("stable",)), True),
    (expr("NotIn", values=("canary",)), False),
    (expr("Exists"), True),
    (expr("Exists", key="zone"), False),
    (expr("DoesNotExist", key="zone"), True),
    (expr("DoesNotExist"), False),
])
def test_each_expression_operator_decides_like_the_api_server(selector: dict, matches: bool) -> None:
    assert label_selector_match(selector, POD) is matches


@pytest.mark.parametrize("key", [None, 7])
@pytest.mark.parametrize(("operator", "values", "matches"), [
    ("In", ("canary",), False),
    ("NotIn", ("canary",), True),
    ("Exists", (), False),
    ("DoesNotExist", (), True),
])
def test_an_expression_without_a_string_key_reads_its_label_as_absent(
        key: object, operator: str, values: tuple[str, ...], matches: bool) -> None:
    assert label_selector_match(expr(operator, key=key, values=values), {**POD, "7": "canary"}) is matches
