"""Generation with tiny models: forced BOS for NLLB-style models, stop at newline for decoder
LLMs, batched output equal to one-at-a-time output, the subprocess entry point."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from mt_assets import prompts
from mt_assets.translation.errors import TranslationError
from mt_assets.translation.generate import StopAtNewline, generate_ids, load, read_inputs, run_translation
from mt_assets.translation.spec import TranslationJob
from mt_assets_tests.tiny_models import TEMPLATE, rows, tiny_llama, tiny_m2m100, write_jsonl


def _inputs(tmp_path: Path, n: int) -> Path:
    items = [{k: v for k, v in r.items() if k != "official_translate"} for r in rows(n)]
    return write_jsonl(tmp_path / "input.jsonl", items)


def _job(tmp_path: Path, model_dir: Path, input_file: Path, **fields) -> TranslationJob:
    return TranslationJob(
        method="tiny:base",
        llm_model=str(model_dir),
        input_file=input_file,
        models_cache_dir=tmp_path / "models",
        **{"max_new_tokens": 6, **fields},
    )


def _collect(job: TranslationJob) -> list[dict]:
    events: list[dict] = []
    run_translation(job, events.append)
    return events


def test_seq2seq_starts_every_translation_with_the_target_language_code(tmp_path):
    model_dir = tiny_m2m100(tmp_path / "m2m")
    job = _job(
        tmp_path,
        model_dir,
        _inputs(tmp_path, 5),
        source_language_code="arb_Arab",
        target_language_code="eng_Latn",
    )
    loaded = load(job)
    ids = generate_ids(
        job, loaded, ["النور الكتاب", "الله"], ("arb_Arab", "eng_Latn"), StopAtNewline(loaded.tokenizer)
    )
    eng = loaded.tokenizer.convert_tokens_to_ids("eng_Latn")
    # position 0 is the decoder start token; the first generated token is the language code
    assert ids[:, 1].tolist() == [eng, eng]
    # the encoder input starts with the source code, as NLLB expects
    assert loaded.tokenizer("الله")["input_ids"][0] == loaded.tokenizer.convert_tokens_to_ids("arb_Arab")

    events = _collect(job)
    outputs = [e for e in events if e["event"] == "translation"]
    assert sorted(e["tuning_dataset_distribution_id"] for e in outputs) == [1, 2, 3, 4, 5]
    assert all("eng_Latn" not in e["translated_text"] and e["latency_ms"] > 0 for e in outputs)
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[-1]["done"] == progress[-1]["total"] == 5 and progress[-1]["eta_seconds"] == 0


def _llama_with_newline(path: Path) -> Path:
    """The tiny decoder with a newline token, like real LLM vocabularies have."""
    tiny_llama(path)
    tok = AutoTokenizer.from_pretrained(path)
    tok.add_tokens(["\n"])
    model = AutoModelForCausalLM.from_pretrained(path)
    model.resize_token_embeddings(len(tok), mean_resizing=False)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_decoder_stops_at_the_first_newline(tmp_path):
    model_dir = _llama_with_newline(tmp_path / "llama")
    row = {k: v for k, v in rows(1)[0].items() if k != "official_translate"}
    prompt = prompts.render(TEMPLATE, row)
    tok = AutoTokenizer.from_pretrained(model_dir)
    newline = tok.convert_tokens_to_ids("\n")
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    encoded = tok([prompt], return_tensors="pt")
    with torch.no_grad():
        free = model.generate(**encoded, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    free = free[0, encoded["input_ids"].shape[1] :].tolist()
    # Plant a newline: the output row of the token first generated at a later step becomes the
    # newline's, so greedy decoding now emits a newline there and continues past it without a stop rule.
    step = next(i for i in range(1, len(free)) if free[i] not in free[:i] and free[i] != tok.eos_token_id)
    with torch.no_grad():
        head = model.lm_head.weight
        head[[newline, free[step]]] = head[[free[step], newline]]
    model.save_pretrained(model_dir)
    with torch.no_grad():
        planted = model.generate(**encoded, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    planted = planted[0, encoded["input_ids"].shape[1] :].tolist()
    assert planted[step] == newline and len(planted) > step + 1  # without a stop rule, it runs on

    job = _job(
        tmp_path,
        model_dir,
        write_jsonl(tmp_path / "one.jsonl", [row]),
        prompt_template=TEMPLATE,
        max_new_tokens=8,
    )
    loaded = load(job)
    ids = generate_ids(job, loaded, [prompt], (), StopAtNewline(loaded.tokenizer))
    assert ids[0].tolist() == planted[: step + 1]  # stopped right at the newline
    (event,) = [e for e in _collect(job) if e["event"] == "translation"]
    assert event["translated_text"] == tok.decode(planted[:step], skip_special_tokens=True).strip()
    assert "\n" not in event["translated_text"]
    assert event["generated_tokens"] == step + 1  # the newline is generated, nothing after it


def test_batched_length_sorted_outputs_equal_one_at_a_time(tmp_path):
    model_dir = tiny_llama(tmp_path / "llama")
    examples = tuple(rows(2, seed=99))
    fields = {"prompt_template": TEMPLATE, "few_shot": examples}
    input_file = _inputs(tmp_path, 9)
    batched = _collect(_job(tmp_path, model_dir, input_file, batch_size=4, **fields))
    single = _collect(_job(tmp_path, model_dir, input_file, batch_size=1, **fields))

    def texts(events):
        return {
            e["tuning_dataset_distribution_id"]: e["translated_text"]
            for e in events
            if e["event"] == "translation"
        }

    assert len(texts(batched)) == 9
    assert texts(batched) == texts(single)
    # padding after a row stopped is not counted: the same tokens whichever way they were batched
    assert batched[-1]["generated_tokens"] == single[-1]["generated_tokens"] > 0
    assert len([e for e in batched if e["event"] == "progress"]) == 3


def test_bad_input_names_file_line_and_field(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"tuning_dataset_distribution_id": 1, "source_text": "x", "source_language": "ar"}\n{"source_text": "y"}\n'
    )
    with pytest.raises(TranslationError, match=r"in.jsonl:2: field 'tuning_dataset_distribution_id'"):
        read_inputs(path)
    with pytest.raises(ValueError, match="few_shot\\[0\\]: missing or empty official_translate"):
        _job(tmp_path, tmp_path, path, few_shot=({"source_text": "x", "source_language": "ar"},))


def test_missing_model_raises(tmp_path):
    job = _job(tmp_path, tmp_path / "nowhere", _inputs(tmp_path, 2))
    with pytest.raises(ValueError, match="no such directory"):
        run_translation(job, lambda event: None)


def test_module_entry_point_prints_json_lines(tmp_path):
    model_dir = tiny_m2m100(tmp_path / "m2m")
    job = _job(
        tmp_path,
        model_dir,
        _inputs(tmp_path, 3),
        source_language_code="arb_Arab",
        target_language_code="eng_Latn",
    )
    path = job.write(tmp_path / "job.json")
    done = subprocess.run(
        [sys.executable, "-m", "mt_assets.translation", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in events if e["event"] == "translation"] == ["translation"] * 3
    assert events[-1]["event"] == "done" and events[-1]["total"] == 3

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**json.loads(path.read_text()), "llm_model": str(tmp_path / "nowhere")}))
    failed = subprocess.run(
        [sys.executable, "-m", "mt_assets.translation", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 2
    assert json.loads(failed.stdout.splitlines()[-1])["event"] == "error"
    assert "no such directory" in failed.stderr


def test_source_relative_cap_cuts_each_row_to_its_own_budget_whichever_way_it_is_batched(tmp_path):
    from mt_assets.translation.generate import SOURCE_CAP_SLACK, row_caps

    model_dir = tiny_llama(tmp_path / "llama")
    input_file = _inputs(tmp_path, 8)
    fields = {"prompt_template": TEMPLATE, "max_new_tokens": 48}
    capped = {"max_new_tokens_per_source_token": 0.5, **fields}

    def per_row(events):
        return {e["tuning_dataset_distribution_id"]: (e["translated_text"], e["generated_tokens"])
                for e in events if e["event"] == "translation"}

    free = per_row(_collect(_job(tmp_path, model_dir, input_file, batch_size=4, **fields)))
    batched = per_row(_collect(_job(tmp_path, model_dir, input_file, batch_size=4, **capped)))
    single = per_row(_collect(_job(tmp_path, model_dir, input_file, batch_size=1, **capped)))
    assert batched == single  # a row's output does not depend on the rows batched with it

    job = _job(tmp_path, model_dir, input_file, **capped)
    inputs = read_inputs(input_file)
    caps = dict(zip((r["tuning_dataset_distribution_id"] for r in inputs), row_caps(job, load(job), inputs), strict=True))
    assert all(SOURCE_CAP_SLACK < cap < 48 for cap in caps.values())
    assert all(tokens <= caps[key] for key, (_, tokens) in batched.items())
    # the random tiny model rarely stops by itself: uncapped rows run longer than their caps
    assert any(free[key][1] > caps[key] for key in caps)
    assert row_caps(_job(tmp_path, model_dir, input_file, **fields), load(job), inputs) == [48] * 8
