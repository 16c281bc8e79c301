"""az ml verbs and flags against a real server: placeholders and overrides, verbs without files, --no-wait,
update re-reading the files, storage-initializer logs, traffic replacement, the model registry, messages."""

from __future__ import annotations

import concurrent.futures
import json
import re
import shutil
import time
from pathlib import Path

import httpx
import pytest
from live import FIXTURES, Server, alive, wait_for_state, worker_pids


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


def _echo_copy(tmp_path: Path, **replace: str) -> Path:
    """The echo fixture in a folder of its own (its code can be edited), with some YAML lines replaced."""
    folder = tmp_path / "src"
    shutil.copytree(FIXTURES / "echo", folder / "echo", ignore=shutil.ignore_patterns("__pycache__"))
    text = (FIXTURES / "echo-deployment.yml").read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    dep = folder / "deployment.yml"
    dep.write_text(text)
    return dep


def _score(server: Server, endpoint: str, deployment: str) -> dict[str, object]:
    key = server.key(endpoint)
    with server.client() as http:
        r = http.post(
            f"/endpoints/{endpoint}/score",
            json={},
            headers={"Authorization": f"Bearer {key}", "azureml-model-deployment": deployment},
        )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert isinstance(answer, dict)
    return answer


def test_flags_fill_placeholders_and_e_wins_over_set(server: Server, tmp_path: Path) -> None:
    # online-endpoint create -n without a file makes a key-auth endpoint, as az ml does.
    made = server.json("online-endpoint", "create", "-n", "fix")
    assert isinstance(made, dict) and made["auth_mode"] == "key" and made["name"] == "fix"
    server.cli("online-endpoint", "create", "-n", "other")
    dep = _echo_copy(tmp_path, **{"name: echo": "name: <my-name>", "endpoint_name: fix": "endpoint_name: <ENDPOINT>"})
    placeholder = server.cli("online-deployment", "create", "-f", str(dep), check=False)
    assert placeholder.returncode == 1 and "<ENDPOINT>" in placeholder.stderr, placeholder.stderr
    # --set endpoint_name picks the endpoint (the CLI reads it after the overrides), -n the name.
    shown = server.json("online-deployment", "create", "-f", str(dep), "--set", "endpoint_name=other", "-n", "one")
    assert isinstance(shown, dict) and shown["endpoint_name"] == "other" and shown["name"] == "one"
    shown = server.json("online-deployment", "create", "-f", str(dep), "--set", "endpoint_name=other", "name=two")
    assert isinstance(shown, dict) and (shown["endpoint_name"], shown["name"]) == ("other", "two")
    # Both given: -e wins, as az ml appends the flags after the --set overrides.
    both = ["--set", "endpoint_name=other", "-e", "fix", "-n", "three"]
    shown = server.json("online-deployment", "create", "-f", str(dep), *both)
    assert isinstance(shown, dict) and shown["endpoint_name"] == "fix"
    assert [d["name"] for d in server.json("online-deployment", "list", "-e", "fix")] == ["three"]
    # update -f takes name and endpoint from the file (after --set) when no flag gives them.
    updated = server.json(
        "online-deployment", "update", "-f", str(dep), "--set", "endpoint_name=other", "name=one",
        "environment_variables.TAG=v2",
    )  # fmt: skip
    assert isinstance(updated, dict) and updated["name"] == "one" and updated["rolled"] is True
    assert _score(server, "other", "one")["tag"] == "v2"


