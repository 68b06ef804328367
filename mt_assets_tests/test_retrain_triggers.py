"""What triggers what, end to end on a Postgres-backed Dagster instance with a tiny NLLB-style
model trained for two steps: a generation-only edit keeps the model and re-translates and
re-scores; a model-setting edit retrains; a re-split after a new edition version unbinds the
model: `translations` refuses it with the command that retrains it, the leaderboard leaves its
scores out, and `fine_tuned_model` trains again instead of reusing it."""

from pathlib import Path

import dagster as dg
import torch

from mt_assets.assets.evaluation import evaluation, leaderboard
from mt_assets.assets.training import fine_tuned_model, model_bound_to_split
from mt_assets.assets.translation import translations
from mt_assets.assets.tuning import tuning_configs, tuning_dataset_distribution
from mt_assets.db.connection import connect
from mt_assets.launchers.local import LocalLauncher
from mt_assets.resources import DatabaseResource
from mt_assets_tests.tiny_models import rows, tiny_m2m100

CONFIG = "tiny-bound"
YAML = """\
name: {name}
llm_model: {model}
tuning_methodology: lora
data: {{editions: [tiny-ar-en], source_languages: [ar], test_size: 0.3, validation_size: 0.05, seed: 13}}
llm_tuning_configs:
  languages: {{source: arb_Arab, target: eng_Latn}}
  training_args: {{max_steps: 2, save_steps: 2, logging_steps: 1, per_device_train_batch_size: 4, eval_strategy: "no"}}
  lora_config: {{r: {r}, lora_alpha: 8, target_modules: [q_proj, v_proj]}}
  generation: {{num_beams: 1, max_new_tokens: {max_new_tokens}}}
"""


