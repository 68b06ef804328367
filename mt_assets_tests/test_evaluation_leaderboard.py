"""The leaderboard: one row per (execution, method), ranked by the chrF++ meaning margin, numbers
in two tables, a JSON list, a real PNG."""

from __future__ import annotations

import base64
import json
import re

import pytest

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.leaderboard import (
    LeaderboardRecord,
    best_floor,
    details_markdown,
    leaderboard_chart_png,
    leaderboard_json,
    leaderboard_markdown,
    leaderboard_report,
    leaderboard_rows,
    ranking_markdown,
)
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.significance import human_agreement

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# method -> (kind, BLEU, chrF++, TER, p vs base, Holm p, training s, control chrF++, sd, margin, gain, gain p, flags)
METHODS = {
    "nllb-lora:base": ("base", 21.37, 48.12, 66.5, None, None, None, 30.0, 0.4, 18.12, None, None, ()),
    "nllb-lora:fine-tuned": (
        "fine_tuned", 27.91, 53.48, 58.25, 0.0123, 0.0246, 754.0, 31.0, 0.5, 22.48, 4.36, 0.004, ()
    ),
    "gemma-lora:base": ("base", 9.5, 31.07, 101.5, None, None, None, 25.0, 0.3, 6.07, None, None, ("length-ratio",)),
    "gemma-lora:fine-tuned": (
        "fine_tuned", 15.25, 40.66, 80.0, 0.0009, 0.0018, 95.0, 29.0, 0.6, 11.66, 5.59, 0.002, ()
    ),
}


def _other(value: float | None, chrf: bool) -> float | None:
    """A BLEU or TER row's own control value: unlike the chrF++ one, so a row taking it shows."""
    return value if chrf or value is None else value + 100


def _records(methods: dict = METHODS) -> list[LeaderboardRecord]:
    records = []
    for method, (kind, bleu, chrf, ter, p, holm, seconds, control, sd, margin, gain, gain_p, flags) in methods.items():
        config = method.split(":")[0]
        execution = "shared" if kind == "baseline" else config
        for metric, value in ((Metric.BLEU, bleu), (Metric.CHRF, chrf), (Metric.TER, ter)):
            is_chrf = metric is Metric.CHRF
            records.append(
                LeaderboardRecord(
                    execution=execution, config=config, method=method, method_kind=kind, metric=metric,
                    score=value, p_value=p, segments=312, model=None if kind == "baseline" else f"hub|{config}",
                    tuning_methodology="lora" if kind == "fine_tuned" else None, languages=("ar", "fa"),
                    training_seconds=seconds,
                    # the control columns differ per metric row; the row must take the chrF++ one's
                    control_score=_other(control, is_chrf), control_sd=sd,
                    meaning_margin=_other(margin, is_chrf), meaning_gain=gain if is_chrf else None,
                    meaning_gain_p=gain_p if is_chrf else None, p_value_holm=holm if is_chrf else None,
                    flags=flags,
                )
            )
    return records


def _line(table: str, method: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(f"| {method} |"))


def test_rows_pivot_metrics_and_rank_by_meaning_margin() -> None:
    rows = leaderboard_rows(_records())
    assert [row.method for row in rows] == [
        "nllb-lora:fine-tuned", "nllb-lora:base", "gemma-lora:fine-tuned", "gemma-lora:base"
    ]
    tuned = rows[0]
    assert tuned.scores == {Metric.BLEU: 27.91, Metric.CHRF: 53.48, Metric.TER: 58.25}
    assert (tuned.p_value, tuned.p_value_holm) == (0.0123, 0.0246)
    assert (tuned.control_score, tuned.meaning_margin, tuned.meaning_gain, tuned.meaning_gain_p) == (
        31.0, 22.48, 4.36, 0.004
    )
    assert rows[1].p_value is None
    assert rows[3].flags == ("length-ratio",)