def test_update_re_reads_the_files_and_rolls_only_when_they_changed(server: Server, tmp_path: Path) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    dep = _echo_copy(tmp_path)
    server.cli("online-deployment", "create", "-f", str(dep), "--all-traffic")
    before = worker_pids(server, "fix", "echo")
    same = server.cli("online-deployment", "update", "-f", str(dep))
    shown = json.loads(same.stdout)
    assert shown["rolled"] is False and "nothing changed" in shown["note"]
    assert same.stderr.strip() == f"modelyard: note: {shown['note']}"
    assert worker_pids(server, "fix", "echo") == before
    logs = server.cli("online-deployment", "get-logs", "-n", "echo", "-e", "fix", "--container", "storage-initializer")
    first = [line for line in logs.stdout.splitlines() if "copied code" in line]
    assert len(first) == 1 and f"from {dep.parent / 'echo'} to code/echo" in first[0], logs.stdout
    assert "2 file(s)" in first[0] and "sha256 " in first[0]
    # The log names the snapshot as it is kept (a folder of 12 hex digits), not the folder it was built in.
    assert re.search(r"storage-initializer: snapshot [0-9a-f]{12}$", logs.stdout.splitlines()[0]), logs.stdout

    # The same YAML over changed code: copied again, new workers, the new answer.
    score = dep.parent / "echo" / "score.py"
    score.write_text(score.read_text().replace('"tag": os.environ.get("TAG", "")', '"tag": "edited"'))
    changed = server.json("online-deployment", "update", "-f", str(dep))
    assert isinstance(changed, dict) and changed["rolled"] is True and changed["provisioning_state"] == "Succeeded"
    after = worker_pids(server, "fix", "echo", "Ready")
    assert after and not set(after) & set(before)
    assert _score(server, "fix", "echo")["tag"] == "edited"
    logs = server.cli("online-deployment", "get-logs", "-n", "echo", "-e", "fix", "--container", "storage-initializer")
    second = [line for line in logs.stdout.splitlines() if "copied code" in line]
    assert len(second) == 1 and second[0].rpartition("sha256 ")[2] != first[0].rpartition("sha256 ")[2]
    inference = server.cli("online-deployment", "get-logs", "-n", "echo", "-e", "fix")
    assert "storage-initializer" not in inference.stdout


def test_no_wait_returns_at_once_and_show_follows_the_state(server: Server, tmp_path: Path) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"), "--no-wait")
    release = tmp_path / "go"
    dep = str(FIXTURES / "echo-deployment.yml")
    server.deploy_echo()
    old = worker_pids(server, "fix", "echo")
    # init() of the new version waits for a file, so the update is still Updating when --no-wait returns.
    hold = ["--set", f"environment_variables.INIT_WAIT_FOR={release}"]
    shown = server.json("online-deployment", "update", "-f", dep, *hold, "--no-wait")
    assert isinstance(shown, dict) and shown["provisioning_state"] == "Updating"
    busy = server.cli("online-deployment", "update", "-f", dep, check=False)
    assert busy.returncode == 1 and "Updating" in busy.stderr
    release.touch()
    wait_for_state(server, "fix", "echo", "Succeeded")
    assert not set(worker_pids(server, "fix", "echo")) & set(old)

    # A request in run() holds the worker's shutdown (it finishes what it has, for up to 5 s), so the deployment
    # is still Deleting when show asks.
    pids = worker_pids(server, "fix", "echo")
    held = tmp_path / "held"
    key = server.key("fix")
    with concurrent.futures.ThreadPoolExecutor(1) as pool, server.client() as http:
        pending = pool.submit(
            http.post,
            "/endpoints/fix/score",
            json={"wait_for": str(held)},
            headers={"Authorization": f"Bearer {key}", "azureml-model-deployment": "echo"},
        )
        _wait_busy(server, "fix", "echo")
        server.cli("online-deployment", "delete", "-n", "echo", "-e", "fix", "-y", "--no-wait")
        shown = server.json("online-deployment", "show", "-n", "echo", "-e", "fix")
        assert isinstance(shown, dict) and shown["provisioning_state"] == "Deleting"
        again = server.cli("online-deployment", "delete", "-n", "echo", "-e", "fix", "-y", check=False)
        assert again.returncode == 1 and "is Deleting" in again.stderr
        held.touch()
        assert pending.result().status_code == 200  # the request in flight is answered
    deadline = time.monotonic() + 30
    while (gone := server.cli("online-deployment", "show", "-n", "echo", "-e", "fix", check=False)).returncode == 0:
        assert json.loads(gone.stdout)["provisioning_state"] == "Deleting"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "deployment 'echo' not found under endpoint 'fix'" in gone.stderr
    assert not any(alive(p) for p in pids)
    server.cli("online-endpoint", "delete", "-n", "fix", "-y", "--no-wait")
    gone = server.cli("online-endpoint", "show", "-n", "fix", check=False)
    assert gone.returncode == 1 and "endpoint 'fix' not found" in gone.stderr


