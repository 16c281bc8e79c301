"""A no-code Triton deployment of the sample ONNX model, called with NVIDIA's own tritonclient."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import tritonclient.http as tritonhttp
from live import ROOT, Server


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


TRITON = ROOT / "models" / "digits-triton"


def test_triton_model_serves_oip_v2_through_the_endpoint(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(TRITON / "endpoint.yml"))
    shown = server.json("online-deployment", "create", "-f", str(TRITON / "deployment.yml"), "--all-traffic")
    assert isinstance(shown, dict) and shown["provisioning_state"] == "Succeeded"
    key = server.key("digits-triton")
    headers = {"Authorization": f"Bearer {key}"}
    # show gives the base URL tritonclient takes (without the scheme, as Azure's Triton samples pass it on).
    uri = server.json("online-endpoint", "show", "-n", "digits-triton")["scoring_uri"]
    assert uri == f"{server.url}/endpoints/digits-triton"
    client = tritonhttp.InferenceServerClient(url=uri.removeprefix("http://"))
    try:
        assert client.is_server_live(headers=headers)
        assert client.is_model_ready("digits", headers=headers)
        meta = client.get_model_metadata("digits", headers=headers)
        assert {i["name"] for i in meta["inputs"]} == {"input"}
        request = json.loads((TRITON / "sample-request.json").read_text())["inputs"][0]
        pixels = np.array(request["data"], dtype=np.float32).reshape(request["shape"])
        tensor = tritonhttp.InferInput("input", list(pixels.shape), "FP32")
        tensor.set_data_from_numpy(pixels, binary_data=True)
        result = client.infer("digits", [tensor], headers=headers)
        assert result.as_numpy("label").tolist() == [3, 7]
        assert result.as_numpy("probabilities").shape == (2, 10)
        with pytest.raises(tritonhttp.InferenceServerException):
            client.infer("digits", [tensor], headers={"Authorization": "Bearer wrong"})
    finally:
        client.close()
    with server.client() as http:
        # tritonclient adds its own entries to the headers dict it is given; start from a clean one.
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        r = http.post(
            "/endpoints/digits-triton/v2/models/digits/infer",
            content=(TRITON / "sample-request.json").read_bytes(),
            headers=headers,
        )
        assert r.status_code == 200
        outputs = {o["name"]: o for o in r.json()["outputs"]}
        assert outputs["label"]["data"] == [3, 7]
        score = http.post("/endpoints/digits-triton/score", json={}, headers=headers)
        assert score.status_code == 404 and "has no /score" in score.json()["message"]
    request_file = TRITON / "sample-request.json"
    invoked = server.cli("online-endpoint", "invoke", "-n", "digits-triton", "-r", str(request_file), check=False)
    assert invoked.returncode == 1, invoked
    line = invoked.stderr.strip()
    assert f"POST to {uri}/v2/models/<model>/infer" in line and "tritonclient.http.InferenceServerClient" in line


def test_oip_bodies_that_inflate_past_the_limit_get_413_and_malformed_ones_400(server: Server) -> None:
    server.stop()
    server.start("--max-body-mib", "1")
    server.cli("online-endpoint", "create", "-f", str(TRITON / "endpoint.yml"))
    server.cli("online-deployment", "create", "-f", str(TRITON / "deployment.yml"), "--all-traffic")
    headers = {"Authorization": f"Bearer {server.key('digits-triton')}", "Content-Type": "application/json"}
    sample = (TRITON / "sample-request.json").read_bytes()
    url = "/endpoints/digits-triton/v2/models/digits/infer"
    with server.client() as http:
        bomb = gzip.compress(sample + b" " * (2 << 20))  # 2 MiB once inflated, a few KiB on the wire
        r = http.post(url, content=bomb, headers={**headers, "Content-Encoding": "gzip"})
        assert r.status_code == 413
        assert "inflates to more than this server's body limit of 1 MiB" in r.json()["message"]
        r = http.post(url, content=gzip.compress(sample), headers={**headers, "Content-Encoding": "gzip"})
        assert r.status_code == 200
        bad = json.loads(sample)
        bad["inputs"][0]["shape"] = [True, 64]
        r = http.post(url, json=bad, headers=headers)
        # The worker's 400, wrapped as Azure's front end wraps every non-200 from the container.
        assert r.status_code == 424 and r.headers["ms-azureml-model-error-statuscode"] == "400"
        assert "needs a 'shape' list of non-negative integers" in r.json()["error"]
