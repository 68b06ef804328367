"""Non-finite numbers stop training: a base model with NaN weights is refused before the first
step, a loss or gradient norm that turns NaN/inf stops the run at that step, and such a run is
registered `failed` with the reason, its adapter never offered to translation."""

from pathlib import Path

import dagster as dg
import psycopg
import pytest
import torch
from sqlalchemy import create_engine, text
from transformers import TrainerCallback

from mt_assets.assets.training import fine_tuned_model
from mt_assets.db import urls
from mt_assets.launchers.local import LocalLauncher
from mt_assets.resources import DatabaseResource
from mt_assets.training import finite, trainer
from mt_assets.training.events import TokenCounter
from mt_assets.translation.methods import FINE_TUNED, ensure_config_execution
from mt_assets_tests.tiny_models import CollectingReporter, job, plant_nan, tiny_llama, tiny_m2m100
from mt_assets_tests.training_support import seed_config

SEQ2SEQ = {
    "task": "seq2seq",
    "languages": {"source": "arb_Arab", "target": "eng_Latn"},
    # PEFT's default r and the modules the trainer picks for m2m_100: a stored config must name them
    "lora_config": {"r": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "out_proj"]},
}
ARGS = {
    "max_steps": 4,
    "logging_steps": 1,
    "per_device_train_batch_size": 2,
    "save_steps": 100,
    "eval_strategy": "no",
}


def _materialize_failing(instance, db_url: str, name: str) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions("tuning_configs", [name])
    result = dg.materialize(
        [fine_tuned_model],
        instance=instance,
        resources={"database": DatabaseResource(url=db_url), "launcher": LocalLauncher(poll_seconds=0.1)},
        partition_key=name,
        raise_on_error=False,
    )
    assert not result.success
    return result


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The failed step's error with its causes (Dagster wraps what the asset raised)."""
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


def _registered(db_url: str) -> list:
    engine = create_engine(urls.sqlalchemy(db_url))
    with engine.connect() as conn:
        models = conn.execute(
            text("select status, error, pretrained_model_dir_path from llm.fine_tuned_models order by id")
        ).all()
    engine.dispose()
    return models


def _translation_methods(db_url: str, name: str) -> list[str]:
    """The methods `translations` would run for the config."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        return [m.kind for m in ensure_config_execution(conn, name).methods]


def test_base_model_with_nan_embeddings_is_refused_and_registered_failed(
    pg_dagster_instance, mt_env, db_url, tmp_path
):
    model_dir = plant_nan(tiny_m2m100(tmp_path / "nan-m2m"), "model.shared.weight")
    seed_config(db_url, "tiny-nan-weights", model_dir, {**SEQ2SEQ, "training_args": ARGS})
    result = _materialize_failing(pg_dagster_instance, db_url, "tiny-nan-weights")

    message = _failure_message(result)
    assert f"base model {model_dir}" in message and "model.shared.weight (64 of " in message
    [model] = _registered(db_url)
    assert model.status == "failed" and model.pretrained_model_dir_path is None
    assert "non-finite weights" in model.error and "model.shared.weight" in model.error
    # refused before the first step: no log row, no checkpoint
    assert not list(Path(mt_env["MT_HOME"]).glob("adapters/tiny-nan-weights/*/checkpoint-*"))
    assert FINE_TUNED not in _translation_methods(db_url, "tiny-nan-weights")


def test_loss_diverging_mid_run_fails_the_asset_with_the_step_and_value(
    pg_dagster_instance, mt_env, db_url, tmp_path
):
    # Adam moves every LoRA weight by about the learning rate on step 1: step 2's loss is NaN.
    args = {**ARGS, "learning_rate": 1e10}
    seed_config(db_url, "tiny-diverges", tiny_m2m100(tmp_path / "m2m"), {**SEQ2SEQ, "training_args": args})
    result = _materialize_failing(pg_dagster_instance, db_url, "tiny-diverges")

    assert "training diverged at step 2: loss is nan" in _failure_message(result)
    [model] = _registered(db_url)
    assert model.status == "failed" and model.pretrained_model_dir_path is None
    assert "step 2: loss is nan" in model.error and "learning_rate (currently 1e+10)" in model.error
    engine = create_engine(urls.sqlalchemy(db_url))
    with engine.connect() as conn:
        logged = conn.execute(
            text("select step, logs->>'loss' from llm.training_logs where logs ? 'loss' order by id")
        ).all()
    engine.dispose()
    # step 1 as it was; nothing logged for the NaN step (it used to log "loss 0.0" and go on)
    assert [step for step, _ in logged] == [1] and 0 < float(logged[0][1]) < 100
    assert FINE_TUNED not in _translation_methods(db_url, "tiny-diverges")


class _AtStep(TrainerCallback):
    """Calls `plant(model)` at the end of optimizer step `step`."""

    def __init__(self, step: int, plant) -> None:
        self.step, self.plant = step, plant

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step == self.step:
            self.plant(model)


def _trainer(tmp_path: Path, model_dir: Path, reporter: CollectingReporter):
    prepared = trainer.prepare(
        job(tmp_path, model_dir, training_args={**ARGS, "max_steps": 5}), reporter
    )
    return prepared, trainer.build_trainer(prepared, reporter, TokenCounter())


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return tiny_llama(tmp_path_factory.mktemp("tiny-llama") / "model")


def test_nan_planted_in_a_weight_at_step_2_stops_training_at_step_3(llama_dir, tmp_path):
    reporter = CollectingReporter()
    prepared, run = _trainer(tmp_path, llama_dir, reporter)

    def poison(model):
        with torch.no_grad():
            next(p for n, p in model.named_parameters() if "embed_tokens" in n).fill_(float("nan"))

    run.add_callback(_AtStep(2, poison))
    with pytest.raises(finite.DivergedError, match=r"step 3: loss is nan") as caught:
        run.train()
    assert (caught.value.step, caught.value.quantity) == (3, "loss")
    assert run.state.global_step == 2
    assert [e["step"] for e in reporter.of("log")] == [1, 2]


def test_infinite_gradient_norm_stops_before_the_optimizer_step(llama_dir, tmp_path):
    reporter = CollectingReporter()
    prepared, run = _trainer(tmp_path, llama_dir, reporter)
    name, lora = next((n, p) for n, p in prepared.model.named_parameters() if "lora_B" in n)

    def blow_up_gradient(model):
        lora.register_hook(lambda grad: torch.full_like(grad, float("inf")))  # the loss stays finite

    run.add_callback(_AtStep(1, blow_up_gradient))
    with pytest.raises(finite.DivergedError, match=r"step 2: grad_norm is inf") as caught:
        run.train()
    assert caught.value.step == 2 and run.state.global_step == 1
    # the step was stopped before the optimizer applied it: every weight is still finite
    assert all(torch.isfinite(p).all() for p in prepared.model.parameters()), name
