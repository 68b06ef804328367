"""The library classes `llm_tuning_configs` sections are given to, and which of their keys depend
on the host. Shared by the config check where configs are validated (`mt_assets.tuning.libraries`,
the Dagster host) and the trainer (the training host), so both agree on the same names.

Host-dependent keys (precision, distributed set-up) are checked by name and type where configs are
validated, but constructed only where training runs, so a CPU laptop can validate a GPU config.
There `adapt_to_host` decides before the model loads: a precision key a CPU-only host cannot honour
is dropped with a warning naming the key; a GPU that lacks the precision asked for refuses with the
reason rather than silently changing numerics. The mixed-precision mode itself (TrainingArguments
fp16/bf16) is not a config key any more: it comes from `llm_tuning_configs.precision`, resolved by
`mt_assets.models.precision` and set by the trainer; this module is left with tf32 and `*_full_eval`.

Nothing heavy is imported at module level: torch and transformers load only when a function needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mt_assets.models.precision import HostInfo

# training_args keys that are ours, not TrainingArguments' (with their defaults).
OWN_ARGS: dict[str, Any] = {"max_length": 256}
# What the trainer uses where a config says nothing.
DEFAULT_ARGS: dict[str, Any] = {
    "logging_steps": 10,
    "save_steps": 50,
    "save_total_limit": 2,
    "train_sampling_strategy": "group_by_length",
    "disable_tqdm": True,
}
# Mixed precision: what the hardware of the training host can do.
# (fp16 and bf16 themselves are `llm_tuning_configs.precision`, models/precision.py; refused here.)
PRECISION_KEYS = ("fp16_full_eval", "bf16_full_eval", "tf32")
# Distributed set-up: needs the training host's processes or packages (deepspeed) to construct.
DEVICE_KEYS = ("ddp_backend", "deepspeed", "fsdp", "fsdp_config")
HOST_KEYS = PRECISION_KEYS + DEVICE_KEYS


class HostError(ValueError):
    """This host cannot honour a setting of the job; the message says which and what to do."""


def training_arguments_class(kind: str) -> type:
    """Seq2SeqTrainingArguments (its generation keys included) for seq2seq models, TrainingArguments otherwise."""
    from transformers import Seq2SeqTrainingArguments, TrainingArguments

    return Seq2SeqTrainingArguments if kind == "seq2seq" else TrainingArguments


def merged(training_args: Mapping[str, Any], has_validation: bool, **overrides: Any) -> dict[str, Any]:
    """The config's TrainingArguments keys over our defaults (`fixed_arguments` still to add)."""
    args = {
        **DEFAULT_ARGS,
        **{k: v for k, v in training_args.items() if k not in OWN_ARGS},
        **overrides,
    }
    if has_validation:
        args.setdefault("eval_strategy", "steps")
        args.setdefault("eval_steps", args["save_steps"])
    return args


def fixed_arguments(output_dir: Path | str, cuda: bool) -> dict[str, Any]:
    """What the trainer always sets itself: a config setting one of these keys is an error."""
    return {
        "output_dir": str(output_dir),
        "report_to": [],  # events go through our callback, never to a third-party tracker
        "use_cpu": not cuda,
        "label_names": ["labels"],  # PEFT wrappers hide the signature Trainer infers it from
    }


def adapt_to_host(training_args: Mapping[str, Any], host: HostInfo) -> tuple[dict[str, Any], list[str]]:
    """(training_args this host can honour, a warning per key dropped); HostError for a GPU that
    lacks the precision asked for."""
    args, warnings = dict(training_args), []
    asked = [key for key in PRECISION_KEYS if args.get(key)]
    if not host.cuda:
        for key in asked:
            del args[key]
            warnings.append(
                f"llm_tuning_configs.training_args.{key}: true needs a CUDA GPU and this host has none; "
                f"dropped here (remove {key} to silence this)"
            )
        return args, warnings
    for key, supported in (("bf16_full_eval", host.ampere), ("tf32", host.ampere)):
        if key in asked and not supported:
            raise HostError(
                f"llm_tuning_configs.training_args.{key}: true is not supported by this GPU ({host.device}, "
                "needs Ampere or newer); remove it (fp16_full_eval is the evaluation precision older GPUs have)"
            )
    return args, warnings
