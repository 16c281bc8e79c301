"""The endpoint verbs of a real Controller on a state directory in tmp_path, with no worker processes.

Deployments are put in the registry directly, each with a supervisor that is never started where one is needed
("it has workers"), so the traffic rules are checked as a user meets them without spawning anything.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from runtime.control import views
from runtime.control.allocator import Allocation
from runtime.control.controller import Controller
from runtime.control.plan import WorkerPlan
from runtime.control.registry import DeploymentRecord
from runtime.control.supervisor import DeploymentSupervisor
from runtime.errors import Conflict, NotFound, SpecError
from runtime.spec import load_deployment
from runtime.statedir import StateDir


def with_controller(tmp_path: Path, body: Callable[[Controller], Awaitable[None]]) -> None:
    async def main() -> None:
        ctl = Controller(StateDir(tmp_path / "state"), cores=[0, 1], gpus=[], random=lambda: 0.5)
        try:
            await body(ctl)
        finally:
            await ctl.stop()

    asyncio.run(asyncio.wait_for(main(), 20))


def add_deployment(
    ctl: Controller, endpoint: str, name: str, *, running: bool = True, state: str = "Succeeded"
) -> None:
    """A deployment as the registry holds it; `running`: it has a (never started) supervisor, as a live one has."""
    text = f"name: {name}\nendpoint_name: {endpoint}\ninstance_type: cpu1\ninstance_count: 1\n"
    spec = load_deployment(text, source="d.yml").spec
    snap = ctl.core.state.snapshots / endpoint / name / "snapshot"
    snap.mkdir(parents=True)
    now = time.time()
    ctl.core.registry.add_deployment(
        DeploymentRecord(
            endpoint=endpoint,
            name=name,
            spec=spec,
            source="d.yml",
            snapshot=str(snap),
            placement="share",
            state=state,
            error="" if state == "Succeeded" else "init() failed",
            notes=(),
            created_at=now,
            updated_at=now,
        )
    )
    if running:
        plan = WorkerPlan(
            kind="script", app_root=None, entry_script=None, model_dir=None, model_repository=None, env={}
        )
        ctl.core.sups[(endpoint, name)] = DeploymentSupervisor(
            name=name,
            plan=plan,
            spec=spec,
            allocations=(Allocation(cores=(0,)),),
            notes=(),
            socket_dir=Path("/nonexistent"),
            log_dir=Path("/nonexistent"),
        )


async def endpoint(ctl: Controller, yaml: str | None = None, name: str | None = None) -> dict[str, object]:
    return await ctl.endpoints.create_endpoint(views.SpecRequest(yaml=yaml, name=name, source="/x/endpoint.yml"))


def test_an_endpoint_made_from_a_name_alone_uses_keys_and_is_shown_and_listed(tmp_path: Path) -> None:
    async def body(ctl: Controller) -> None:
        shown = await endpoint(ctl, name="digits")
        assert shown["name"] == "digits" and shown["auth_mode"] == "key"
        keys = ctl.endpoints.keys("digits")
        assert keys["primaryKey"] != keys["secondaryKey"] and len(keys["primaryKey"]) >= 32
        assert [e["name"] for e in ctl.endpoints.list_endpoints()] == ["digits"]
        assert ctl.endpoints.endpoint_name("DIGITS") == "digits"  # names ignore case, as Azure's
        with pytest.raises(Conflict):
            await endpoint(ctl, name="Digits")

    with_controller(tmp_path, body)


def test_an_endpoint_needs_a_file_or_a_name_and_cannot_start_with_traffic(tmp_path: Path) -> None:
    async def body(ctl: Controller) -> None:
        with pytest.raises(SpecError, match="no YAML given: pass the file with -f, or name the endpoint with -n"):
            await endpoint(ctl)
        with pytest.raises(SpecError, match=r"endpoint.yml: \$.traffic: traffic cannot be set when an endpoint is"):
            await endpoint(ctl, "name: digits\ntraffic: {blue: 100}\n")
        with pytest.raises(SpecError, match=r"\$.auth_mode"):
            await endpoint(ctl, "name: digits\nauth_mode: password\n")
        assert ctl.endpoints.list_endpoints() == []

    with_controller(tmp_path, body)


def test_traffic_takes_stored_spellings_and_deployments_left_out_take_zero(tmp_path: Path) -> None:
    async def body(ctl: Controller) -> None:
        await endpoint(ctl, name="digits")
        for name in ("blue", "green"):
            add_deployment(ctl, "digits", name)
        shown = await ctl.endpoints.update_endpoint("digits", views.EndpointUpdate(traffic="BLUE=90 green=10"))
        assert shown["traffic"] == {"blue": 90, "green": 10}
        shown = await ctl.endpoints.update_endpoint("digits", views.EndpointUpdate(traffic={"green": 100}))
        assert shown["traffic"] == {"blue": 0, "green": 100}
        assert ctl.endpoints.get_endpoint("digits")["traffic"] == {"blue": 0, "green": 100}  # it is stored

    with_controller(tmp_path, body)


@pytest.mark.parametrize(
    ("traffic", "message"),
    [
        ("blue=90 green=5", "--traffic: percentages sum to 95; they must total 100, or 0 to send no traffic"),
        ("blue=100 red=0", "--traffic red: the endpoint has no deployment 'red' (deployments: blue, green)"),
        ("blue=ninety", "--traffic 'blue=ninety': 'ninety' is not a whole percentage from 0 to 100"),
        ({"blue": 101}, "$.traffic.blue: 101 is not a percentage from 0 to 100"),
    ],
)
def test_a_traffic_split_that_breaks_a_rule_says_which_and_changes_nothing(
    tmp_path: Path, traffic: str | dict[str, int], message: str
) -> None:
    async def body(ctl: Controller) -> None:
        await endpoint(ctl, name="digits")
        for name in ("blue", "green"):
            add_deployment(ctl, "digits", name)
        await ctl.endpoints.update_endpoint("digits", views.EndpointUpdate(traffic="blue=100"))
        with pytest.raises(SpecError, match=re.escape(message)):
            await ctl.endpoints.update_endpoint("digits", views.EndpointUpdate(traffic=traffic))
        assert ctl.endpoints.get_endpoint("digits")["traffic"] == {"blue": 100}

    with_controller(tmp_path, body)


def test_a_deployment_without_workers_cannot_be_given_traffic(tmp_path: Path) -> None:
    async def body(ctl: Controller) -> None:
        await endpoint(ctl, name="digits")
        add_deployment(ctl, "digits", "blue", running=False, state="Failed")
        with pytest.raises(Conflict, match="deployment 'blue' is Failed and has no workers, so it cannot take traffic"):
            await ctl.endpoints.update_endpoint("digits", views.EndpointUpdate(traffic="blue=100"))

    with_controller(tmp_path, body)


def test_mirror_traffic_goes_to_one_deployment_that_takes_no_live_traffic(tmp_path: Path) -> None:
    async def body(ctl: Controller) -> None:
        await endpoint(ctl, name="digits")
        for name in ("blue", "green"):
            add_deployment(ctl, "digits", name)
        await ctl.endpoints.update_endpoint("digits", views.EndpointUpdate(traffic="blue=100"))
        shown = await ctl.endpoints.update_endpoint("digits", views.EndpointUpdate(mirror_traffic="green=10"))
        assert shown["mirror_traffic"] == {"green": 10}
        with pytest.raises(SpecError, match="'blue' takes 100% of live traffic; a deployment receives live or"):
            await ctl.endpoints.update_endpoint("digits", views.EndpointUpdate(mirror_traffic="blue=10"))
        with pytest.raises(SpecError, match="at most 50% of traffic can be mirrored"):
            await ctl.endpoints.update_endpoint("digits", views.EndpointUpdate(mirror_traffic="green=60"))
        assert ctl.endpoints.get_endpoint("digits")["mirror_traffic"] == {"green": 10}

    with_controller(tmp_path, body)


def test_kubernetes_endpoints_take_no_mirror_traffic(tmp_path: Path) -> None:
    async def body(ctl: Controller) -> None:
        await endpoint(ctl, "name: edge\ncompute: azureml:k8s\n")
        for name in ("blue", "green"):
            add_deployment(ctl, "edge", name)
        await ctl.endpoints.update_endpoint("edge", views.EndpointUpdate(traffic="blue=100"))
        with pytest.raises(SpecError, match="'edge' is a Kubernetes endpoint .* Azure does not mirror traffic"):
            await ctl.endpoints.update_endpoint("edge", views.EndpointUpdate(mirror_traffic="green=10"))

    with_controller(tmp_path, body)


def test_regenerating_keys_changes_only_the_named_key_and_checks_a_given_value(tmp_path: Path) -> None:
    async def body(ctl: Controller) -> None:
        await endpoint(ctl, name="digits")
        before = ctl.endpoints.keys("digits")
        after = await ctl.endpoints.regenerate_keys("digits", views.RegenerateKeys(keyType="Secondary"))
        assert after["primaryKey"] == before["primaryKey"] and after["secondaryKey"] != before["secondaryKey"]
        with pytest.raises(SpecError, match="key type 'tertiary' is not allowed; use primary or secondary"):
            await ctl.endpoints.regenerate_keys("digits", views.RegenerateKeys(keyType="tertiary"))
        with pytest.raises(SpecError, match="16 to 1024 visible ASCII characters"):
            await ctl.endpoints.regenerate_keys(
                "digits", views.RegenerateKeys(keyType="primary", keyValue="has a space in it")
            )
        mine = "k" * 16
        assert (await ctl.endpoints.regenerate_keys("digits", views.RegenerateKeys(keyType="primary", keyValue=mine)))[
            "primaryKey"
        ] == mine

    with_controller(tmp_path, body)


def test_token_endpoints_issue_tokens_and_have_no_keys_to_regenerate(tmp_path: Path) -> None:
    async def body(ctl: Controller) -> None:
        await endpoint(ctl, "name: secure\nauth_mode: aml_token\n")
        token = ctl.endpoints.keys("secure")
        assert set(token) >= {"accessToken", "expiryTimeUtc"}
        with pytest.raises(Conflict, match="authenticates with tokens, not keys"):
            await ctl.endpoints.regenerate_keys("secure", views.RegenerateKeys(keyType="primary"))

    with_controller(tmp_path, body)


def test_a_deleted_endpoint_is_gone_with_its_deployments(tmp_path: Path) -> None:
    async def body(ctl: Controller) -> None:
        await endpoint(ctl, name="digits")
        add_deployment(ctl, "digits", "blue")
        await ctl.endpoints.delete_endpoint("digits")
        with pytest.raises(NotFound):
            ctl.endpoints.get_endpoint("digits")
        assert ctl.core.registry.deployments("digits") == [] and "digits" not in ctl.core.router.endpoints
        assert not (ctl.core.state.snapshots / "digits").exists()
        with pytest.raises(NotFound):
            await ctl.endpoints.delete_endpoint("digits")

    with_controller(tmp_path, body)