def test_a_constant_with_the_best_chrf_but_no_margin_ranks_below_every_model() -> None:
    # what the demo measured: a constant English verse outscored the models on raw chrF++
    methods = {
        **METHODS,
        "baseline:constant": ("baseline", 3.0, 60.0, 95.0, 0.0001, 0.0003, None, 60.0, 0.0, 0.0, None, None, ()),
        "baseline:copy-source": (
            "baseline", 0.1, 5.0, 100.0, None, None, None, None, None, None, None, None, ("source-script",)
        ),
    }
    rows = leaderboard_rows(_records(methods))
    names = [row.method for row in rows]
    assert max(rows, key=lambda r: r.scores[Metric.CHRF]).method == "baseline:constant"
    # margin 0 is below every positive margin; no margin at all comes last
    assert names[-2:] == ["baseline:constant", "baseline:copy-source"]
    assert names.index("gemma-lora:base") < names.index("baseline:constant")
    assert best_floor(rows) == 60.0
    assert leaderboard_chart_png(rows).startswith(PNG_MAGIC)


def test_rows_without_a_margin_go_by_chrf_then_name() -> None:
    bare = {
        name: (*values[:7], None, None, None, None, None, ())
        for name, values in METHODS.items()
    }
    rows = leaderboard_rows(_records(bare))
    assert [row.method for row in rows] == [
        "nllb-lora:fine-tuned", "nllb-lora:base", "gemma-lora:fine-tuned", "gemma-lora:base"
    ]
    tied = {"b:x": METHODS["gemma-lora:base"], "a:x": METHODS["gemma-lora:base"]}
    assert [row.method for row in leaderboard_rows(_records(tied))] == ["a:x", "b:x"]


def test_delta_vs_base_is_against_the_same_executions_base_with_human_agreement() -> None:
    rows = {row.method: row for row in leaderboard_rows(_records())}
    tuned = rows["gemma-lora:fine-tuned"]
    assert tuned.delta_vs_base == pytest.approx(40.66 - 31.07)
    assert tuned.agreement == human_agreement(Metric.CHRF, 40.66 - 31.07)
    assert rows["nllb-lora:fine-tuned"].delta_vs_base == pytest.approx(53.48 - 48.12)
    assert rows["gemma-lora:base"].delta_vs_base is None and rows["gemma-lora:base"].agreement is None
    cell = _line(ranking_markdown(list(rows.values())), "gemma-lora:fine-tuned")
    assert f"+{40.66 - 31.07:.2f} (p 0.0009, Holm p 0.0018; humans agree {tuned.agreement})" in cell


def test_no_delta_without_a_base_in_the_execution() -> None:
    methods = {
        "gemma-lora:fine-tuned": METHODS["gemma-lora:fine-tuned"],
        "baseline:constant": ("baseline", 3.0, 60.0, 95.0, 0.0001, None, None, 60.0, 0.0, 0.0, None, None, ()),
    }
    rows = leaderboard_rows(_records(methods))
    assert [row.delta_vs_base for row in rows] == [None, None]
    assert "| — |" in _line(ranking_markdown(rows), "baseline:constant")


def test_ranking_table_has_the_deciding_columns_first() -> None:
    rows = leaderboard_rows(_records())
    lines = ranking_markdown(rows).strip().splitlines()
    assert lines[0] == (
        "| method | meaning margin (chrF++) | chrF++ | Δ vs base (p, humans agree) | flags | execution |"
    )
    assert len(lines) == 2 + 4
    assert _line("\n".join(lines), "nllb-lora:fine-tuned").startswith("| nllb-lora:fine-tuned | 22.48 | 53.48 | +5.36 ")
    assert _line("\n".join(lines), "gemma-lora:base") == (
        "| gemma-lora:base | 6.07 | 31.07 | — | length-ratio | gemma-lora |"
    )


