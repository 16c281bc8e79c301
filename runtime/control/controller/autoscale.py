"""Azure Monitor autoscale settings and their rules: `monitor autoscale create|show|list|update|delete` and
`monitor autoscale rule create|list|delete`, as az names them, against local online deployments.

A setting targets one existing online deployment (`--resource <endpoint>/<deployment>`, or an ARM id ending in
`/onlineEndpoints/<e>/deployments/<d>`) and holds one profile, `default`. Applying its decisions to the workers is
the autoscaler loop's business; `autoscale_policy` says which policy applies to a deployment.
"""

from __future__ import annotations

import re
import time
from typing import Any

import msgspec

from runtime.control.autoscale import AutoscaleSetting, Capacity, Policy, Profile, ScaleRule, policy_for
from runtime.control.autoscale.arm import DEPLOYMENT_TYPE, deployment_id, endpoint_id, rule_view, setting_view
from runtime.control.autoscale.grammar import parse_condition, parse_cooldown, parse_scale, parse_timegrain
from runtime.control.autoscale.metrics import Source
from runtime.control.autoscale_registry import AutoscaleRegistry
from runtime.control.controller.core import ControllerCore
from runtime.control.registry import DeploymentRecord
from runtime.errors import SpecError
from runtime.spec import MAX_INSTANCES

#: Azure's limit of rules in one profile.
MAX_RULES = 10
NAME_RULE = "1-260 letters, digits, '-', '_' and '.', starting with a letter or digit"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,259}")
_ARM = re.compile(r"/.*/onlineEndpoints/([^/]+)(?:/deployments/([^/]+))?/?", re.IGNORECASE)
RESOURCE_FORMS = "<endpoint>/<deployment>, or an ARM id ending in /onlineEndpoints/<endpoint>/deployments/<deployment>"


class AutoscaleCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """monitor autoscale create."""

    resource: str
    count: int
    name: str | None = None  #: default: the deployment's name, as az takes the resource's name
    resource_type: str | None = None
    min_count: int | None = None  #: default: count
    max_count: int | None = None  #: default: count
    disabled: bool = False
    tags: dict[str, str] = {}


class AutoscaleUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """monitor autoscale update: only what is given changes."""

    count: int | None = None
    min_count: int | None = None
    max_count: int | None = None
    enabled: bool | None = None
    tags: dict[str, str] | None = None


class RuleCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """monitor autoscale rule create, with az's defaults."""

    condition: str
    scale: str
    cooldown: str = "5"  #: minutes
    timegrain: str = "avg 1m"
    profile_name: str = "default"
    resource: str | None = None  #: whose metric: the setting's deployment (default) or its endpoint
    resource_type: str | None = None


