"""One training job, start to finish: resolve the job's precision on this host, resolve the model,
encode the rows, train with dynamic padding and length-grouped batches, checkpoint and resume, save
the artefact and `result.json`.

Precision (`mt_assets.models.precision`): resolved here, before anything loads (a host that cannot
run it refuses), announced in a `precision` event and the `start` event, and recorded in the result's
`environment`. Weights load in fp32 and Trainer's autocast computes in the resolved dtype
(TrainingArguments bf16/fp16, set here and nowhere else), so LoRA weights and optimizer state stay fp32."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from transformers import (
    DataCollatorForSeq2Seq,
    PrinterCallback,
    Trainer,
    TrainerState,
    TrainingArguments,
    enable_full_determinism,
    set_seed,
)

from mt_assets.models import codes, sources
from mt_assets.models import precision as precisions
from mt_assets.models.artefacts import directory_sha256
from mt_assets.models.config import position_limit
from mt_assets.models.kind import Kind, model_kind
from mt_assets.models.loading import load_tokenizer
from mt_assets.training import arguments, checkpoints, data, environment, finite, target_loss
from mt_assets.training import model as modeling
from mt_assets.training.errors import TrainingError
from mt_assets.training.events import EventCallback, Reporter, TokenCounter
from mt_assets.training.spec import FINAL_DIR, RESULT_FILE, TrainingJob, TrainingResult

TRAINING_INFO = "mt_training.json"


@dataclass
class Prepared:
    job: TrainingJob
    model_dir: Path
    task: Kind
    tokenizer: Any
    model: Any
    train: list[data.Example]
    validation: list[data.Example] | None
    forced_bos_token_id: int | None
    max_length: int
    precision: precisions.Resolved


def prepare(job: TrainingJob, reporter: Reporter) -> Prepared:
    """Everything before the first step; the bench shares it so both runs see the same data."""
    modeling.require_cuda_for_qlora(job.tuning_methodology)
    host = precisions.HostInfo.detect()
    resolved = resolve_precision(job, host)
    reporter.emit({"event": "precision", "message": resolved.line(), **resolved.record()})
    for warning in arguments.adapt_to_host(job.training_args, host)[1]:
        reporter.emit({"event": "warning", "message": warning})
    own = {key: job.training_args.get(key, default) for key, default in arguments.OWN_ARGS.items()}
    model_dir = sources.resolve(job.llm_model, job.models_cache_dir)
    task = model_kind(model_dir, job.task).kind
    limit = position_limit(model_dir)
    if limit is not None and own["max_length"] > limit:
        # Beyond it a model with learned positions has no embedding for the token (an index error
        # deep in its forward) and one with rotary positions runs outside what it was trained on.
        reporter.emit({"event": "warning", "message": (
            f"training_args.max_length {own['max_length']} is more than the model's "
            f"max_position_embeddings {limit}: sequences are truncated to {limit} tokens")})
        own["max_length"] = limit
    if task == "causal" and not job.prompt_template:
        raise TrainingError(
            "a decoder LLM needs training_prompt_template (the prompt the translation follows)"
        )
    # What the installed transformers (or this host) refuses fails here, before the model loads.
    training_arguments(job, job.validation_file is not None, task)
    tokenizer = load_tokenizer(model_dir)
    train_rows = data.read_rows(job.train_file)
    validation_rows = data.read_rows(job.validation_file) if job.validation_file else None

    def skipped(row: dict[str, Any], reason: str) -> None:
        reporter.emit({"event": "skipped", "dataset_id": row.get("dataset_id"), "reason": reason})

    def encode(rows: list[dict[str, Any]]) -> list[data.Example]:
        if task == "seq2seq":
            return data.encode_seq2seq(
                rows, tokenizer, job.source_language_code, job.target_language_code, own["max_length"]
            )
        return data.encode_causal(rows, tokenizer, job.prompt_template or "", own["max_length"], skipped)

    train = encode(train_rows)
    validation = encode(validation_rows) if validation_rows else None
    # PEFT draws LoRA's initial weights when it wraps the model, before Trainer seeds anything, and
    # torch starts every process from a random seed: seeded here, one config trains one adapter.
    seed_random(job)
    model = modeling.load_model(
        model_dir, task, job.tuning_methodology, job.lora_config, job.llm_model, resolved.precision
    )
    forced_bos = None
    if task == "seq2seq" and codes.has_language_codes(tokenizer):
        targets = {
            codes.model_codes(r, job.source_language_code, job.target_language_code)[1] for r in train_rows
        }
        if len(targets) == 1:
            forced_bos = codes.language_code(tokenizer, targets.pop())
            # generate() must start every translation with the target language's code
            model.generation_config.forced_bos_token_id = forced_bos
    return Prepared(
        job, model_dir, task, tokenizer, model, train, validation, forced_bos, own["max_length"], resolved
    )


def resolve_precision(job: TrainingJob, host: precisions.HostInfo | None = None) -> precisions.Resolved:
    """The job's precision on this host; PrecisionError (reported) where it cannot run, and a
    TrainingError for a job file that still sets TrainingArguments' own fp16/bf16 keys."""
    for key in precisions.TRAINING_ARGS_KEYS:
        if key in job.training_args:
            raise TrainingError(
                f"llm_tuning_configs.training_args.{key}: precision is set in one place now: "
                f"use llm_tuning_configs.precision: {key} instead"
            )
    return precisions.resolve(job.precision, host or precisions.HostInfo.detect())


