"""Score each config's translations (the `translations` asset, assets/translation.py) and rank everything."""

from typing import Literal

import dagster as dg

from mt_assets.assets.translation import translations
from mt_assets.evaluation.comet import comet_setup
from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.gate import not_worse_than_baseline
from mt_assets.evaluation.leaderboard import leaderboard_markdown, leaderboard_report, leaderboard_rows
from mt_assets.evaluation.leaderboard_store import hidden_scores, load_leaderboard
from mt_assets.evaluation.meteor import meteor_setup
from mt_assets.evaluation.run import evaluate_execution, evaluate_involved_executions
from mt_assets.evaluation.significance import DEFAULT_ALPHA, Test
from mt_assets.evaluation.store import execution_id, fine_tuned_methods
from mt_assets.partitions import tuning_config_partitions
from mt_assets.resources import DatabaseResource

GATE_CHECK = "fine_tuned_not_worse_than_base"


class EvaluationConfig(dg.Config):
    # A fine-tuned model with significantly less meaning than its base is an error, which stops
    # the downstream assets (the check is blocking), unless the run config says WARN.
    gate_severity: Literal["WARN", "ERROR"] = "ERROR"
    gate_alpha: float = DEFAULT_ALPHA
    # sacrebleu's paired bootstrap ("bootstrap") or approximate randomization ("randomization")
    significance_test: Test = "bootstrap"


@dg.asset(
    partitions_def=tuning_config_partitions,
    deps=[translations],
    group_name="evaluation",
    description="sacrebleu BLEU, chrF++ and TER per method (overall, per language, per edition) with "
    "signatures, paired bootstrap (or, by run config, approximate randomization) p-values against the base "
    "method with Holm's correction, segment chrF++; overall, each method's style control (scores against "
    "10 derangements of the references), meaning margin, meaning gain over the base with its p-value, and "
    "flags (style-only, source-script, length-ratio); into llm.evaluation. The gate check is blocking: a "
    "fine-tuned model with significantly less meaning than its base stops the downstream assets, unless "
    "the run config sets `gate_severity: WARN` (ops: evaluation: config: gate_severity: WARN).",
    check_specs=[
        dg.AssetCheckSpec(
            GATE_CHECK,
            asset="evaluation",
            blocking=True,
            description="The fine-tuned method's chrF++ meaning gain over the base method (its margin over "
            "the deranged-reference control minus the base's) is not significantly negative. Blocking at "
            "ERROR severity; `gate_severity: WARN` in the run config lets downstream run anyway.",
        )
    ],
)
def evaluation(
    context: dg.AssetExecutionContext, config: EvaluationConfig, database: DatabaseResource
) -> dg.MaterializeResult:
    with database.connect(autocommit=True) as conn:
        execution = execution_id(conn, context.partition_key)
        if execution is None:
            raise dg.Failure(
                f"no translation execution {context.partition_key!r}: materialize translations first"
            )
        meteor = meteor_setup()
        try:
            outcome = evaluate_execution(conn, execution, test=config.significance_test, meteor=meteor)
        except EvaluationError as err:
            raise dg.Failure(str(err)) from None
        context.log.info(comet_setup().message)
        context.log.info(meteor.message)
        for note in outcome.notes:
            context.log.warning(note)
        tuned = fine_tuned_methods(conn, execution)
        others = evaluate_involved_executions(conn, context.partition_key, config.significance_test, meteor)
    for line in others:
        if " not scored: " in line:
            context.log.warning(line)
    return dg.MaterializeResult(
        metadata={
            "execution": context.partition_key,
            "baseline": outcome.baseline or "none",
            "translations": outcome.translations,
            "scores": dg.MetadataValue.md(outcome.scores_markdown),
            "significance_test": outcome.test,
            "control": dg.MetadataValue.md(outcome.control_markdown),
            "control_notes": dg.MetadataValue.md("\n".join(f"- {note}" for note in outcome.notes) or "none"),
            "worst_segments": dg.MetadataValue.md(outcome.worst_markdown),
            "tuned_vs_base_segments": dg.MetadataValue.md(outcome.differences_markdown),
            "user_executions": dg.MetadataValue.md("\n".join(f"- {line}" for line in others) or "none"),
        },
        check_results=[_gate(outcome, tuned, config)],
    )


def _gate(outcome, tuned: list[str], config: EvaluationConfig) -> dg.AssetCheckResult:
    """An undecidable gate (no fine-tuned model, too few segments for a p-value) is reported as
    not passed, with a warning and the reason: not tested is not the same as not worse."""
    if len(tuned) != 1 or outcome.baseline is None:
        return dg.AssetCheckResult(
            check_name=GATE_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description="not decided: the execution needs one base and one fine-tuned method "
            f"(base: {outcome.baseline or 'none'}, fine-tuned: {', '.join(tuned) or 'none'})",
            metadata={"decided": False},
        )
    try:
        gate = not_worse_than_baseline(outcome.scores, tuned[0], outcome.baseline, alpha=config.gate_alpha)
    except EvaluationError as err:
        return dg.AssetCheckResult(
            check_name=GATE_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"not decided: {err}",
            metadata={"decided": False},
        )
    return dg.AssetCheckResult(
        check_name=GATE_CHECK,
        passed=gate.passed,
        severity=dg.AssetCheckSeverity[config.gate_severity],
        description=gate.description,
        metadata={
            "decided": True,
            "metric": gate.metric.label,
            "meaning_gain": gate.meaning_gain,
            "meaning_gain_p": gate.meaning_gain_p,
            # raw chrF++, kept for the record; the gate decides on the meaning gain
            "fine_tuned_score": gate.method_score,
            "base_score": gate.baseline_score,
            "p_value": gate.p_value,
            "alpha": gate.alpha,
        },
    )


@dg.asset(
    deps=[evaluation],
    group_name="evaluation",
    description="Every method of every execution, ranked by the chrF++ meaning margin (score minus the "
    "style control; raw chrF++ is gameable: a constant output can top it): a ranking table (method, "
    "meaning margin, chrF++, Δ vs base with its p and human agreement, flags), a details table (model, "
    "methodology, languages, BLEU, TER, control, meaning gain, segments, training time, execution) and a "
    "bar chart with the best floor as a dashed line. `mt-assets leaderboard` prints the same tables "
    "(`--json`: one object per method); docs/leaderboard.md explains them. A fine-tuned model's scores "
    "drop out (listed under `hidden`) once its config is re-split: its training rows may be test rows then.",
)
def leaderboard(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    with database.connect() as conn:
        records = load_leaderboard(conn)
        hidden = hidden_scores(conn)
    for line in hidden:
        context.log.warning(f"not shown: {line}")
    try:
        rows = leaderboard_rows(records)
        report = leaderboard_report(rows)
    except EvaluationError as err:
        raise dg.Failure(str(err)) from None
    return dg.MaterializeResult(
        metadata={
            "rows": len(rows),
            # both tables, as `mt-assets leaderboard` prints them
            "leaderboard": dg.MetadataValue.md(leaderboard_markdown(rows)),
            "ranked_by": "chrF++ meaning margin (score minus style control), then chrF++",
            # scores of a fine-tuned model whose config was re-split since it was trained
            "hidden": dg.MetadataValue.md("\n".join(f"- {line}" for line in hidden) or "none"),
            "report": dg.MetadataValue.md(report),
        }
    )


EVALUATION_ASSETS = [evaluation, leaderboard]