class AutoscaleOps:
    """The monitor autoscale verbs; owns the autoscale settings table."""

    def __init__(self, core: ControllerCore) -> None:
        self._core = core
        self.autoscales = AutoscaleRegistry(core.state.db)

    def close(self) -> None:
        """Close the autoscale table's connection (after the core has stopped)."""
        self.autoscales.close()

    # --- settings -----------------------------------------------------------------------------------------------

    async def create_autoscale(self, req: AutoscaleCreate) -> dict[str, Any]:
        """monitor autoscale create: a default profile of count, min and max, no rules yet."""
        if req.resource_type is not None and not req.resource_type.lower().endswith("onlineendpoints/deployments"):
            raise SpecError(
                f"--resource-type {req.resource_type!r}: autoscale here targets online deployments, {DEPLOYMENT_TYPE}"
            )
        endpoint, deployment, uri = self._target(req.resource)
        if deployment is None:
            raise SpecError(f"--resource {req.resource!r} names an endpoint; name a deployment: {RESOURCE_FORMS}")
        name = req.name if req.name is not None else deployment
        if not _NAME.fullmatch(name):
            raise SpecError(f"--name {name!r} is not a valid autoscale setting name; names are {NAME_RULE}")
        low = req.min_count if req.min_count is not None else req.count
        high = req.max_count if req.max_count is not None else req.count
        capacity = _capacity(low, high, req.count)
        now = time.time()
        setting = AutoscaleSetting(
            name=name,
            endpoint=endpoint,
            deployment=deployment,
            target_resource_uri=uri,
            enabled=not req.disabled,
            profiles=(Profile(capacity=capacity),),
            tags=dict(req.tags),
            created_at=now,
            updated_at=now,
        )
        async with self._core.lock:
            self.autoscales.add(setting)
        return setting_view(setting)

    def get_autoscale(self, name: str) -> dict[str, Any]:
        """monitor autoscale show."""
        return setting_view(self.autoscales.get(name))

    def list_autoscales(self) -> list[dict[str, Any]]:
        """monitor autoscale list."""
        return [setting_view(s) for s in self.autoscales.all()]

    async def update_autoscale(self, name: str, req: AutoscaleUpdate) -> dict[str, Any]:
        """monitor autoscale update: counts as az updates them, enabled, tags."""
        async with self._core.lock:
            setting = self.autoscales.get(name)
            profile = setting.profile()
            cap = profile.capacity
            low, high = req.min_count, req.max_count
            fixed = cap.default == cap.minimum == cap.maximum
            if req.count is not None and fixed and low is None and high is None:
                low = high = req.count  # az: a fixed count given a new count stays fixed at it
            capacity = _capacity(
                cap.minimum if low is None else low,
                cap.maximum if high is None else high,
                cap.default if req.count is None else req.count,
            )
            setting = msgspec.structs.replace(
                setting,
                profiles=tuple(
                    msgspec.structs.replace(p, capacity=capacity) if p is profile else p for p in setting.profiles
                ),
                enabled=setting.enabled if req.enabled is None else req.enabled,
                tags=setting.tags if req.tags is None else dict(req.tags),
                updated_at=time.time(),
            )
            self.autoscales.save(setting)
        return setting_view(setting)

    async def delete_autoscale(self, name: str) -> None:
        """monitor autoscale delete."""
        async with self._core.lock:
            self.autoscales.delete(name)

    # --- rules --------------------------------------------------------------------------------------------------

    async def create_autoscale_rule(self, name: str, req: RuleCreate) -> dict[str, Any]:
        """monitor autoscale rule create: add a rule to a profile; answers the rule, as az does."""
        async with self._core.lock:
            setting = self.autoscales.get(name)
            profile = setting.profile(req.profile_name)
            source, uri = self._metric_source(setting, req.resource, req.resource_type)
            statistic, grain = parse_timegrain(req.timegrain)
            trigger = msgspec.structs.replace(
                parse_condition(" ".join(req.condition.split()), source, uri), statistic=statistic, time_grain_s=grain
            )
            action = msgspec.structs.replace(parse_scale(req.scale), cooldown_s=parse_cooldown(req.cooldown))
            if len(profile.rules) >= MAX_RULES:
                raise SpecError(
                    f"profile {profile.name!r} of {setting.name!r} has {MAX_RULES} rules, the most a profile takes; "
                    f"remove one with `monitor autoscale rule delete --autoscale-name {setting.name} --index N`"
                )
            rule = ScaleRule(metric_trigger=trigger, scale_action=action)
            self._save_rules(setting, profile, (*profile.rules, rule))
        return rule_view(rule)

    def list_autoscale_rules(self, name: str, profile_name: str = "default") -> list[dict[str, Any]]:
        """monitor autoscale rule list: each rule with its index, which rule delete takes."""
        rules = self.autoscales.get(name).profile(profile_name).rules
        return [{**rule_view(rule), "index": i} for i, rule in enumerate(rules)]

    async def delete_autoscale_rules(self, name: str, indexes: list[str], profile_name: str = "default") -> None:
        """monitor autoscale rule delete --index I [I ...] | '*'."""
        async with self._core.lock:
            setting = self.autoscales.get(name)
            profile = setting.profile(profile_name)
            if not indexes:
                raise SpecError("--index: name the rules to remove by index (see `rule list`), or '*' for all")
            if "*" in indexes:
                self._save_rules(setting, profile, ())
                return
            have = len(profile.rules)
            allowed = f"0-{have - 1}" if have else "none: the profile has no rules"
            picked: set[int] = set()
            for text in indexes:
                if not (text.isascii() and text.isdigit() and int(text) < have):
                    raise SpecError(
                        f"--index {text!r} is not a rule of profile {profile.name!r}; its rules are {allowed}"
                    )
                picked.add(int(text))
            self._save_rules(setting, profile, tuple(r for i, r in enumerate(profile.rules) if i not in picked))

    def autoscale_policy(self, endpoint: str, deployment: str) -> Policy:
        """Which policy scales a deployment: its enabled autoscale setting, else its scale_settings, else none."""
        return self.autoscale_policy_of(self._core.registry.deployment(endpoint, deployment))

    def autoscale_policy_of(self, rec: DeploymentRecord) -> Policy:
        """autoscale_policy for a deployment record already read."""
        return policy_for(rec.spec, self.autoscales.for_deployment(rec.endpoint, rec.name))

    # --- helpers ------------------------------------------------------------------------------------------------

    def _save_rules(self, setting: AutoscaleSetting, profile: Profile, rules: tuple[ScaleRule, ...]) -> None:
        profiles = tuple(msgspec.structs.replace(p, rules=rules) if p is profile else p for p in setting.profiles)
        self.autoscales.save(msgspec.structs.replace(setting, profiles=profiles, updated_at=time.time()))

    def _target(self, resource: str) -> tuple[str, str | None, str]:
        """The endpoint and deployment (stored spellings) a --resource names, and the id to show for it."""
        text = resource.strip()
        arm = _ARM.fullmatch(text)
        if arm:
            endpoint, deployment = arm[1], arm[2]
        elif text and "/" not in text.strip("/") and not text.startswith("/"):
            endpoint, deployment = text, None
        else:
            endpoint, _, deployment = text.partition("/")
            if not endpoint or not deployment or "/" in deployment:
                raise SpecError(f"--resource {resource!r} is not an online deployment; use {RESOURCE_FORMS}")
        endpoint = self._core.registry.endpoint_name(endpoint)
        self._core.registry.endpoint(endpoint)  # NotFound: "endpoint 'x' not found"
        if deployment is None:
            return endpoint, None, text if arm else endpoint_id(endpoint)
        deployment = self._core.registry.deployment_name(endpoint, deployment)
        self._core.registry.deployment(endpoint, deployment)
        return endpoint, deployment, text if arm else deployment_id(endpoint, deployment)

    def _metric_source(
        self, setting: AutoscaleSetting, resource: str | None, resource_type: str | None
    ) -> tuple[Source, str]:
        """Whose metrics a rule reads: the setting's deployment (default), or its endpoint."""
        if resource is None:
            return "deployment", setting.target_resource_uri
        endpoint, deployment, uri = self._target(resource)
        if endpoint.lower() != setting.endpoint.lower() or (
            deployment is not None and deployment.lower() != setting.deployment.lower()
        ):
            raise SpecError(
                f"--resource {resource!r}: a rule of {setting.name!r} reads the metrics of deployment "
                f"{setting.deployment!r} (leave --resource out) or of its endpoint ({setting.endpoint!r})"
            )
        if resource_type is not None:
            kind = resource_type.lower().rstrip("/")
            if not kind.endswith("onlineendpoints" if deployment is None else "onlineendpoints/deployments"):
                raise SpecError(f"--resource-type {resource_type!r} does not match --resource {resource!r}")
        return ("deployment" if deployment is not None else "endpoint"), uri


def _capacity(low: int, high: int, count: int) -> Capacity:
    """The profile's limits; SpecError unless 1 <= min-count <= count <= max-count <= the instance limit."""
    if not 1 <= low <= count <= high <= MAX_INSTANCES:
        raise SpecError(
            f"instance limits --min-count {low}, --count {count}, --max-count {high} are not allowed: they must "
            f"satisfy 1 <= min-count <= count <= max-count <= {MAX_INSTANCES} (a managed deployment's most instances)"
        )
    return Capacity(minimum=low, maximum=high, default=count)
