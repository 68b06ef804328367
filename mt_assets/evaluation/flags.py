"""Warnings on a method's outputs as a whole (scope 'all'), stored in llm.evaluation.flags on
every metric row of that method's scope-'all' scores:

- `style-only`: its chrF++ gain over the base method is positive and significant (p < alpha)
  while its meaning gain is not (meaning_gain_p >= alpha): it learnt the references' style.
- `source-script`: more than 5% of its outputs contain letters of the source language's script
  (`SOURCE_SCRIPTS`, keyed by source language): untranslated or copied source.
- `length-ratio`: its total output characters over the total reference characters lie outside
  0.8-1.25: it writes too little or too much, which n-gram metrics reward or punish unevenly.
"""

from __future__ import annotations

from collections.abc import Sequence

from mt_assets.evaluation.rows import TranslationRow
from mt_assets.evaluation.significance import DEFAULT_ALPHA

STYLE_ONLY = "style-only"
SOURCE_SCRIPT = "source-script"
LENGTH_RATIO = "length-ratio"

_ARABIC_SCRIPT = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
# Source language (ISO 639-1) -> Unicode blocks of its script; add a language by adding a line.
SOURCE_SCRIPTS: dict[str, tuple[tuple[int, int], ...]] = {
    "ar": _ARABIC_SCRIPT,
    "fa": _ARABIC_SCRIPT,
    "ur": _ARABIC_SCRIPT,
}
SOURCE_SCRIPT_SHARE = 0.05
LENGTH_RATIO_RANGE = (0.8, 1.25)


def has_source_script(text: str, language: str) -> bool:
    blocks = SOURCE_SCRIPTS.get(language, ())
    return any(ch.isalpha() and any(lo <= ord(ch) <= hi for lo, hi in blocks) for ch in text)


def source_script_share(rows: Sequence[TranslationRow]) -> float:
    """The share of outputs with letters of their source's script (0 for no rows)."""
    if not rows:
        return 0.0
    return sum(has_source_script(r.hypothesis, r.language) for r in rows) / len(rows)


def length_ratio(rows: Sequence[TranslationRow]) -> float:
    reference = sum(len(r.reference) for r in rows)
    return sum(len(r.hypothesis) for r in rows) / reference if reference else 0.0


def output_flags(rows: Sequence[TranslationRow]) -> list[str]:
    """`source-script` and `length-ratio` for one method's rows."""
    flags = []
    if source_script_share(rows) > SOURCE_SCRIPT_SHARE:
        flags.append(SOURCE_SCRIPT)
    low, high = LENGTH_RATIO_RANGE
    if not low <= length_ratio(rows) <= high:
        flags.append(LENGTH_RATIO)
    return flags


def style_only(
    gain: float,
    p_value: float | None,
    meaning_gain: float | None,
    meaning_gain_p: float | None,
    alpha: float = DEFAULT_ALPHA,
) -> bool:
    """A significant chrF++ gain over the base without a significant meaning gain: one that is
    not significant, or significantly negative. The demo's constant floor is the second kind:
    chrF++ +5.13 over the base (p 0.001) with a meaning gain of -4.06 (p 0.001); a rule that
    only asked whether the meaning gain is significant let it through unflagged."""
    if p_value is None or meaning_gain is None or meaning_gain_p is None:
        return False
    more_meaning = meaning_gain > 0 and meaning_gain_p < alpha
    return gain > 0 and p_value < alpha and not more_meaning
