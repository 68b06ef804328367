"""The training result file (training/spec.py): what the trainer writes is what the launchers read
back, and a file that is not a result is refused naming the file and the key."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mt_assets.training.spec import RESULT_FILE, ResultFileError, TrainingResult

RESULT = TrainingResult(
    job_id="tiny-0123abcd", task="causal", tuning_methodology="lora", llm_model="hub/model",
    base_model_dir="/models/base", artefact_dir="/out/final", artefact_sha256="ab" * 32,
    files={"adapter_model.safetensors": "cd" * 32}, trainable_params=10, total_params=100, global_step=4,
    resumed_from=None, metrics={"train_loss": 1.5, "tokens_per_second": None},
    library_versions={"python": "3.12.0"}, environment={"seed": 1}, duration_seconds=2.5,
)


def test_a_result_reads_back_as_written(tmp_path: Path) -> None:
    path = RESULT.write(tmp_path / RESULT_FILE)
    assert TrainingResult.read(path) == RESULT
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        RESULT.global_step = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("artefact_sha256"), "missing key 'artefact_sha256'"),
        (lambda d: d.update(artefact_path="/x"), "unknown key 'artefact_path'"),
    ],
)
def test_a_result_file_with_a_missing_or_unknown_key_is_refused(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / RESULT_FILE
    data = json.loads(RESULT.to_json())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=f"{path}: .*{message}"):
        TrainingResult.read(path)


def test_a_result_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / RESULT_FILE
    path.write_text("[]")
    with pytest.raises(ResultFileError, match=f"{path}: expected a JSON object"):
        TrainingResult.read(path)


def test_the_result_and_the_reported_errors_load_without_torch() -> None:
    code = ("import sys, mt_assets.training.spec, mt_assets.training.errors; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
