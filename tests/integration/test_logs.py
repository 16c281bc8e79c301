"""get-logs on a large log answers from the end of it, bounded, without holding up scoring on other endpoints."""

from __future__ import annotations

import threading
import time

import pytest
from live import FIXTURES, Server


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


#: Lines of 2000 bytes: 10,000 of them are more than get-logs reads (16 MiB), so the call does the most work it can.
LINE = 2000
COUNT = 20_000


def test_get_logs_of_a_big_log_is_capped_and_does_not_stall_scoring_elsewhere(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"), "-n", "other")
    server.deploy_echo("--all-traffic")
    server.deploy_echo("-e", "other", "--set", "endpoint_name=other", "--all-traffic")
    log = server.state / "logs" / "fix" / "echo" / "echo-0.log"
    with open(log, "ab") as f:  # ~40 MiB, as a busy worker writes it
        f.write(b"".join(b"%06d " % i + b"x" * (LINE - 8) + b"\n" for i in range(COUNT)))

    auth = {"Authorization": f"Bearer {server.key('other')}"}
    admin = {"Authorization": f"Bearer {(server.state / 'admin-token').read_text().strip()}"}
    latencies: list[float] = []
    done = threading.Event()

    def score() -> None:
        with server.client() as http:
            while not done.is_set():
                start = time.monotonic()
                r = http.post("/endpoints/other/score", json={"k": 1}, headers=auth)
                latencies.append(time.monotonic() - start)
                assert r.status_code == 200

    scorer = threading.Thread(target=score)
    scorer.start()
    try:
        while not latencies:  # scoring is under way before get-logs starts
            time.sleep(0.01)
        with server.client() as http:
            r = http.get("/api/endpoints/fix/deployments/echo/logs", params={"lines": 50_000}, headers=admin)
    finally:
        done.set()
        scorer.join()
    assert r.status_code == 200
    lines = r.text.splitlines()
    # The 16 MiB read holds 8388 whole lines of 2000 bytes; the newest is the last one written.
    whole = (16 * 2**20) // LINE
    assert lines[:2] == [
        "==== modelyard: at most 10000 lines are shown; 50000 were asked for ====",
        f"==== modelyard: only the last {whole} lines are shown: get-logs reads at most 16 MiB of a log ====",
    ]
    assert len(lines) == 2 + whole
    assert lines[-1].startswith(f"{COUNT - 1:06d} ") and len(lines[-1]) == LINE - 1
    # The one timing the brief asks for: a get-logs that ran in the event loop held every request up for seconds.
    assert max(latencies) < 2.0, f"scoring stalled for {max(latencies):.1f} s during get-logs"
