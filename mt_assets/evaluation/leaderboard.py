"""All methods of all executions side by side: two markdown tables, a JSON list and a PNG chart.

One row per (execution, method). The ranking is one global list: by the chrF++ meaning margin
(score minus the style control, evaluation/control.py), highest first, because raw chrF++ is
gameable (a constant output outscored every model on the demo's test verses, with margin 0).
Rows without a margin (control skipped, too few segments) come after those with one; ties, and
the rows without a margin, go by chrF++ (highest first), then by method and execution name.
Raw chrF++, BLEU and TER stay shown.

Replicates (a config's `replicates: N`, N > 1) are N fine-tuned methods of one config, each
ranked as itself; their seed spread (`SeedSpread`: mean and sample sd across them) goes with each
of them and into a third table, and their claim over the base counts only when the mean meaning
gain exceeds the sd of their meaning margins (else each is flagged `within-seed-spread`).
docs/leaderboard.md explains every column.
"""

from __future__ import annotations

import base64
import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.significance import human_agreement

SIGNIFICANCE_METRIC = Metric.CHRF
BASE_KIND = "base"
FINE_TUNED_KIND = "fine_tuned"
FLOOR_KIND = "baseline"  # the floors computed from the data alone (translation/baselines)
WITHIN_SEED_SPREAD = "within-seed-spread"


# llm.evaluation.metric of METEOR (evaluation/meteor.MeteorMetric; not imported: it loads nltk)
METEOR_METRIC = "meteor"


@dataclass(frozen=True)
class LeaderboardRecord:
    """One overall score (llm.evaluation, scope 'all') with what it belongs to; the control
    columns are that metric row's own."""

    execution: str
    config: str
    method: str
    method_kind: str  # translation_method.kind: base | fine_tuned | baseline | system
    metric: Metric
    score: float
    p_value: float | None
    segments: int
    model: str | None = None
    tuning_methodology: str | None = None
    languages: tuple[str, ...] = ()
    training_seconds: float | None = None
    control_score: float | None = None
    control_sd: float | None = None
    meaning_margin: float | None = None
    meaning_gain: float | None = None
    meaning_gain_p: float | None = None
    p_value_holm: float | None = None
    flags: tuple[str, ...] = ()
    meteor: float | None = None  # the method's METEOR and its meaning margin (None when not scored)
    meteor_margin: float | None = None
    replicate: int | None = None  # a fine-tuned method's model's replicate (llm.fine_tuned_models)


@dataclass(frozen=True)
class SeedSpread:
    """The fine-tuned replicates of one config in one execution (at least two): mean and sample
    sd across them of chrF++ and of its meaning margin, and the means of their gains over the
    base. `exceeds` tells whether the mean meaning gain exceeds the sd of the meaning margins (the
    spread a seed alone causes: the base is the same for every replicate); None without a base."""

    config: str
    replicates: int
    chrf_mean: float
    chrf_sd: float
    margin_mean: float | None
    margin_sd: float | None
    delta_mean: float | None
    gain_mean: float | None

    @property
    def exceeds(self) -> bool | None:
        if self.gain_mean is None or self.margin_sd is None:
            return None
        return self.gain_mean > self.margin_sd


@dataclass(frozen=True)
class LeaderboardRow:
    """One method in one execution. The p-values, control and meaning fields are its
    SIGNIFICANCE_METRIC (chrF++) row's; delta_vs_base is its chrF++ minus the chrF++ of its
    execution's base method (None for the base itself, or without a base)."""

    execution: str
    config: str
    method: str
    method_kind: str
    scores: dict[Metric, float]
    p_value: float | None  # vs the execution's base method
    p_value_holm: float | None
    segments: int
    model: str | None
    tuning_methodology: str | None
    languages: tuple[str, ...]
    training_seconds: float | None
    control_score: float | None
    control_sd: float | None
    meaning_margin: float | None
    meaning_gain: float | None
    meaning_gain_p: float | None
    flags: tuple[str, ...]
    delta_vs_base: float | None = None
    meteor: float | None = None
    meteor_margin: float | None = None
    replicate: int | None = None
    seed_spread: SeedSpread | None = None  # with its fellow replicates, when its config has several

    @property
    def agreement(self) -> str | None:
        """How often humans would agree with delta_vs_base (significance.human_agreement)."""
        return None if self.delta_vs_base is None else human_agreement(SIGNIFICANCE_METRIC, self.delta_vs_base)


