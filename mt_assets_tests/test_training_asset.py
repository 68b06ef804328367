"""`fine_tuned_model` end to end on a Postgres-backed Dagster instance with a tiny model:
a run killed after its first checkpoint leaves a `failed` row, the next materialization
resumes from that checkpoint, registers the adapter, and the adapter reloads and generates."""

import signal
import threading
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest
import torch
from peft import PeftModel
from sqlalchemy import create_engine, text
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, GenerationConfig

from mt_assets.assets.training import fine_tuned_model
from mt_assets.db import urls
from mt_assets.launchers.local import LocalLauncher
from mt_assets.models.artefacts import directory_sha256
from mt_assets.resources import DatabaseResource
from mt_assets_tests.tiny_models import tiny_m2m100
from mt_assets_tests.training_support import seed_config

CONFIG = "tiny-nllb-lora-ar-en"


SETTINGS = {
    "task": "seq2seq",
    "languages": {"source": "arb_Arab", "target": "eng_Latn"},
    "training_args": {
        "max_steps": 30,
        "save_steps": 2,
        "logging_steps": 1,
        "per_device_train_batch_size": 2,
    },
    # the modules the trainer picks for m2m_100 when none are set; a stored config must name them
    "lora_config": {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "out_proj"]},
}


def _seed(db_url: str, model_dir: Path) -> None:
    seed_config(db_url, CONFIG, model_dir, SETTINGS, n=30)


def _kill_training_after_first_checkpoint(home: Path, engine, done: threading.Event, seen: list[int]) -> None:
    """Kill the training process once a checkpoint exists and log rows have reached the
    database: rows present while it still runs show they land as they happen."""
    while not done.is_set():
        checkpointed = list(home.glob(f"adapters/{CONFIG}/*/checkpoint-*/trainer_state.json"))
        with engine.connect() as conn:
            rows = conn.execute(text("select count(*) from llm.training_logs")).scalar_one()
        if checkpointed and rows:
            seen.append(rows)
            for child in psutil.Process().children(recursive=True):
                if "mt_assets.training" in " ".join(child.cmdline()):
                    child.send_signal(signal.SIGKILL)
            return
        time.sleep(0.02)


def test_fine_tuned_model_trains_registers_and_resumes(pg_dagster_instance, mt_env, db_url, tmp_path):
    model_dir = tiny_m2m100(tmp_path / "tiny-m2m")
    _seed(db_url, model_dir)
    pg_dagster_instance.add_dynamic_partitions("tuning_configs", [CONFIG])
    resources = {"database": DatabaseResource(url=db_url), "launcher": LocalLauncher(poll_seconds=0.1)}
    home = Path(mt_env["MT_HOME"])
    engine = create_engine(urls.sqlalchemy(db_url))
    with engine.begin() as conn:  # as left by a Dagster process killed mid-training
        conn.execute(
            text(
                "insert into llm.fine_tuned_models (tuning_config_id, status) "
                "select id, 'running' from llm.tuning_configs"
            )
        )

    done = threading.Event()
    seen: list[int] = []
    killer = threading.Thread(target=_kill_training_after_first_checkpoint, args=(home, engine, done, seen))
    killer.start()
    first = dg.materialize(
        [fine_tuned_model],
        instance=pg_dagster_instance,
        resources=resources,
        partition_key=CONFIG,
        raise_on_error=False,
    )
    done.set()
    killer.join()
    assert not first.success
    assert seen and seen[0] > 0

    with engine.connect() as conn:
        stale, failed = conn.execute(
            text("select id, status, error from llm.fine_tuned_models order by id")
        ).all()
    assert stale.status == "failed" and "interrupted" in stale.error
    assert failed.status == "failed" and "exit status" in failed.error

    second = dg.materialize(
        [fine_tuned_model], instance=pg_dagster_instance, resources=resources, partition_key=CONFIG
    )
    assert second.success
    metadata = second.asset_materializations_for_node("fine_tuned_model")[0].metadata
    resumed_from = metadata["resumed_from"].value
    checkpoint_step = int(resumed_from.rsplit("checkpoint-", 1)[1])

    with engine.connect() as conn:
        models = conn.execute(
            text(
                "select id, status, pretrained_model_dir_path, artefact_sha256, metrics, library_versions "
                "from llm.fine_tuned_models order by id"
            )
        ).all()
        steps = (
            conn.execute(
                text(
                    "select step from llm.training_logs where fine_tuned_model_id = :id "
                    "and logs->>'loss' is not null order by id"
                ),
                {"id": models[2].id},
            )
            .scalars()
            .all()
        )
        eval_logs = conn.execute(
            text(
                "select count(*) from llm.training_logs where fine_tuned_model_id = :id "
                "and logs->>'eval_loss' is not null"
            ),
            {"id": models[2].id},
        ).scalar_one()
    assert [m.status for m in models] == ["failed", "failed", "succeeded"]
    model = models[2]
    assert steps == list(range(checkpoint_step + 1, 31))
    assert eval_logs > 0
    adapter = Path(model.pretrained_model_dir_path)
    assert adapter.is_relative_to(home / "adapters" / CONFIG)
    assert directory_sha256(adapter)[1] == model.artefact_sha256
    assert model.metrics["global_step"] == 30 and model.metrics["trainable_params"] > 0
    assert "transformers" in model.library_versions
    assert metadata["loss_curve"].value.records

    # the pipes log lines reached the run's event log as they happened
    logs = [e.user_message for e in pg_dagster_instance.all_logs(second.run_id)]
    assert any('"event": "log"' in m for m in logs)

    tok = AutoTokenizer.from_pretrained(adapter, src_lang="arb_Arab")
    reloaded = PeftModel.from_pretrained(AutoModelForSeq2SeqLM.from_pretrained(model_dir), adapter).eval()
    with torch.no_grad():
        out = reloaded.generate(
            **tok(["الله النور"], return_tensors="pt"),
            generation_config=GenerationConfig.from_pretrained(adapter),
            max_new_tokens=4,
        )
    assert out[0, 1].item() == tok.convert_tokens_to_ids("eng_Latn")

    # same config, same rows: re-materializing reuses the registered model, trains nothing
    third = dg.materialize(
        [fine_tuned_model], instance=pg_dagster_instance, resources=resources, partition_key=CONFIG
    )
    assert third.asset_materializations_for_node("fine_tuned_model")[0].metadata["reused"].value is True
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from llm.fine_tuned_models")).scalar_one() == 3
    engine.dispose()


def test_missing_model_fails_before_export_or_registration(pg_dagster_instance, mt_env, db_url, tmp_path):
    _seed(db_url, tmp_path / "no-such-model")
    pg_dagster_instance.add_dynamic_partitions("tuning_configs", [CONFIG])
    resources = {"database": DatabaseResource(url=db_url), "launcher": LocalLauncher()}
    with pytest.raises(Exception, match="no such directory"):
        dg.materialize(
            [fine_tuned_model], instance=pg_dagster_instance, resources=resources, partition_key=CONFIG
        )
    engine = create_engine(urls.sqlalchemy(db_url))
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from llm.fine_tuned_models")).scalar_one() == 0
    engine.dispose()
    assert not (Path(mt_env["MT_HOME"]) / "jobs").exists()
