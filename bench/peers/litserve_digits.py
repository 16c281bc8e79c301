"""A LitServe server for the digits sample: POST /predict takes the Azure body {"data": [[64 pixels], ...]}.

    python litserve_digits.py PORT

LitServer's defaults (one inference worker process beside the API server process, no batching), except
accelerator="cpu" (there is nothing else to pick; it also keeps LitServe from probing for GPUs), the loopback
host, a quieter log and no generated client.py in the working directory.
"""

from __future__ import annotations

import sys

import digits_scoring
import litserve as ls
import numpy as np


class DigitsAPI(ls.LitAPI):
    """score.py's init() in setup; its run() split into LitServe's decode, predict and encode."""

    def setup(self, device: str) -> None:
        self.script = digits_scoring.load_script()

    # No annotations on the request or the response: LitServe turns them into the route's FastAPI types, and
    # none is LitServe's default, the JSON body parsed into a dict and the answer returned as JSON.
    def decode_request(self, request):
        return digits_scoring.decode(request)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return digits_scoring.predict(self.script, x)

    def encode_response(self, output):
        return digits_scoring.encode(output)


if __name__ == "__main__":
    server = ls.LitServer(DigitsAPI(), accelerator="cpu")
    server.run(host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", generate_client_file=False)
