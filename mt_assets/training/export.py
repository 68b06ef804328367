"""Merge a LoRA adapter into its base: a standalone model directory that loads without PEFT."""

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


def latest_adapter(conn: psycopg.Connection, config_name: str) -> tuple[int, Path, str]:
    """(fine_tuned_model id, artefact dir, artefact sha256) of the config's newest succeeded model."""
    row = conn.execute(
        "select m.id, m.pretrained_model_dir_path, m.artefact_sha256 from llm.fine_tuned_models m "
        "join llm.tuning_configs c on c.id = m.tuning_config_id "
        "where c.name = %s and m.status = 'succeeded' order by m.id desc limit 1",
        (config_name,),
    ).fetchone()
    if row is None:
        raise ExportError(
            f"no succeeded fine-tuned model for config {config_name!r}; materialize fine_tuned_model"
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


def merge(adapter_dir: Path, out: Path) -> Path:
    """Write base + adapter merged into `out` (via a temporary sibling, so `out` is always whole)."""
    info = json.loads((adapter_dir / TRAINING_INFO).read_text())
    # an artefact trained before the rename (migration 0014) spells the key "methodology"
    tuning_methodology = info.get("tuning_methodology", info.get("methodology"))
    if tuning_methodology == "qlora":
        raise ExportError(
            "this adapter was trained on a 4-bit quantized base (qlora); merging into quantized weights "
            "loses the adapter's precision. Serve base + adapter instead, or retrain with lora"
        )
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
