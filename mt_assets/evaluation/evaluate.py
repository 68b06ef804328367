"""One evaluation of an execution: corpus scores of every method in every scope, and each
method's paired significance against the baseline method on exactly the same segments.

Over the whole test set (scope 'all') every metric row also carries the style control
(`control.py`: control score, its sd over the seeds, the meaning margin; BLEU and chrF++
only, see CONTROL_METRICS) and the method's
flags (`flags.py`, the same list on each metric row). Against the base method, every metric
row gets the meaning gain (margin minus the base's margin); only chrF++, the metric the gate
and the ranking use, gets its paired-bootstrap p-value (meaning_gain_p) and the Holm-adjusted
p-value across the execution's comparisons (p_value_holm). Other scopes leave these None.

With a METEOR scorer (`meteor.py`; the evaluation step passes `meteor_setup()`, which has one
when WordNet is installed) every method also gets one scope-'all' METEOR row with the same
control, margin, meaning gain and flags, and no p-value; without one, no METEOR row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from mt_assets.evaluation.control import CONTROL_SEEDS, control, meaning_gain, system_statistics
from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.flags import STYLE_ONLY, output_flags, style_only
from mt_assets.evaluation.meteor import METEOR, MeteorMetric, MeteorSetup
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.rows import TranslationRow, check_rows
from mt_assets.evaluation.scopes import Scope, ScopeKey, group_by_scope, scores_by_scope
from mt_assets.evaluation.significance import (
    DEFAULT_ALPHA,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    MIN_TEST_SEGMENTS,
    Test,
    holm,
    paired_significances,
)

MEANING_METRIC = Metric.CHRF
# TER gets no control: its shift search costs ~20 ms per new (output, reference) pair, and 10
# derangements of 200 segments for 5 methods are 10,000 new pairs (~200 s on one core, against
# ~5 s for BLEU and chrF++ together). Its control, margin and meaning gain stay None.
CONTROL_METRICS = (Metric.BLEU, Metric.CHRF)
ALL = ScopeKey(Scope.ALL, "")


@dataclass(frozen=True)
class EvaluationScore:
    """One row of llm.evaluation (ids resolved by the store)."""

    method: str
    key: ScopeKey
    metric: Metric | MeteorMetric
    score: float
    signature: str
    segments: int
    p_value: float | None  # vs the baseline; None for the baseline itself and for small scopes
    # Scope 'all' only (None elsewhere, and below MIN_TEST_SEGMENTS segments); see the module doc.
    control_score: float | None = None
    control_sd: float | None = None
    control_seeds: int | None = None
    meaning_margin: float | None = None
    meaning_gain: float | None = None  # vs the baseline
    meaning_gain_p: float | None = None  # chrF++ only
    p_value_holm: float | None = None  # chrF++ only
    flags: tuple[str, ...] = ()


def check_coverage(rows: Sequence[TranslationRow]) -> None:
    """Every method must have translated the same segments, or its scores are not comparable."""
    segments: dict[str, set[int]] = {}
    for row in rows:
        segments.setdefault(row.method, set()).add(row.dataset_id)
    union = set().union(*segments.values())
    for method, covered in sorted(segments.items()):
        missing = sorted(union - covered)
        if missing:
            sample = ", ".join(map(str, missing[:5]))
            raise EvaluationError(
                f"method {method!r} has no translation for {len(missing)} of {len(union)} segments "
                f"(dataset rows {sample}{', ...' if len(missing) > 5 else ''}); finish the translations first"
            )


def control_skipped(rows: Sequence[TranslationRow]) -> str | None:
    """Why the style control was not computed, or None when it was."""
    segments = len({row.dataset_id for row in rows})
    if segments < MIN_TEST_SEGMENTS:
        return (
            f"style control skipped: {segments} test segments, need {MIN_TEST_SEGMENTS} "
            "(no control score, margin, meaning gain or style-only flag; enlarge the test split)"
        )
    return None


def evaluate(
    rows: Sequence[TranslationRow],
    baseline: str | None,
    n: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    test: Test = "bootstrap",
    alpha: float = DEFAULT_ALPHA,
    meteor: MeteorSetup | None = None,
) -> list[EvaluationScore]:
    """Score an execution's translations (`store.load_rows`) and test every method against
    `baseline` (`store.baseline_method`; None skips the tests) with `test`, and METEOR when
    `meteor` has a scorer. Raises EvaluationError rather than return a score it cannot stand behind."""
    check_rows(rows)
    check_coverage(rows)
    methods = {row.method for row in rows}
    if baseline is not None and baseline not in methods:
        raise EvaluationError(
            f"baseline method {baseline!r} has no translations here; methods: {', '.join(sorted(methods))}"
        )
    groups = group_by_scope(rows)
    evaluated = []
    for result in scores_by_scope(rows):
        p_values: dict[Metric, float] = {}
        signatures: dict[Metric, str] = {}
        segments = result.scores[0].segments
        # Small scopes (a rare language, a short edition) get scores but no p-value.
        if baseline is not None and result.method != baseline and segments >= MIN_TEST_SEGMENTS:
            # check_rows and check_coverage make these line up segment by segment.
            system = groups[(result.method, result.key)]
            base = groups[(baseline, result.key)]
            try:
                tests = paired_significances(
                    [r.hypothesis for r in base],
                    [r.hypothesis for r in system],
                    [r.reference for r in system],
                    metrics=[s.metric for s in result.scores],
                    n=n,
                    seed=seed,
                    test=test,
                )
            except EvaluationError as err:
                raise EvaluationError(f"method {result.method!r} vs {baseline!r}, {result.key}: {err}") from None
            p_values = {metric: test.p_value for metric, test in tests.items()}
            signatures = {metric: test.signature for metric, test in tests.items()}
        for score in result.scores:
            evaluated.append(
                EvaluationScore(
                    method=result.method,
                    key=result.key,
                    metric=score.metric,
                    score=score.score,
                    # With a p-value, record how it was computed too (bs:N, seed:S).
                    signature=signatures.get(score.metric, score.signature),
                    segments=score.segments,
                    p_value=p_values.get(score.metric),
                )
            )
    scored = _with_control(evaluated, groups, baseline, n, seed, alpha)
    if meteor is None or meteor.scorer is None:
        return scored
    return scored + _meteor_rows(meteor, scored, groups, baseline)


def _meteor_rows(
    setup: MeteorSetup,
    scores: list[EvaluationScore],
    groups: dict[tuple[str, ScopeKey], list[TranslationRow]],
    baseline: str | None,
) -> list[EvaluationScore]:
    """One METEOR row per method over the whole test set, with the style control (and the
    meaning gain vs the baseline) when there are enough segments; flags as on its other rows."""
    flags = {s.method: s.flags for s in scores if s.key == ALL}
    methods = sorted(flags)
    with_control = control_skipped(groups[(methods[0], ALL)]) is None
    rows = {}
    for m in methods:
        hypotheses, references = [r.hypothesis for r in groups[(m, ALL)]], [r.reference for r in groups[(m, ALL)]]
        try:
            if with_control:
                c = setup.scorer.control(hypotheses, references)
                score, extra = c.score, dict(
                    control_score=c.control_score, control_sd=c.control_sd, control_seeds=c.seeds,
                    meaning_margin=c.meaning_margin,
                )
            else:
                score, extra = setup.scorer.corpus_score(hypotheses, references), {}
        except EvaluationError as err:
            raise EvaluationError(f"method {m!r}, METEOR: {err}") from None
        rows[m] = EvaluationScore(
            method=m, key=ALL, metric=METEOR, score=score, signature=setup.scorer.signature,
            segments=len(references), p_value=None, flags=flags[m], **extra,
        )
    if with_control and baseline is not None:
        base = rows[baseline].meaning_margin
        rows = {m: r if m == baseline else replace(r, meaning_gain=r.meaning_margin - base) for m, r in rows.items()}
    return list(rows.values())

def _with_control(
    scores: list[EvaluationScore],
    groups: dict[tuple[str, ScopeKey], list[TranslationRow]],
    baseline: str | None,
    n: int,
    seed: int,
    alpha: float,
) -> list[EvaluationScore]:
    """Scope 'all' rows with the control, meaning gain, Holm p-value and flags filled in."""
    overall = {(s.method, s.metric): s for s in scores if s.key == ALL}
    methods = sorted({method for method, _ in overall})
    flags = {m: output_flags(groups[(m, ALL)]) for m in methods}
    updates: dict[tuple[str, Metric], dict] = {key: {} for key in overall}
    if control_skipped(groups[(methods[0], ALL)]) is None:
        for metric in [m for m in CONTROL_METRICS if any(key[1] is m for key in overall)]:
            stats = {
                m: system_statistics(
                    metric, [r.hypothesis for r in groups[(m, ALL)]], [r.reference for r in groups[(m, ALL)]]
                )
                for m in methods
            }
            controls = {m: control(s) for m, s in stats.items()}
            for m, c in controls.items():
                updates[(m, metric)].update(
                    control_score=c.control_score, control_sd=c.control_sd,
                    control_seeds=len(CONTROL_SEEDS), meaning_margin=c.meaning_margin,
                )
                if baseline is None or m == baseline:
                    continue
                if metric is MEANING_METRIC:
                    gain = meaning_gain(stats[m], stats[baseline], n=n, seed=seed)
                    updates[(m, metric)].update(meaning_gain=gain.gain, meaning_gain_p=gain.p_value)
                else:
                    updates[(m, metric)]["meaning_gain"] = c.meaning_margin - controls[baseline].meaning_margin
    if baseline is not None:
        tested = [m for m in methods if m != baseline and overall[(m, MEANING_METRIC)].p_value is not None]
        adjusted = holm([overall[(m, MEANING_METRIC)].p_value for m in tested])
        for m, p in zip(tested, adjusted, strict=True):
            updates[(m, MEANING_METRIC)]["p_value_holm"] = p
        for m in tested:
            row = overall[(m, MEANING_METRIC)]
            gain = row.score - overall[(baseline, MEANING_METRIC)].score
            meaning = updates[(m, MEANING_METRIC)]
            if style_only(gain, row.p_value, meaning.get("meaning_gain"), meaning.get("meaning_gain_p"), alpha):
                flags[m] = [STYLE_ONLY, *flags[m]]
    return [
        replace(s, **updates[(s.method, s.metric)], flags=tuple(flags[s.method])) if s.key == ALL else s
        for s in scores
    ]
