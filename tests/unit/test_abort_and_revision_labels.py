"""What the operator reads before and after aborting an Argo canary, and in the rollback picker."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mlops_tui.backends.kubernetes import actions as ka
from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.plans import Abort

DATA = Path(__file__).parent / "data" / "k8s"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)


def rollout():
    return json.loads((DATA / "rollout_ensemble.json").read_text())


def ensemble_replicasets():
    """The stable ReplicaSet ('old', v1.9) and the canary's ('abc', v2.0)."""
    return [tr.ReplicaSetFacts("ml-prod", "ensemble-predictor-old", "Rollout", "ensemble-predictor", "1",
                               "proptechusa/price-model:v1.9", "v1.9", 4, 4, None, "old"),
            tr.ReplicaSetFacts("ml-prod", "ensemble-predictor-abc", "Rollout", "ensemble-predictor", "2",
                               "proptechusa/price-model:v2.0", "v2.0", 1, 1, None, "abc")]


def test_the_abort_preview_says_the_canary_weight_drops_to_zero_and_who_serves_then():
    ro = rollout()
    service = tr.rollout_service("prod", ro, replicasets=ensemble_replicasets())
    plan = ka.plan_argo("prod", "a", service, Abort(), ro)
    assert (plan.before["canary weight"], plan.after["canary weight"]) == ("20%", "0%")
    assert plan.before["serving"] == "v1.9 + v2.0 at 20%"
    assert plan.after["serving"] == "v1.9 only, on 5 replicas"
    assert plan.before.keys() == plan.after.keys()


def test_after_an_abort_the_row_shows_the_version_the_pods_run():
    ro = rollout()
    assert tr.rollout_service("prod", ro, replicasets=ensemble_replicasets()).version == "v2.0"  # mid-canary
    aborted = copy.deepcopy(ro)
    aborted["status"]["abort"] = True
    service = tr.rollout_service("prod", aborted, replicasets=ensemble_replicasets())
    assert (service.version, service.image) == ("v1.9", "proptechusa/price-model:v1.9")
    assert service.canary is not None and service.canary.canary_version == "v2.0"  # the canary is still named


def rs(revision: str, image: str, env: dict[str, str], cause: str = "", age_minutes: int = 60):
    pod = {"containers": [{"name": "model-server", "image": image,
                           "env": [{"name": k, "value": v} for k, v in env.items()]}]}
    return tr.ReplicaSetFacts("ml-prod", f"m-{revision}", "Deployment", "m", revision, image, image.rsplit(":")[-1],
                              3, 3, NOW - timedelta(minutes=age_minutes), f"h{revision}", cause, tr._env_digest(pod))


def test_two_revisions_of_the_same_image_read_differently_in_the_picker():
    history = [rs("3", "repo/m:v2.1", {"BATCH_SIZE": "64", "MODEL_VERSION": "2.1"}, age_minutes=5),
               rs("2", "repo/m:v2.1", {"BATCH_SIZE": "32", "MODEL_VERSION": "2.1"}, age_minutes=120),
               rs("1", "repo/m:v2.0", {"BATCH_SIZE": "32"}, cause="kubectl set image deploy/m m=repo/m:v2.0",
                  age_minutes=3000)]
    labels = [r.label(NOW) for r in tr.revisions("3", history)]
    assert labels == [
        "revision 3 · repo/m:v2.1 · env BATCH_SIZE differs from revision 2 · 5m old · current",
        "revision 2 · repo/m:v2.1 · env BATCH_SIZE differs from revision 3 · 2h old",
        "revision 1 · repo/m:v2.0 · kubectl set image deploy/m m=repo/m:v2.0 · 2d old",
    ]
    # Without the revision number the lines still differ: what tells them apart is on the line.
    assert len({label.split(" · ", 1)[1] for label in labels}) == 3


def test_the_same_image_and_env_still_says_something_else_changed():
    history = [rs("5", "repo/m:v2.1", {"A": "1"}, age_minutes=5), rs("4", "repo/m:v2.1", {"A": "1"}, age_minutes=5)]
    labels = [r.label(NOW) for r in tr.revisions("5", history)]
    assert labels[1] == "revision 4 · repo/m:v2.1 · other template fields differ from revision 5 · 5m old"


def test_env_values_are_never_kept_only_their_digest():
    (facts,) = [rs("1", "repo/m:v1", {"API_TOKEN": "s3cr3t"})]
    assert "s3cr3t" not in repr(facts) and facts.env[0][0] == "model-server.API_TOKEN"


def test_a_replicaset_keeps_its_change_cause():
    raw = {"metadata": {"name": "m-7", "namespace": "ml-prod",
                        "annotations": {"deployment.kubernetes.io/revision": "7",
                                        "kubernetes.io/change-cause": "hotfix: batch size 16"}},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "repo/m:v3",
                                                          "env": [{"name": "BATCH", "value": "16"}]}]}}}}
    facts = tr.replicaset_facts(raw)
    assert facts.change_cause == "hotfix: batch size 16" and [k for k, _ in facts.env] == ["c.BATCH"]


def test_swarms_previous_spec_says_what_else_a_rollback_changes():
    from mlops_tui.backends.swarm.translate import previous_difference

    spec = {"Mode": {"Replicated": {"Replicas": 3}},
            "TaskTemplate": {"ForceUpdate": 1, "ContainerSpec": {"Image": "m:v2", "Env": ["BATCH=64", "TOKEN=x"]}}}
    previous = {"Mode": {"Replicated": {"Replicas": 2}},
                "TaskTemplate": {"ForceUpdate": 0, "ContainerSpec": {"Image": "m:v2", "Env": ["BATCH=32", "TOKEN=x"]}}}
    text = previous_difference(spec, previous)
    assert text == "env BATCH differs · replicas 2 (now 3) · before the last forced restart"
    assert "64" not in text and "32" not in text  # names only, never values


def test_the_swarm_picker_line_for_previous_names_its_image_and_the_difference():
    from mlops_tui.backends.swarm.translate import detail
    from tests.unit.test_swarm_actions import RecordedSwarm

    raw = copy.deepcopy(RecordedSwarm().by_name("rec-ml_llm"))
    raw["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Env"] = ["MODEL_VERSION=1"]
    raw["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] = ["MODEL_VERSION=2"]
    previous = next(r for r in detail(raw, [], []).revisions if r.revision == "previous")
    assert previous.held_by == "PreviousSpec"
    assert previous.label() == f"revision previous · {previous.image} · env MODEL_VERSION differs"
