"""Loading a resolved model directory, the same way for the trainer and for generation: the
tokenizer with a pad token, and the weights of the model's kind in fp32 unless the caller asks for
another dtype: a job's precision (`mt_assets.models.precision`) is applied as autocast around the
computation, so LoRA weights and optimizer state stay fp32. Imports torch and transformers: only
the processes that train or translate import this module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from mt_assets.models.kind import Kind


def load_tokenizer(model_dir: Path, padding_side: str | None = None) -> Any:
    """`padding_side` None keeps the tokenizer's own."""
    kwargs = {} if padding_side is None else {"padding_side": padding_side}
    tok = AutoTokenizer.from_pretrained(model_dir, **kwargs)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token  # padding positions carry no loss and are masked, so any id does
    return tok


def load_pretrained(model_dir: Path, kind: Kind, dtype: torch.dtype = torch.float32, **kwargs: Any) -> Any:
    """The model's weights (`from_pretrained` of its kind's auto class) in `dtype` (fp32: a bf16
    weight would round LoRA updates away); `kwargs` go to `from_pretrained` (quantisation, device map)."""
    cls = AutoModelForSeq2SeqLM if kind == "seq2seq" else AutoModelForCausalLM
    return cls.from_pretrained(model_dir, dtype=dtype, **kwargs)