def leaderboard_rows(records: Sequence[LeaderboardRecord]) -> list[LeaderboardRow]:
    """One row per (execution, method), ranked as the module docstring says."""
    if not records:
        raise EvaluationError("no scores yet: materialize translations and evaluation for a config first")
    grouped: dict[tuple[str, str], list[LeaderboardRecord]] = {}
    for record in records:
        grouped.setdefault((record.execution, record.method), []).append(record)
    rows = [_row(execution, method, group) for (execution, method), group in grouped.items()]
    base_chrf = _base_chrf(rows)
    rows = [
        _with_delta(row, base_chrf.get(row.execution)) if row.method_kind != BASE_KIND else row for row in rows
    ]
    return sorted(_with_seed_spread(rows), key=_rank)


def _with_seed_spread(rows: list[LeaderboardRow]) -> list[LeaderboardRow]:
    """Each fine-tuned row of a config with two or more replicates in its execution, with their
    SeedSpread, flagged `within-seed-spread` when the spread is not exceeded."""
    groups: dict[tuple[str, str], list[LeaderboardRow]] = {}
    for row in rows:
        if row.method_kind == FINE_TUNED_KIND and SIGNIFICANCE_METRIC in row.scores:
            groups.setdefault((row.execution, row.config), []).append(row)
    spreads = {key: _spread(group) for key, group in groups.items() if len(group) > 1}
    out = []
    for row in rows:
        spread = spreads.get((row.execution, row.config)) if row.method_kind == FINE_TUNED_KIND else None
        if spread is not None:
            flags = row.flags + ((WITHIN_SEED_SPREAD,) if spread.exceeds is False else ())
            row = replace(row, seed_spread=spread, flags=flags)
        out.append(row)
    return out


def _mean_sd(values: list[float | None]) -> tuple[float | None, float | None]:
    if any(v is None for v in values):
        return None, None
    return statistics.fmean(values), statistics.stdev(values)


def _spread(group: list[LeaderboardRow]) -> SeedSpread:
    chrf_mean, chrf_sd = _mean_sd([row.scores[SIGNIFICANCE_METRIC] for row in group])
    margin_mean, margin_sd = _mean_sd([row.meaning_margin for row in group])
    delta_mean, _ = _mean_sd([row.delta_vs_base for row in group])
    gain_mean, _ = _mean_sd([row.meaning_gain for row in group])
    return SeedSpread(group[0].config, len(group), chrf_mean, chrf_sd, margin_mean, margin_sd, delta_mean, gain_mean)


def _row(execution: str, method: str, group: list[LeaderboardRecord]) -> LeaderboardRow:
    scores: dict[Metric, float] = {}
    for record in group:
        if record.metric in scores:
            raise EvaluationError(f"{execution}: {method} has two {record.metric.label} scores")
        scores[record.metric] = record.score
    segments = {record.segments for record in group}
    if len(segments) != 1:
        raise EvaluationError(f"{execution}: {method} was scored on different segment counts {sorted(segments)}")
    first = group[0]
    chrf = next((r for r in group if r.metric is SIGNIFICANCE_METRIC), None)
    return LeaderboardRow(
        execution=execution,
        config=first.config,
        method=method,
        method_kind=first.method_kind,
        scores=scores,
        p_value=chrf.p_value if chrf else None,
        p_value_holm=chrf.p_value_holm if chrf else None,
        segments=segments.pop(),
        model=first.model,
        tuning_methodology=first.tuning_methodology,
        languages=first.languages,
        training_seconds=max((r.training_seconds for r in group if r.training_seconds is not None), default=None),
        control_score=chrf.control_score if chrf else None,
        control_sd=chrf.control_sd if chrf else None,
        meaning_margin=chrf.meaning_margin if chrf else None,
        meaning_gain=chrf.meaning_gain if chrf else None,
        meaning_gain_p=chrf.meaning_gain_p if chrf else None,
        # the same on every metric row of a method; deduplicated, in stored order
        flags=tuple(dict.fromkeys(flag for r in group for flag in r.flags)),
        meteor=first.meteor,
        meteor_margin=first.meteor_margin,
        replicate=first.replicate,
    )


