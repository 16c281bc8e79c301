"""The sample digits endpoint, served for real: predictions, traffic split, header routing, auth, Host form."""

from __future__ import annotations

import json
from collections import Counter

from conftest import SAMPLE, Server


def test_sample_endpoint_serves_real_predictions_and_splits_traffic(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(SAMPLE / "endpoint.yml"))
    blue = server.json("online-deployment", "create", "-f", str(SAMPLE / "blue-deployment.yml"), "--all-traffic")
    assert isinstance(blue, dict) and blue["provisioning_state"] == "Succeeded"
    server.cli("online-deployment", "create", "-f", str(SAMPLE / "green-deployment.yml"))

    out = server.cli("online-endpoint", "invoke", "-n", "digits", "--request-file", str(SAMPLE / "sample-request.json"))
    answer = json.loads(json.loads(out.stdout))  # az ml prints the body as a JSON string
    assert answer["predictions"] == [3, 7]

    key = server.key("digits")
    body = (SAMPLE / "sample-request.json").read_bytes()
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with server.client() as http:
        # The header reaches a deployment that has 0 % of the traffic.
        r = http.post("/endpoints/digits/score", content=body, headers={**auth, "azureml-model-deployment": "green"})
        assert r.status_code == 200 and r.headers["azureml-model-deployment"] == "green"
        green_probs = r.json()["probabilities"]
        r = http.post("/endpoints/digits/score", content=body, headers=auth)
        assert r.headers["azureml-model-deployment"] == "blue"
        assert r.json()["predictions"] == [3, 7] and r.json()["probabilities"] != green_probs

        server.cli("online-endpoint", "update", "-n", "digits", "--traffic", "blue=90 green=10")
        served = Counter(
            http.post("/endpoints/digits/score", content=body, headers=auth).headers["azureml-model-deployment"]
            for _ in range(2000)
        )
        assert set(served) == {"blue", "green"}
        assert abs(served["green"] / 2000 - 0.10) <= 0.03, served

        # The Host-header form of the scoring URL.
        r = http.post("/score", content=body, headers={**auth, "Host": "digits.localhost"})
        assert r.status_code == 200 and r.json()["predictions"] == [3, 7]

        # Wrong key, missing key, unknown endpoint.
        assert (
            http.post("/endpoints/digits/score", content=body, headers={"Authorization": "Bearer nope"}).status_code
            == 401
        )
        assert http.post("/endpoints/digits/score", content=body).status_code == 401
        r = http.post("/endpoints/nosuch/score", content=body, headers=auth)
        assert r.status_code == 404 and "nosuch" in r.json()["message"]

    shown = server.json("online-endpoint", "show", "-n", "digits")
    assert isinstance(shown, dict) and shown["traffic"] == {"blue": 90, "green": 10}
