"""Managing endpoints and deployments: registry models, updates, deletes, keys, placement, front-end codes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from live import FIXTURES, SAMPLE, Server, wait_for_state


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


def _auth(server: Server, endpoint: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.key(endpoint)}"}


def test_registered_model_is_found_by_version_and_latest(server: Server) -> None:
    model = server.json("model", "create", "-f", str(SAMPLE / "model.yml"))
    assert isinstance(model, dict) and model["id"] == "azureml:digits-onnx:1"
    server.cli("model", "create", "-f", str(SAMPLE / "model.yml"), "--set", "version=2")
    listed = server.json("model", "list", "-n", "digits-onnx")
    assert isinstance(listed, list) and [m["version"] for m in listed] == ["1", "2"]
    again = server.cli("model", "create", "-f", str(SAMPLE / "model.yml"), check=False)
    assert again.returncode != 0 and "exists already" in again.stderr

    server.cli("online-endpoint", "create", "-f", str(SAMPLE / "endpoint.yml"))
    registered = str(SAMPLE / "blue-deployment-registered.yml")
    server.cli("online-deployment", "create", "-f", registered, "--all-traffic")
    server.cli(
        "online-deployment", "create", "-f", registered, "-n", "latest", "--set", "model=azureml:digits-onnx@latest"
    )
    body = (SAMPLE / "sample-request.json").read_bytes()
    with server.client() as http:
        for target in ("blue", "latest"):
            r = http.post(
                "/endpoints/digits/score",
                content=body,
                headers={**_auth(server, "digits"), "azureml-model-deployment": target},
            )
            assert r.status_code == 200 and r.json()["predictions"] == [3, 7]
    missing = server.cli(
        "online-deployment", "create", "-f", registered, "-n", "nope", "--set", "model=azureml:nothing:1", check=False
    )
    assert missing.returncode != 0 and "nothing" in missing.stderr and "not registered" in missing.stderr


def test_script_errors_are_424_and_slow_requests_are_408(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo(
        "--all-traffic",
        "--set",
        "request_settings.request_timeout_ms=2000",
    )
    auth = _auth(server, "fix")
    with server.client() as http:
        r = http.post("/endpoints/fix/score", json={"fail": True}, headers=auth)
        assert r.status_code == 424
        assert r.headers["ms-azureml-model-error-statuscode"] == "500"
        assert r.headers["x-ms-run-function-failed"] == "True"
        assert r.json() == {"message": "An unexpected error occurred in scoring script. Check the logs for more info."}
        # A URL the container does not serve is the front end's 404, as Azure's "Bad URL", not a wrapped 424.
        bad = http.get("/endpoints/fix/scores", headers=auth)
        assert bad.status_code == 404 and "it serves /score and /swagger.json" in bad.json()["message"]
        # Past the 2 s timeout, and not by much: stopping serve waits for the worker's late answer.
        r = http.post("/endpoints/fix/score", json={"sleep": 2.5}, headers=auth)
        assert r.status_code == 408 and "request_timeout_ms" in r.json()["message"]


def test_update_delete_and_keys(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("-n", "blue", "--all-traffic", "--set", "environment_variables.TAG=v1")
    old_key = server.key("fix")
    with server.client() as http:
        assert (
            http.post("/endpoints/fix/score", json={}, headers={"Authorization": f"Bearer {old_key}"}).json()["tag"]
            == "v1"
        )
        updated = server.json(
            "online-deployment", "update", "-n", "blue", "-e", "fix", "--set", "environment_variables.TAG=v2"
        )
        assert isinstance(updated, dict) and updated["provisioning_state"] == "Succeeded"
        assert (
            http.post("/endpoints/fix/score", json={}, headers={"Authorization": f"Bearer {old_key}"}).json()["tag"]
            == "v2"
        )

        server.cli("online-endpoint", "regenerate-keys", "-n", "fix", "--key-type", "primary")
        creds = server.json("online-endpoint", "get-credentials", "-n", "fix")
        assert isinstance(creds, dict) and creds["primaryKey"] != old_key
        assert (
            http.post("/endpoints/fix/score", json={}, headers={"Authorization": f"Bearer {old_key}"}).status_code
            == 401
        )
        for key in (creds["primaryKey"], creds["secondaryKey"]):
            assert (
                http.post("/endpoints/fix/score", json={}, headers={"Authorization": f"Bearer {key}"}).status_code
                == 200
            )

        # A key that could never be sent in a header is refused, and the keys stay as they were.
        for bad in (" leading-space-key-123", "ключ-ключ-ключ-ключ", "short"):
            refused = server.cli(
                "online-endpoint", "regenerate-keys", "-n", "fix", "--key-type", "secondary", "--key-value", bad,
                check=False,
            )  # fmt: skip
            assert refused.returncode != 0 and "visible ASCII" in refused.stderr, refused.stderr
        assert server.json("online-endpoint", "get-credentials", "-n", "fix") == creds
        chosen = "my-own-key-0123456789"
        server.cli("online-endpoint", "regenerate-keys", "-n", "fix", "--key-type", "secondary", "--key-value", chosen)
        r = http.post("/endpoints/fix/score", json={}, headers={"Authorization": f"Bearer {chosen}"})
        assert r.status_code == 200

    refused = server.cli("online-deployment", "delete", "-n", "blue", "-e", "fix", "-y", check=False)
    assert refused.returncode != 0 and "traffic" in refused.stderr
    server.cli("online-endpoint", "update", "-n", "fix", "--traffic", "blue=0")
    server.cli("online-deployment", "delete", "-n", "blue", "-e", "fix", "-y")
    assert server.json("online-deployment", "list", "-e", "fix") == []
    with server.client() as http:
        r = http.post("/endpoints/fix/score", json={}, headers={"Authorization": f"Bearer {creds['primaryKey']}"})
        assert r.status_code == 404
    server.cli("online-endpoint", "delete", "-n", "fix", "-y")
    gone = server.cli("online-endpoint", "show", "-n", "fix", check=False)
    assert gone.returncode != 0 and "not found" in gone.stderr


def test_placement_shares_or_refuses_and_gpu_requests_fall_back_to_cpu(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    dep = str(FIXTURES / "echo-deployment.yml")
    shown = server.json("online-deployment", "create", "-f", dep, "-n", "big", "--set", "instance_type=cpu32")
    assert isinstance(shown, dict)
    assert any("32 cores" in n for n in shown["placement"]["notes"])
    strict = server.deploy_echo("-n", "strict", "--placement", "strict", check=False)
    assert strict.returncode != 0 and "no room" in strict.stderr
    assert "strict" not in json.dumps(server.json("online-deployment", "list", "-e", "fix"))
    gpu = server.json("online-deployment", "create", "-f", dep, "-n", "gpu", "--set", "instance_type=gpu1")
    assert isinstance(gpu, dict) and gpu["provisioning_state"] == "Succeeded"
    notes = " ".join(gpu["placement"]["notes"])
    assert "Each instance of gpu asks for a GPU but NVML finds no GPU on this machine, so it runs on CPU." in notes
    assert "CUDA_VISIBLE_DEVICES is empty" in notes, notes  # why none was found (the server's GPUs are hidden)
    assert [w["gpus"] for w in gpu["workers"]] == [[]]


def test_aml_token_endpoint_takes_tokens_not_keys(server: Server, tmp_path: Path) -> None:
    spec = tmp_path / "token-endpoint.yml"
    spec.write_text("name: tok\nauth_mode: AMLToken\n")
    server.cli("online-endpoint", "create", "-f", str(spec))
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("-e", "tok", "--set", "endpoint_name=tok", "--all-traffic")
    creds = server.json("online-endpoint", "get-credentials", "-n", "tok")
    assert isinstance(creds, dict) and set(creds) == {
        "accessToken",
        "expiryTimeUtc",
        "refreshAfterTimeUtc",
        "tokenType",
    }
    other = server.json("online-endpoint", "get-credentials", "-n", "fix")
    assert isinstance(other, dict)
    with server.client() as http:
        ok = http.post(
            "/endpoints/tok/score", json={"t": 1}, headers={"Authorization": f"Bearer {creds['accessToken']}"}
        )
        assert ok.status_code == 200 and ok.json()["echo"] == {"t": 1}
        for wrong in (other["primaryKey"], "x.y.z"):
            r = http.post("/endpoints/tok/score", json={}, headers={"Authorization": f"Bearer {wrong}"})
            assert r.status_code == 401 and "token" in r.json()["message"]
        # A token for one endpoint does not open another.
        r = http.post("/endpoints/fix/score", json={}, headers={"Authorization": f"Bearer {creds['accessToken']}"})
        assert r.status_code == 401
    out = server.cli(
        "online-endpoint", "invoke", "-n", "tok", "--request-file", str(FIXTURES / "endpoint.yml"), check=False
    )
    assert out.returncode != 0 and "424" in out.stderr  # the YAML is no JSON: the echo script raises, as it should
    refused = server.cli("online-endpoint", "regenerate-keys", "-n", "tok", check=False)
    assert refused.returncode != 0 and "authenticates with tokens, not keys" in refused.stderr


def test_mirror_traffic_copies_a_share_to_the_shadow_and_answers_from_live(server: Server, tmp_path: Path) -> None:
    seen = tmp_path / "shadow.txt"
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo(
        "-n",
        "blue",
        "--all-traffic",
        "--set",
        "environment_variables.TAG=blue",
    )
    # The shadow admits as many copies as arrive: one refused as 429 would not reach SEEN_FILE.
    server.deploy_echo(
        "-n",
        "green",
        "--set",
        f"environment_variables.SEEN_FILE={seen}",
        "request_settings.max_concurrent_requests_per_instance=64",
    )
    too_much = server.cli("online-endpoint", "update", "-n", "fix", "--mirror-traffic", "green=60", check=False)
    assert too_much.returncode != 0 and "50" in too_much.stderr
    both = server.cli("online-endpoint", "update", "-n", "fix", "--mirror-traffic", "blue=10", check=False)
    assert both.returncode != 0 and "blue" in both.stderr
    server.cli("online-endpoint", "update", "-n", "fix", "--mirror-traffic", "green=50")
    auth = {"Authorization": f"Bearer {server.key('fix')}"}
    with server.client() as http:
        tags = {http.post("/endpoints/fix/score", json={"i": i}, headers=auth).json()["tag"] for i in range(400)}
        # Requests that name a deployment are never mirrored.
        for _ in range(20):
            http.post("/endpoints/fix/score", json={"named": 1}, headers={**auth, "azureml-model-deployment": "blue"})
    assert tags == {"blue"}
    # Mirrored copies are fire-and-forget: wait until the shadow's count has stopped growing for 2 s.
    copies: list[str] = []
    still = 0
    deadline = time.monotonic() + 30
    while still < 4 and time.monotonic() < deadline:
        time.sleep(0.5)
        now = seen.read_text().splitlines()
        still = still + 1 if len(now) == len(copies) else 0
        copies = now
    assert 140 <= len(copies) <= 260, len(copies)
    assert not any("named" in line for line in copies)
    refused = server.cli("online-deployment", "delete", "-n", "green", "-e", "fix", "-y", check=False)
    assert refused.returncode != 0 and '--mirror-traffic "green=0"' in refused.stderr, refused.stderr


def test_endpoint_update_with_set_changes_only_what_it_names(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("-n", "blue", "--all-traffic")
    server.deploy_echo("-n", "green")
    server.cli("online-endpoint", "update", "-n", "fix", "--set", "mirror_traffic.green=10", "tags.team=ml")
    shown = server.json("online-endpoint", "show", "-n", "fix")
    assert isinstance(shown, dict)
    assert shown["traffic"] == {"blue": 100} and shown["mirror_traffic"] == {"green": 10}
    assert shown["tags"] == {"team": "ml"}
    server.cli(
        "online-endpoint",
        "update",
        "-n",
        "fix",
        "--set",
        "traffic.blue=50",
        "traffic.green=50",
        "mirror_traffic.green=0",
    )
    shown = server.json("online-endpoint", "show", "-n", "fix")
    assert isinstance(shown, dict) and shown["traffic"] == {"blue": 50, "green": 50} and shown["mirror_traffic"] == {}
    # Names ignore case: one deployment given twice in two spellings is refused, other spellings are the stored one.
    twice = server.cli("online-endpoint", "update", "-n", "fix", "--traffic", "green=100 GREEN=0", check=False)
    assert twice.returncode != 0 and "names ignore case" in twice.stderr, twice.stderr
    server.cli("online-endpoint", "update", "-n", "fix", "--traffic", "GREEN=100 Blue=0")
    shown = server.json("online-endpoint", "show", "-n", "fix")
    assert isinstance(shown, dict) and shown["traffic"] == {"blue": 0, "green": 100}


def test_a_deployment_being_created_refuses_other_changes_until_it_is_done(server: Server, tmp_path: Path) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    dep = str(FIXTURES / "echo-deployment.yml")
    go = tmp_path / "init-may-finish"
    created = server.json(
        "online-deployment", "create", "-f", dep, "--no-wait", "--set", f"environment_variables.INIT_WAIT_FOR={go}"
    )
    assert isinstance(created, dict) and created["provisioning_state"] == "Creating"
    for args in (["update", "--set", "instance_count=2"], ["delete", "-y"]):
        busy = server.cli("online-deployment", *args, "-n", "echo", "-e", "fix", check=False)
        assert busy.returncode != 0 and "is Creating" in busy.stderr, busy.stderr
    go.touch()
    wait_for_state(server, "fix", "echo", "Succeeded")
    updated = server.json(
        "online-deployment", "update", "-n", "echo", "-e", "fix", "--set", "environment_variables.TAG=two"
    )
    assert isinstance(updated, dict) and updated["provisioning_state"] == "Succeeded"


def test_deleting_removes_the_copied_files_and_logs(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("-n", "blue")
    server.deploy_echo("-n", "green")
    snapshots, logs = server.state / "snapshots", server.state / "logs"
    assert (snapshots / "fix" / "blue").is_dir() and (logs / "fix" / "blue").is_dir()
    server.cli("online-deployment", "delete", "-n", "blue", "-e", "fix", "-y")
    assert sorted(p.name for p in (snapshots / "fix").iterdir()) == ["green"]
    assert sorted(p.name for p in (logs / "fix").iterdir()) == ["green"]
    server.cli("online-endpoint", "delete", "-n", "fix", "-y")
    assert list(snapshots.iterdir()) == [] and list(logs.iterdir()) == []


def test_names_are_found_in_any_case_as_on_azure(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("--all-traffic", "-e", "FIX")
    shown = server.json("online-endpoint", "show", "-n", "FIX")
    assert isinstance(shown, dict) and shown["name"] == "fix"
    dep = server.json("online-deployment", "show", "-n", "Echo", "-e", "Fix")
    assert isinstance(dep, dict) and dep["name"] == "echo"
    auth = {"Authorization": f"Bearer {server.key('FIX')}"}
    with server.client() as http:
        assert http.post("/endpoints/FIX/score", json={"a": 1}, headers=auth).status_code == 200
        by_host = http.post("/score", json={"a": 2}, headers={**auth, "Host": "Fix.localhost"})
        assert by_host.status_code == 200 and by_host.json()["echo"] == {"a": 2}
        named = http.post("/endpoints/fix/score", json={}, headers={**auth, "azureml-model-deployment": "ECHO"})
        assert named.status_code == 200 and named.headers["azureml-model-deployment"] == "echo"
    server.cli("online-endpoint", "update", "-n", "Fix", "--traffic", "ECHO=100")
    assert server.json("online-endpoint", "show", "-n", "fix")["traffic"] == {"echo": 100}  # type: ignore[index]
    server.cli("online-deployment", "update", "-n", "ECHO", "-e", "FIX", "--set", "environment_variables.TAG=v2")
    assert server.json("online-deployment", "show", "-n", "echo", "-e", "fix")["environment_variables"]["TAG"] == "v2"  # type: ignore[index]
