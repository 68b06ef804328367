"""The training job and its result: everything a training process needs, as one JSON file, and
what it reports when it finished, as another.

Both cross process and host boundaries (local subprocess, SSH host, Colab), so they are plain
data and hold no secrets: tokens reach the process only through its environment. This module
imports no torch: the launchers and the registry read results without loading it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mt_assets.models.precision import Requested

# A training job's files, on every host. Its work directory holds the job and its rows; its
# output_dir holds a copy of the job (which marks the checkpoints as this job's), the checkpoints,
# and when it finished the artefact (adapter or model, with tokenizer and generation config) and
# the result the launcher registers.
JOB_FILE = "job.json"
TRAIN_FILE = "train.jsonl"
VALIDATION_FILE = "validation.jsonl"
FINAL_DIR = "final"
RESULT_FILE = "result.json"


# TrainingArguments' own default seed (transformers 4.x and 5.x; test_replicates checks it): what a
# job without training_args.seed trains with. Not imported from transformers: this module loads no torch.
DEFAULT_SEED = 42


class TrainingJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="config name + short config hash")
    llm_model: str = Field(description="hub id, local directory, gguf:PATH or pypi:PACKAGE")
    task: Literal["auto", "seq2seq", "causal"] = "auto"
    tuning_methodology: Literal["lora", "qlora", "full"]
    source_language_code: str | None = Field(None, description="model-side code, e.g. arb_Arab (seq2seq)")
    target_language_code: str | None = Field(None, description="model-side code, e.g. eng_Latn (seq2seq)")
    prompt_template: str | None = Field(None, description="decoder LLMs; see mt_assets.prompts")
    training_args: dict[str, Any] = Field(default_factory=dict)
    lora_config: dict[str, Any] = Field(default_factory=dict)
    train_file: Path
    validation_file: Path | None = None
    output_dir: Path
    models_cache_dir: Path = Field(description="where converted GGUF models are cached (MT_HOME/models)")
    resume: Literal["auto", "never"] = "auto"
    precision: Requested = Field(
        "auto", description="llm_tuning_configs.precision, resolved on the training host (mt_assets.models.precision)"
    )

    @property
    def seed(self) -> int:
        """The seed this job trains with: training_args.seed, else Trainer's own default."""
        return int(self.training_args.get("seed", DEFAULT_SEED))

    def write(self, path: Path) -> Path:
        path.write_text(self.model_dump_json(indent=2))
        return path

    @classmethod
    def read(cls, path: Path) -> TrainingJob:
        return cls.model_validate(json.loads(path.read_text()))


class ResultFileError(ValueError):
    """A result file that is not a TrainingResult; the message names the file and the key."""


@dataclass(frozen=True)
class TrainingResult:
    """What a finished job reports, written by the trainer to OUTPUT_DIR/RESULT_FILE. A launcher
    returns it with `artefact_dir` pointing at its local copy of the artefact (FINAL_DIR)."""

    job_id: str
    task: Literal["seq2seq", "causal"]
    tuning_methodology: Literal["lora", "qlora", "full"]
    llm_model: str
    base_model_dir: str  # where the base model was resolved on the training host
    artefact_dir: str
    artefact_sha256: str  # models.artefacts.directory_sha256 over artefact_dir
    files: dict[str, str]  # artefact file, relative to artefact_dir -> sha256
    trainable_params: int
    total_params: int
    global_step: int
    resumed_from: str | None  # the checkpoint directory this run resumed from
    metrics: dict[str, float | int | None]  # Trainer's train/eval metrics, train_tokens, tokens_per_second
    library_versions: dict[str, str]
    environment: dict[str, Any]  # training.environment.describe: host, seeds, determinism; precision and its reason
    duration_seconds: float

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str, source: str = "training result") -> TrainingResult:
        """`source` (the file) is named in the error for text that is not a result."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ResultFileError(f"{source}: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ResultFileError(f"{source}: expected a JSON object, got {type(data).__name__}")
        names = [field.name for field in dataclasses.fields(cls)]
        missing = [name for name in names if name not in data]
        unknown = [key for key in data if key not in names]
        if missing or unknown:
            problems = [f"missing key {name!r}" for name in missing] + [f"unknown key {key!r}" for key in unknown]
            raise ResultFileError(f"{source}: not a training result: {', '.join(problems)}")
        return cls(**data)

    def write(self, path: Path) -> Path:
        """Written to a temporary sibling and swapped in: a reader never sees half a result."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json())
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, path: Path) -> TrainingResult:
        return cls.from_json(path.read_text(), source=str(path))
