"""What a config can know about its model without loading weights or reaching a hub: its kind
(decided by `mt_assets.models.kind`), whether PEFT needs LoRA target modules named for it, and
whether it takes FLORES-200 language codes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mt_assets.models.kind import Kind, model_kind

# Architectures for which PEFT has no default LoRA target modules.
_NEEDS_TARGET_MODULES_ID = re.compile(r"nllb|m2m", re.IGNORECASE)


@dataclass(frozen=True)
class ModelInfo:
    kind: Kind
    needs_target_modules: bool
    uses_flores_codes: bool  # NLLB takes FLORES-200 codes such as arb_Arab
    reason: str  # how the kind was decided, for error messages


def describe(source: str, task: Literal["auto", "seq2seq", "causal"] = "auto") -> ModelInfo:
    decided = model_kind(source, task)
    nllb_like = bool(_NEEDS_TARGET_MODULES_ID.search(source)) or decided.model_type == "m2m_100"
    return ModelInfo(decided.kind, nllb_like, "nllb" in source.lower(), decided.reason)
