"""What evaluation reads: one translated segment with its reference and provenance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mt_assets.evaluation.errors import EvaluationError


@dataclass(frozen=True)
class TranslationRow:
    translation_id: int
    dataset_id: int  # the source segment; pairs the outputs of different methods
    method: str  # translation_method.name (unique)
    language: str  # source language, ISO 639-1
    edition: str  # dataset_editions.name
    hypothesis: str
    reference: str
    source: str = ""  # the source text, shown beside the outputs in the step's metadata


def check_rows(rows: Sequence[TranslationRow]) -> None:
    """One output per translation row and per (method, segment), or the scores double-count;
    one language, edition and reference per segment, or methods cannot be paired."""
    seen_ids: set[int] = set()
    seen_segments: set[tuple[str, int]] = set()
    # Methods are compared segment by segment, so they must agree on what each segment is.
    segment_facts: dict[int, tuple[TranslationRow, tuple[str, str, str]]] = {}
    for row in rows:
        if row.translation_id in seen_ids:
            raise EvaluationError(f"translation {row.translation_id} appears twice")
        seen_ids.add(row.translation_id)
        key = (row.method, row.dataset_id)
        if key in seen_segments:
            raise EvaluationError(
                f"method {row.method!r} has two translations of dataset row {row.dataset_id} "
                f"(the second is translation {row.translation_id})"
            )
        seen_segments.add(key)
        facts = (row.language, row.edition, row.reference)
        first, first_facts = segment_facts.setdefault(row.dataset_id, (row, facts))
        if facts != first_facts:
            raise EvaluationError(
                f"dataset row {row.dataset_id}: translations {first.translation_id} and {row.translation_id} "
                "disagree on its language, edition or reference"
            )
        if not row.reference.strip():
            raise EvaluationError(
                f"dataset row {row.dataset_id} (translation {row.translation_id}) has an empty reference"
            )
