"""Worker logging: records are buffered and written when the worker goes idle, not one write per record."""

from __future__ import annotations

import logging


class DeferredHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that flushes only when told (the loop calls `flush_now` before it blocks)."""

    def flush(self) -> None:
        # StreamHandler flushes after every record; per-request access lines would then cost a write() each.
        pass

    def flush_now(self) -> None:
        """Write out everything buffered."""
        super().flush()

    def close(self) -> None:
        self.flush_now()
        super().close()