def test_details_table_contains_every_number() -> None:
    rows = leaderboard_rows(_records())
    table = details_markdown(rows)
    lines = table.strip().splitlines()
    assert len(lines) == 2 + 4
    assert lines[0] == (
        "| method | model | tuning_methodology | languages | BLEU | TER ↓ | control chrF++ (mean ± sd) | "
        "meaning gain (chrF++, p) | METEOR (margin) | segments | training time | execution |"
    )
    tuned = _line(table, "nllb-lora:fine-tuned")
    for text in ["27.91", "58.25", "31.00 ± 0.50", "+4.36 (p 0.0040)", "312", "12.6 min", "ar, fa", r"hub\|nllb-lora"]:
        assert text in tuned
    assert "| 9.50 | 101.50 | 25.00 ± 0.30 | — |" in _line(table, "gemma-lora:base")
    # An escaped pipe (in the model name) must not add a column.
    columns = [len(re.findall(r"(?<!\\)\|", line)) for line in lines]
    assert columns == [columns[0]] * len(lines)
    assert leaderboard_markdown(rows) == ranking_markdown(rows) + "\n" + table


def test_a_missing_value_shows_as_a_dash_never_zero() -> None:
    records = [r for r in _records() if not (r.config == "gemma-lora" and r.metric is Metric.TER)]
    records = [
        LeaderboardRecord(**{**r.__dict__, "control_score": None, "control_sd": None}) if r.method == "gemma-lora:base"
        else r
        for r in records
    ]
    rows = leaderboard_rows(records)
    gemma_base = _line(details_markdown(rows), "gemma-lora:base")
    assert "| 9.50 | — | — | — |" in gemma_base
    assert leaderboard_chart_png(rows).startswith(PNG_MAGIC)


def test_json_has_exactly_the_documented_keys_and_nulls() -> None:
    methods = {
        **METHODS,
        "baseline:copy-source": (
            "baseline", 0.1, 5.0, 100.0, None, None, None, None, None, None, None, None, ("source-script",)
        ),
    }
    objects = json.loads(json.dumps(leaderboard_json(leaderboard_rows(_records(methods)))))
    assert len(objects) == 5
    keys = ["execution", "method", "kind", "chrf", "bleu", "ter", "segments", "p_vs_base", "control_chrf",
            "control_chrf_sd", "meaning_margin", "meaning_gain", "meaning_gain_p", "flags", "meteor", "meteor_margin",
            "replicate", "replicates", "chrf_mean", "chrf_sd", "meaning_margin_mean", "meaning_margin_sd",
            "meaning_gain_mean", "gain_exceeds_seed_spread"]
    assert all(list(o) == keys for o in objects)
    by_method = {o["method"]: o for o in objects}
    assert by_method["nllb-lora:fine-tuned"] == {
        "execution": "nllb-lora", "method": "nllb-lora:fine-tuned", "kind": "fine_tuned", "chrf": 53.48,
        "bleu": 27.91, "ter": 58.25, "segments": 312, "p_vs_base": 0.0123, "control_chrf": 31.0,
        "control_chrf_sd": 0.5, "meaning_margin": 22.48, "meaning_gain": 4.36, "meaning_gain_p": 0.004, "flags": [],
        "meteor": None, "meteor_margin": None,  # not scored in these records
        "replicate": None, "replicates": None, "chrf_mean": None, "chrf_sd": None, "meaning_margin_mean": None,
        "meaning_margin_sd": None, "meaning_gain_mean": None, "gain_exceeds_seed_spread": None,  # one replicate
    }
    floor = by_method["baseline:copy-source"]
    assert floor["kind"] == "baseline" and floor["flags"] == ["source-script"]
    assert [floor[k] for k in ("p_vs_base", "control_chrf", "control_chrf_sd", "meaning_margin", "meaning_gain",
                               "meaning_gain_p")] == [None] * 6


def test_chart_is_a_png_and_the_report_embeds_it() -> None:
    rows = leaderboard_rows(_records())
    png = leaderboard_chart_png(rows)
    assert png.startswith(PNG_MAGIC)
    assert len(png) > 5000
    report = leaderboard_report(rows)
    assert report.startswith(leaderboard_markdown(rows))
    [encoded] = re.findall(r"!\[leaderboard chart\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", report)
    assert base64.b64decode(encoded) == png
    assert best_floor(rows) is None


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ([], "no scores yet"),
        (_records() + _records()[:1], "nllb-lora:base has two BLEU scores"),
        (
            [r if r.metric is not Metric.TER else LeaderboardRecord(**{**r.__dict__, "segments": 7}) for r in _records()],
            r"different segment counts \[7, 312\]",
        ),
        (
            _records() + [LeaderboardRecord(**{**r.__dict__, "method": "nllb-lora:base2"})
                          for r in _records() if r.method == "nllb-lora:base"],
            "nllb-lora: two base methods, nllb-lora:base and nllb-lora:base2",
        ),
    ],
)
def test_inconsistent_records_raise(records: list[LeaderboardRecord], reason: str) -> None:
    with pytest.raises(EvaluationError, match=reason):
        leaderboard_rows(records)


