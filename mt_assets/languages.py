"""Language codes the project knows: ISO 639-1 in the data, NLLB/FLORES-200 codes for
seq2seq models, English names for prompts."""

from __future__ import annotations

NAMES: dict[str, str] = {
    "ar": "Arabic",
    "fa": "Persian",
    "en": "English",
    "ur": "Urdu",
    "tr": "Turkish",
    "ku": "Kurdish",
    "ps": "Pashto",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
}

NLLB_CODES: dict[str, str] = {
    "ar": "arb_Arab",
    "fa": "pes_Arab",
    "en": "eng_Latn",
    "ur": "urd_Arab",
    "tr": "tur_Latn",
    "ku": "ckb_Arab",
    "ps": "pbt_Arab",
    "fr": "fra_Latn",
    "de": "deu_Latn",
    "es": "spa_Latn",
}


def is_known(code: str) -> bool:
    return code in NAMES


def name(code: str) -> str:
    try:
        return NAMES[code]
    except KeyError:
        raise ValueError(f"unknown language code {code!r}; known: {', '.join(sorted(NAMES))}") from None
