"""Markdown for the evaluation step's metadata: the scores table, the style control per
method, the worst segments and the segments where two methods differ most."""

from __future__ import annotations

from collections.abc import Sequence

from mt_assets.evaluation.evaluate import EvaluationScore
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.scopes import Scope, ScopeKey
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


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def control_markdown(scores: Sequence[EvaluationScore]) -> str:
    """One line per method and metric over the whole test set: score, control ± sd, meaning
    margin, meaning gain vs the base (with its p where tested) and flags."""
    headers = ["method", "metric", "score", "control ± sd", "margin", "meaning gain (p)", "flags"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for s in scores:
        if s.key.scope is not Scope.ALL:
            continue
        control = "—" if s.control_score is None else f"{s.control_score:.2f} ± {s.control_sd:.2f}"
        gain = _number(s.meaning_gain) + ("" if s.meaning_gain_p is None else f" ({s.meaning_gain_p:.4f})")
        cells = [_text(s.method), s.metric.label, f"{s.score:.2f}", control, _number(s.meaning_margin), gain,
                 ", ".join(s.flags) or "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def differences_markdown(pairs: Sequence[tuple[SegmentScore, SegmentScore]]) -> str:
    """Segments where two methods differ most: source, reference, both outputs and scores."""
    if not pairs:
        return "none\n"
    first, second = pairs[0][0].row.method, pairs[0][1].row.method
    headers = ["dataset row", "source", "reference", _text(first), "chrF++", _text(second), "chrF++"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for a, b in pairs:
        cells = [str(a.row.dataset_id), _text(a.row.source), _text(a.row.reference), _text(a.row.hypothesis),
                 f"{a.score:.2f}", _text(b.row.hypothesis), f"{b.score:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
