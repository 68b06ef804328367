"""The release gate behind the evaluation asset check: a method's meaning gain over the
baseline on chrF++ over the whole test set (its meaning margin minus the baseline's,
`control.py`) must not be significantly negative. The meaning margin, not raw chrF++, because a
constant output or a copy of the references' style can win raw chrF++ (issue 14's table: one
train verse for every row scores 20.53, above the tuned model's 18.62, with a margin of 0).
Raw chrF++ and its p-value stay in the result for the record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.evaluate import EvaluationScore
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.scopes import Scope
from mt_assets.evaluation.significance import DEFAULT_ALPHA, MIN_TEST_SEGMENTS

GATE_METRIC = Metric.CHRF


@dataclass(frozen=True)
class GateResult:
    method: str
    baseline: str
    metric: Metric
    method_score: float
    baseline_score: float
    p_value: float  # of the raw score difference
    meaning_gain: float
    meaning_gain_p: float
    alpha: float

    @property
    def worse(self) -> bool:
        return self.meaning_gain < 0

    @property
    def passed(self) -> bool:
        return not (self.worse and self.meaning_gain_p < self.alpha)

    @property
    def description(self) -> str:
        verdict = "significantly less meaning than" if not self.passed else "not significantly less meaning than"
        return (
            f"{self.method} carries {verdict} {self.baseline}: meaning gain {self.meaning_gain:+.2f} "
            f"{self.metric.label} (p = {self.meaning_gain_p:.4f}, alpha = {self.alpha}); raw {self.metric.label} "
            f"{self.method_score:.2f} vs {self.baseline_score:.2f} (p = {self.p_value:.4f})"
        )


def not_worse_than_baseline(
    scores: Sequence[EvaluationScore], method: str, baseline: str, alpha: float = DEFAULT_ALPHA
) -> GateResult:
    overall = {s.method: s for s in scores if s.key.scope is Scope.ALL and s.metric is GATE_METRIC}
    for name in (method, baseline):
        if name not in overall:
            raise EvaluationError(f"no overall {GATE_METRIC.label} score for method {name!r}")
    candidate, base = overall[method], overall[baseline]
    if base.p_value is not None:
        raise EvaluationError(f"{baseline!r} was not the baseline these scores were tested against")
    if candidate.p_value is None:
        if candidate.segments < MIN_TEST_SEGMENTS:
            raise EvaluationError(
                f"method {method!r} was scored on {candidate.segments} segments, too few to test against "
                f"{baseline!r} (need {MIN_TEST_SEGMENTS}); enlarge the test split"
            )
        raise EvaluationError(f"method {method!r} has no p-value: was it evaluated against {baseline!r}?")
    if candidate.meaning_gain is None or candidate.meaning_gain_p is None:
        raise EvaluationError(
            f"method {method!r} has no meaning gain over {baseline!r} (the style control needs "
            f"{MIN_TEST_SEGMENTS} segments, it has {candidate.segments})"
        )
    return GateResult(
        method, baseline, GATE_METRIC, candidate.score, base.score, candidate.p_value,
        candidate.meaning_gain, candidate.meaning_gain_p, alpha,
    )
