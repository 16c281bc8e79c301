"""modelyard's AMLResponse, importable as Azure's `aml_response` modules (see `shim.install`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Response


class AMLResponse(Response):
    """A response run() returns as-is; same constructor and header rules as Azure's AMLResponse."""

    default_mimetype = "text/html"  # Flask's default, which Azure's AMLResponse inherits

    def __init__(
        self,
        message: Any,
        status_code: int | str,
        response_headers: Mapping[str, str] | None = None,
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        headers = response_headers if response_headers is not None else {}
        if message is not None:
            if json_str:
                super().__init__(json.dumps(message), status=status_code, mimetype="application/json")
            else:
                super().__init__(message, status=status_code)
                if "Content-Type" in headers:
                    # The loop below adds the script's Content-Type; drop the default so it is not sent twice.
                    self.headers.remove("Content-Type")
        else:
            super().__init__(json.dumps({}), status=status_code, mimetype="application/json")

        self.headers["x-ms-run-function-failed"] = run_function_failed

        # A comma separates repeated values of one header, as in Azure.
        for header, value in headers.items():
            for v in value.split(","):
                self.headers.add_header(header, v.strip())
