"""What the operator may do, as the API server answered it: the greyed-out actions of a service."""

from __future__ import annotations

from mlops_tui.backends.kubernetes.access import AccessReviews
from mlops_tui.backends.kubernetes.client import Response, Transport
from mlops_tui.backends.model import ActionKind, ServiceKind


class Reviews(Transport):
    """Answers every SelfSubjectAccessReview with `allowed`."""

    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed

    def request(self, method, path, query=(), body=None, content_type="application/json", timeout=(5, 30)):
        return Response(201, b'{"status":{"allowed":%s}}' % (b"true" if self.allowed else b"false"))


def test_a_denial_answered_after_the_services_were_shown_greys_out_the_action():
    # The first snapshot asks before any review has been answered: nothing is denied yet (and that
    # answer is remembered per kind and namespace, so 5,000 services do not each recompute it).
    access = AccessReviews(Reviews(allowed=False))
    assert access.denied(ServiceKind.DEPLOYMENT, "ml-prod") == frozenset()
    assert access.can("ml-prod", "patch", "apps", "deployments", "scale") is False
    assert access.denied(ServiceKind.DEPLOYMENT, "ml-prod") == {ActionKind.SCALE}
    assert access.denied(ServiceKind.DEPLOYMENT, "ml-dev") == frozenset()  # another namespace: not asked yet
