"""Exports of a config's fine-tuned model: its LoRA adapter merged into its base (a standalone HF
directory that loads without PEFT), and that merged model as one GGUF file (F16 or Q8_0, see
`mt_assets.models.gguf_export`) checked by loading it back and greedy-translating a few test rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
from peft import PeftModel
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    GenerationConfig,
)

from mt_assets.models.artefacts import directory_sha256
from mt_assets.training.trainer import TRAINING_INFO


class ExportError(ValueError):
    pass


def latest_adapter(conn: psycopg.Connection, config_name: str, replicate: int = 1) -> tuple[int, Path, str]:
    """(fine_tuned_model id, artefact dir, artefact sha256) of the config's newest succeeded model
    of that replicate (a config with `replicates: N` trains N models; each is its own model)."""
    row = conn.execute(
        "select m.id, m.pretrained_model_dir_path, m.artefact_sha256 from llm.fine_tuned_models m "
        "join llm.tuning_configs c on c.id = m.tuning_config_id "
        "where c.name = %s and m.replicate = %s and m.status = 'succeeded' order by m.id desc limit 1",
        (config_name, replicate),
    ).fetchone()
    if row is None:
        which = "" if replicate == 1 else f" replicate {replicate}"
        raise ExportError(
            f"no succeeded fine-tuned model for config {config_name!r}{which}; materialize fine_tuned_model"
            + ("" if replicate == 1 else " (is replicates in the config at least that many?)")
        )
    return row[0], Path(row[1]), row[2]


def verify(artefact: Path, sha256: str) -> None:
    if not artefact.is_dir():
        raise ExportError(f"artefact directory {artefact} is missing")
    actual = directory_sha256(artefact)[1]
    if actual != sha256:
        raise ExportError(
            f"artefact {artefact} changed since it was registered (sha256 {actual} != {sha256})"
        )


def _info(adapter_dir: Path) -> dict:
    info = json.loads((adapter_dir / TRAINING_INFO).read_text())
    if _methodology(info) == "qlora":
        raise ExportError(
            "this adapter was trained on a 4-bit quantized base (qlora); merging into quantized weights "
            "loses the adapter's precision. Serve base + adapter instead, or retrain with lora"
        )
    return info


def _methodology(info: dict) -> str | None:
    # an artefact trained before the rename (migration 0014) spells the key "methodology"
    return info.get("tuning_methodology", info.get("methodology"))


def check_gguf(adapter_dir: Path, config_name: str) -> dict:
    """Refuse, before any merging, what GGUF export cannot write (qlora, seq2seq, other architectures);
    the adapter's training info."""
    from mt_assets.models.gguf_export import GGUFExportError, architecture

    info = _info(adapter_dir)
    model_dir = adapter_dir if _methodology(info) == "full" else Path(info["base_model_dir"])
    try:
        architecture(model_dir, config_name)
    except GGUFExportError as err:
        raise ExportError(str(err)) from None
    return info


_TEST_ROWS = """
select d.source_text, d.source_language, d.target_language, d.source_reference, d.source_paragraph,
       e.name as edition
from llm.tuning_dataset_distribution td
join llm.tuning_configs c on c.id = td.tuning_config_id
join llm.dataset d on d.id = td.dataset_record_id
join llm.dataset_editions e on e.id = d.edition_id
where c.name = %s and td.split = 'test'
order by d.id
limit %s
"""

# when a config has no test rows in the database (its data asset not materialized here)
FALLBACK_ROW = {"source_text": "In the name of God", "source_language": "en", "target_language": "ar"}


def verification_prompts(conn: psycopg.Connection, config_name: str, template: str | None, n: int) -> tuple[list[str], str]:
    """Up to n prompts from the config's first test rows (by dataset id) rendered with its training
    template, and where they came from."""
    from mt_assets import prompts

    if not template:
        raise ExportError(f"config {config_name!r}: the adapter records no prompt_template; cannot build prompts")
    cursor = conn.execute(_TEST_ROWS, (config_name, n))
    names = [c.name for c in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    if not rows:
        return [prompts.render(template, FALLBACK_ROW)], "one fixed row (the config has no test rows here)"
    return [prompts.render(template, r) for r in rows], f"the config's first {len(rows)} test rows"


def export_gguf(
    adapter_dir: Path, out: Path, quantization: str, config_name: str, prompts: list[str]
) -> tuple[Path, str]:
    """Merge into `out/merged`, write `out/<config>-<quantization>.gguf`, load it back and compare;
    (gguf path, printed report). Raises ExportError if the GGUF cannot be written or loaded back."""
    from mt_assets.models import gguf_export

    check_gguf(adapter_dir, config_name)
    if out.exists():
        raise ExportError(f"{out} already exists; choose another --out or remove it")
    merged = merge(adapter_dir, out / "merged")
    try:
        written = gguf_export.write(merged, out / f"{config_name}-{quantization}.gguf", quantization, config_name)
        verification = gguf_export.verify(merged, written.path, prompts)
    except gguf_export.GGUFExportError as err:
        raise ExportError(str(err)) from None
    return written.path, gguf_export.report(written, verification)


def merge(adapter_dir: Path, out: Path) -> Path:
    """Write base + adapter merged into `out` (via a temporary sibling, so `out` is always whole)."""
    info = _info(adapter_dir)
    tuning_methodology = _methodology(info)
    base_dir = Path(info["base_model_dir"])
    if out.exists():
        raise ExportError(f"{out} already exists; choose another --out or remove it")
    if getattr(AutoConfig.from_pretrained(base_dir), "quantization_config", None):
        raise ExportError(f"the base model {base_dir} is quantized; refusing to merge an adapter into it")
    cls = AutoModelForSeq2SeqLM if info["task"] == "seq2seq" else AutoModelForCausalLM
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if tuning_methodology == "full":
        shutil.copytree(adapter_dir, tmp)  # already a standalone model
    else:
        merged = PeftModel.from_pretrained(cls.from_pretrained(base_dir), adapter_dir).merge_and_unload()
        merged.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(adapter_dir).save_pretrained(tmp)
        GenerationConfig.from_pretrained(adapter_dir).save_pretrained(tmp)
        (tmp / TRAINING_INFO).write_text(json.dumps({**info, "merged_from": str(adapter_dir)}, indent=2))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(out)
    return out
