"""All configs and methods side by side: a markdown table and a PNG bar chart."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.metrics import Metric

SIGNIFICANCE_METRIC = Metric.CHRF
_KIND_ORDER = {"base": 0, "fine_tuned": 1}


@dataclass(frozen=True)
class LeaderboardRecord:
    """One overall score (llm.evaluation, scope 'all') with what it belongs to."""

    execution: str
    config: str
    method_kind: str  # translation_method.kind: base | fine_tuned
    metric: Metric
    score: float
    p_value: float | None
    segments: int
    model: str | None = None
    tuning_methodology: str | None = None
    languages: tuple[str, ...] = ()
    training_seconds: float | None = None


@dataclass(frozen=True)
class LeaderboardRow:
    execution: str
    config: str
    method_kind: str
    scores: dict[Metric, float]
    p_value: float | None  # on SIGNIFICANCE_METRIC, vs the execution's base method
    segments: int
    model: str | None
    tuning_methodology: str | None
    languages: tuple[str, ...]
    training_seconds: float | None

    @property
    def label(self) -> str:
        return f"{self.config} / {self.method_kind}"


def leaderboard_rows(records: Sequence[LeaderboardRecord]) -> list[LeaderboardRow]:
    """One row per (execution, config, method kind), best chrF++ first."""
    if not records:
        raise EvaluationError("no scores yet: materialize translations and evaluation for a config first")
    grouped: dict[tuple[str, str, str], list[LeaderboardRecord]] = {}
    for record in records:
        grouped.setdefault((record.execution, record.config, record.method_kind), []).append(record)
    rows = []
    for (execution, config, kind), group in grouped.items():
        scores: dict[Metric, float] = {}
        for record in group:
            if record.metric in scores:
                raise EvaluationError(f"{execution}: {config} / {kind} has two {record.metric.label} scores")
            scores[record.metric] = record.score
        segments = {record.segments for record in group}
        if len(segments) != 1:
            raise EvaluationError(
                f"{execution}: {config} / {kind} was scored on different segment counts {sorted(segments)}"
            )
        first = group[0]
        p_values = [r.p_value for r in group if r.metric is SIGNIFICANCE_METRIC]
        rows.append(
            LeaderboardRow(
                execution=execution,
                config=config,
                method_kind=kind,
                scores=scores,
                p_value=p_values[0] if p_values else None,
                segments=segments.pop(),
                model=first.model,
                tuning_methodology=first.tuning_methodology,
                languages=first.languages,
                training_seconds=max((r.training_seconds for r in group if r.training_seconds is not None), default=None),
            )
        )
    return sorted(rows, key=_rank)


def _rank(row: LeaderboardRow) -> tuple:
    chrf = row.scores.get(SIGNIFICANCE_METRIC)
    return (chrf is None, -(chrf or 0.0), row.config, _KIND_ORDER.get(row.method_kind, 9), row.execution)


def _cell(value: object) -> str:
    return "—" if value is None or value == "" else str(value).replace("|", "\\|").replace("\n", " ")


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _p_value(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def leaderboard_markdown(rows: Sequence[LeaderboardRow]) -> str:
    metric_headers = [m.label + (" ↓" if not m.higher_is_better else "") for m in Metric]
    headers = [
        "config", "method", "model", "tuning_methodology", "languages", *metric_headers,
        f"p vs base ({SIGNIFICANCE_METRIC.label})", "segments", "training time", "execution",
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        cells = [
            _cell(row.config),
            _cell(row.method_kind),
            _cell(row.model),
            _cell(row.tuning_methodology),
            _cell(", ".join(row.languages)),
            *(_number(row.scores.get(m)) for m in Metric),
            _p_value(row.p_value),
            str(row.segments),
            _duration(row.training_seconds),
            _cell(row.execution),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def leaderboard_chart_png(rows: Sequence[LeaderboardRow]) -> bytes:
    """Grouped bars, one group per row, one bar per metric."""
    if not rows:
        raise EvaluationError("nothing to chart: the leaderboard is empty")
    # A bare Figure renders with Agg and never touches pyplot's global state or a display.
    # Imported here: matplotlib costs every Dagster process a second at start-up otherwise.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(max(6.0, 1.4 * len(rows) + 2), 4.5), dpi=100)
    axes = figure.subplots()
    width = 0.8 / len(Metric)
    for index, metric in enumerate(Metric):
        positions = [i + (index - (len(Metric) - 1) / 2) * width for i in range(len(rows))]
        values = [row.scores.get(metric, 0.0) for row in rows]
        label = metric.label + (" (lower is better)" if not metric.higher_is_better else "")
        bars = axes.bar(positions, values, width, label=label)
        missing = [metric not in row.scores for row in rows]
        axes.bar_label(bars, labels=["n/a" if m else f"{v:.1f}" for v, m in zip(values, missing, strict=True)],
                       fontsize=7)
    axes.set_xticks(range(len(rows)), [row.label for row in rows], rotation=20, ha="right", fontsize=8)
    axes.set_ylabel("score")
    # TER can pass 100 when outputs are much longer than the references.
    axes.set_ylim(0, max(105.0, *(1.1 * v for row in rows for v in row.scores.values())))
    axes.set_title("Translation quality by config and method")
    axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def leaderboard_report(rows: Sequence[LeaderboardRow]) -> str:
    """The table and the chart as one markdown string (for dg.MetadataValue.md)."""
    encoded = base64.b64encode(leaderboard_chart_png(rows)).decode("ascii")
    return leaderboard_markdown(rows) + f"\n![leaderboard chart](data:image/png;base64,{encoded})\n"
