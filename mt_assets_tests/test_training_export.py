"""`mt-assets export-model`: the merged model computes what base + adapter computes."""

import json

import pytest
import torch
from peft import PeftModel
from sqlalchemy import create_engine, text
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from mt_assets import cli
from mt_assets.db import urls
from mt_assets.models.artefacts import directory_sha256
from mt_assets.training import export, trainer
from mt_assets_tests.tiny_models import CollectingReporter, job, tiny_m2m100


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    base = tiny_m2m100(tmp / "base")
    args = {
        "max_steps": 4,
        "save_steps": 4,
        "logging_steps": 2,
        "learning_rate": 0.05,
        "per_device_train_batch_size": 4,
    }
    result = trainer.run(job(tmp, base, training_args=args, validation_file=None), CollectingReporter())
    return base, tmp / "out" / "final", result.artefact_sha256


def _logits(model, tok):
    tok.src_lang = "arb_Arab"
    batch = tok(["الله النور الكتاب"], text_target=["god light book"], return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits


def test_merged_model_equals_base_plus_adapter_and_differs_from_base(trained, tmp_path):
    base_dir, adapter, _ = trained
    merged_dir = export.merge(adapter, tmp_path / "merged")
    assert not (merged_dir / "adapter_config.json").exists()
    tok = AutoTokenizer.from_pretrained(merged_dir)
    merged = _logits(AutoModelForSeq2SeqLM.from_pretrained(merged_dir).eval(), tok)
    peft_model = PeftModel.from_pretrained(AutoModelForSeq2SeqLM.from_pretrained(base_dir), adapter).eval()
    with_adapter = _logits(peft_model, tok)
    base = _logits(AutoModelForSeq2SeqLM.from_pretrained(base_dir).eval(), tok)
    assert torch.allclose(merged, with_adapter, atol=1e-5)
    assert not torch.allclose(merged, base, atol=1e-3)


def test_quantized_base_is_refused(trained, tmp_path):
    _, adapter, _ = trained
    qlora = tmp_path / "qlora-adapter"
    qlora.mkdir()
    info = json.loads((adapter / trainer.TRAINING_INFO).read_text())
    (qlora / trainer.TRAINING_INFO).write_text(json.dumps({**info, "tuning_methodology": "qlora"}))
    with pytest.raises(export.ExportError, match="quantized"):
        export.merge(qlora, tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_cli_exports_the_newest_succeeded_adapter_after_checking_its_hash(
    trained, mt_env, db_url, tmp_path, capsys
):
    _, adapter, sha = trained
    engine = create_engine(urls.sqlalchemy(db_url))
    with engine.begin() as conn:
        config = conn.execute(
            text(
                "insert into llm.tuning_configs (name, llm_model, tuning_methodology) "
                "values ('tiny-export', 'x', 'lora') returning id"
            )
        ).scalar_one()
        conn.execute(
            text(
                "insert into llm.fine_tuned_models (tuning_config_id, status, pretrained_model_dir_path, "
                "artefact_sha256) values (:c, 'succeeded', :p, :s)"
            ),
            {"c": config, "p": str(adapter), "s": sha},
        )
        conn.execute(
            text("insert into llm.fine_tuned_models (tuning_config_id, status) values (:c, 'failed')"),
            {"c": config},
        )
    engine.dispose()
    assert directory_sha256(adapter)[1] == sha
    assert cli.main(["export-model", "tiny-export", "--out", str(tmp_path / "exported")]) == 0
    assert (tmp_path / "exported" / "model.safetensors").is_file()
    assert cli.main(["export-model", "no-such-config"]) == 1
    assert "no succeeded fine-tuned model" in capsys.readouterr().err
