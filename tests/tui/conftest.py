"""The dashboard tests' setup: live.py (the real server) is imported from the integration tests, as they do."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "integration"))
