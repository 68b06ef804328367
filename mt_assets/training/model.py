"""A resolved model directory made ready to train by methodology: full, lora or qlora (4-bit, CUDA
only), its weights checked finite before PEFT wraps them. Loading itself is `mt_assets.models.loading`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mt_assets.models.kind import Kind
from mt_assets.models.loading import load_pretrained
from mt_assets.models.precision import Precision, torch_dtype
from mt_assets.training.finite import require_finite_weights

# PEFT has no default LoRA targets for these architectures; its own table covers the rest.
DEFAULT_LORA_TARGETS: dict[str, list[str]] = {
    "m2m_100": ["q_proj", "k_proj", "v_proj", "out_proj"],
    "marian": ["q_proj", "k_proj", "v_proj", "out_proj"],
    "nllb_moe": ["q_proj", "k_proj", "v_proj", "out_proj"],
}


class ModelError(ValueError):
    pass


def require_cuda_for_qlora(methodology: str) -> None:
    if methodology == "qlora" and not torch.cuda.is_available():
        raise ModelError(
            "tuning_methodology 'qlora' needs a CUDA GPU (bitsandbytes 4-bit) and none is available here; "
            "use 'lora' or 'full' on CPU, or run on a GPU host"
        )


def load_model(
    model_dir: Path, task: Kind, methodology: str, lora_config: dict[str, Any], name: str, precision: Precision = "fp32"
) -> Any:
    """`name` is the model as the config names it (llm_model), for the messages. Weights load in
    fp32 (Trainer's autocast computes in `precision`); a 4-bit base computes in `precision`."""
    require_cuda_for_qlora(methodology)
    kwargs: dict[str, Any] = {}
    if methodology == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch_dtype(precision),
        )
        kwargs["device_map"] = {"": 0}
    model = load_pretrained(model_dir, task, **kwargs)
    # before PEFT wraps it, so the message names the checkpoint's own parameter names
    require_finite_weights(model, name if name == str(model_dir) else f"{name} ({model_dir})")
    if methodology == "full":
        return model
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

    if methodology == "qlora":
        model = prepare_model_for_kbit_training(model)
    config = dict(lora_config)
    if not config.get("target_modules"):
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_DEFAULTS

        model_type = model.config.model_type
        if model_type in DEFAULT_LORA_TARGETS:
            config["target_modules"] = DEFAULT_LORA_TARGETS[model_type]
        elif model_type not in PEFT_DEFAULTS:
            raise ModelError(
                f"PEFT has no default LoRA target modules for model type {model_type!r}; "
                "set llm_tuning_configs.lora_config.target_modules"
            )
    task_type = TaskType.SEQ_2_SEQ_LM if task == "seq2seq" else TaskType.CAUSAL_LM
    try:
        peft_config = LoraConfig(task_type=task_type, **config)
    except TypeError as exc:
        raise ModelError(f"llm_tuning_configs.lora_config: {exc}") from None
    return get_peft_model(model, peft_config)


def parameter_counts(model: Any) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
