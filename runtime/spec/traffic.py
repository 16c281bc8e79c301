"""Traffic and mirror-traffic rules (azure-contract §4), shared by endpoint files and `update --traffic`."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from runtime.errors import SpecError
from runtime.spec.names import validate_name

#: Azure's cap on the share of live traffic copied to the mirror deployment.
MAX_MIRROR_PERCENT = 50


def validate_traffic(
    traffic: Mapping[str, int], deployments: Collection[str] | None, *, where: str = "$.traffic"
) -> None:
    """Check a live-traffic split: each value 0..100, total 100 or 0, and (if given) every deployment exists."""
    _check_entries(traffic, deployments, where, limit=100, rule="a percentage from 0 to 100")
    total = sum(traffic.values())
    if total not in (0, 100):
        raise SpecError(f"{where}: percentages sum to {total}; they must total 100, or 0 to send no traffic")


def validate_mirror(
    mirror: Mapping[str, int],
    traffic: Mapping[str, int],
    deployments: Collection[str] | None,
    *,
    where: str = "$.mirror_traffic",
) -> None:
    """Check mirror traffic: one deployment at most, 0..50 %, and never a deployment that takes live traffic."""
    rule = f"a percentage from 0 to {MAX_MIRROR_PERCENT}: at most {MAX_MIRROR_PERCENT}% of traffic can be mirrored"
    _check_entries(mirror, deployments, where, limit=MAX_MIRROR_PERCENT, rule=rule)
    # A 0 entry switches mirroring off, so only positive entries count as mirrored deployments.
    mirrored = [name for name, percent in mirror.items() if percent > 0]
    if len(mirrored) > 1:
        raise SpecError(
            f"{where}: {len(mirrored)} deployments are mirrored ({', '.join(mirrored)}); "
            "traffic can be mirrored to one deployment only"
        )
    for name in mirrored:
        if traffic.get(name, 0) > 0:
            raise SpecError(
                f"{_at(where, name)}: {name!r} takes {traffic[name]}% of live traffic; "
                "a deployment receives live or mirrored traffic, not both"
            )


def parse_traffic_arg(text: str, *, flag: str = "--traffic") -> dict[str, int]:
    """Parse a CLI traffic argument such as "blue=90 green=10" into {"blue": 90, "green": 10}; `flag` names it."""
    form = 'expected space-separated NAME=PERCENT pairs, e.g. "blue=90 green=10"'
    pairs = text.split()
    if not pairs:
        raise SpecError(f"{flag} {text!r}: {form}")
    result: dict[str, int] = {}
    for pair in pairs:
        name, sep, percent = pair.partition("=")
        if not sep or not name:
            raise SpecError(f"{flag} {pair!r}: {form}")
        if not (percent.isascii() and percent.isdigit()):
            raise SpecError(f"{flag} {pair!r}: {percent!r} is not a whole percentage from 0 to 100; {form}")
        twin = next((n for n in result if n.lower() == name.lower()), None)
        if twin is not None:
            same = "" if twin == name else f" (as {twin!r}: names ignore case)"
            raise SpecError(f"{flag} {text!r}: {name!r} is given twice{same}")
        result[name] = int(percent)
    return result


def _check_entries(
    shares: Mapping[str, int], deployments: Collection[str] | None, where: str, *, limit: int, rule: str
) -> None:
    for name, percent in shares.items():
        validate_name(name, where=_at(where, name))
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= limit:
            raise SpecError(f"{_at(where, name)}: {percent!r} is not {rule}")
        if deployments is not None and name not in deployments:
            known = ", ".join(sorted(deployments)) or "none"
            raise SpecError(f"{_at(where, name)}: the endpoint has no deployment {name!r} (deployments: {known})")


def _at(where: str, name: str) -> str:
    """Where one entry is: `$.traffic.blue` in a file, `--traffic blue` in a CLI flag."""
    return f"{where} {name}" if where.startswith("--") else f"{where}.{name}"