def _base_chrf(rows: Sequence[LeaderboardRow]) -> dict[str, float | None]:
    """Each execution's base method's chrF++; an execution with two base methods is an error:
    which one a Δ is against would be a guess."""
    bases: dict[str, LeaderboardRow] = {}
    for row in rows:
        if row.method_kind != BASE_KIND:
            continue
        if row.execution in bases:
            raise EvaluationError(
                f"{row.execution}: two base methods, {bases[row.execution].method} and {row.method}"
            )
        bases[row.execution] = row
    return {execution: row.scores.get(SIGNIFICANCE_METRIC) for execution, row in bases.items()}


def _with_delta(row: LeaderboardRow, base: float | None) -> LeaderboardRow:
    chrf = row.scores.get(SIGNIFICANCE_METRIC)
    if base is None or chrf is None:
        return row
    return replace(row, delta_vs_base=chrf - base)


def _rank(row: LeaderboardRow) -> tuple:
    margin = row.meaning_margin
    chrf = row.scores.get(SIGNIFICANCE_METRIC)
    return (margin is None, -(margin or 0.0), chrf is None, -(chrf or 0.0), row.method, row.execution)


def _cell(value: object) -> str:
    return "—" if value is None or value == "" else str(value).replace("|", "\\|").replace("\n", " ")


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"


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


def _delta(row: LeaderboardRow) -> str:
    if row.delta_vs_base is None:
        return "—"
    holm = "" if row.p_value_holm is None else f", Holm p {_p_value(row.p_value_holm)}"
    return f"{_signed(row.delta_vs_base)} (p {_p_value(row.p_value)}{holm}; humans agree {_cell(row.agreement)})"


def _control(row: LeaderboardRow) -> str:
    if row.control_score is None:
        return "—"
    return f"{_number(row.control_score)} ± {_number(row.control_sd)}"


def _gain(row: LeaderboardRow) -> str:
    if row.meaning_gain is None:
        return "—"
    return f"{_signed(row.meaning_gain)} (p {_p_value(row.meaning_gain_p)})"


def _table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines) + "\n"


def ranking_markdown(rows: Sequence[LeaderboardRow]) -> str:
    """The deciding columns, in ranking order, then the execution: a floor is a row of every
    execution, and its name alone does not say whose test rows it was scored on."""
    label = SIGNIFICANCE_METRIC.label
    headers = ["method", f"meaning margin ({label})", label, "Δ vs base (p, humans agree)", "flags", "execution"]
    body = [
        [
            _cell(row.method),
            _number(row.meaning_margin),
            _number(row.scores.get(SIGNIFICANCE_METRIC)),
            _delta(row),
            _cell(", ".join(row.flags)),
            _cell(row.execution),
        ]
        for row in rows
    ]
    return _table(headers, body)


def details_markdown(rows: Sequence[LeaderboardRow]) -> str:
    """Everything else about the same rows, in the same order."""
    label = SIGNIFICANCE_METRIC.label
    others = [m for m in Metric if m is not SIGNIFICANCE_METRIC]
    headers = [
        "method", "model", "tuning_methodology", "languages",
        *(m.label + (" ↓" if not m.higher_is_better else "") for m in others),
        f"control {label} (mean ± sd)", f"meaning gain ({label}, p)", "METEOR (margin)", "segments",
        "training time", "execution",
    ]
    body = [
        [
            _cell(row.method),
            _cell(row.model),
            _cell(row.tuning_methodology),
            _cell(", ".join(row.languages)),
            *(_number(row.scores.get(m)) for m in others),
            _control(row),
            _gain(row),
            _meteor(row),
            str(row.segments),
            _duration(row.training_seconds),
            _cell(row.execution),
        ]
        for row in rows
    ]
    return _table(headers, body)


def _meteor(row: LeaderboardRow) -> str:
    if row.meteor is None:
        return "—"
    return f"{row.meteor:.2f}" + ("" if row.meteor_margin is None else f" ({row.meteor_margin:+.2f})")


def spreads(rows: Sequence[LeaderboardRow]) -> list[tuple[str, SeedSpread]]:
    """(execution, spread) of each config with replicates, in the order its best row ranks."""
    seen: dict[tuple[str, str], SeedSpread] = {}
    for row in rows:
        if row.seed_spread is not None:
            seen.setdefault((row.execution, row.config), row.seed_spread)
    return [(execution, spread) for (execution, _), spread in seen.items()]