def training_arguments(
    job: TrainingJob, has_validation: bool, task: Kind = "causal", **overrides: Any
) -> TrainingArguments:
    """Seq2SeqTrainingArguments for seq2seq models; precision this host cannot honour is dropped
    (`prepare` has emitted a warning for each)."""
    host = precisions.HostInfo.detect()
    honoured, _ = arguments.adapt_to_host(job.training_args, host)
    args = arguments.merged(honoured, has_validation, **overrides)
    args.update(arguments.fixed_arguments(job.output_dir, host.cuda))
    resolved = resolve_precision(job, host).precision
    # Trainer's autocast (CPU autocast with use_cpu) in the resolved dtype; the weights stay fp32.
    args.update(bf16=resolved == "bf16", fp16=resolved == "fp16")
    try:
        return arguments.training_arguments_class(task)(**args)
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"llm_tuning_configs.training_args: {exc}") from None


def seed_random(job: TrainingJob) -> None:
    """Seed python, numpy and torch as Trainer does (`full_determinism` included)."""
    if job.training_args.get("full_determinism"):
        enable_full_determinism(job.seed)
    else:
        set_seed(job.seed)


class CountingTrainer(Trainer):
    """Counts real tokens (not padding) so tokens/s measures useful work, and stops at the first
    step whose loss or gradient norm is NaN or inf (`finite.check_step`)."""

    def __init__(self, *args: Any, tokens: TokenCounter, seq2seq: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tokens = tokens
        self._seq2seq = seq2seq

    def training_step(self, model, inputs, num_items_in_batch=None):
        n = int(inputs["attention_mask"].sum())
        if self._seq2seq:
            n += int((inputs["labels"] != data.IGNORE_INDEX).sum())
        self._tokens.total += n
        loss = super().training_step(model, inputs, num_items_in_batch)
        # the real value of every (micro-)step: Trainer would drop a NaN from the logged average
        finite.check_step("loss", loss, self.state.global_step + 1, self.args.learning_rate)
        return loss

    def _get_grad_norm(self, model, grad_norm=None):
        # Trainer's one place for the step's gradient norm (transformers 5), before the optimizer
        # step: a non-finite norm stops training before it turns the weights into NaN.
        grad_norm = super()._get_grad_norm(model, grad_norm)
        finite.check_step("grad_norm", grad_norm, self.state.global_step + 1, self.args.learning_rate)
        return grad_norm

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Decoder LLMs of known families: the loss from the target positions' logits only
        (`target_loss`). Anything else, evaluation (which wants the outputs) and a model wrapped for
        several processes (DDP syncs gradients in its own forward) go through Trainer's own."""
        head = None
        if not (self._seq2seq or return_outputs or self.label_smoother or self.compute_loss_func) and "labels" in inputs:
            if self.accelerator.unwrap_model(model) is model:
                head = target_loss.head_of(model)
        if head is None:
            out = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            loss = out[0] if return_outputs else out
            if torch.is_grad_enabled() and model.training and not loss.requires_grad:
                raise TrainingError(_no_trainable_path(self.accelerator.unwrap_model(model), self.state.global_step + 1))
            return out
        # As Trainer: the count of target tokens is used only for a model whose loss accepts it.
        items = num_items_in_batch if self.model_accepts_loss_kwargs else None
        # accelerate applies mixed precision by wrapping the model's forward, which this path
        # bypasses (it calls the decoder and the head itself): the same autocast, entered here.
        with self.accelerator.autocast():
            loss = target_loss.target_loss(head, inputs, items)
        if self.args.average_tokens_across_devices and items is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        return loss


def _no_trainable_path(model: Any, step: int) -> str:
    """Why a training loss has no gradient: on an encoder-decoder with LayerDrop (M2M100's config
    default is 0.05), a step that skips every layer holding a LoRA weight."""
    config = getattr(model, "config", None)
    drops = {k: getattr(config, k, 0) for k in ("encoder_layerdrop", "decoder_layerdrop", "layerdrop")}
    drops = {k: v for k, v in drops.items() if v}
    hint = (
        f"the model's config has LayerDrop ({', '.join(f'{k}={v}' for k, v in drops.items())}), which "
        "skipped every layer with a trainable weight in this step; set it to 0 in the model's "
        "config.json (a model with few layers hits this)"
        if drops else "check lora_config.target_modules: no trainable weight took part in the loss"
    )
    return f"step {step}: the training loss depends on no trainable weight: {hint}"


def collator(prepared: Prepared, **kwargs: Any) -> DataCollatorForSeq2Seq:
    # Pads input_ids with the pad token and labels with IGNORE_INDEX, per batch.
    return DataCollatorForSeq2Seq(
        prepared.tokenizer,
        model=prepared.model if prepared.task == "seq2seq" else None,
        label_pad_token_id=data.IGNORE_INDEX,
        **kwargs,
    )


def build_trainer(
    prepared: Prepared, reporter: Reporter, tokens: TokenCounter, cls: type[CountingTrainer] = CountingTrainer
) -> CountingTrainer:
    """`cls` lets a benchmark swap one behaviour (bench/train_throughput.py --baseline full-logits)."""
    args = training_arguments(prepared.job, prepared.validation is not None, prepared.task)
    trainer = cls(
        model=prepared.model,
        args=args,
        train_dataset=prepared.train,
        eval_dataset=prepared.validation,
        data_collator=collator(prepared),
        processing_class=prepared.tokenizer,
        callbacks=[EventCallback(reporter, tokens)],
        tokens=tokens,
        seq2seq=prepared.task == "seq2seq",
    )
    trainer.remove_callback(PrinterCallback)  # stdout carries only JSON events
    return trainer


def final_eval(trainer: Trainer) -> dict[str, Any]:
    """Validation metrics at the last step, evaluating only if the schedule did not just do it."""
    step = trainer.state.global_step
    for entry in reversed(trainer.state.log_history):
        if "eval_loss" in entry and entry.get("step") == step:
            return {k: v for k, v in entry.items() if k.startswith("eval_")}
    return trainer.evaluate()


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def run(job: TrainingJob, reporter: Reporter) -> TrainingResult:
    """Train, save `final/` and `result.json`; resumes from the newest complete checkpoint."""
    modeling.require_cuda_for_qlora(job.tuning_methodology)
    with checkpoints.claim(job.output_dir, job):
        return _train(job, reporter)


def _train(job: TrainingJob, reporter: Reporter) -> TrainingResult:
    started = time.perf_counter()
    resume_from = checkpoints.resume_point(job.output_dir) if job.resume == "auto" else None
    prepared = prepare(job, reporter)
    trainable, total = modeling.parameter_counts(prepared.model)
    tokens = TokenCounter()
    trainer = build_trainer(prepared, reporter, tokens)
    reporter.emit(
        {
            "event": "start",
            "job_id": job.job_id,
            "task": prepared.task,
            "tuning_methodology": job.tuning_methodology,
            "train_examples": len(prepared.train),
            "validation_examples": len(prepared.validation or []),
            "trainable_params": trainable,
            "total_params": total,
            "resume_from": str(resume_from) if resume_from else None,
            **prepared.precision.record(),
        }
    )
    try:
        if resume_from is not None and 0 < trainer.args.max_steps <= checkpoints.step_of(resume_from):
            # The job died after its last checkpoint: those are the final weights. Trainer.train would
            # take one step too many (transformers 5.24 checks max_steps only after a step).
            trainer._load_from_checkpoint(str(resume_from))
            trainer.state = TrainerState.load_from_json(str(resume_from / "trainer_state.json"))
            train_metrics: dict[str, Any] = {}
        else:
            train_metrics = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None).metrics
        # eval_strategy "no" is a choice (validation costs CPU minutes): no final evaluation either
        evaluate = prepared.validation is not None and trainer.args.eval_strategy != "no"
        eval_metrics = final_eval(trainer) if evaluate else {}
    except Exception as exc:
        if _is_oom(exc):
            raise TrainingError(
                "out of memory during training; lower per_device_train_batch_size "
                f"(currently {trainer.args.per_device_train_batch_size}) or max_length "
                f"(currently {prepared.max_length})"
            ) from exc
        raise
    final = save_final(prepared, job.output_dir / FINAL_DIR)
    runtime = train_metrics.get("train_runtime") or 0.0
    files, artefact_sha = directory_sha256(final)
    result = TrainingResult(
        job_id=job.job_id,
        task=prepared.task,
        tuning_methodology=job.tuning_methodology,
        llm_model=job.llm_model,
        base_model_dir=str(prepared.model_dir),
        artefact_dir=str(final),
        artefact_sha256=artefact_sha,
        files=files,
        trainable_params=trainable,
        total_params=total,
        global_step=trainer.state.global_step,
        resumed_from=str(resume_from) if resume_from else None,
        metrics={
            **{k: v for k, v in train_metrics.items() if isinstance(v, int | float)},
            **{k: v for k, v in eval_metrics.items() if isinstance(v, int | float)},
            "train_tokens": tokens.total,
            "tokens_per_second": tokens.total / runtime if runtime else None,
        },
        library_versions=environment.library_versions(),
        # environment lands in llm.fine_tuned_models.environment (jsonb), beside the host it describes
        environment={
            **environment.describe(job.seed, job.training_args.get("data_seed")),
            **prepared.precision.record(),
        },
        duration_seconds=time.perf_counter() - started,
    )
    result.write(job.output_dir / RESULT_FILE)
    return result


