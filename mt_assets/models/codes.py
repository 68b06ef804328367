"""The language codes a model takes: NLLB-style tokenizers prefix inputs with `src_lang` and start
outputs with the target language's code token. `model_codes` picks a row's codes (the job's, else
the NLLB code of the row's language), `language_code` turns a code into its token id; both raise
DataError, naming the code, where the model cannot take it. Used by training and generation alike."""

from __future__ import annotations

from typing import Any

from mt_assets import languages


class DataError(ValueError):
    """Rows or codes the model cannot take; the message says which."""


def language_code(tokenizer: Any, code: str) -> int:
    token_id = tokenizer.convert_tokens_to_ids(code)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise DataError(f"language code {code!r} is not a token of this model's tokenizer")
    return token_id


def has_language_codes(tokenizer: Any) -> bool:
    """NLLB-style tokenizers prefix inputs with `src_lang` and labels with `tgt_lang`."""
    return hasattr(tokenizer, "src_lang")


def model_codes(row: dict[str, Any], source_code: str | None, target_code: str | None) -> tuple[str, str]:
    """Model-side language codes for a row: the job's if set, else the NLLB code of the row's language."""

    def pick(explicit: str | None, data_code: str) -> str:
        if explicit:
            return explicit
        try:
            return languages.NLLB_CODES[data_code]
        except KeyError:
            raise DataError(f"no model language code known for {data_code!r}; set it in the job") from None

    return pick(source_code, row["source_language"]), pick(target_code, row.get("target_language") or "en")