def _wait_busy(server: Server, endpoint: str, deployment: str) -> None:
    """Wait until the deployment's worker has a request in flight."""
    deadline = time.monotonic() + 30
    while True:
        shown = server.deployment(endpoint, deployment)
        if any(w["inflight"] for w in shown["workers"]):
            return
        assert time.monotonic() < deadline, shown["workers"]
        time.sleep(0.05)


def _admin(server: Server) -> str:
    return (server.state / "admin-token").read_text().strip()


def test_traffic_replaces_the_whole_map_and_the_api_takes_an_object(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("-n", "blue", "--all-traffic")
    server.deploy_echo("-n", "green")
    shown = server.json("online-endpoint", "update", "-n", "fix", "--traffic", "green=100")
    assert isinstance(shown, dict) and shown["traffic"] == {"blue": 0, "green": 100}
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {_admin(server)}"}) as api:
        r = api.patch("/api/endpoints/fix", json={"traffic": {"blue": 90, "green": 10}})
        assert r.status_code == 200 and r.json()["traffic"] == {"blue": 90, "green": 10}
        r = api.patch("/api/endpoints/fix", json={"traffic": "blue=100"})
        assert r.status_code == 200 and r.json()["traffic"] == {"blue": 100, "green": 0}
        r = api.patch("/api/endpoints/fix", json={"traffic": {"blue": "x"}})
        assert r.status_code == 400, r.text
        r = api.patch("/api/endpoints/fix", json={"traffic": {"blue": 101}})
        assert r.status_code == 400 and r.json()["error"]["message"].startswith("$.traffic.blue: 101 is not"), r.text
    # --set alone applies to today's split, not to the one the endpoint's file last named.
    shown = server.json("online-endpoint", "update", "-n", "fix", "--set", "traffic.green=0")
    assert isinstance(shown, dict) and shown["traffic"] == {"blue": 100, "green": 0}
    shown = server.json("online-endpoint", "update", "-n", "fix", "--mirror-traffic", "green=10")
    assert isinstance(shown, dict) and shown["mirror_traffic"] == {"green": 10}
    # A bad flag is refused naming the flag, and changes nothing: not even the other flag's valid map.
    bad = server.cli(
        "online-endpoint", "update", "-n", "fix", "--traffic", "green=100", "--mirror-traffic", "blue=51", check=False
    )
    assert bad.returncode == 1 and bad.stderr.startswith("modelyard: error: --mirror-traffic blue: 51 is not"), (
        bad.stderr
    )
    shown = server.json("online-endpoint", "show", "-n", "fix")
    assert isinstance(shown, dict) and shown["traffic"] == {"blue": 100, "green": 0}


def test_verbs_with_e_say_when_the_endpoint_is_missing(server: Server) -> None:
    for args in (
        ("online-deployment", "show", "-n", "echo", "-e", "nope"),
        ("online-deployment", "delete", "-n", "echo", "-e", "nope", "-y"),
        ("online-deployment", "get-logs", "-n", "echo", "-e", "nope"),
        ("online-deployment", "list", "-e", "nope"),
        ("online-deployment", "update", "-n", "echo", "-e", "nope", "--set", "instance_count=2"),
        ("online-deployment", "create", "-f", str(FIXTURES / "echo-deployment.yml"), "-e", "nope"),
    ):
        failed = server.cli(*args, check=False)
        assert failed.returncode == 1 and failed.stderr.strip() == "modelyard: error: endpoint 'nope' not found", (
            args,
            failed.stderr,
        )


def test_model_verbs_without_files(server: Server, tmp_path: Path) -> None:
    model = tmp_path / "weights.bin"
    model.write_bytes(b"v1")
    made = server.json(
        "model", "create", "--name", "m", "--version", "1", "--path", str(model), "--type", "mlflow_model"
    )
    assert isinstance(made, dict) and (made["name"], made["version"], made["type"]) == ("m", "1", "mlflow_model")
    server.json("model", "create", "-n", "m", "-v", "2", "-p", str(model))
    assert server.json("model", "show", "-n", "m", "-l", "latest")["version"] == "2"
    assert server.json("model", "show", "-n", "m", "-v", "1")["type"] == "mlflow_model"
    archived = server.json("model", "archive", "-n", "m", "-v", "2")
    assert isinstance(archived, dict) and archived["stage"] == "Archived"
    assert [m["version"] for m in server.json("model", "list", "-n", "m")] == ["1"]
    listed = server.json("model", "list", "--include-archived")
    assert [m["version"] for m in listed] == ["1", "2"]
    assert server.json("model", "show", "-n", "m", "-l", "latest")["version"] == "1"
    assert server.json("model", "show", "-n", "m", "-v", "2")["stage"] == "Archived"

    # A version a deployment uses cannot be deleted; one no deployment uses can.
    server.cli("online-endpoint", "create", "-n", "fix")
    server.deploy_echo("--set", "model=azureml:m@latest")
    refused = server.cli("model", "delete", "-n", "m", "-v", "1", "-y", check=False)
    assert refused.returncode == 1 and "used by deployment(s) fix/echo" in refused.stderr, refused.stderr
    server.cli("model", "delete", "-n", "m", "-v", "2", "-y")
    assert [m["version"] for m in server.json("model", "list", "--include-archived")] == ["1"]
    gone = server.cli("model", "show", "-n", "m", "-v", "2", check=False)
    assert gone.returncode == 1 and "m:2 is not registered" in gone.stderr
    assert _score(server, "fix", "echo")  # the deployment still serves


def test_kubernetes_deployment_without_a_size_gets_defaultinstancetype(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "k8s-endpoint.yml"))
    shown = server.json(
        "online-deployment", "create", "-f", str(FIXTURES / "k8s-deployment.yml"), "-e", "kube-ep",
        "--set", "resources=null",
    )  # fmt: skip
    assert isinstance(shown, dict) and shown["provisioning_state"] == "Succeeded"
    assert [len(w["cores"]) for w in shown["workers"]] == [1]


