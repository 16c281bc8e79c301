"""Schemathesis against the swagger a decorated scoring script serves, on a real server: never a 5xx of our own.

The script (tests/fixtures/online/fuzz) never raises on input its swagger allows. inference_schema converts the
arguments inside the decorated run(), so input the swagger forbids can fail there, and Azure reports that as the
script's error: 500 with `x-ms-run-function-failed: True` and the script-error message, which the front end wraps in
424. That is the only server error allowed, and only for input schemathesis generated outside the schema.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis
from live import FIXTURES, Server, serving
from schemathesis import Case, GenerationMode
from schemathesis.core.transport import Response
from schemathesis.schemas import BaseSchema

ENDPOINT = "fuzz"
#: Per operation and generation mode: three swagger versions x two modes x three operations take about 7 s.
EXAMPLES = 40
SCRIPT_ERROR = "An unexpected error occurred in scoring script. Check the logs for more info."


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """One server for the module, with the fuzz deployment taking all traffic, and its endpoint key."""
    state = tmp_path_factory.mktemp("fuzz-swagger") / "state"
    with serving(state, FIXTURES / "fuzz-endpoint.yml", FIXTURES / "fuzz-deployment.yml") as srv:
        yield srv, srv.key(ENDPOINT)


def load_swagger(served: tuple[Server, str], version: str) -> BaseSchema:
    """The swagger the deployment serves for `?version=`, aimed at the endpoint."""
    srv, key = served
    with srv.client() as http:
        answer = http.get(f"/endpoints/{ENDPOINT}/swagger.json?version={version}", headers=_auth(key))
    assert answer.status_code == 200, answer.text
    # From the document rather than its URL: schemathesis leaves out the operation its schema was loaded from, and
    # /swagger.json is one of the operations under test.
    schema = schemathesis.openapi.from_dict(answer.json())
    schema.config.update(base_url=f"{srv.url}/endpoints/{ENDPOINT}", request_timeout=30)
    return schema


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# Each operation of the swagger as schemathesis generates it, run as a plain hypothesis test: schemathesis's own
# pytest parametrisation of a fixture-built schema does not work with this pytest.
@pytest.mark.parametrize("version", ["2", "3", "3.1"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_swagger_fuzz_never_gets_a_server_error_of_our_own(
    served: tuple[Server, str], version: str, mode: GenerationMode
) -> None:
    schema = load_swagger(served, version)
    auth = _auth(served[1])
    answers: Counter[tuple[str, str, int]] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if mode.is_negative and operation.path == "/":
            continue  # GET / takes nothing but the key, which stays valid

        @hypothesis.given(case=operation.as_strategy(mode, headers=auth))
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def fuzz(case: Case) -> None:
            response = case.call(headers=auth)
            answers[(case.method, case.path, check_answer(case, response, mode))] += 1

        fuzz()
    # The key was accepted and the script ran: the fuzzing reached run(), not just the front end's refusals. With
    # schema-invalid input, run() may refuse every case (a script error, checked above to be the script's own);
    # how many get through inference_schema's checks depends on what hypothesis generates in the time it has.
    reached = answers[("POST", "/score", 200)] + (answers[("POST", "/score", 500)] if mode.is_negative else 0)
    assert reached > 0, answers
    assert answers[("GET", "/swagger.json", 200)] > 0, answers
    srv, key = served
    assert srv.proc is not None and srv.proc.poll() is None, "serve exited"
    with srv.client() as http:
        example = {"data": [[1.0, 2.5, 3.0]], "scale": 2.0}
        answer = http.post(f"/endpoints/{ENDPOINT}/score", json=example, headers=_auth(key))
    assert (answer.status_code, answer.json()) == (200, {"rows": 1, "total": 13.0, "name": None})


def check_answer(case: Case, response: Response, mode: GenerationMode) -> int:
    """No 5xx from the front end or the worker; a script error only for input outside the schema. The status the
    container answered with."""
    what = f"{case.method} {case.formatted_path} body={case.body!r}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, what
    status = response.status_code
    if status != 200:
        message = response.json()
        assert isinstance(message, dict) and isinstance(message.get("message"), str), what
    if status == 424:  # the front end's wrapping of the container's non-200 answer
        status = int(_header(response, "ms-azureml-model-error-statuscode"))
    if status >= 500:
        assert mode.is_negative, f"schema-valid input failed the script: {what}"
        assert _header(response, "x-ms-run-function-failed") == "True", f"not the script's error: {what}"
        assert response.json() == {"message": SCRIPT_ERROR}, what
    return status


def _header(response: Response, name: str) -> str:
    values = response.headers.get(name, [])
    assert len(values) == 1, f"{name}: {values}"
    return values[0]
