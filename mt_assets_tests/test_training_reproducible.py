"""One config trained twice from scratch on one machine gives the same adapter, byte for byte
(the checksum the registry records), and each model records what it was trained on."""

import shutil
from pathlib import Path

import dagster as dg
import torch
from sqlalchemy import create_engine, text

from mt_assets.assets.training import fine_tuned_model
from mt_assets.db import urls
from mt_assets.launchers.local import LocalLauncher
from mt_assets.resources import DatabaseResource
from mt_assets_tests.tiny_models import TEMPLATE, tiny_llama
from mt_assets_tests.training_support import seed_config

CONFIG = "tiny-llama-twice"
SETTINGS = {
    "training_args": {
        "max_steps": 3,
        "logging_steps": 1,
        "per_device_train_batch_size": 4,
        "save_steps": 100,
        "eval_strategy": "no",
        "seed": 7,
    },
    # dropout draws random numbers every step; four modules make PEFT's set of them order by hash seed
    "lora_config": {
        "r": 4,
        "lora_alpha": 8,
        "lora_dropout": 0.1,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
    },
}


def test_training_a_config_twice_from_scratch_gives_the_same_adapter(
    pg_dagster_instance, mt_env, db_url, tmp_path
):
    seed_config(db_url, CONFIG, tiny_llama(tmp_path / "llama"), SETTINGS, template=TEMPLATE)
    pg_dagster_instance.add_dynamic_partitions("tuning_configs", [CONFIG])
    resources = {"database": DatabaseResource(url=db_url), "launcher": LocalLauncher(poll_seconds=0.1)}
    for _ in range(2):
        dg.materialize([fine_tuned_model], instance=pg_dagster_instance, resources=resources, partition_key=CONFIG)
        # from scratch next time: no artefact to reuse, no checkpoint to resume from
        shutil.rmtree(Path(mt_env["MT_HOME"]) / "adapters" / CONFIG)

    engine = create_engine(urls.sqlalchemy(db_url))
    with engine.connect() as conn:
        first, second = conn.execute(
            text(
                "select status, artefact_sha256, metrics, environment from llm.fine_tuned_models order by id"
            )
        ).all()
    engine.dispose()
    assert first.status == second.status == "succeeded"
    assert first.metrics["resumed_from"] is None and second.metrics["resumed_from"] is None
    assert first.artefact_sha256 == second.artefact_sha256
    environment = second.environment
    assert environment["seed"] == environment["data_seed"] == 7
    assert environment["torch_threads"] == torch.get_num_threads()  # the training process inherits ours
    assert environment["cpu"] and environment["cpu_count"] >= 1
    assert environment["gpu"] is None if not torch.cuda.is_available() else environment["gpu"]["devices"]