def test_the_local_endpoint_lines_of_azures_docs_run_unchanged(server: Server, tmp_path: Path) -> None:
    # As Azure's docs test a deployment before deploying it: every verb takes --local, and the one deployment
    # created --local takes the endpoint's requests, as an az ml local endpoint's does.
    request = str(tmp_path / "request.json")
    Path(request).write_text('{"data": [1]}')
    server.cli("online-endpoint", "create", "--local", "-n", "loc", "-f", str(FIXTURES / "endpoint.yml"))
    dep = str(FIXTURES / "echo-deployment.yml")
    server.cli(
        "online-deployment",
        "create",
        "--local",
        "-n",
        "blue",
        "--endpoint",
        "loc",
        "-f",
        dep,
        "--skip-script-validation",
    )
    shown = server.json("online-endpoint", "show", "-n", "loc", "--local")
    assert isinstance(shown, dict) and shown["traffic"] == {"blue": 100}
    invoked = server.cli("online-endpoint", "invoke", "--local", "--name", "loc", "--request-file", request)
    assert '\\"echo\\"' in invoked.stdout
    server.cli("online-deployment", "get-logs", "--local", "-n", "blue", "--endpoint", "loc")
    # The front end's refusal is shown as its message, not as the JSON it came in.
    missing = server.cli("online-endpoint", "invoke", "-n", "loc", "-r", request, "-d", "nosuch", check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("modelyard: error: 404: deployment 'nosuch' named")
    server.cli("online-endpoint", "delete", "--local", "-n", "loc", "--yes")
