"""`replicates: N` end to end on a Postgres-backed Dagster instance with a tiny NLLB-style model:
one partition trains N models (replicate k with training_args.seed + k - 1), each translates as its
own method, and the leaderboard shows their mean ± sd and whether the gain exceeds that spread.
Back to `replicates: 1`, the extra replicate's outputs and scores are dropped."""

import json
import statistics
from pathlib import Path

import dagster as dg
import torch

from mt_assets.assets.evaluation import evaluation, leaderboard
from mt_assets.assets.training import fine_tuned_model
from mt_assets.assets.translation import translations
from mt_assets.assets.tuning import tuning_configs, tuning_dataset_distribution
from mt_assets.cli import main as cli
from mt_assets.db.connection import connect
from mt_assets.launchers.local import LocalLauncher
from mt_assets.resources import DatabaseResource
from mt_assets.training import registry
from mt_assets_tests.test_evaluation_assets import YAML, _seed_dataset
from mt_assets_tests.tiny_models import tiny_m2m100

CONFIG = "tiny-nllb-ar-en"


def test_default_seed_is_training_arguments_own() -> None:
    from transformers import TrainingArguments

    assert registry.DEFAULT_SEED == TrainingArguments.seed
    assert registry.replicate_seed({}, 3) == TrainingArguments.seed + 2
    assert registry.replicate_seed({"seed": 13}, 1) == 13


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(asset)[0].metadata.items()}


def test_replicates_train_translate_and_show_their_seed_spread(pg_dagster_instance, mt_env, db_url, tmp_path, capsys):
    torch.manual_seed(1)  # as in test_evaluation_assets: this untrained model emits words
    model_dir = tiny_m2m100(tmp_path / "tiny-m2m")
    config_file = Path(mt_env["MT_CONFIG_DIR"], f"{CONFIG}.yaml")
    config_file.write_text(YAML.format(name=CONFIG, model=model_dir) + "replicates: 2\n")
    _seed_dataset(db_url, 48)
    resources = {"database": DatabaseResource(url=db_url), "launcher": LocalLauncher(poll_seconds=0.1)}

    def run(assets, partition=CONFIG):
        return dg.materialize(assets, instance=pg_dagster_instance, resources=resources, partition_key=partition)

    run([tuning_configs], partition=None)
    run([tuning_dataset_distribution])
    trained = _metadata(run([fine_tuned_model]), "fine_tuned_model")
    with connect(db_url) as conn:
        models = conn.execute(
            "select replicate, seed, status, artefact_sha256, metrics->>'job_id' from llm.fine_tuned_models order by id"
        ).fetchall()
    # no training_args.seed in the config: TrainingArguments' default, then the next one
    assert [(r, seed, status) for r, seed, status, *_ in models] == [(1, 42, "succeeded"), (2, 43, "succeeded")]
    assert models[0][3] != models[1][3]  # another seed, another adapter
    assert models[1][4] == models[0][4] + "-r2"
    assert [record.data["replicate"] for record in trained["replicates"].records] == [1, 2]

    run([translations, evaluation])
    with connect(db_url) as conn:
        margins = dict(
            conn.execute(
                "select m.name, ev.meaning_margin from llm.evaluation ev join llm.translation_method m "
                "on m.id = ev.translation_method_id where ev.scope = 'all' and ev.metric = 'chrf++' "
                "and m.kind = 'fine_tuned'"
            ).fetchall()
        )
    assert set(margins) == {f"{CONFIG}:fine-tuned", f"{CONFIG}:fine-tuned-r2"}

    board = _metadata(dg.materialize([leaderboard], instance=pg_dagster_instance, resources=resources), "leaderboard")
    mean, sd = statistics.fmean(margins.values()), statistics.stdev(margins.values())
    line = next(line for line in board["leaderboard"].splitlines() if line.startswith(f"| {CONFIG} ×2 |"))
    assert line.startswith(f"| {CONFIG} ×2 | {mean:.2f} ± {sd:.2f} |")
    capsys.readouterr()
    assert cli(["leaderboard", "--json"]) == 0
    tuned = [o for o in json.loads(capsys.readouterr().out) if o["kind"] == "fine_tuned"]
    assert sorted(o["replicate"] for o in tuned) == [1, 2]
    for o in tuned:
        assert o["replicates"] == 2
        assert o["meaning_margin_sd"] == sd
        assert o["gain_exceeds_seed_spread"] == (o["meaning_gain_mean"] > sd)
        assert ("within-seed-spread" in o["flags"]) == (not o["gain_exceeds_seed_spread"])

    # One replicate again: replicate 1 is reused (each replicate's reuse is the same code path),
    # replicate 2's outputs and scores go.
    config_file.write_text(YAML.format(name=CONFIG, model=model_dir))
    run([tuning_configs], partition=None)
    assert _metadata(run([fine_tuned_model]), "fine_tuned_model")["reused"] is True
    run([translations])
    with connect(db_url) as conn:
        left = conn.execute(
            "select m.name, count(t.id), (select count(*) from llm.evaluation ev where ev.translation_method_id = m.id) "
            "from llm.translation_method m left join llm.translation t on t.translation_method_id = m.id "
            "where m.kind = 'fine_tuned' group by m.id order by m.name"
        ).fetchall()
    assert left[1] == (f"{CONFIG}:fine-tuned-r2", 0, 0) and left[0][1] > 0
    board = _metadata(dg.materialize([leaderboard], instance=pg_dagster_instance, resources=resources), "leaderboard")
    assert "fine-tuned replicates" not in board["leaderboard"]
    assert f"| {CONFIG}:fine-tuned-r2 |" not in board["leaderboard"]
