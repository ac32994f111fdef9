"""Bearer-token authentication and a two-role RBAC: `sim-admin` may do anything, `sim-viewer` may read."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

READ_VERBS = frozenset({"get", "list", "watch"})
ADMIN_USER = "sim-admin"
VIEWER_USER = "sim-viewer"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    admin: bool


class Auth:
    def __init__(self) -> None:
        self.admin_token = "sim-admin-" + secrets.token_hex(16)
        self.readonly_token = "sim-viewer-" + secrets.token_hex(16)
        self._users = {
            self.admin_token: User(ADMIN_USER, ("system:masters", "system:authenticated"), True),
            self.readonly_token: User(VIEWER_USER, ("sim:viewers", "system:authenticated"), False),
        }

    def authenticate(self, header: str | None) -> User | None:
        if not header or not header.startswith("Bearer "):
            return None
        return self._users.get(header[len("Bearer "):].strip())

    @staticmethod
    def allowed(user: User, verb: str, resource: str = "", group: str = "") -> bool:
        """RBAC as the two ClusterRoles bound here: admin `*`, viewer get/list/watch on everything."""
        if user.admin:
            return True
        if resource in ("selfsubjectaccessreviews", "selfsubjectreviews", "selfsubjectrulesreviews") \
                and verb == "create":
            return True
        return verb in READ_VERBS
