"""The mirror report: how a shadow deployment's answers compared with the live ones, over a window of time.

Counts come from the router's in-memory log, flushed into the state DB from the sampler tick (at most every
FLUSH_S) and at stop, and at each report so it sees everything counted so far. The window starts at the minute
`since` falls in, as counts are kept per minute; samples are filtered by their own time.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runtime.control.autoscale.grammar import one_unit_seconds
from runtime.control.mirror_store import MirrorStore
from runtime.errors import SpecError
from runtime.routing.mirror_stats import MirrorLog, Sample, Tally, percentile

log = logging.getLogger("modelyard.controller")

#: Least time between two writes of the counts from the sampler tick.
FLUSH_S = 5.0
#: Samples of disagreements shown per mirror deployment, newest first.
SAMPLES_SHOWN = 5

_SINCE_FORM = (
    "expected an ISO-8601 time (e.g. 2026-12-01T09:30:00, UTC unless it has an offset such as +01:00) "
    "or a duration back from now (e.g. 30s, 15m, 2h, 1d)"
)


def parse_since(text: str | None, now: float) -> float | None:
    """The Unix time `text` names (an ISO-8601 time, or a duration back from `now`); None for no limit."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    back = one_unit_seconds(text.lower())
    if back is not None:
        return now - back
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SpecError(f"since {text!r}: {_SINCE_FORM}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


class MirrorReports:
    """Flushes the router's mirror log into the store and answers mirror reports."""

    def __init__(self, db: Path, mirror_log: MirrorLog, clock: Callable[[], float] = time.time) -> None:
        self.store = MirrorStore(db)
        self._log = mirror_log
        self._clock = clock
        self._flushed = clock()

    def flush(self, *, force: bool = False) -> None:
        """Write what the log counted to the store: at most every FLUSH_S, unless forced."""
        now = self._clock()
        if not force and now - self._flushed < FLUSH_S:
            return
        self._flushed = now
        tallies, samples = self._log.take()
        if not tallies and not samples:
            return
        try:
            self.store.add(tallies, samples, now)
        except sqlite3.Error as exc:  # a full disk, say: keep the counts in memory and try again at the next flush
            self._log.put_back(tallies, samples)
            log.warning("saving the mirror counts failed: %s; trying again later", exc)

    def report(self, key: str, endpoint: str, since: str | None, mirror: Mapping[str, int]) -> dict[str, Any]:
        """The report of `endpoint`, counted under `key`, whose mirror traffic is now `mirror`; zeros for a shadow
        without data."""
        start = parse_since(since, self._clock())
        self.flush(force=True)
        tallies = self.store.tallies(key, 0 if start is None else int(start // 60))
        for name, percent in mirror.items():
            if percent > 0:
                tallies.setdefault(name, Tally())
        samples: dict[str, list[Sample]] = {}
        for sample in self.store.samples(key, 0.0 if start is None else start):
            samples.setdefault(sample.deployment, []).append(sample)
        return {
            "endpoint": endpoint,
            "since": None if start is None else _iso(start),
            "mirror_traffic": dict(mirror),
            "deployments": [
                _deployment_report(name, tally, samples.get(name, [])) for name, tally in sorted(tallies.items())
            ],
        }

    def drop(self, key: str) -> None:
        """Forget the counts under `key` (its endpoint was deleted)."""
        self._log.drop(key)
        self.store.drop(key)

    def close(self) -> None:
        """Write what is left and close the store."""
        try:
            self.flush(force=True)
        finally:
            self.store.close()


def _deployment_report(name: str, tally: Tally, samples: list[Sample]) -> dict[str, Any]:
    compared = tally.compared
    return {
        "deployment": name,
        "mirrored": tally.mirrored,
        "dropped": tally.dropped,
        "shadow_errors": dict(sorted(tally.errors.items())),
        "compared": compared,
        "agreed": tally.agreed,
        "agreement_rate": tally.agreed / compared if compared else 0.0,
        "label_agreement": tally.score_sum / compared if compared else 0.0,
        "status_mismatches": tally.status_mismatches,
        "latency_ms": {
            "live": {"p50": _ms(tally.live_ms, 0.5), "p99": _ms(tally.live_ms, 0.99)},
            "shadow": {"p50": _ms(tally.shadow_ms, 0.5), "p99": _ms(tally.shadow_ms, 0.99)},
        },
        "samples": [_sample_view(s) for s in samples[:SAMPLES_SHOWN]],
    }


def _ms(counts: list[int], q: float) -> float:
    return round(percentile(counts, q), 3)


def _sample_view(sample: Sample) -> dict[str, Any]:
    return {
        "time": _iso(sample.at),
        "request_id": sample.request_id,
        "score": sample.score,
        "first_difference": sample.diff,
        "live": {"status": sample.live.status, "body": sample.live.body},
        "shadow": {"status": sample.shadow.status, "body": sample.shadow.body},
    }


def _iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
