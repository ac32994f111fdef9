"""The scale preview's GPU numbers are true: each replica needs its GPUs on ONE node that takes it.

Each test is an operator's question before pressing `y`: "if I scale this up, where do the new replicas
go, and why would the others stay Pending?", answered the way kube-scheduler would.
"""

from __future__ import annotations

from mlops_tui.backends.gpu_fit import FitNode, ReplicaNeeds, Requirement, Toleration, fit_replicas
from mlops_tui.backends.model import Taint

GPU = "nvidia.com/gpu"
MIG = "nvidia.com/mig-1g.5gb"
FOUR_GPUS = ReplicaNeeds(requests=((GPU, 4),))


def test_mig_slices_are_not_full_gpus():
    # gpu-node-3 has 3 full GPUs and 5 MIG slices free: 8 "GPUs" in a sum, but no room for 4 full GPUs.
    node = FitNode("gpu-node-3", {GPU: 3, MIG: 5})
    result = fit_replicas(FOUR_GPUS, 2, [node])
    assert (result.fit, result.stay_pending) == (0, 2)
    assert result.reason == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    # A MIG consumer fits in the slices, one per slice, and never in the full GPUs.
    slices = fit_replicas(ReplicaNeeds(requests=((MIG, 1),)), 6, [node])
    assert (slices.fit, slices.stay_pending) == (5, 1)


def test_a_replica_needs_all_its_gpus_on_one_node():
    # 3 + 3 free is 6, yet no single node has 4.
    nodes = [FitNode("a", {GPU: 3}), FitNode("b", {GPU: 3})]
    assert fit_replicas(FOUR_GPUS, 1, nodes).fit == 0
    # 8 free on one node holds two 4-GPU replicas, and both are placed there.
    result = fit_replicas(FOUR_GPUS, 3, [FitNode("big", {GPU: 8}), *nodes])
    assert result.placed == ("big", "big") and result.stay_pending == 1
    assert result.where() == "big×2"


def test_several_nodes_share_the_new_replicas_and_the_preview_names_them():
    nodes = [FitNode("gpu-node-1", {GPU: 4}), FitNode("gpu-node-2", {GPU: 4}), FitNode("cpu-node-1")]
    result = fit_replicas(FOUR_GPUS, 3, nodes)
    assert sorted(result.placed) == ["gpu-node-1", "gpu-node-2"]
    # The CPU node counts in the scheduler's "0/N" and lacks the resource, like the GPU nodes now full.
    assert result.reason == "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."


def test_untolerated_taints_keep_replicas_off_and_a_toleration_lets_them_on():
    tainted = FitNode("gpu-dedicated", {GPU: 8}, taints=(Taint("dedicated", "training", "NoSchedule"),))
    result = fit_replicas(FOUR_GPUS, 1, [tainted])
    assert result.fit == 0
    assert result.reason == "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: training}."
    tolerant = ReplicaNeeds(requests=((GPU, 4),), tolerations=(Toleration("dedicated", "Equal", "training"),))
    assert fit_replicas(tolerant, 2, [tainted]).fit == 2
    exists = ReplicaNeeds(requests=((GPU, 4),), tolerations=(Toleration("dedicated", "Exists", effect="NoSchedule"),))
    assert fit_replicas(exists, 1, [tainted]).fit == 1
    wrong_effect = ReplicaNeeds(requests=((GPU, 4),),
                                tolerations=(Toleration("dedicated", "Exists", effect="NoExecute"),))
    assert fit_replicas(wrong_effect, 1, [tainted]).fit == 0
    # PreferNoSchedule only lowers a score: it keeps nobody off.
    soft = FitNode("soft", {GPU: 4}, taints=(Taint("spot", "", "PreferNoSchedule"),))
    assert fit_replicas(FOUR_GPUS, 1, [soft]).fit == 1


def test_a_notready_node_is_tainted_and_a_cordoned_node_unschedulable():
    lost = FitNode("gpu-node-2", {GPU: 4}, ready=False,
                   taints=(Taint("node.kubernetes.io/unreachable", "", "NoSchedule"),))
    silent = FitNode("gpu-node-4", {GPU: 4}, ready=False)  # no taint reported yet: still not a candidate
    cordoned = FitNode("gpu-node-5", {GPU: 8}, schedulable=False)
    result = fit_replicas(FOUR_GPUS, 1, [lost, silent, cordoned, FitNode("cpu", {})])
    assert result.fit == 0
    assert result.reason == (
        "0/4 nodes are available: 1 Insufficient nvidia.com/gpu, "
        "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
        "1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were unschedulable.")


def test_node_selector_and_required_affinity_choose_the_nodes():
    a100 = FitNode("a100", {GPU: 4}, labels={"nvidia.com/gpu.product": "A100", "zone": "a"})
    h100 = FitNode("h100", {GPU: 8}, labels={"nvidia.com/gpu.product": "H100", "zone": "b"})
    on_a100 = ReplicaNeeds(requests=((GPU, 4),), node_selector=(("nvidia.com/gpu.product", "A100"),))
    result = fit_replicas(on_a100, 2, [a100, h100])
    assert result.placed == ("a100",)
    assert result.reason == ("0/2 nodes are available: 1 Insufficient nvidia.com/gpu, "
                             "1 node(s) didn't match Pod's node affinity/selector.")
    # Terms are ORed, expressions inside a term ANDed.
    affinity = ReplicaNeeds(requests=((GPU, 4),), affinity_terms=(
        (Requirement("zone", "In", ("c",)),),
        (Requirement("zone", "In", ("b",)), Requirement("nvidia.com/gpu.product", "NotIn", ("A100",))),
    ))
    assert fit_replicas(affinity, 3, [a100, h100]).placed == ("h100", "h100")
    assert fit_replicas(ReplicaNeeds(requests=((GPU, 4),), affinity_terms=(
        (Requirement("zone", "DoesNotExist"),),)), 1, [a100, h100]).fit == 0


def test_replicas_already_pending_are_placed_before_the_new_ones():
    # Capacity was just freed: one 4-GPU slot. The pod already waiting takes it; the new one waits.
    node = FitNode("gpu-node-1", {GPU: 4})
    result = fit_replicas(FOUR_GPUS, 1, [node], already_pending=1)
    assert (result.fit, result.stay_pending, result.pending_first) == (0, 1, 1)
    assert fit_replicas(FOUR_GPUS, 1, [node]).fit == 1


def test_a_replica_asking_two_resources_needs_both_on_the_same_node():
    needs = ReplicaNeeds(requests=((GPU, 1), (MIG, 1)))
    nodes = [FitNode("only-gpu", {GPU: 4}), FitNode("only-mig", {MIG: 7})]
    result = fit_replicas(needs, 1, nodes)
    assert result.fit == 0
    assert result.reason == ("0/2 nodes are available: 1 Insufficient nvidia.com/gpu, "
                             "1 Insufficient nvidia.com/mig-1g.5gb.")
    assert fit_replicas(needs, 1, [FitNode("both", {GPU: 1, MIG: 1})]).placed == ("both",)


def test_nothing_to_place_and_no_nodes():
    assert fit_replicas(FOUR_GPUS, 0, [FitNode("a", {GPU: 8})]).stay_pending == 0
    assert fit_replicas(FOUR_GPUS, 2, []).reason == "no nodes available to schedule pods"
