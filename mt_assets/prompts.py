"""Prompt templates for decoder LLMs: Python `string.Template` rules ($name, ${name}, $$).

A template may use only the variables below; an unknown one is an error when the config
is loaded, never text left in a prompt. `source_language`/`target_language` render as
English names ("Arabic"), the `_code` variants as the data's codes ("ar").
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Template
from typing import Any

from mt_assets import languages

VARIABLES = frozenset(
    {
        "source_text",
        "source_language",
        "source_language_code",
        "target_language",
        "target_language_code",
        "source_reference",
        "source_paragraph",
        "edition",
    }
)


def placeholders(template: str) -> set[str]:
    """The variable names a template uses; raises ValueError on a malformed `$`."""
    tpl = Template(template)
    if not tpl.is_valid():
        bad = next(m for m in tpl.pattern.finditer(template) if m.group("invalid") is not None)
        raise ValueError(f"malformed placeholder at character {bad.start('invalid')}; write $$ for a literal $")
    return set(tpl.get_identifiers())


def check(template: str) -> None:
    unknown = placeholders(template) - VARIABLES
    if unknown:
        raise ValueError(
            f"unknown template variable(s) {', '.join('$' + u for u in sorted(unknown))}; "
            f"allowed: {', '.join('$' + v for v in sorted(VARIABLES))}"
        )


def variables(row: Mapping[str, Any]) -> dict[str, str]:
    """Template variables for one dataset row (keys as in the exported JSONL)."""
    source, target = row["source_language"], row.get("target_language", "en")
    return {
        "source_text": row["source_text"],
        "source_language": languages.name(source),
        "source_language_code": source,
        "target_language": languages.name(target),
        "target_language_code": target,
        "source_reference": str(row.get("source_reference") or ""),
        "source_paragraph": "" if row.get("source_paragraph") is None else str(row["source_paragraph"]),
        "edition": str(row.get("edition") or ""),
    }


def render(template: str, row: Mapping[str, Any]) -> str:
    check(template)
    prompt = Template(template).substitute(variables(row))
    if not prompt.strip():
        raise ValueError("the template renders an empty prompt")
    return prompt
