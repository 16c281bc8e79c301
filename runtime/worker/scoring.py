"""The Azure inference server's routes for one scoring script: `/`, `/score`, and the app-level 404/405."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import traceback
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from runtime.ipc.messages import Headers, Infer, Load, Result
from runtime.worker import inputs, logs, responses, swagger, user_script
from runtime.worker.alarm import ScoringAlarm
from runtime.worker.inputs import BadInput, UnsupportedInput
from runtime.worker.user_script import ScoringScript

logger = logging.getLogger("azmlinfsrv")

_SCORE_METHODS = frozenset({"GET", "POST", "OPTIONS", "HEAD"})  # Flask adds HEAD to every GET route
_ROOT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ScriptAdapter:
    """Serves Infers for a loaded scoring script exactly as azureml-inference-server-http 1.5.1 would."""

    models: list[str] = []  # a scoring script serves no named models

    def __init__(self, script: ScoringScript, timeout_ms: int) -> None:
        self.script = script
        self.mode: str = script.mode
        self.timeout_ms = timeout_ms
        self._alarm = ScoringAlarm(timeout_ms / 1000)

    def handle(self, req: Infer) -> Result:
        """Answer one request; never raises for anything the request or run() does."""
        started = time.perf_counter()
        path, method = req.path, req.method
        if path == "/score":
            if method not in _SCORE_METHODS:
                return responses.app_error(req.id, 405)
        elif path in ("/", "/swagger.json"):
            if method not in _ROOT_METHODS:
                return responses.app_error(req.id, 405)
        else:
            return responses.app_error(req.id, 404)

        lowered = inputs.lower_headers(req.headers)
        tail, too_long = responses.trace_headers(lowered)
        if too_long is not None:
            result = responses.error_result(req.id, 431, too_long, tail)
        elif path != "/score" and method == "OPTIONS":  # Flask's automatic answer for the GET-only routes
            result = responses.root_options(req.id, tail)
        elif path == "/":
            result = responses.healthy(req.id, tail)
        elif path == "/swagger.json":
            result = swagger.respond(req.id, self.script, req.query, tail)
            _log_request(req, result, started)
        else:
            result = self._score(req, lowered, tail)
            _log_request(req, result, started)
        return responses.strip_body(result) if method == "HEAD" else result

    def _score(self, req: Infer, lowered: dict[str, str], tail: Headers) -> Result:
        script = self.script
        request = None
        try:
            if script.mode == "rawhttp":
                request = inputs.make_request(req, lowered)
                kwargs: dict[str, Any] = {script.input_name: request}
            elif req.method == "POST":
                if script.mode == "string":
                    kwargs = {script.input_name: inputs.string_input(req, lowered)}
                else:
                    kwargs = inputs.object_inputs(req, lowered, script.params)
            elif req.method == "GET":
                query = inputs.query_inputs(req.query)
                if script.mode == "string":
                    kwargs = {script.input_name: json.dumps(query)}
                else:
                    kwargs = inputs.bind(query, script.params)
            elif req.method == "OPTIONS":
                return responses.score_options(req.id, tail)
            else:
                return responses.error_result(req.id, 405, "Method not allowed", tail)
            if script.wants_headers:
                headers = dict(request.headers) if request is not None else inputs.canonical_headers(lowered)
                kwargs["request_headers"] = headers
        except BadInput as exc:
            return responses.error_result(req.id, 400, str(exc), tail)
        except UnsupportedInput as exc:
            return responses.error_result(req.id, 415, str(exc), tail)
        except HTTPException as exc:  # werkzeug's form parser refusing a body, e.g. 413
            return responses.error_result(req.id, exc.code or 500, exc.description or "", tail)
        except Exception:
            return _internal_error(req.id, tail)
        try:
            return self._invoke(req, kwargs, request, lowered, tail)
        finally:
            if request is not None:
                request.close()  # as Flask does at teardown: closes uploaded files spooled to disk

    def _invoke(
        self, req: Infer, kwargs: dict[str, Any], request: Any, lowered: dict[str, str], tail: Headers
    ) -> Result:
        run = self.script.run
        alarm = self._alarm if threading.current_thread() is threading.main_thread() else None
        try:
            # Signals need the main thread; off it Azure likewise runs without a timeout.
            if alarm is not None:
                alarm.start()
            try:
                started = time.perf_counter()
                output = run(**kwargs)
                elapsed = time.perf_counter() - started
            finally:
                if alarm is not None:
                    alarm.stop()
        except TimeoutError:
            logger.error("Encountered Exception: %s", traceback.format_exc())
            message = f"Scoring timeout after {self.timeout_ms} ms"
            return responses.error_result(req.id, 500, message, tail, failed=True)
        except Exception:
            logger.error("Encountered Exception: %s", traceback.format_exc())
            return responses.error_result(req.id, 500, responses.SCRIPT_ERROR, tail, failed=True)

        exec_ms = f"{elapsed * 1000:.3f}"
        try:
            if isinstance(output, Response):
                environ = request.environ if request is not None else inputs.make_environ(req, lowered)
                return responses.from_response(req.id, output, environ, tail, exec_ms)
            # Azure wraps the value in AMLResponse(json_str=True), which renders None as {}.
            body = b"{}" if output is None else json.dumps(output).encode()
        except Exception:
            return _internal_error(req.id, tail)
        return responses.json_result(req.id, 200, body, tail, exec_ms=exec_ms)


def load_script(load: Load) -> ScriptAdapter:
    """Import the scoring script named by the Load, call its init(), and return the adapter serving it."""
    app_root = load.app_root or os.environ.get("AML_APP_ROOT") or os.getcwd()
    script = user_script.load(app_root, load.entry_script or os.environ.get("AZUREML_ENTRY_SCRIPT"))
    user_script.call_init(script.init)
    # Built now, as Azure's server builds them at start-up: a broken user swagger file fails the worker's boot.
    swagger.documents(script)
    logger.info("Scoring timeout is set to %d", load.scoring_timeout_ms)
    return ScriptAdapter(script, load.scoring_timeout_ms)


def _internal_error(rid: int, tail: Headers) -> Result:
    logger.error("Encountered Exception: %s", traceback.format_exc())
    return responses.error_result(rid, 500, responses.INTERNAL_ERROR, tail)


def _log_request(req: Infer, result: Result, started: float) -> None:
    # Azure's access line: method, path with query, status, duration, body length.
    path = f"{req.path}?{req.query}" if req.query else req.path
    duration = (time.perf_counter() - started) * 1e3
    logs.access(f"{req.method} {path} {result.status} {duration:.3f}ms {len(result.body)}")
