"""References to registered and curated environments: `azureml:<name>:<version>` and its registry forms."""

from __future__ import annotations

import re

import msgspec

from runtime.errors import SpecError
from runtime.spec.model import split_short_ref


class EnvironmentRef(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed environment reference: a version, or a label (`latest` when none is given); `registry` if any."""

    name: str
    version: str | None = None
    label: str | None = None
    registry: str | None = None


_ASSET = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}"
_REGISTRY = re.compile(
    rf"azureml://registries/(?P<registry>{_ASSET})/environments/(?P<name>{_ASSET})"
    rf"/(?:versions/(?P<version>{_ASSET})|labels/(?P<label>{_ASSET}))"
)
_ARM = re.compile(
    rf"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+"
    rf"/environments/(?P<name>{_ASSET})/versions/(?P<version>{_ASSET})",
    re.IGNORECASE,
)
FORMS = (
    "azureml:<name>:<version>, azureml:<name>@<label>, azureml:<name>, "
    "azureml://registries/<registry>/environments/<name>/versions/<version> (or .../labels/<label>)"
)


def parse_environment_ref(text: str) -> EnvironmentRef:
    """Parse an environment reference in any form Azure accepts; a bare `azureml:<name>` means label `latest`."""
    ref = text.strip()
    if match := _REGISTRY.fullmatch(ref):
        return EnvironmentRef(
            name=match["name"], version=match["version"], label=match["label"], registry=match["registry"]
        )
    if match := _ARM.fullmatch(ref.removeprefix("azureml:")):
        return EnvironmentRef(name=match["name"], version=match["version"])
    if ref.startswith("azureml:") and (short := split_short_ref(ref)):
        name, version, label = short
        return EnvironmentRef(name=name, version=version, label=label or (None if version else "latest"))
    raise SpecError(f"{text!r} is not an environment reference; use one of: {FORMS}")
