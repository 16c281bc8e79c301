"""`online-endpoint mirror-report -o table`: one readable row per mirror deployment, a row of zeros without any."""

from __future__ import annotations

from runtime.cli.mirror import summary_rows
from runtime.cli.output import table


def test_the_table_has_a_row_per_mirror_deployment_in_a_fixed_column_order() -> None:
    dep = {
        "deployment": "green",
        "mirrored": 10,
        "dropped": 1,
        "shadow_errors": {"timeout": 2},
        "compared": 7,
        "agreed": 6,
        "agreement_rate": 6 / 7,
        "label_agreement": 0.9,
        "status_mismatches": 0,
        "latency_ms": {"live": {"p50": 1.0, "p99": 2.0}, "shadow": {"p50": 3.0, "p99": 4.0}},
    }
    text = table(summary_rows({"deployments": [dep]}))
    header, _, row = text.splitlines()
    assert header.split()[:5] == ["Deployment", "Mirrored", "Dropped", "Errors", "Compared"]
    assert row.split()[:8] == ["green", "10", "1", "timeout=2", "7", "6", "85.7%", "90.0%"]


def test_without_data_the_table_says_so_with_zeros() -> None:
    text = table(summary_rows({"deployments": []}))
    assert text.splitlines()[2].split() == ["(none)", "0", "0", "0", "0", "0"]