def spread_markdown(rows: Sequence[LeaderboardRow]) -> str:
    """One line per config with replicates: what a seed alone moves, and whether its gain over
    the base exceeds that; "" when no config has replicates."""
    found = spreads(rows)
    if not found:
        return ""
    label = SIGNIFICANCE_METRIC.label
    headers = [
        "fine-tuned replicates", f"meaning margin ({label}, mean ± sd)", f"{label} (mean ± sd)",
        "Δ vs base (mean)", "meaning gain (mean)", "gain exceeds seed spread", "execution",
    ]
    body = [
        [
            f"{spread.config} ×{spread.replicates}",
            _mean_pm_sd(spread.margin_mean, spread.margin_sd),
            _mean_pm_sd(spread.chrf_mean, spread.chrf_sd),
            _signed(spread.delta_mean),
            _signed(spread.gain_mean),
            "—" if spread.exceeds is None else ("yes" if spread.exceeds else "no"),
            _cell(execution),
        ]
        for execution, spread in found
    ]
    return _table(headers, body)


def _mean_pm_sd(mean: float | None, sd: float | None) -> str:
    return "—" if mean is None else f"{mean:.2f} ± {_number(sd)}"


def leaderboard_markdown(rows: Sequence[LeaderboardRow]) -> str:
    """The ranking table, the seed-spread table (only with replicates), then the details
    table, separated by blank lines."""
    spread = spread_markdown(rows)
    return ranking_markdown(rows) + "\n" + (spread + "\n" if spread else "") + details_markdown(rows)


def leaderboard_json(rows: Sequence[LeaderboardRow]) -> list[dict]:
    """One object per row for `mt-assets leaderboard --json`; a missing number is None (null)."""
    return [
        {
            "execution": row.execution,
            "method": row.method,
            "kind": row.method_kind,
            "chrf": row.scores.get(Metric.CHRF),
            "bleu": row.scores.get(Metric.BLEU),
            "ter": row.scores.get(Metric.TER),
            "segments": row.segments,
            "p_vs_base": row.p_value,
            "control_chrf": row.control_score,
            "control_chrf_sd": row.control_sd,
            "meaning_margin": row.meaning_margin,
            "meaning_gain": row.meaning_gain,
            "meaning_gain_p": row.meaning_gain_p,
            "flags": list(row.flags),
            "meteor": row.meteor,
            "meteor_margin": row.meteor_margin,
            "replicate": row.replicate,
            **_spread_json(row.seed_spread),
        }
        for row in rows
    ]


def _spread_json(spread: SeedSpread | None) -> dict:
    return {
        "replicates": spread.replicates if spread else None,
        "chrf_mean": spread.chrf_mean if spread else None,
        "chrf_sd": spread.chrf_sd if spread else None,
        "meaning_margin_mean": spread.margin_mean if spread else None,
        "meaning_margin_sd": spread.margin_sd if spread else None,
        "meaning_gain_mean": spread.gain_mean if spread else None,
        "gain_exceeds_seed_spread": spread.exceeds if spread else None,
    }


def best_floor(rows: Sequence[LeaderboardRow]) -> float | None:
    """The highest chrF++ of the floors (kind baseline), None without any."""
    return max(
        (row.scores[SIGNIFICANCE_METRIC] for row in rows
         if row.method_kind == FLOOR_KIND and SIGNIFICANCE_METRIC in row.scores),
        default=None,
    )


def leaderboard_chart_png(rows: Sequence[LeaderboardRow]) -> bytes:
    """Grouped bars, one group per row (labelled by method), one bar per metric; the best
    floor's chrF++ as a dashed horizontal line."""
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
    floor = best_floor(rows)
    if floor is not None:
        # zorder below the bars: the line reads as a floor the bars stand on or fall short of
        axes.axhline(floor, color="black", linestyle="--", linewidth=1, zorder=0,
                     label=f"best floor ({SIGNIFICANCE_METRIC.label})")
    labels = [f"{row.method}\n({row.execution})" for row in rows]
    axes.set_xticks(range(len(rows)), labels, rotation=20, ha="right", fontsize=8)
    axes.set_ylabel("score")
    # TER can pass 100 when outputs are much longer than the references.
    axes.set_ylim(0, max(105.0, *(1.1 * v for row in rows for v in row.scores.values())))
    axes.set_title("Translation quality by method (ranked by chrF++ meaning margin)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def leaderboard_report(rows: Sequence[LeaderboardRow]) -> str:
    """Both tables and the chart as one markdown string (for dg.MetadataValue.md)."""
    encoded = base64.b64encode(leaderboard_chart_png(rows)).decode("ascii")
    return leaderboard_markdown(rows) + f"\n![leaderboard chart](data:image/png;base64,{encoded})\n"
