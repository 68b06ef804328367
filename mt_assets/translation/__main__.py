"""`python -m mt_assets.translation JOB.json`: translate one job's rows; no Dagster, no database.

Prints one JSON event per line on stdout (see mt_assets.translation.generate). Exit status 0
on success, 2 on a reported error (an `error` event says why), anything else on a crash.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from mt_assets.translation.errors import TranslationError
from mt_assets.translation.spec import TranslationJob

EXIT_ERROR = 2


def _emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mt_assets.translation", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "job", type=Path, help="translation job JSON (mt_assets.translation.spec.TranslationJob)"
    )
    args = parser.parse_args(argv)
    try:
        job = TranslationJob.read(args.job)
    except (OSError, ValueError, ValidationError) as exc:
        return _fail(f"{args.job}: {exc}")
    from mt_assets.models.sources import ModelSourceError, check

    try:
        check(job.llm_model)  # a missing model fails fast, before torch loads
        from mt_assets.translation.generate import run_translation

        run_translation(job, _emit)
    except (TranslationError, ModelSourceError) as exc:
        return _fail(str(exc))
    return 0


def _fail(message: str) -> int:
    _emit({"event": "error", "message": message})
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
