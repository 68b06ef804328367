"""Model output is untrusted input: the one rule every translation passes before it is stored.

A tokenizer decodes whatever bytes its vocabulary holds (byte-level BPE, byte-fallback tokens such
as Gemma's `<0x00>`), so an output can hold characters PostgreSQL's `text` cannot store (NUL), that
psycopg cannot encode (surrogate code points, which a JSON escape such as "\\ud800" read back from
an event line produces), or that only garble a terminal, a report or a metric's tokenizer (the other
control characters). The rule:

- removed: every control character (Unicode category Cc: U+0000-U+001F and U+007F-U+009F) except
  tab (U+0009) and newline (U+000A); a carriage return is removed too, so "\\r\\n" becomes "\\n";
- replaced by U+FFFD: every surrogate code point (U+D800-U+DFFF; a Python str holding one is never
  valid text, and psycopg refuses to encode it);
- kept as generated: everything else, format characters included (Persian needs ZWNJ, U+200C).

Nothing is stripped or normalised beyond that. `sanitize` returns the text to store and a note of
what changed (None when nothing did), stored in `llm.translation.sanitized`.
"""

from __future__ import annotations

import re
from collections import Counter

REPLACEMENT = "\ufffd"
_REMOVED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_REPLACED = re.compile("[\ud800-\udfff]")


def _counts(pattern: re.Pattern[str], text: str) -> str:
    counts = Counter(pattern.findall(text))
    return ", ".join(f"U+{ord(c):04X} x{n}" for c, n in sorted(counts.items()))


def sanitize(text: str) -> tuple[str, str | None]:
    """(text to store, what changed or None): see the module docstring for the rule."""
    notes = []
    if _REMOVED.search(text):
        notes.append(f"removed {_counts(_REMOVED, text)}")
        text = _REMOVED.sub("", text)
    if _REPLACED.search(text):
        notes.append(f"replaced {_counts(_REPLACED, text)} with U+FFFD")
        text = _REPLACED.sub(REPLACEMENT, text)
    return text, "; ".join(notes) or None
