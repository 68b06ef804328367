"""The training job: everything a training process needs, as one JSON file.

It crosses process and host boundaries (local subprocess, SSH host, Colab), so it is
plain data and holds no secrets: tokens reach the process only through its environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# A training job's files, on every host. Its work directory holds the job and its rows; its
# output_dir holds a copy of the job (which marks the checkpoints as this job's), the checkpoints,
# and when it finished the artefact (adapter or model, with tokenizer and generation config) and
# the result the launcher registers.
JOB_FILE = "job.json"
TRAIN_FILE = "train.jsonl"
VALIDATION_FILE = "validation.jsonl"
FINAL_DIR = "final"
RESULT_FILE = "result.json"


class TrainingJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="config name + short config hash")
    model_source: str = Field(description="hub id, local directory, gguf:PATH or pypi:PACKAGE")
    task: Literal["auto", "seq2seq", "causal"] = "auto"
    methodology: Literal["lora", "qlora", "full"]
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

    def write(self, path: Path) -> Path:
        path.write_text(self.model_dump_json(indent=2))
        return path

    @classmethod
    def read(cls, path: Path) -> TrainingJob:
        return cls.model_validate(json.loads(path.read_text()))
