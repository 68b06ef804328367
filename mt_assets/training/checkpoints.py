"""Which checkpoint to resume from, and refusing output directories that are not ours.

`output_dir/job.json` marks the directory as belonging to one job. A `checkpoint-N`
directory without `trainer_state.json` is a save that was interrupted (the Trainer writes
that file last) and is skipped; one that has it but does not read back is corrupt and
refused: training from scratch over it would silently throw work away.
"""

from __future__ import annotations

import fcntl
import json
import re
from pathlib import Path
from typing import IO

from mt_assets.training.errors import CheckpointError
from mt_assets.training.spec import JOB_FILE, TrainingJob

MARKER = JOB_FILE  # the job's copy in output_dir: checkpoints beside it are this job's
LOCK = ".lock"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_WEIGHTS = (
    "adapter_model.safetensors",
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
)


def checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    if not output_dir.is_dir():
        return []
    found = []
    for child in output_dir.iterdir():
        match = _CHECKPOINT.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found)


def step_of(checkpoint: Path) -> int:
    """N of a `checkpoint-N` directory (resume_point has checked it equals its global_step)."""
    match = _CHECKPOINT.match(checkpoint.name)
    if match is None:
        raise CheckpointError(f"{checkpoint} is not a checkpoint-N directory")
    return int(match.group(1))


def claim(output_dir: Path, job: TrainingJob) -> IO[str]:
    """Mark output_dir as this job's, refusing one that holds another job's checkpoints or
    that another process is training in. Keep the returned lock open while training."""
    marker = output_dir / MARKER
    existing = checkpoints(output_dir)
    if marker.is_file():
        try:
            owner = json.loads(marker.read_text()).get("job_id")
        except (json.JSONDecodeError, AttributeError):
            owner = None
        if owner != job.job_id:
            raise CheckpointError(
                f"{output_dir} belongs to job {owner!r}, not {job.job_id!r}; use another output_dir or remove it"
            )
    elif existing:
        raise CheckpointError(
            f"{output_dir} holds checkpoints ({existing[-1][1].name}) not written by job {job.job_id!r}; "
            "refusing to train over them: use another output_dir or remove them"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    lock = (output_dir / LOCK).open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise CheckpointError(
            f"another process is already training job {job.job_id!r} in {output_dir}"
        ) from None
    job.write(marker)
    return lock


def resume_point(output_dir: Path) -> Path | None:
    """The newest complete checkpoint, validated; None if there is none."""
    for step, path in reversed(checkpoints(output_dir)):
        state_file = path / "trainer_state.json"
        if not state_file.is_file():
            continue
        try:
            state = json.loads(state_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(
                f"checkpoint {path} is corrupt: trainer_state.json does not parse ({exc})"
            ) from None
        if not isinstance(state, dict) or state.get("global_step") != step:
            raise CheckpointError(
                f"checkpoint {path} is corrupt: trainer_state.json global_step is "
                f"{state.get('global_step') if isinstance(state, dict) else None!r}, expected {step}"
            )
        if not any((path / name).is_file() for name in _WEIGHTS):
            raise CheckpointError(f"checkpoint {path} is corrupt: it has no model or adapter weights")
        return path
    return None
