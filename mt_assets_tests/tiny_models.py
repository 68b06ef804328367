"""Tiny models for tests, built from configs with a tokenizer trained here: no hub, seconds on CPU.

The NLLB-style tokenizer is a real `NllbTokenizer` (the class the hub's NLLB models load as)
over a locally trained BPE, so the seq2seq path meets the same `src_lang`/`tgt_lang`
handling as with facebook/nllb-200.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    LlamaForCausalLM,
    M2M100Config,
    M2M100ForConditionalGeneration,
    NllbTokenizer,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from mt_assets.training.spec import TrainingJob
from mt_assets.translation.spec import TranslationJob

LANGUAGE_CODES = ["arb_Arab", "pes_Arab", "eng_Latn"]


# A tiny seq2seq config over the real Quran sample (`mt-assets sample-data quran`): 16 train
# verses, 2 steps, ~25 test verses; what the end-to-end, README and notebook tests run.
QURAN_CONFIG = """\
name: {name}
description: {description}
llm_model: {model}
tuning_methodology: lora
data:
  editions: [quran-ar-en]
  source_languages: [ar]
  test_size: 0.004
  validation_size: 0.001
  max_source_chars: 120
  max_train_rows: 16
llm_tuning_configs:
  languages: {{source: arb_Arab, target: eng_Latn}}
  training_args: {{max_steps: 2, save_steps: 2, logging_steps: 1, per_device_train_batch_size: 4, eval_strategy: "no"}}
  lora_config: {{r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}}
  generation: {{num_beams: 1, max_new_tokens: 8}}
"""

_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]

_EN = ["the", "light", "book", "mercy", "god", "earth", "heaven", "people", "word", "day", "night", "path"]
_AR = ["النور", "الكتاب", "الرحمة", "الله", "الأرض", "السماء", "الناس", "الكلمة", "اليوم", "الليل", "الصراط"]
_FA = ["نور", "کتاب", "رحمت", "خدا", "زمین", "آسمان", "مردم", "کلمه", "روز", "شب", "راه"]


def sentences(n: int = 300, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = (_EN, _AR, _FA)[i % 3]
        out.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))))
    return out


def rows(n: int, source_language: str = "ar", seed: int = 3) -> list[dict]:
    """Rows shaped like the asset's exported JSONL; lengths vary so padding matters."""
    rng = random.Random(seed)
    words = _AR if source_language == "ar" else _FA
    out = []
    for i in range(n):
        k = rng.randint(2, 10)
        src = [rng.choice(words) for _ in range(k)]
        out.append(
            {
                "tuning_dataset_distribution_id": i + 1,
                "dataset_id": i + 1,
                "source_text": " ".join(src),
                "official_translate": " ".join(_EN[_AR.index(w) if w in _AR else _FA.index(w)] for w in src),
                "source_language": source_language,
                "target_language": "en",
                "source_reference": f"1:{i + 1}",
                "source_paragraph": i + 1,
                "edition": "tiny-ar-en",
            }
        )
    return out


def write_jsonl(path: Path, items: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items))
    return path


def _train_bpe(extra_specials: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=_SPECIALS + extra_specials, show_progress=False
    )
    tok.train_from_iterator(sentences(), trainer=trainer)
    return tok


def nllb_tokenizer() -> NllbTokenizer:
    bpe = json.loads(_train_bpe(LANGUAGE_CODES).to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in bpe["merges"]]
    return NllbTokenizer(
        vocab=bpe["vocab"],
        merges=merges,
        extra_special_tokens=LANGUAGE_CODES,
        src_lang="arb_Arab",
        tgt_lang="eng_Latn",
    )


def llama_tokenizer() -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe([]),
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )


def tiny_m2m100(path: Path, seed: int = 1, **overrides: Any) -> Path:
    """An NLLB-style encoder-decoder (M2M100 architecture) saved with its tokenizer. LayerDrop is
    off: M2M100Config's default (0.05 per layer) skips both decoder layers of so small a model in
    one step of 400, and that step's loss then depends on no LoRA weight."""
    tok = nllb_tokenizer()
    config = M2M100Config(
        vocab_size=len(tok),
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.eos_token_id,
        **{"encoder_layerdrop": 0.0, "decoder_layerdrop": 0.0, **overrides},
    )
    torch.manual_seed(seed)  # the same weights every run: an untrained model's outputs are then reproducible
    M2M100ForConditionalGeneration(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def tiny_llama(path: Path, seed: int = 0, initializer_range: float = 0.02) -> Path:
    """A 2-layer Llama with random weights. A larger `initializer_range` (e.g. 0.3) makes its outputs
    depend on every input token and position, which tests of exact decoding need; at the default the
    model repeats one short loop whatever the prompt."""
    tok = llama_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


class CollectingReporter:
    """Keeps training events in memory for in-process runs."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def emit(self, event: dict) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["event"] == kind]


TEMPLATE = (
    "Translate $source_language to $target_language.\n$source_language: $source_text\n$target_language:"
)


def job(tmp: Path, model_dir: Path, tuning_methodology: str = "lora", **overrides) -> TrainingJob:
    """A few-step job on synthetic rows written under tmp."""
    train = write_jsonl(tmp / "train.jsonl", rows(24))
    validation = write_jsonl(tmp / "validation.jsonl", rows(6, seed=11))
    args = {"max_steps": 4, "save_steps": 2, "logging_steps": 1, "per_device_train_batch_size": 4, "seed": 1}
    fields = {
        "job_id": "tiny-job",
        "llm_model": str(model_dir),
        "tuning_methodology": tuning_methodology,
        "prompt_template": TEMPLATE,
        "training_args": args,
        "lora_config": {"r": 4, "lora_alpha": 8},
        "train_file": train,
        "validation_file": validation,
        "output_dir": tmp / "out",
        "models_cache_dir": tmp / "models",
    }
    fields.update(overrides)
    return TrainingJob(**fields)


def translation_job(work: Path, model: Path | str, n: int, models_dir: Path, **fields) -> TranslationJob:
    """A job translating n synthetic rows (their references left out) written under work."""
    items = [{k: v for k, v in r.items() if k != "official_translate"} for r in rows(n)]
    return TranslationJob(
        method="tiny:base",
        llm_model=str(model),
        input_file=write_jsonl(work / "input.jsonl", items),
        models_cache_dir=models_dir,
        **{"max_new_tokens": 6, **fields},
    )


def byte_level_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE (GPT-2's byte alphabet, no merges): every byte, NUL included, is a token."""
    vocab = {t: i for i, t in enumerate(_SPECIALS + sorted(pre_tokenizers.ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )


def scripted_llama(path: Path, output: str) -> Path:
    """A 1-layer Llama over `byte_level_tokenizer` that generates `output` byte by byte and then EOS,
    after any prompt whose last byte is not one of `output`'s (which must be distinct). Its layer adds
    nothing (zero output projections), so the logits depend on the last token only: a bigram table
    written into one-hot embeddings and the LM head. Real weights, real decoding: for tests of what
    a model may emit (control bytes, newlines)."""
    tok = byte_level_tokenizer()
    script = tok(output, add_special_tokens=False)["input_ids"]
    if len(script) != len(output.encode()) or len(set(script)) != len(script):
        raise ValueError(f"{output!r}: the bytes of a scripted output must be distinct")
    size = len(tok)
    config = LlamaConfig(
        vocab_size=size,
        hidden_size=-(-size // 4) * 4,  # room for one-hot embeddings; an even head size for RoPE
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed, head = model.model.embed_tokens.weight, model.lm_head.weight
        embed.zero_()
        embed[torch.arange(size), torch.arange(size)] = 1.0
        head.zero_()
        head[script[0], :size] = 1.0  # after any other token: the script's first
        for previous, following in zip(script, script[1:] + [tok.eos_token_id], strict=True):
            head[script[0], previous] = 0.0
            head[following, previous] = 1.0
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def plant_nan(model_dir: Path, parameter: str) -> Path:
    """A damaged checkpoint: NaN in the first row of one saved parameter (e.g. the embeddings)."""
    from safetensors.torch import load_file, save_file

    path = model_dir / "model.safetensors"
    tensors = load_file(path)
    tensors[parameter][0] = float("nan")
    save_file(tensors, path, metadata={"format": "pt"})
    return model_dir


def tiny_gemma3(path: Path, seed: int = 0) -> Path:
    """A 2-layer Gemma 3 text model (`Gemma3ForCausalLM`, what the Gemma 3 270M GGUF converts to):
    one sliding-window and one full-attention layer, as the real model alternates them."""
    tok = llama_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=256,
        sliding_window=16,
        layer_types=["sliding_attention", "full_attention"],
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    Gemma3ForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def qwen_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE trained here, as Qwen's is: `AutoTokenizer` loads a qwen2 model's tokenizer as
    `Qwen2Tokenizer`, which re-applies its own byte-level pre-tokenizer to the vocabulary."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(sentences(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )


def tiny_qwen2(path: Path, seed: int = 0) -> Path:
    """A 2-layer Qwen2 (the Qwen2.5 architecture: grouped-query attention, biased q/k/v projections)."""
    tok = qwen_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    Qwen2ForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def sentencepiece_style_tokenizer(cls: Any, specials: list[str]) -> Any:
    """A BPE trained here, in the shape of a sentencepiece vocabulary (Llama 2, Gemma): `specials`,
    then the 256 byte-fallback tokens <0x00>..<0xFF>, then the learned pieces, handed to `cls`
    (`LlamaTokenizer` or `GemmaTokenizer`, the classes transformers' GGUF loader rebuilds)."""
    trained = json.loads(_train_bpe([]).to_str())["model"]
    vocab = {t: i for i, t in enumerate(specials + [f"<0x{b:02X}>" for b in range(256)])}
    for token in sorted(trained["vocab"], key=trained["vocab"].get):
        if token not in _SPECIALS:
            vocab.setdefault(token, len(vocab))
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in trained["merges"]]
    return cls(vocab=vocab, merges=merges)


def tiny_llama_sentencepiece(path: Path, seed: int = 0) -> Path:
    """A 2-layer Llama (grouped-query attention, so the GGUF q/k permutation differs for q and k)
    with a Llama 2 style `LlamaTokenizer` (byte fallback) and weights large enough (initializer_range
    0.3) that greedy outputs depend on every prompt token."""
    from transformers import LlamaTokenizer

    tok = sentencepiece_style_tokenizer(LlamaTokenizer, ["<unk>", "<s>", "</s>"])
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        initializer_range=0.3,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def tiny_gemma3_six_layers(path: Path, seed: int = 0) -> Path:
    """A 6-layer Gemma 3 text model with Gemma 3's own layer pattern (five sliding-window layers, then
    one full-attention layer, as the 270M model repeats), a `GemmaTokenizer` and a sliding window of 8
    so prompts cross it. GGUF keeps no layer pattern; a loader assumes this one."""
    from transformers import GemmaTokenizer

    tok = sentencepiece_style_tokenizer(GemmaTokenizer, ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"])
    config = Gemma3TextConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=6,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=256,
        sliding_window=8,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        initializer_range=0.3,
    )
    torch.manual_seed(seed)
    Gemma3ForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path
