"""`python -m mt_assets.training JOB.json`: train one job; no Dagster instance, no database.

Exit status 0 on success (result in OUTPUT_DIR/result.json), 2 on a reported error (an
`error` event says why), anything else on a crash.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from mt_assets.training.errors import REPORTED_ERRORS
from mt_assets.training.events import open_reporter
from mt_assets.training.spec import TrainingJob

EXIT_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mt_assets.training", description=__doc__.splitlines()[0])
    parser.add_argument("job", type=Path, help="training job JSON (mt_assets.training.spec.TrainingJob)")
    args = parser.parse_args(argv)
    with open_reporter() as reporter:
        try:
            job = TrainingJob.read(args.job)
        except (OSError, ValueError, ValidationError) as exc:
            return _fail(reporter, f"{args.job}: {exc}")
        from mt_assets.training import (
            trainer,  # imported here so a bad job file fails fast, before torch loads
        )

        try:
            result = trainer.run(job, reporter)
        except REPORTED_ERRORS as exc:
            return _fail(reporter, str(exc))
        reporter.emit(
            {
                "event": "done",
                "job_id": result.job_id,
                "global_step": result.global_step,
                "artefact_dir": result.artefact_dir,
                "artefact_sha256": result.artefact_sha256,
                "metrics": result.metrics,
                "trainable_params": result.trainable_params,
            }
        )
    return 0


def _fail(reporter, message: str) -> int:
    reporter.emit({"event": "error", "message": message})
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
