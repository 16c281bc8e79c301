"""Endpoint operations: create, update (spec, traffic, mirror), delete, show, list, keys and tokens."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

from runtime.control import views
from runtime.control.controller.core import ControllerCore, as_yaml, set_aside, stop_and_remove, with_changes
from runtime.control.plan import serves_oip
from runtime.control.registry import EndpointRecord
from runtime.errors import Conflict, SpecError
from runtime.spec import AuthMode, load_endpoint, parse_traffic_arg, validate_mirror, validate_traffic


class EndpointOps:
    """The online-endpoint verbs."""

    def __init__(self, core: ControllerCore) -> None:
        self._core = core

    async def create_endpoint(self, req: views.SpecRequest) -> dict[str, Any]:
        """online-endpoint create."""
        # `online-endpoint create -n NAME` without a file makes a key-auth endpoint, as az ml does.
        text = req.yaml if req.yaml is not None else "{}"
        if req.yaml is None and req.name is None:
            raise SpecError("no YAML given: pass the file with -f, or name the endpoint with -n")
        loaded = load_endpoint(text, source=req.source, overrides=req.set, name=req.name)
        spec = loaded.spec
        async with self._core.lock:
            if spec.traffic or spec.mirror_traffic:
                raise SpecError(
                    f"{Path(loaded.source).name}: $.traffic: traffic cannot be set when an endpoint is created, "
                    "because its deployments do not exist yet; use `online-deployment create --all-traffic` or "
                    '`online-endpoint update --traffic "blue=100"` afterwards'
                )
            now = time.time()
            rec = EndpointRecord(
                name=spec.name,
                spec=spec,
                source=loaded.source,
                primary_key=_new_key(),
                secondary_key=_new_key(),
                traffic=dict(spec.traffic),
                mirror=dict(spec.mirror_traffic),
                created_at=now,
                updated_at=now,
            )
            self._core.registry.add_endpoint(rec)
            self._core.rebuild_routes()
        view = self._view(rec)
        ignored = list(loaded.ignored)
        if spec.auth_mode is AuthMode.AAD_TOKEN:
            ignored.append(
                "auth_mode aad_token: Entra ID tokens cannot be checked on this machine; modelyard issues its own "
                "tokens (online-endpoint get-credentials), as for aml_token"
            )
        if ignored:
            view["ignored"] = ignored
        return view

    async def update_endpoint(self, name: str, req: views.EndpointUpdate) -> dict[str, Any]:
        """online-endpoint update: from YAML / --set, or --traffic / --mirror-traffic."""
        async with self._core.lock:
            rec = self._core.registry.endpoint(name)
            spec = rec.spec
            traffic, mirror = dict(rec.traffic), dict(rec.mirror)
            if req.yaml is not None or req.set:
                # --set alone applies to the endpoint as it is now, live traffic included (as az ml applies it to
                # the endpoint it fetched): the stored spec's traffic is the last file's, not today's split.
                live = with_changes(spec, traffic=traffic, mirror_traffic=mirror)
                text = req.yaml if req.yaml is not None else as_yaml(live)
                spec = load_endpoint(text, source=req.source, overrides=req.set, name=name).spec
                if spec.name != name:
                    raise SpecError(f"{req.source}: $.name: {spec.name!r} does not match the endpoint {name!r}")
                # A file or --set that names traffic replaces it; one that does not leaves the live split alone.
                if req.yaml is not None and spec.traffic or _sets(req.set, "traffic"):
                    traffic = dict(spec.traffic)
                if req.yaml is not None and spec.mirror_traffic or _sets(req.set, "mirror_traffic"):
                    mirror = dict(spec.mirror_traffic)
            names = [d.name for d in self._core.registry.deployments(name)]
            traffic, mirror = _spelled_as(traffic, names, "$.traffic"), _spelled_as(mirror, names, "$.mirror_traffic")
            # As az ml's update sets endpoint.traffic: the given map replaces the whole one, and deployments left
            # out of it take 0 %.
            # Each map given is checked on its own first, so an error names what the user typed: the CLI's flag
            # for its string form, the request body's field for an object.
            if req.traffic is not None:
                where = _where(req.traffic, "--traffic", "$.traffic")
                given = _spelled_as(_shares(req.traffic, where), names, where)
                validate_traffic(given, names, where=where)
                traffic = dict.fromkeys(traffic, 0) | given
            if req.mirror_traffic is not None:
                where = _where(req.mirror_traffic, "--mirror-traffic", "$.mirror_traffic")
                mirror = _spelled_as(_shares(req.mirror_traffic, where), names, where)
            if spec.compute is not None and any(mirror.values()):
                raise SpecError(
                    f"$.mirror_traffic: endpoint {name!r} is a Kubernetes endpoint (it sets compute), and Azure does "
                    "not mirror traffic on those; mirror traffic is for managed endpoints"
                )
            if req.mirror_traffic is not None:
                validate_mirror(mirror, traffic, names, where=where)
            validate_traffic(traffic, names)
            validate_mirror(mirror, traffic, names)
            self._check_running(name, traffic, rec.traffic, "traffic")
            self._check_running(name, mirror, rec.mirror, "mirror traffic")
            rec = with_changes(rec, spec=spec, traffic=traffic, mirror={k: v for k, v in mirror.items() if v})
            self._core.registry.save_endpoint(rec)
            self._core.rebuild_routes()
        return self._view(rec)

    async def delete_endpoint(self, name: str, *, wait: bool = True) -> None:
        """online-endpoint delete: stops and removes every deployment too (after answering, without `wait`)."""
        async with self._core.lock:
            uid = self._core.registry.endpoint(name).uid
            for key in self._core.busy:
                if key[0] == name:
                    self._core.check_idle(key)
            sups = [(k, self._core.sups.pop(k)) for k in list(self._core.sups) if k[0] == name]
            self._core.registry.delete_endpoint(name)
            self._core.mirrors.drop(uid)
            self._core.rebuild_routes()
            # Moved aside under the lock: an endpoint created again under this name while the old workers stop
            # must not lose its new files to the removal below.
            doomed = [
                set_aside(self._core.state.snapshots / name, self._core.state.snapshots),
                set_aside(self._core.state.logs / name, self._core.state.logs),
            ]
        task = self._core.spawn(stop_and_remove([s for _, s in sups], doomed), finish=True)
        if wait:
            await asyncio.shield(task)

    def endpoint_name(self, name: str) -> str:
        """The stored spelling of an endpoint name given in any case (Azure's names ignore case)."""
        return self._core.registry.endpoint_name(name)

    def get_endpoint(self, name: str) -> dict[str, Any]:
        """online-endpoint show."""
        return self._view(self._core.registry.endpoint(name))

    def list_endpoints(self) -> list[dict[str, Any]]:
        """online-endpoint list."""
        return [self._view(r) for r in self._core.registry.endpoints()]

    def mirror_report(self, name: str, since: str | None) -> dict[str, Any]:
        """online-endpoint mirror-report: how the mirror's answers compared with the live ones since `since`."""
        rec = self._core.registry.endpoint(name)
        return self._core.mirrors.report(rec.uid, rec.name, since, rec.mirror)

    def keys(self, name: str) -> dict[str, Any]:
        """online-endpoint get-credentials: the keys, or a new token for token endpoints."""
        rec = self._core.registry.endpoint(name)
        if rec.spec.auth_mode is not AuthMode.KEY:
            assert self._core.router.tokens is not None
            return self._core.router.tokens.issue(name, rec.uid)
        return {"primaryKey": rec.primary_key, "secondaryKey": rec.secondary_key}

    async def regenerate_keys(self, name: str, req: views.RegenerateKeys) -> dict[str, str]:
        """online-endpoint regenerate-keys: only the named key changes."""
        if self._core.registry.endpoint(name).spec.auth_mode is not AuthMode.KEY:
            raise Conflict(
                f"endpoint {name!r} authenticates with tokens, not keys; "
                f"get a fresh token with `online-endpoint get-credentials -n {name}`"
            )
        kind = req.keyType.lower()
        if kind not in ("primary", "secondary"):
            raise SpecError(f"key type {req.keyType!r} is not allowed; use primary or secondary")
        if req.keyValue is not None:
            _check_key_value(req.keyValue)
        async with self._core.lock:
            rec = self._core.registry.endpoint(name)
            new = req.keyValue or _new_key()
            rec = with_changes(rec, **{f"{kind}_key": new})
            self._core.registry.save_endpoint(rec)
            self._core.rebuild_routes()
        return {"primaryKey": rec.primary_key, "secondaryKey": rec.secondary_key}

    def _view(self, rec: EndpointRecord) -> dict[str, Any]:
        deps = self._core.registry.deployments(rec.name)
        oip = bool(deps) and all(serves_oip(d.spec, Path(d.snapshot)) for d in deps)
        return views.endpoint_view(rec, self._core.base_url, oip=oip)

    def _check_running(self, endpoint: str, shares: dict[str, int], before: dict[str, int], what: str) -> None:
        """A deployment with no workers (it failed to come up) cannot be given a share it did not have."""
        for dep, percent in shares.items():
            if percent > 0 and before.get(dep, 0) == 0 and (endpoint, dep) not in self._core.sups:
                state = self._core.registry.deployment(endpoint, dep).state
                raise Conflict(
                    f"deployment {dep!r} is {state} and has no workers, so it cannot take {what}; fix it with "
                    f"`online-deployment update -n {dep} -e {endpoint}` first (see its get-logs)"
                )


def _where(value: str | dict[str, int], flag: str, field: str) -> str:
    return flag if isinstance(value, str) else field


def _shares(value: str | dict[str, int], flag: str) -> dict[str, int]:
    """A traffic argument as the CLI sends it ("blue=90 green=10") or as a JSON object ({"blue": 90})."""
    return parse_traffic_arg(value, flag=flag) if isinstance(value, str) else dict(value)


def _sets(overrides: list[str], key: str) -> bool:
    """True when a --set override writes `key` or something under it."""
    return any(o.partition("=")[0].strip().split(".")[0] == key for o in overrides)


def _spelled_as(shares: dict[str, int], names: list[str], what: str) -> dict[str, int]:
    """Deployment names in a traffic map, in their stored spelling (Azure's names ignore case)."""
    stored = {n.lower(): n for n in names}
    out: dict[str, int] = {}
    given: dict[str, str] = {}
    for name, percent in shares.items():
        key = name.lower()
        if key in given:
            raise SpecError(f"{what}: {given[key]!r} and {name!r} name the same deployment (names ignore case)")
        given[key] = name
        out[stored.get(key, name)] = percent
    return out


def _new_key() -> str:
    return secrets.token_urlsafe(24)


def _check_key_value(key: str) -> None:
    # The key travels in an Authorization header, which clients send as ASCII and the front end strips: a key with
    # spaces or other characters would be saved yet never match, locking the user out of it.
    if not 16 <= len(key) <= 1024 or not all("!" <= ch <= "~" for ch in key):
        raise SpecError(
            "a key value must be 16 to 1024 visible ASCII characters (letters, digits and punctuation; no spaces)"
        )
