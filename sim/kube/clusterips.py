"""Service cluster IPs, allocated as kube-apiserver's allocator does: from one service CIDR, unique,
released on delete; `None` for a headless Service, none at all for ExternalName. Only strings in
JSON: nothing ever connects to them."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from mlops_tui.sim.kube import errors

CIDR = ipaddress.ip_network("10.96.0.0/12")
Obj = dict[str, Any]


class ClusterIPs:
    def __init__(self, seed: int = 0) -> None:
        self._used: set[str] = set()
        self._rng = random.Random(seed ^ 0xC1A5)
        # .0 is the network, .1 is the `kubernetes` Service's by convention
        self._first, self._size = int(CIDR.network_address) + 2, CIDR.num_addresses - 3

    def _free(self) -> str:
        for _ in range(64):
            ip = str(ipaddress.ip_address(self._first + self._rng.randrange(self._size)))
            if ip not in self._used:
                return ip
        ip_int = self._first
        while str(ipaddress.ip_address(ip_int)) in self._used:
            ip_int += 1
        return str(ipaddress.ip_address(ip_int))

    def assign(self, svc: Obj, dry_run: bool = False) -> None:
        """Give a new Service its clusterIP(s) (or check the one it asked for) and reserve it."""
        spec = svc.get("spec")
        if not isinstance(spec, dict):
            return
        name = (svc.get("metadata") or {}).get("name", "")
        if spec.get("type") == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
            return
        wanted = spec.get("clusterIP") or ""
        if wanted == "None":
            spec["clusterIPs"] = ["None"]
        elif wanted:
            try:
                inside = ipaddress.ip_address(wanted) in CIDR
            except ValueError:
                inside = False
            if not inside:
                raise _invalid(name, wanted, f"Invalid value: \"{wanted}\": failed to allocate IP {wanted}: "
                               f"the provided IP ({wanted}) is not in the valid range. The range of valid IPs "
                               f"is {CIDR}")
            if wanted in self._used:
                raise _invalid(name, wanted, f"Invalid value: \"{wanted}\": failed to allocate IP {wanted}: "
                               "provided IP is already allocated")
        else:
            wanted = spec["clusterIP"] = self._free()
        if wanted != "None":
            spec["clusterIPs"] = [wanted]
            if not dry_run:
                self._used.add(wanted)
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")

    def keep(self, old: Obj, new: Obj) -> None:
        """An update may leave clusterIP out (it is kept) but never change it (immutable)."""
        old_spec, spec = old.get("spec") or {}, new.get("spec")
        if not isinstance(spec, dict) or "clusterIP" not in old_spec:
            return
        was = old_spec["clusterIP"]
        if spec.get("clusterIP") in (None, ""):
            spec["clusterIP"] = was
            if "clusterIPs" in old_spec:
                spec["clusterIPs"] = list(old_spec["clusterIPs"])
        elif spec["clusterIP"] != was:
            raise _invalid((new.get("metadata") or {}).get("name", ""), spec["clusterIP"],
                           "Invalid value: \"" + str(spec["clusterIP"]) + "\": field is immutable",
                           field="spec.clusterIPs[0]")
        for key in ("ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"):
            if key in old_spec:
                spec.setdefault(key, old_spec[key])

    def reserve(self, svc: Obj) -> None:
        """Seeded Services (bulk load) already carry their IPs."""
        ip = (svc.get("spec") or {}).get("clusterIP")
        if ip and ip != "None":
            self._used.add(ip)

    def release(self, svc: Obj) -> None:
        self._used.discard((svc.get("spec") or {}).get("clusterIP") or "")


def _invalid(name: str, _ip: str, message: str, field: str = "spec.clusterIPs") -> errors.ApiError:
    return errors.invalid("services", "Service", name, "", [(field, message)])
