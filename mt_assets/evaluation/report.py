"""Markdown for the evaluation step's metadata: the scores table and the worst segments."""

from __future__ import annotations

from collections.abc import Sequence

from mt_assets.evaluation.evaluate import EvaluationScore
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.scopes import ScopeKey
from mt_assets.evaluation.segments import SegmentScore

_TEXT_LIMIT = 120


def _text(value: str) -> str:
    flat = " ".join(value.split())
    if len(flat) > _TEXT_LIMIT:
        flat = flat[: _TEXT_LIMIT - 1] + "…"
    return flat.replace("|", "\\|") or "(empty)"


def scores_markdown(scores: Sequence[EvaluationScore]) -> str:
    """One line per method and scope; p-values are vs the baseline method."""
    table: dict[tuple[str, ScopeKey], dict[Metric, EvaluationScore]] = {}
    for score in scores:
        table.setdefault((score.method, score.key), {})[score.metric] = score
    headers = ["method", "scope", *(m.label for m in Metric), *(f"p {m.label}" for m in Metric), "segments"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for (method, key), by_metric in table.items():
        values = [by_metric.get(m) for m in Metric]
        cells = [
            _text(method),
            str(key),
            *("—" if v is None else f"{v.score:.2f}" for v in values),
            *("—" if v is None or v.p_value is None else f"{v.p_value:.4f}" for v in values),
            str(max(v.segments for v in values if v is not None)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def segments_markdown(segments: Sequence[SegmentScore]) -> str:
    headers = ["translation", "method", "language", "edition", "chrF++", "output", "reference"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for s in segments:
        cells = [
            str(s.row.translation_id), _text(s.row.method), s.row.language, _text(s.row.edition),
            f"{s.score:.2f}", _text(s.row.hypothesis), _text(s.row.reference),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
