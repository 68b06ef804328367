"""Seq2seq or causal: the one decision, made without loading weights or reaching a hub.

From the model's config.json when `source` is a local directory (`is_encoder_decoder`, else its
`model_type`); by name otherwise: `pypi:`/`gguf:` sources are decoder LLMs, and a hub id is
seq2seq when its name is a known seq2seq family. An explicit task (`llm_tuning_configs.task`)
overrides the decision. The config's check, the trainer and generation all ask `model_kind`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mt_assets.models.config import read_config

Kind = Literal["seq2seq", "causal"]
Task = Literal["auto", "seq2seq", "causal"]

# Family names in hub ids that mean encoder-decoder translation models.
SEQ2SEQ_NAME = re.compile(r"nllb|m2m|marian|opus-mt|mbart|(^|[/_.-])(mt|byt|flan-)?t5([/_.-]|$)", re.IGNORECASE)
_SEQ2SEQ_TYPES = frozenset({"m2m_100", "nllb", "marian", "mt5", "t5", "mbart", "bart", "umt5"})


@dataclass(frozen=True)
class ModelKind:
    kind: Kind
    reason: str  # how the kind was decided, for error messages
    model_type: str  # config.json's model_type; "" where there is no config to read


def model_kind(source: str | Path, task: Task = "auto") -> ModelKind:
    source = str(source)
    config = None if source.startswith(("pypi:", "gguf:")) else read_config(source)
    model_type = str((config or {}).get("model_type", ""))
    if task != "auto":
        return ModelKind(task, f"llm_tuning_configs.task is {task}", model_type)
    if source.startswith(("pypi:", "gguf:")):
        return ModelKind("causal", "pypi:/gguf: sources are decoder LLMs", "")
    if config is not None and "is_encoder_decoder" in config:
        kind: Kind = "seq2seq" if config["is_encoder_decoder"] else "causal"
        return ModelKind(kind, f"{source}/config.json has is_encoder_decoder: "
                               f"{str(config['is_encoder_decoder']).lower()}", model_type)
    if config is not None and model_type:
        return ModelKind("seq2seq" if model_type in _SEQ2SEQ_TYPES else "causal",
                         f"{source}/config.json model_type {model_type!r}", model_type)
    kind = "seq2seq" if SEQ2SEQ_NAME.search(source) else "causal"
    return ModelKind(kind, "its name is a known seq2seq family" if kind == "seq2seq"
                     else "its name is no seq2seq family", model_type)
