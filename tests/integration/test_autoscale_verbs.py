"""`monitor autoscale` against a real server: Azure Monitor settings and rules on a real online deployment."""

from __future__ import annotations

import httpx
from live import FIXTURES, Server

ARM_ID = (
    "/subscriptions/1234/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/"
    "onlineEndpoints/fix/deployments/echo"
)


def _fails(server: Server, *args: str) -> str:
    result = server.cli(*args, check=False)
    assert result.returncode == 1, result
    return result.stderr


def test_settings_and_rules_as_azure_ml_scripts_write_them(server: Server) -> None:
    # The target must be an existing online deployment.
    err = _fails(server, "monitor", "autoscale", "create", "--resource", "fix/echo", "--count", "1")
    assert "endpoint 'fix' not found" in err
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo()
    assert "deployment 'blue' not found under endpoint 'fix'" in _fails(
        server, "monitor", "autoscale", "create", "--resource", "fix/blue", "--count", "1"
    )
    bad_counts = ["--resource", "fix/echo", "--min-count", "2", "--max-count", "4", "--count", "1"]
    assert "1 <= min-count <= count <= max-count <= 50" in _fails(server, "monitor", "autoscale", "create", *bad_counts)
    assert server.json("monitor", "autoscale", "list") == []  # nothing half-made by the refusals

    # Azure's sample lines, with the deployment's ARM id.
    line = ["--name", "my-scale", "--resource", ARM_ID, "--min-count", "1", "--max-count", "4", "--count", "1"]
    created = server.json("monitor", "autoscale", "create", *line)
    assert isinstance(created, dict)
    assert (created["name"], created["enabled"], created["targetResourceUri"]) == ("my-scale", True, ARM_ID)
    assert created["profiles"] == [
        {"capacity": {"default": "1", "maximum": "4", "minimum": "1"}, "name": "default", "rules": []}
    ]
    assert "a resource takes one" in _fails(
        server, "monitor", "autoscale", "create", "--resource", "fix/echo", "--count", "1", "-n", "other"
    )

    rule = ["monitor", "autoscale", "rule", "create", "--autoscale-name", "My-Scale"]
    out = server.cli(*rule, "--condition", "CpuUtilizationPercentage > 70 avg 5m", "--scale", "out", "2")
    assert "has rules to scale out but none to scale in" in out.stderr
    server.cli(*rule, "--condition", "CpuUtilizationPercentage < 25 avg 30s", "--scale", "in", "1", "--cooldown", "0.5")
    server.cli(*rule, "--condition", "RequestLatency > 70 avg 5m", "--scale", "out", "1", "--resource", "fix")
    # A refused rule changes nothing.
    assert "did you mean CpuUtilizationPercentage?" in _fails(
        server, *rule, "--condition", "CpuUtilisation > 70 avg 5m", "--scale", "out", "1"
    )
    rules = server.json("monitor", "autoscale", "rule", "list", "--autoscale-name", "my-scale")
    assert isinstance(rules, list)
    assert [(r["index"], r["metricTrigger"]["metricName"], r["scaleAction"]["direction"]) for r in rules] == [
        (0, "CpuUtilizationPercentage", "Increase"),
        (1, "CpuUtilizationPercentage", "Decrease"),
        (2, "RequestLatency", "Increase"),
    ]
    assert rules[0]["scaleAction"] == {"cooldown": "PT5M", "direction": "Increase", "type": "ChangeCount", "value": "2"}
    assert (rules[1]["metricTrigger"]["timeWindow"], rules[1]["scaleAction"]["cooldown"]) == ("PT30S", "PT30S")
    assert rules[2]["metricTrigger"]["metricResourceUri"].endswith("/onlineEndpoints/fix")
    assert rules[0]["metricTrigger"]["metricResourceUri"] == ARM_ID

    assert "its rules are 0-2" in _fails(
        server, "monitor", "autoscale", "rule", "delete", "--autoscale-name", "my-scale", "--index", "3"
    )
    server.cli("monitor", "autoscale", "rule", "delete", "--autoscale-name", "my-scale", "--index", "2")
    updated = server.json("monitor", "autoscale", "update", "-n", "my-scale", "--max-count", "6", "--enabled", "false")
    assert isinstance(updated, dict) and updated["enabled"] is False
    assert updated["profiles"][0]["capacity"] == {"default": "1", "maximum": "6", "minimum": "1"}

    # API clients get the same checks, in the API's error shape, and a refused call changes nothing.
    token = (server.state / "admin-token").read_text().strip()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        before = api.get("/api/autoscale-settings/my-scale").json()
        r = api.patch("/api/autoscale-settings/my-scale", json={"max": 9})
        assert r.status_code == 400 and "unknown field `max`" in r.json()["error"]["message"]
        assert "max_count" in r.json()["error"]["message"]
        r = api.patch("/api/autoscale-settings/my-scale", json={"count": "two"})
        assert r.status_code == 400 and "Expected `int | null`" in r.json()["error"]["message"]
        r = api.post("/api/autoscale-settings/my-scale/rules", json={"condition": "Cpu >", "scale": "out 1"})
        assert r.status_code == 400 and r.json()["error"]["message"].startswith("--condition")
        r = api.delete("/api/autoscale-settings/my-scale/rules")
        assert r.status_code == 400 and "'*' for all" in r.json()["error"]["message"]
        assert api.get("/api/autoscale-settings/nope").status_code == 404
        assert api.get("/api/autoscale-settings/my-scale").json() == before

    # Kept in the state database across a restart.
    server.stop()
    server.start()
    kept = server.json(
        "monitor", "autoscale", "show", "-n", "my-scale", "--query", "profiles[0].rules[].metricTrigger.operator"
    )
    assert kept == ["GreaterThan", "LessThan"]
    server.cli("monitor", "autoscale", "delete", "-n", "my-scale")
    assert "autoscale setting 'my-scale' not found" in _fails(server, "monitor", "autoscale", "show", "-n", "my-scale")