def _replicates(margins: tuple[float, ...]) -> list[LeaderboardRecord]:
    """gemma-lora's base and one fine-tuned replicate per margin (chrF++ = control 29 + margin)."""
    base = METHODS["gemma-lora:base"]
    methods = {"gemma-lora:base": base}
    for k, margin in enumerate(margins, 1):
        name = "gemma-lora:fine-tuned" + ("" if k == 1 else f"-r{k}")
        gain = margin - base[9]
        methods[name] = ("fine_tuned", 15.0, 29.0 + margin, 80.0, 0.001, 0.002, 95.0, 29.0, 0.6, margin, gain, 0.01, ())
    return [
        LeaderboardRecord(**{**r.__dict__, "replicate": int(r.method.rpartition("-r")[2]) if "-r" in r.method else 1})
        if r.method_kind == "fine_tuned" else r
        for r in _records(methods)
    ]


@pytest.mark.parametrize(
    ("margins", "exceeds"),
    [
        ((11.66, 12.10, 11.20), True),  # mean gain 5.58 over a margin sd of 0.45
        ((6.50, 9.00, 4.00), False),  # mean gain 0.43 within a margin sd of 2.50: a seed could do it
        ((6.00, 6.14), False),  # mean gain 0.00 (margins 6.00 and 6.14 around the base's 6.07)
    ],
)
def test_replicates_show_mean_and_sd_and_claim_only_beyond_the_seed_spread(
    margins: tuple[float, ...], exceeds: bool
) -> None:
    import statistics

    rows = leaderboard_rows(_replicates(margins))
    tuned = [row for row in rows if row.method_kind == "fine_tuned"]
    assert len(tuned) == len(margins) and {row.replicate for row in tuned} == set(range(1, len(margins) + 1))
    spread = tuned[0].seed_spread
    assert spread is not None and all(row.seed_spread == spread for row in tuned)
    assert spread.replicates == len(margins)
    assert spread.margin_mean == pytest.approx(statistics.fmean(margins))
    assert spread.margin_sd == pytest.approx(statistics.stdev(margins))
    assert spread.chrf_sd == pytest.approx(statistics.stdev(margins))
    assert spread.gain_mean == pytest.approx(statistics.fmean(margins) - 6.07)
    assert spread.exceeds is exceeds
    assert all(("within-seed-spread" in row.flags) is (not exceeds) for row in tuned)
    base = next(row for row in rows if row.method_kind == "base")
    assert base.seed_spread is None and "within-seed-spread" not in base.flags
    table = leaderboard_markdown(rows)
    line = _line(table, f"gemma-lora ×{len(margins)}")
    mean, sd = statistics.fmean(margins), statistics.stdev(margins)
    assert f"| {mean:.2f} ± {sd:.2f} |" in line and line.endswith(f"| {'yes' if exceeds else 'no'} | gemma-lora |")
    objects = leaderboard_json(rows)
    tuned_json = [o for o in objects if o["kind"] == "fine_tuned"]
    assert {o["replicates"] for o in tuned_json} == {len(margins)}
    assert {o["gain_exceeds_seed_spread"] for o in tuned_json} == {exceeds}
    assert sorted(o["replicate"] for o in tuned_json) == list(range(1, len(margins) + 1))


def test_one_replicate_has_no_spread_table() -> None:
    rows = leaderboard_rows(_records())
    assert all(row.seed_spread is None for row in rows)
    assert "fine-tuned replicates" not in leaderboard_markdown(rows)