def save_final(prepared: Prepared, final: Path) -> Path:
    """The adapter (or full model) with its tokenizer and generation config, written to a
    temporary sibling and swapped in, so `final/` is always whole."""
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    _sort_peft_sets(prepared.model)
    prepared.model.save_pretrained(tmp)
    prepared.tokenizer.save_pretrained(tmp)
    prepared.model.generation_config.save_pretrained(tmp)
    job = prepared.job
    info = {
        "job_id": job.job_id,
        "llm_model": job.llm_model,
        "base_model_dir": str(prepared.model_dir),
        "task": prepared.task,
        "tuning_methodology": job.tuning_methodology,
        "prompt_template": job.prompt_template,
        "source_language_code": job.source_language_code,
        "target_language_code": job.target_language_code,
        "forced_bos_token_id": prepared.forced_bos_token_id,
    }
    (tmp / TRAINING_INFO).write_text(json.dumps(info, indent=2))
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def _sort_peft_sets(model: Any) -> None:
    """PEFT holds target_modules (and the like) as sets and writes them in hash-seed order, so the
    same adapter got a different adapter_config.json, hence checksum, each run: written sorted."""
    for config in getattr(model, "peft_config", {}).values():
        for field in fields(config):
            value = getattr(config, field.name)
            if isinstance(value, set):
                setattr(config, field.name, sorted(value, key=str))