def _load_version(db_url: str, version: int, n: int) -> None:
    """Edition tiny-ar-en, version `version`: the same texts as new dataset rows, as a reloaded
    file gives them, so a re-split assigns other row ids."""
    with connect(db_url, autocommit=True) as conn:
        edition = conn.execute(
            "insert into llm.dataset_editions (name, version, source_language, target_language, file_sha256) "
            "values ('tiny-ar-en', %s, 'ar', 'en', %s) returning id",
            (version, f"sha-v{version}"),
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


def _scores(db_url: str) -> dict[str, set[int]]:
    """method kind -> ids of its llm.evaluation rows"""
    with connect(db_url) as conn:
        found = conn.execute(
            "select m.kind, ev.id from llm.evaluation ev join llm.translation_method m "
            "on m.id = ev.translation_method_id"
        ).fetchall()
    out: dict[str, set[int]] = {}
    for kind, score_id in found:
        out.setdefault(kind, set()).add(score_id)
    return out


def test_generation_edit_retranslates_model_edit_retrains_resplit_unbinds(
    pg_dagster_instance, mt_env, db_url, tmp_path
):
    torch.manual_seed(1)  # as test_evaluation_assets: this seed's untrained outputs are not empty
    model_dir = tiny_m2m100(tmp_path / "tiny-m2m")
    config_file = Path(mt_env["MT_CONFIG_DIR"], f"{CONFIG}.yaml")
    resources = {"database": DatabaseResource(url=db_url), "launcher": LocalLauncher(poll_seconds=0.1)}

    def write(max_new_tokens: int = 6, r: int = 4) -> None:
        config_file.write_text(YAML.format(name=CONFIG, model=model_dir, r=r, max_new_tokens=max_new_tokens))

    def run(assets, partition=CONFIG, **kwargs):
        return dg.materialize(
            assets, instance=pg_dagster_instance, resources=resources, partition_key=partition, **kwargs
        )

    def bound() -> dg.AssetCheckEvaluation:
        # As the UI's "execute check" for one partition (see test_tuning_assets' `check`).
        job = dg.define_asset_job("bound_check", selection=dg.AssetSelection.checks(model_bound_to_split))
        defs = dg.Definitions(
            assets=[fine_tuned_model], asset_checks=[model_bound_to_split], jobs=[job], resources=resources
        )
        result = defs.resolve_job_def("bound_check").execute_in_process(
            instance=pg_dagster_instance, tags={"dagster/partition": CONFIG}
        )
        [check] = result.get_asset_check_evaluations()
        return check

    def configs_and_split() -> str:
        configs = _metadata(run([tuning_configs], partition=None), "tuning_configs")["configs"]
        run([tuning_dataset_distribution])
        return configs

    _load_version(db_url, 1, 48)
    write()
    configs_and_split()
    first_model = _metadata(run([fine_tuned_model]), "fine_tuned_model")["fine_tuned_model_id"]
    run([translations, evaluation])
    before = _scores(db_url)
    assert set(before) == {"base", "fine_tuned", "baseline"}

    # Generation only: the same model, every model output generated again, every score of the
    # models new; the floors (no model, no generation settings) keep their outputs and scores.
    write(max_new_tokens=5)
    assert "changed (generation only" in configs_and_split()
    kept = _metadata(run([fine_tuned_model]), "fine_tuned_model")
    assert kept["reused"] is True and kept["fine_tuned_model_id"] == first_model
    redone = _metadata(run([translations, evaluation]), "translations")
    with connect(db_url) as conn:
        tests = conn.execute(
            "select count(*) from llm.tuning_dataset_distribution where split = 'test'"
        ).fetchone()[0]
        linked = conn.execute(
            "select fine_tuned_models_id, generation_config->>'max_new_tokens' from llm.translation_method "
            "where kind = 'fine_tuned'"
        ).fetchone()
    assert redone["translated_now"] == 2 * tests and linked == (first_model, "5")
    after = _scores(db_url)
    assert set(after) == set(before) and all(after[k] and not after[k] & before[k] for k in ("base", "fine_tuned"))
    assert after["baseline"] == before["baseline"]

    # A LoRA setting: a new model.
    write(max_new_tokens=5, r=2)
    assert "changed (model settings" in configs_and_split()
    retrained = _metadata(run([fine_tuned_model]), "fine_tuned_model")
    second_model = retrained["fine_tuned_model_id"]
    assert "reused" not in retrained and second_model > first_model
    assert bound().passed

    # A new edition version, re-split. The split refuses to move rows that translations
    # reference, so the old outputs are cleared first, as a user would; their scores stay.
    with connect(db_url, autocommit=True) as conn:
        conn.execute("delete from llm.translation")
    _load_version(db_url, 2, 48)
    resplit = _metadata(run([tuning_dataset_distribution]), "tuning_dataset_distribution")
    assert resplit["outcome"] == "replaced"

    unbound = bound()
    assert not unbound.passed and "Retrain it" in unbound.description
    refused = run([translations], raise_on_error=False)
    assert not refused.success
    [failure] = [e for e in refused.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert f"fine_tuned_models.id {second_model} was trained on split" in message
    assert f"--select fine_tuned_model --partition {CONFIG}" in message
    with connect(db_url) as conn:
        assert conn.execute("select count(*) from llm.translation").fetchone()[0] == 0

    board = dg.materialize([leaderboard], instance=pg_dagster_instance, resources=resources)
    shown = _metadata(board, "leaderboard")
    assert f"| {CONFIG}:base |" in shown["leaderboard"]
    assert f"{CONFIG}:fine-tuned" not in shown["leaderboard"]
    # the scores are the first model's: the method was not translated with the second one
    assert f"{CONFIG} / {CONFIG}:fine-tuned: fine_tuned_models.id {first_model}" in shown["hidden"]

    # Training again: a new model, bound to the new split.
    rebound = _metadata(run([fine_tuned_model]), "fine_tuned_model")
    assert "reused" not in rebound and rebound["fine_tuned_model_id"] > second_model
    assert rebound["split_sha256"] != retrained["split_sha256"]
    assert bound().passed
