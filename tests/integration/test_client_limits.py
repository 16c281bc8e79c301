"""What one client may cost the server: oversized heads get 431, stalled heads and bodies are closed; both servers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from live import FIXTURES, Server, cleared, started

#: Well past the 1 s timeouts these servers run with: the bound on "closed", not a measurement.
CLOSED_WITHIN = 15.0
ARGS = {name: ("--server", name, "--header-timeout", "1", "--body-timeout", "1") for name in ("uvicorn", "hypercorn")}


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn"])
def limited_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module per front end, with 1 s head and body timeouts."""
    with started(tmp_path_factory.mktemp(f"limits-{request.param}") / "state", *ARGS[request.param]) as srv:
        yield srv


@pytest.fixture
def limited(limited_server: Server, request: pytest.FixtureRequest) -> Iterator[Server]:
    """The module's server for one front end, as new for each test."""
    yield limited_server
    cleared(limited_server, *ARGS[request.node.callspec.params["limited_server"]])


def _connect(srv: Server) -> socket.socket:
    where = urlsplit(srv.url)
    sock = socket.create_connection((where.hostname, where.port), timeout=CLOSED_WITHIN)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (TimeoutError if it never does)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass  # closed with our bytes unread: the answer, if any, may be lost with it
    return data


def test_oversized_heads_get_431_before_auth_and_other_clients_keep_being_served(limited: Server) -> None:
    limited.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    with limited.client() as http:
        big = http.post("/endpoints/fix/score", json={}, headers={"x-big": "a" * (40 * 1024)})
        assert big.status_code == 431
        assert "over this server's limit" in big.json()["message"]
        assert len(big.headers["x-request-id"]) == 36
        many = http.post("/endpoints/fix/score", json={}, headers={f"x-h{i}": "1" for i in range(101)})
        assert many.status_code == 431 and "header" in many.json()["message"]
        # Just under the limits, the same request reaches auth (no key: 401).
        fine = http.post("/endpoints/fix/score", json={}, headers={f"x-h{i}": "1" for i in range(90)})
        assert fine.status_code == 401

    sent = 0
    cut_off = threading.Event()

    def flood() -> None:
        nonlocal sent
        sock = _connect(limited)
        try:
            sock.sendall(b"POST /endpoints/fix/score HTTP/1.1\r\nHost: x\r\nX-Huge: ")
            chunk = b"a" * (1 << 20)
            for _ in range(64):  # a 64 MiB header
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            cut_off.set()
        finally:
            sock.close()

    flooder = threading.Thread(target=flood)
    flooder.start()
    try:
        with limited.client() as http:
            for _ in range(5):
                assert http.get("/", timeout=CLOSED_WITHIN).status_code == 200
    finally:
        flooder.join(timeout=60)
    assert cut_off.is_set(), "the server read the whole 64 MiB header"
    assert sent < 64 << 20


def test_a_stalled_head_or_body_is_closed(limited: Server) -> None:
    with _connect(limited) as sock:
        sock.sendall(b"POST /endpoints/fix/score HTTP/1.1\r\nHost: x\r\nX-Half: ")  # and never more
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408") and b'"message"' in answer and b"x-request-id: " in answer
    with _connect(limited) as sock:
        sock.sendall(b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        answer = _read_until_closed(sock)
    # The path needs no body to be answered, so an answer may come first; the connection still ends.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
    with _connect(limited) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")


def test_a_stalled_upload_gets_408_and_a_slow_answer_is_not_a_slow_client(limited: Server) -> None:
    limited.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    limited.deploy_echo("--all-traffic")
    key = limited.key("fix")
    with _connect(limited) as sock:
        head = f"POST /endpoints/fix/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        sock.sendall(head.encode() + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408") and b"body" in answer
    # A request that is all in, waiting 2.5 s for run(), outlives both 1 s timeouts: they are the client's.
    with limited.client() as http:
        r = http.post("/endpoints/fix/score", json={"sleep": 2.5}, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200 and r.json()["echo"] == {"sleep": 2.5}
