"""Authentication and a two-role RBAC: `sim-admin` may do anything, `sim-viewer` may read.

Two kinds of bearer token, as a real API server has static tokens and short-lived ones:
- the static admin and viewer tokens (`admin_token`, `readonly_token`), valid for the server's life;
- signed tokens with an expiry (`signed_token`), the kind an exec credential plugin hands out on
  EKS/GKE/AKS: `sim-signed.<user>.<expiry unix ms>.<hmac>`. A process outside the simulator (a plugin
  script written by a test) mints them with `mint_signed_token` and `signing_key`. Past its expiry a
  signed token is rejected with 401, like any unknown token.

`require_signed_tokens()` makes the static tokens stop working, so a client can only get in through
the plugin."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

READ_VERBS = frozenset({"get", "list", "watch"})
ADMIN_USER = "sim-admin"
VIEWER_USER = "sim-viewer"
SIGNED_PREFIX = "sim-signed"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    admin: bool


def mint_signed_token(signing_key: str, user: str, expires_at: float) -> str:
    """A token for `user` valid until `expires_at` (unix seconds). Standalone on purpose: an exec plugin
    script may copy these few lines and needs nothing from the simulator but the key."""
    body = f"{SIGNED_PREFIX}.{user}.{int(expires_at * 1000)}"
    mac = hmac.new(signing_key.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


class Auth:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.admin_token = "sim-admin-" + secrets.token_hex(16)
        self.readonly_token = "sim-viewer-" + secrets.token_hex(16)
        self.signing_key = secrets.token_hex(16)
        self._clock = clock
        self._static_allowed = True
        self._lock = threading.Lock()
        self.rejected = 0
        """Requests answered 401 (tests count the expired tokens a client presented)."""
        self._users = {
            self.admin_token: User(ADMIN_USER, ("system:masters", "system:authenticated"), True),
            self.readonly_token: User(VIEWER_USER, ("sim:viewers", "system:authenticated"), False),
        }

    def require_signed_tokens(self, required: bool = True) -> None:
        """From now on only signed, unexpired tokens authenticate (the static ones get 401)."""
        self._static_allowed = not required

    def signed_token(self, user: str = ADMIN_USER, ttl: float = 3.0) -> str:
        return mint_signed_token(self.signing_key, user, self._clock() + ttl)

    def authenticate(self, header: str | None, peer_cert: dict | None = None) -> User | None:
        """The user a verified client certificate names (x509 first, as kube-apiserver), else the
        bearer token's; None (401) when neither authenticates."""
        user = _certificate_user(peer_cert) if peer_cert else None
        user = user or self._user_of(header)
        if user is None and header:
            with self._lock:
                self.rejected += 1
        return user

    def _user_of(self, header: str | None) -> User | None:
        if not header or not header.startswith("Bearer "):
            return None
        token = header[len("Bearer "):].strip()
        if token.startswith(SIGNED_PREFIX + "."):
            return self._signed_user(token)
        return self._users.get(token) if self._static_allowed else None

    def _signed_user(self, token: str) -> User | None:
        body, _, mac = token.rpartition(".")
        try:
            _, name, expiry_ms = body.split(".")
            expires_at = int(expiry_ms) / 1000
        except ValueError:
            return None
        expected = hmac.new(self.signing_key.encode(), body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, expected) or self._clock() >= expires_at:
            return None
        if name == ADMIN_USER:
            return User(ADMIN_USER, ("system:masters", "system:authenticated"), True)
        if name == VIEWER_USER:
            return User(VIEWER_USER, ("sim:viewers", "system:authenticated"), False)
        return None

    @staticmethod
    def allowed(user: User, verb: str, resource: str = "", group: str = "") -> bool:
        """RBAC as the ClusterRoles bound here (`resource_rules`): admin `*`, viewer get/list/watch."""
        return any(_listed(verb, rule["verbs"]) and _listed(group, rule["apiGroups"])
                   and _listed(resource, rule["resources"]) for rule in resource_rules(user))

    @staticmethod
    def allowed_non_resource(user: User, verb: str, path: str) -> bool:
        return any(_listed(verb, rule["verbs"]) and any(_url_matches(path, u) for u in rule["nonResourceURLs"])
                   for rule in non_resource_rules(user))


# Every authenticated user may ask about itself and read discovery (system:basic-user, system:discovery,
# system:public-info-viewer), as on a real cluster.
_SELF_RULES = [
    {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
    {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
]
_DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
                   "/version", "/version/"]


def resource_rules(user: User) -> list[dict[str, list[str]]]:
    """The caller's resource rules, as a SelfSubjectRulesReview lists them; `allowed` enforces these."""
    own = ["*"] if user.admin else sorted(READ_VERBS)
    return [{"verbs": own, "apiGroups": ["*"], "resources": ["*"]}, *_SELF_RULES]


def non_resource_rules(user: User) -> list[dict[str, list[str]]]:
    rules = [{"verbs": ["get"], "nonResourceURLs": list(_DISCOVERY_URLS)}]
    return [{"verbs": ["*"], "nonResourceURLs": ["*"]}, *rules] if user.admin else rules


def _listed(value: str, allowed: list[str]) -> bool:
    return "*" in allowed or value in allowed


def _url_matches(path: str, pattern: str) -> bool:
    return pattern == "*" or path == pattern or (pattern.endswith("*") and path.startswith(pattern[:-1]))


def _certificate_user(peer_cert: dict) -> User | None:
    """CN is the user name, each O a group; `system:masters` is the admin role (ssl's getpeercert form)."""
    names = [pair for rdn in peer_cert.get("subject", ()) for pair in rdn]
    user = next((value for key, value in names if key == "commonName"), "")
    groups = tuple(value for key, value in names if key == "organizationName")
    if not user:
        return None
    return User(user, (*groups, "system:authenticated"), "system:masters" in groups)
