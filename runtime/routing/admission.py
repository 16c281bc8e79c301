"""Admission as Azure's front end does it: a fixed number of requests in flight per deployment, the rest refused.

A request holds its slot from admission until its worker lets go of it: until the answer, or for a request that
timed out (408), until the worker's late answer, since the worker is busy with it until then.
"""

from __future__ import annotations

#: Seconds a refused client is asked to wait (`Retry-After` on 429). Azure documents no value; a slot frees as
#: soon as one request ends, so the shortest whole second is the honest hint.
RETRY_AFTER_S = 1


def admits(held: int, limit: int) -> bool:
    """True when a deployment holding `held` requests takes one more under its bound `limit`."""
    return held < limit
