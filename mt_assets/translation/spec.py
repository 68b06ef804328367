"""The translation job: everything a translation process needs, as one JSON file.

Like the training job it crosses process and host boundaries (in-process from the asset,
`python -m mt_assets.translation JOB.json` locally or on a GPU host), so it is plain data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mt_assets.models.precision import Requested

EXAMPLE_FIELDS = ("source_text", "official_translate", "source_language")
INPUT_FIELDS = ("tuning_dataset_distribution_id", "source_text", "source_language")


# Rows generated together. Greedy decoder batches drop finished rows, so on a CPU a bigger batch is
# nearly free per step (Gemma 3 270M: 65 ms for 1 row, 239 ms for 32); lower it if a batch runs out of memory.
DEFAULT_BATCH_SIZE = 64

class TranslationJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str = Field(description="translation_method.name the outputs belong to")
    llm_model: str = Field(description="hub id, local directory, gguf:PATH or pypi:PACKAGE")
    adapter_dir: Path | None = Field(None, description="PEFT adapter applied on top of llm_model")
    task: Literal["auto", "seq2seq", "causal"] = "auto"
    source_language_code: str | None = Field(None, description="model-side code, e.g. arb_Arab (seq2seq)")
    target_language_code: str | None = Field(None, description="model-side code, e.g. eng_Latn (seq2seq)")
    prompt_template: str | None = Field(None, description="decoder LLMs; see mt_assets.prompts")
    few_shot: tuple[dict[str, Any], ...] = Field(
        (),
        description="train rows (source_text, official_translate, source_language, ...) shown before each prompt",
    )
    num_beams: int = Field(1, ge=1)
    max_new_tokens: int = Field(256, ge=1)
    max_new_tokens_per_source_token: float | None = Field(
        None, gt=0, description="per-row cap: ceil(ratio x source tokens) + 16, at most max_new_tokens"
    )
    stop_at_newline: bool = Field(
        True,
        description="decoder LLMs: end a row at its first newline (and cut it there); false where a reference "
        "of the config's data spans lines (translation.methods.generation_config), then only EOS or the cap",
    )
    batch_size: int = Field(DEFAULT_BATCH_SIZE, ge=1)
    input_file: Path = Field(description="JSONL of rows to translate (INPUT_FIELDS and template variables)")
    models_cache_dir: Path
    precision: Requested = Field(
        "auto", description="the method's precision, resolved on the translating host (mt_assets.models.precision)"
    )

    @field_validator("few_shot")
    @classmethod
    def _complete_examples(cls, examples: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        for index, example in enumerate(examples):
            missing = [
                f for f in EXAMPLE_FIELDS if not isinstance(example.get(f), str) or not example[f].strip()
            ]
            if missing:
                raise ValueError(f"few_shot[{index}]: missing or empty {', '.join(missing)}")
        return examples

    def write(self, path: Path) -> Path:
        path.write_text(self.model_dump_json(indent=2))
        return path

    @classmethod
    def read(cls, path: Path) -> TranslationJob:
        return cls.model_validate(json.loads(path.read_text()))
