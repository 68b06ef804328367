"""Text normalisation applied to every field before it is stored.

Always: Unicode NFC; CR/CRLF -> LF; runs of other whitespace (tabs, no-break spaces, ...)
-> one space; spaces next to a line break and at both ends removed. The zero-width
non-joiner (U+200C), which Persian spelling needs, is not whitespace and is kept, as are
U+200B/U+200D. Per-edition options, for the source text only:
- `unify_letters`: Persian text (`fa`) gets Persian yeh and keheh (ي ى -> ی, ك -> ک);
  Arabic text (`ar`) gets Arabic kaf (ک -> ك). Persian yeh in Arabic text is left alone:
  whether it stands for ي or ى depends on the word.
- `remove_tatweel`: drops the elongation character U+0640, which carries no meaning.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_LINE_BREAKS = re.compile(r"\r\n?")
_SPACE_RUNS = re.compile(r"[^\S\n]+")
_SPACE_AT_BREAK = re.compile(r" ?\n ?")

_PERSIAN_LETTERS = str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9"})
_ARABIC_LETTERS = str.maketrans({"\u06a9": "\u0643"})
_TATWEEL = "\u0640"


@dataclass(frozen=True)
class NormalizeOptions:
    unify_letters: bool = False
    remove_tatweel: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {"unify_letters": self.unify_letters, "remove_tatweel": self.remove_tatweel}


def clean(text: str) -> str:
    """NFC and whitespace normalisation: what every stored field gets."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    # str.split() splits on exactly the characters regex \s matches: one C-speed pass
    # settles the common cases (already clean; no line breaks to keep).
    collapsed = " ".join(text.split())
    if collapsed == text or ("\n" not in text and "\r" not in text):
        return collapsed
    text = _LINE_BREAKS.sub("\n", text)
    text = _SPACE_RUNS.sub(" ", text)
    return _SPACE_AT_BREAK.sub("\n", text).strip()


def source_text(text: str, language: str, options: NormalizeOptions) -> str:
    """`clean` plus the edition's optional Arabic-script rules."""
    if options.remove_tatweel and _TATWEEL in text:
        text = text.replace(_TATWEEL, "")
    if options.unify_letters:
        if language == "fa":
            text = text.translate(_PERSIAN_LETTERS)
        elif language == "ar":
            text = text.translate(_ARABIC_LETTERS)
    return clean(text)
