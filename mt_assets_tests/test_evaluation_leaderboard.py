"""The leaderboard: one row per config and method, numbers in the table, a real PNG."""

from __future__ import annotations

import base64
import re

import pytest

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.leaderboard import (
    LeaderboardRecord,
    leaderboard_chart_png,
    leaderboard_markdown,
    leaderboard_report,
    leaderboard_rows,
)
from mt_assets.evaluation.metrics import Metric

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _records() -> list[LeaderboardRecord]:
    scores = {
        ("nllb-lora", "base"): (21.37, 48.12, 66.5, None, None),
        ("nllb-lora", "fine_tuned"): (27.91, 53.48, 58.25, 0.0123, 754.0),
        ("gemma-lora", "base"): (9.5, 31.07, 101.5, None, None),
        ("gemma-lora", "fine_tuned"): (15.25, 40.66, 80.0, 0.0009, 95.0),
    }
    records = []
    for (config, kind), (bleu, chrf, ter, p, seconds) in scores.items():
        for metric, value in ((Metric.BLEU, bleu), (Metric.CHRF, chrf), (Metric.TER, ter)):
            records.append(
                LeaderboardRecord(
                    execution=config, config=config, method_kind=kind, metric=metric, score=value,
                    p_value=p, segments=312, model=f"hub|{config}", tuning_methodology="lora",
                    languages=("ar", "fa"), training_seconds=seconds,
                )
            )
    return records


def test_rows_pivot_metrics_and_rank_by_chrf() -> None:
    rows = leaderboard_rows(_records())
    assert [row.label for row in rows] == [
        "nllb-lora / fine_tuned", "nllb-lora / base", "gemma-lora / fine_tuned", "gemma-lora / base"
    ]
    assert rows[0].scores == {Metric.BLEU: 27.91, Metric.CHRF: 53.48, Metric.TER: 58.25}
    assert rows[0].p_value == 0.0123
    assert rows[1].p_value is None


def test_markdown_contains_every_number() -> None:
    table = leaderboard_markdown(leaderboard_rows(_records()))
    lines = table.strip().splitlines()
    assert len(lines) == 2 + 4
    assert "| BLEU | chrF++ | TER ↓ | p vs base (chrF++) | segments |" in lines[0]
    tuned = next(line for line in lines if line.startswith("| nllb-lora | fine_tuned"))
    for text in ["27.91", "53.48", "58.25", "0.0123", "312", "12.6 min", "ar, fa", r"hub\|nllb-lora"]:
        assert text in tuned
    base = next(line for line in lines if line.startswith("| gemma-lora | base"))
    assert "| 9.50 | 31.07 | 101.50 | — |" in base
    # An escaped pipe (in the model name) must not add a column.
    columns = [len(re.findall(r"(?<!\\)\|", line)) for line in lines]
    assert columns == [columns[0]] * len(lines)


def test_a_missing_metric_shows_as_a_dash_never_zero() -> None:
    records = [r for r in _records() if not (r.config == "gemma-lora" and r.metric is Metric.TER)]
    rows = leaderboard_rows(records)
    table = leaderboard_markdown(rows)
    gemma_base = next(line for line in table.splitlines() if line.startswith("| gemma-lora | base"))
    assert "| 9.50 | 31.07 | — |" in gemma_base
    assert leaderboard_chart_png(rows).startswith(PNG_MAGIC)


def test_chart_is_a_png_and_the_report_embeds_it() -> None:
    rows = leaderboard_rows(_records())
    png = leaderboard_chart_png(rows)
    assert png.startswith(PNG_MAGIC)
    assert len(png) > 5000
    report = leaderboard_report(rows)
    assert report.startswith(leaderboard_markdown(rows))
    [encoded] = re.findall(r"!\[leaderboard chart\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", report)
    assert base64.b64decode(encoded) == png


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ([], "no scores yet"),
        (_records() + _records()[:1], "nllb-lora / base has two BLEU scores"),
        (
            [r if r.metric is not Metric.TER else LeaderboardRecord(**{**r.__dict__, "segments": 7}) for r in _records()],
            r"different segment counts \[7, 312\]",
        ),
    ],
)
def test_inconsistent_records_raise(records: list[LeaderboardRecord], reason: str) -> None:
    with pytest.raises(EvaluationError, match=reason):
        leaderboard_rows(records)
