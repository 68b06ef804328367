"""The release gate behind the evaluation asset check: a method must not be significantly
worse than the baseline on chrF++ over the whole test set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.evaluate import EvaluationScore
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.scopes import Scope
from mt_assets.evaluation.significance import MIN_TEST_SEGMENTS

GATE_METRIC = Metric.CHRF
DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class GateResult:
    method: str
    baseline: str
    metric: Metric
    method_score: float
    baseline_score: float
    p_value: float
    alpha: float

    @property
    def worse(self) -> bool:
        if self.metric.higher_is_better:
            return self.method_score < self.baseline_score
        return self.method_score > self.baseline_score

    @property
    def passed(self) -> bool:
        return not (self.worse and self.p_value < self.alpha)

    @property
    def description(self) -> str:
        verdict = "significantly worse than" if not self.passed else "not significantly worse than"
        return (
            f"{self.method} ({self.metric.label} {self.method_score:.2f}) is {verdict} {self.baseline} "
            f"({self.baseline_score:.2f}): p = {self.p_value:.4f}, alpha = {self.alpha}"
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
    return GateResult(method, baseline, GATE_METRIC, candidate.score, base.score, candidate.p_value, alpha)
