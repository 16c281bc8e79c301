"""The real `tritonclient[http]` client against a Triton adapter, through a minimal HTTP front end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np
import pytest
import tritonclient.http as httpclient
from test_triton import X, Y, addsub_graph, echo_graph, save

from runtime.ipc.messages import Infer, Load
from runtime.worker.adapters import Adapter, load_adapter


def front_end(adapter: Adapter) -> ThreadingHTTPServer:
    """What the control process does for OIP routes: forward method, path, query, headers and body bytes."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = [(k.lower(), v) for k, v in self.headers.items()]
            result = adapter.handle(Infer(1, self.command, url.path, url.query, headers, body))
            self.send_response(result.status)
            for name, value in result.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(result.body)

        do_GET = do_POST = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("client-repo")
    save(addsub_graph(1.0), root / "addsub" / "1" / "model.onnx")
    save(echo_graph(), root / "echo" / "1" / "model.onnx")
    adapter = load_adapter(Load("triton", model_repository=str(root)))
    httpd = front_end(adapter)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_tritonclient_health_and_metadata(server: str) -> None:
    client = httpclient.InferenceServerClient(server)
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("addsub")
        metadata = client.get_model_metadata("addsub")
        assert [i["name"] for i in metadata["inputs"]] == ["INPUT0", "INPUT1"]
        assert metadata["inputs"][0]["shape"] == [-1, 4]
    finally:
        client.close()


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_infer(server: str, binary: bool) -> None:
    client = httpclient.InferenceServerClient(server)
    try:
        x = np.asarray(X, dtype=np.float32)
        y = np.asarray(Y, dtype=np.float32)
        inputs = [httpclient.InferInput("INPUT0", [2, 4], "FP32"), httpclient.InferInput("INPUT1", [2, 4], "FP32")]
        inputs[0].set_data_from_numpy(x, binary_data=binary)
        inputs[1].set_data_from_numpy(y, binary_data=binary)
        outputs = [httpclient.InferRequestedOutput("OUTPUT0", binary_data=binary)]
        result = client.infer("addsub", inputs, outputs=outputs, request_id="42")
        assert result.get_response()["id"] == "42"
        assert np.array_equal(result.as_numpy("OUTPUT0"), x + y)
        assert result.as_numpy("OUTPUT1") is None
        everything = client.infer("addsub", inputs)  # no outputs named: all of them, as binary
        assert np.array_equal(everything.as_numpy("OUTPUT1"), x - y)
    finally:
        client.close()


def test_tritonclient_strings_and_compression(server: str) -> None:
    client = httpclient.InferenceServerClient(server)
    try:
        ids = httpclient.InferInput("ids", [2], "INT64")
        ids.set_data_from_numpy(np.asarray([3, 4], dtype=np.int64))
        text = httpclient.InferInput("text", [2], "BYTES")
        text.set_data_from_numpy(np.asarray([b"a", "ü".encode()], dtype=object))
        result = client.infer("echo", [ids, text], request_compression_algorithm="gzip")
        assert result.as_numpy("ids_out").tolist() == [3, 4]
        assert result.as_numpy("text_out").tolist() == [b"a", "ü".encode()]
    finally:
        client.close()


def test_tritonclient_sees_server_errors(server: str) -> None:
    client = httpclient.InferenceServerClient(server)
    try:
        bad = httpclient.InferInput("INPUT0", [2, 4], "FP64")
        bad.set_data_from_numpy(np.zeros((2, 4)))
        good = httpclient.InferInput("INPUT1", [2, 4], "FP32")
        good.set_data_from_numpy(np.zeros((2, 4), dtype=np.float32))
        with pytest.raises(httpclient.InferenceServerException, match="data-type is 'FP64', but model 'addsub'"):
            client.infer("addsub", [bad, good])
        with pytest.raises(httpclient.InferenceServerException, match=r"missing required input\(s\) \['INPUT1'\]"):
            client.infer("addsub", [bad])
    finally:
        client.close()
