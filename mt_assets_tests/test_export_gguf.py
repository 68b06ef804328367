"""GGUF export: tiny Llama, Gemma 3 and Qwen2 models written as F16 and Q8_0 GGUF files, loaded back
by transformers' own GGUF loader and compared with the HF model; the refusals; the CLI end to end.

The models' weights are rounded to float16 before export, so an F16 file loses nothing: any logit
difference after loading back is then a wrong mapping (a tensor name, the Llama q/k permutation, the
Gemma norm offset, a metadata key), not precision. Q8_0 is checked against its own error bound."""

import json

import gguf
import pytest
import torch
from sqlalchemy import create_engine, text
from transformers import AutoModelForCausalLM

from mt_assets import cli, prompts
from mt_assets.db import urls
from mt_assets.models import gguf_export
from mt_assets.training import export, trainer
from mt_assets_tests.tiny_models import (
    TEMPLATE,
    CollectingReporter,
    job,
    rows,
    tiny_gemma3_six_layers,
    tiny_llama_sentencepiece,
    tiny_m2m100,
    tiny_qwen2,
)

BUILDERS = {"llama": tiny_llama_sentencepiece, "gemma3": tiny_gemma3_six_layers, "qwen2": tiny_qwen2}
PROMPTS = [prompts.render(TEMPLATE, r) for r in rows(4)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("gguf-models")
    out = {}
    for arch, build in BUILDERS.items():
        model_dir = build(root / arch)
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.copy_(parameter.half().float())
        model.save_pretrained(model_dir)
        out[arch] = model_dir
    return out


def _types(path):
    return {t.name: t.tensor_type for t in gguf.GGUFReader(path).tensors}


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_f16_gguf_loads_back_and_computes_what_the_hf_model_computes(models, arch, tmp_path):
    written = gguf_export.write(models[arch], tmp_path / "m.gguf", "f16", f"tiny-{arch}")
    assert written.architecture == arch
    types = _types(written.path)
    assert written.tensor_count == len(types)
    assert gguf.GGMLQuantizationType.F16 in set(types.values())
    checked = gguf_export.verify(models[arch], written.path, PROMPTS)
    assert all(r.same_prompt_ids for r in checked.rows), "the GGUF tokenizer splits prompts differently"
    assert checked.max_abs_logit_diff < 1e-5
    assert [r.gguf for r in checked.rows] == [r.merged for r in checked.rows]
    assert any(r.merged.strip() for r in checked.rows)  # the comparison is of real text
    report = gguf_export.report(written, checked)
    assert f"greedy outputs identical: {len(PROMPTS)}/{len(PROMPTS)}" in report


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_q8_0_gguf_loads_back_within_the_q8_0_error_bound(models, arch, tmp_path):
    f16 = gguf_export.write(models[arch], tmp_path / "f16.gguf", "f16", arch)
    q8 = gguf_export.write(models[arch], tmp_path / "q8.gguf", "q8_0", arch)
    assert q8.size_bytes < 0.7 * f16.size_bytes
    assert gguf.GGMLQuantizationType.Q8_0 in set(_types(q8.path).values())
    hf = AutoModelForCausalLM.from_pretrained(models[arch]).state_dict()
    back = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="q8.gguf", dtype=torch.float32).state_dict()
    for name, weight in hf.items():
        # Q8_0: blocks of 32 values share a scale d = max|block|/127 stored as float16, so a value is
        # off by at most half a step (0.5 d) plus 127 times the scale's float16 rounding (2^-11 d)
        bound = float(weight.abs().max()) / 127 * (0.5 + 127 * 2**-11) + 1e-6
        assert float((back[name] - weight).abs().max()) <= bound, name
    checked = gguf_export.verify(models[arch], q8.path, PROMPTS[:1])
    assert checked.rows[0].same_prompt_ids
    assert 0 < checked.max_abs_logit_diff  # quantized for real


def test_seq2seq_and_other_architectures_are_refused_naming_the_config(tmp_path):
    m2m = tiny_m2m100(tmp_path / "m2m")
    with pytest.raises(gguf_export.GGUFExportError, match="config 'nllb-ar': GGUF export supports gemma3, llama, qwen2; m2m_100 is not"):
        gguf_export.write(m2m, tmp_path / "x.gguf", "f16", "nllb-ar")
    assert not (tmp_path / "x.gguf").exists()


def test_a_file_transformers_cannot_load_is_an_error(models, tmp_path):
    written = gguf_export.write(models["qwen2"], tmp_path / "m.gguf", "f16", "q")
    data = written.path.read_bytes()
    written.path.write_bytes(data[: len(data) // 2])  # tensors cut off
    with pytest.raises(gguf_export.GGUFExportError, match="cannot be loaded back"):
        gguf_export.verify(models["qwen2"], written.path, PROMPTS[:1])


@pytest.fixture(scope="module")
def qwen_adapter(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gguf-adapter")
    base = tiny_qwen2(tmp / "base")
    args = {"max_steps": 2, "save_steps": 2, "logging_steps": 1, "learning_rate": 0.05, "per_device_train_batch_size": 4}
    result = trainer.run(job(tmp, base, training_args=args, validation_file=None), CollectingReporter())
    return tmp / "out" / "final", result.artefact_sha256


def test_qlora_adapter_is_refused_before_merging(qwen_adapter, tmp_path):
    adapter, _ = qwen_adapter
    qlora = tmp_path / "qlora"
    qlora.mkdir()
    info = json.loads((adapter / trainer.TRAINING_INFO).read_text())
    (qlora / trainer.TRAINING_INFO).write_text(json.dumps({**info, "tuning_methodology": "qlora"}))
    with pytest.raises(export.ExportError, match="qlora"):
        export.check_gguf(qlora, "tiny")


def _register(db_url, rows_):
    engine = create_engine(urls.sqlalchemy(db_url))
    with engine.begin() as conn:
        config = conn.execute(
            text(
                "insert into llm.tuning_configs (name, llm_model, tuning_methodology) "
                "values ('tiny-gguf', 'x', 'lora') returning id"
            )
        ).scalar_one()
        for replicate, path, sha in rows_:
            conn.execute(
                text(
                    "insert into llm.fine_tuned_models (tuning_config_id, status, pretrained_model_dir_path, "
                    "artefact_sha256, replicate) values (:c, 'succeeded', :p, :s, :r)"
                ),
                {"c": config, "p": path, "s": sha, "r": replicate},
            )
    engine.dispose()


def test_cli_exports_the_chosen_replicate_as_gguf_and_reports_the_check(
    qwen_adapter, mt_env, db_url, tmp_path, capsys
):
    adapter, sha = qwen_adapter
    # replicate 2 is the older model; a newest replicate-1 row whose artefact is gone would be
    # picked (and fail) if the replicate were not filtered on
    _register(db_url, [(2, str(adapter), sha), (1, str(tmp_path / "gone"), "0" * 64)])
    out = tmp_path / "exported"
    argv = ["export-model", "tiny-gguf", "--format", "gguf", "--replicate", "2", "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert (out / "tiny-gguf-r2-f16.gguf").is_file()
    assert (out / "merged" / "model.safetensors").is_file()
    assert "quantization: f16" in printed and "greedy outputs identical: 1/1" in printed
    assert "one fixed row" in printed  # this database holds no test rows
    assert cli.main(["export-model", "tiny-gguf", "--format", "hf", "--quantization", "q8_0"]) == 2
    assert cli.main(["export-model", "tiny-gguf", "--format", "gguf", "--replicate", "3"]) == 1
    assert "replicate 3" in capsys.readouterr().err
