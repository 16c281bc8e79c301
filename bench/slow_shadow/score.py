"""A shadow deployment for bench_mirror.py: the sample's answer, two seconds late."""

import time


def init() -> None:
    pass


def run(raw_data: str) -> dict[str, list[int]]:
    time.sleep(2)
    return {"predictions": [3, 7]}
