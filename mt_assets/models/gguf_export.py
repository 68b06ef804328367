"""Write a merged decoder model directory as one GGUF file (F16 or Q8_0), and check it loads back.

Contract:
- `write(model_dir, out_file, quantization, label)` reads an HF causal-LM directory whose
  `config.json` is Gemma 3 text (`gemma3_text`), Llama or Qwen2 and writes `out_file` with
  llama.cpp's names: tensors renamed by gguf-py's own tables (`gguf.get_tensor_name_map`), the
  architecture's metadata keys, and the tokenizer as `tokenizer.ggml.*` keys, so that both
  llama.cpp and transformers' GGUF loader (`from_pretrained(dir, gguf_file=name)`) read it. The
  file is written to a temporary sibling and renamed: `out_file` is never half written.
- Any other architecture, a quantized checkpoint or a tokenizer that is not a BPE raises
  `GGUFExportError` naming the label (the config) and what is supported.
- Weight transforms are llama.cpp's (convert_hf_to_gguf.py), which transformers' loader undoes:
  Llama's q/k rows are permuted into llama.cpp's rotary layout; Gemma's RMSNorm weights are
  stored as 1 + w (llama.cpp multiplies by the weight, HF by 1 + weight).
- 1-D tensors (norms, biases) stay F32 as llama.cpp keeps them; a 2-D tensor whose rows are not
  a multiple of Q8_0's 32-value block stays F16.
- `verify(model_dir, gguf_file, prompts)` loads both with transformers and greedy-decodes each
  prompt with each model (each with its own tokenizer, as a user of either would), and reports
  whether the outputs are identical, the max abs logit difference on the first prompt, and the
  config fields the GGUF loader did not carry back (it rebuilds the config from a few keys only).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SUPPORTED = {"gemma3_text": "gemma3", "llama": "llama", "qwen2": "qwen2"}
QUANTIZATIONS = ("f16", "q8_0")
_Q8_BLOCK = 32


class GGUFExportError(ValueError):
    pass


def architecture(model_dir: Path, label: str) -> str:
    """The GGUF architecture name of a model directory, or a clear refusal."""
    config = json.loads((model_dir / "config.json").read_text())
    model_type = config.get("model_type", "?")
    if model_type not in SUPPORTED or config.get("is_encoder_decoder"):
        raise GGUFExportError(
            f"config {label!r}: GGUF export supports gemma3, llama, qwen2; {model_type} is not "
            f"(export it with --format hf)"
        )
    if config.get("quantization_config"):
        raise GGUFExportError(f"config {label!r}: {model_dir} holds quantized weights; GGUF export needs a full model")
    return SUPPORTED[model_type]


def _rope_theta(config: Any, full: bool = True) -> float | None:
    params = getattr(config, "rope_parameters", None) or {}
    if "full_attention" in params:  # Gemma 3: one rope per attention kind
        params = params["full_attention" if full else "sliding_attention"]
    theta = params.get("rope_theta", getattr(config, "rope_theta", None))
    return None if theta is None else float(theta)


def _permute(weights: np.ndarray, n_head: int, n_head_kv: int) -> np.ndarray:
    """llama.cpp's rotary layout for Llama's q/k rows (convert_hf_to_gguf.py LlamaModel.permute)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _metadata(writer: Any, arch: str, config: Any, vocab_rows: int, quantization: str) -> None:
    import gguf

    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(getattr(config, "num_key_value_heads", None) or config.num_attention_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(vocab_rows)
    if (theta := _rope_theta(config)) is not None:
        writer.add_rope_freq_base(theta)
    if arch == "llama":
        writer.add_rope_dimension_count(head_dim)
    if arch == "gemma3":
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
        if config.sliding_window:
            writer.add_sliding_window(config.sliding_window)
        if (local := _rope_theta(config, full=False)) is not None:
            writer.add_rope_freq_base_swa(local)
    file_type = {"f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[quantization]
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _byte_level(pre_tokenizer: dict | None) -> bool:
    if not pre_tokenizer:
        return False
    if pre_tokenizer.get("type") == "ByteLevel":
        return True
    return any(_byte_level(p) for p in pre_tokenizer.get("pretokenizers") or [])


def _tokenizer(writer: Any, arch: str, tokenizer: Any, vocab_rows: int, label: str) -> None:
    """tokenizer.ggml.* from the fast tokenizer's own tokenizer.json: its vocabulary in id order,
    its merges, token types and special ids. Byte-level BPE (Qwen2, Llama 3) is llama.cpp's
    "gpt2" model, a sentencepiece-style BPE (Gemma, Llama 2) its "llama" model."""
    import gguf

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise GGUFExportError(f"config {label!r}: the tokenizer has no tokenizer.json (not a fast tokenizer)")
    spec = json.loads(backend.to_str())
    model = spec["model"]
    if model.get("type") != "BPE":
        raise GGUFExportError(
            f"config {label!r}: GGUF export writes BPE tokenizers; this one is {model.get('type')}"
        )
    vocab = backend.get_vocab(with_added_tokens=True)
    size = max(max(vocab.values()) + 1, vocab_rows)
    tokens: list[str | None] = [None] * size
    for token, index in vocab.items():
        tokens[index] = token
    added = {t["id"]: t for t in spec.get("added_tokens", [])}
    byte_level = _byte_level(spec.get("pre_tokenizer"))
    types, names = [], []
    for index, token in enumerate(tokens):
        if token is None:  # embedding rows beyond the vocabulary, as llama.cpp pads them
            names.append(f"[PAD{index}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        names.append(token)
        if index in added:
            types.append(gguf.TokenType.CONTROL if added[index]["special"] else gguf.TokenType.USER_DEFINED)
        elif token == model.get("unk_token"):
            types.append(gguf.TokenType.UNKNOWN)
        elif not byte_level and len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    if byte_level:
        writer.add_tokenizer_model("gpt2")
        # the split regex transformers' loader (and llama.cpp) applies before the merges
        writer.add_tokenizer_pre({"qwen2": "qwen2", "llama": "llama-bpe"}.get(arch, "default"))
    else:
        writer.add_tokenizer_model("llama")
        writer.add_tokenizer_pre("default")
        # sentencepiece order: an earlier token ranks higher (Gemma's loader sorts merges by it)
        writer.add_token_scores([-float(i) for i in range(size)])
    writer.add_token_list(names)
    writer.add_token_types([int(t) for t in types])
    if merges:
        writer.add_token_merges(merges)
    for name, add in (
        ("bos_token_id", writer.add_bos_token_id),
        ("eos_token_id", writer.add_eos_token_id),
        ("unk_token_id", writer.add_unk_token_id),
        ("pad_token_id", writer.add_pad_token_id),
    ):
        if (value := getattr(tokenizer, name, None)) is not None:
            add(int(value))
    # whether the tokenizer adds BOS/EOS, measured rather than read from a flag some classes lack
    probe = tokenizer("a")["input_ids"]
    writer.add_add_bos_token(bool(probe) and probe[0] == tokenizer.bos_token_id)
    writer.add_add_eos_token(bool(probe) and probe[-1] == tokenizer.eos_token_id)
    if getattr(tokenizer, "chat_template", None) and isinstance(tokenizer.chat_template, str):
        writer.add_chat_template(tokenizer.chat_template)


def _tensors(arch: str, model: Any, quantization: str) -> list[tuple[str, np.ndarray, Any]]:
    import gguf
    import torch

    config = model.config
    name_map = gguf.get_tensor_name_map(
        next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch), config.num_hidden_layers
    )
    tied = bool(getattr(config, "tie_word_embeddings", False))
    n_head = config.num_attention_heads
    n_kv = getattr(config, "num_key_value_heads", None) or n_head
    out = []
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # no output.weight: llama.cpp and transformers then tie it to token_embd
        name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise GGUFExportError(f"no GGUF name for tensor {hf_name!r} of {arch}")
        data = tensor.detach().to(torch.float32).cpu().numpy()
        if arch == "llama" and hf_name.endswith("q_proj.weight"):
            data = _permute(data, n_head, n_head)
        elif arch == "llama" and hf_name.endswith("k_proj.weight"):
            data = _permute(data, n_head, n_kv)
        if arch == "gemma3" and hf_name.endswith("norm.weight"):
            data = data + 1
        if data.ndim <= 1:
            qtype = gguf.GGMLQuantizationType.F32
            stored = data.astype(np.float32)
        elif quantization == "q8_0" and data.shape[-1] % _Q8_BLOCK == 0:
            qtype = gguf.GGMLQuantizationType.Q8_0
            stored = gguf.quants.quantize(data, qtype)
        else:
            qtype = gguf.GGMLQuantizationType.F16
            stored = data.astype(np.float16)
        out.append((name, stored, qtype))
    return out


@dataclass
class Written:
    path: Path
    size_bytes: int
    quantization: str
    tensor_count: int
    architecture: str


def write(model_dir: Path, out_file: Path, quantization: str = "f16", label: str = "") -> Written:
    """Write `model_dir` (an HF causal LM) to `out_file` as GGUF; see the module docstring."""
    import gguf
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    label = label or str(model_dir)
    if quantization not in QUANTIZATIONS:
        raise GGUFExportError(f"quantization {quantization!r}: choose one of {', '.join(QUANTIZATIONS)}")
    arch = architecture(model_dir, label)
    if out_file.exists():
        raise GGUFExportError(f"{out_file} already exists; choose another --out or remove it")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tensors = _tensors(arch, model, quantization)
    vocab_rows = model.get_input_embeddings().weight.shape[0]
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(out_file.name + ".tmp")
    writer = gguf.GGUFWriter(tmp, arch)
    try:
        writer.add_name(label)
        _metadata(writer, arch, model.config, vocab_rows, quantization)
        _tokenizer(writer, arch, tokenizer, vocab_rows, label)
        for name, data, qtype in tensors:
            writer.add_tensor(name, data, raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    os.replace(tmp, out_file)
    return Written(out_file, out_file.stat().st_size, quantization, len(tensors), arch)


@dataclass
class Row:
    prompt: str
    merged: str
    gguf: str
    same_prompt_ids: bool

    @property
    def identical(self) -> bool:
        return self.merged == self.gguf


@dataclass
class Verification:
    rows: list[Row]
    max_abs_logit_diff: float
    config_differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def identical(self) -> int:
        return sum(r.identical for r in self.rows)


# config fields that say nothing about what the model computes
_IGNORED_CONFIG = {
    "_name_or_path", "architectures", "dtype", "torch_dtype", "transformers_version", "quantization_config",
    "use_cache", "output_attentions", "output_hidden_states", "return_dict", "_attn_implementation_autoset",
    "initializer_range",  # how weights were first drawn, not what they compute
}


def _same(a: Any, b: Any) -> bool:
    # GGUF stores floats as float32: 1e-06 comes back as 9.99999997e-07
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-6 * max(abs(a), abs(b))
    return a == b


def _config_differences(merged: Any, loaded: Any) -> dict[str, tuple[Any, Any]]:
    a, b = merged.to_dict(), loaded.to_dict()
    return {
        k: (a[k], b.get(k))
        for k in sorted(a)
        if k not in _IGNORED_CONFIG and not k.startswith("_") and not _same(a[k], b.get(k))
    }


def verify(model_dir: Path, gguf_file: Path, prompts: list[str], max_new_tokens: int = 16) -> Verification:
    """Greedy outputs of the merged model and of the GGUF loaded back; raises GGUFExportError if
    transformers cannot load the GGUF (model or tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mt_assets.models.sources import _one_gguf_parse

    merged = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    merged_tok = AutoTokenizer.from_pretrained(model_dir)
    try:
        # one parse of the file for config, weights and tokenizer (a 262k vocabulary takes ~30 s a parse)
        with _one_gguf_parse():
            loaded = AutoModelForCausalLM.from_pretrained(
                gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32
            ).eval()
            loaded_tok = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    except Exception as exc:  # the loader raises many types; any of them means "cannot be loaded back"
        raise GGUFExportError(f"{gguf_file} cannot be loaded back by transformers: {type(exc).__name__}: {exc}") from exc

    def greedy(model: Any, tok: Any, ids: list[int]) -> str:
        with torch.no_grad():
            out = model.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                do_sample=False,
                num_beams=1,
                max_new_tokens=max_new_tokens,
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            )
        return tok.decode(out[0, len(ids):], skip_special_tokens=True)

    rows, max_diff = [], float("nan")
    for i, prompt in enumerate(prompts):
        merged_ids = merged_tok(prompt)["input_ids"]
        loaded_ids = loaded_tok(prompt)["input_ids"]
        rows.append(Row(prompt, greedy(merged, merged_tok, merged_ids), greedy(loaded, loaded_tok, loaded_ids),
                        merged_ids == loaded_ids))
        if i == 0:
            # the same ids through both: the weights' difference alone, not the tokenizers'
            with torch.no_grad():
                ids = torch.tensor([merged_ids])
                max_diff = float((merged(ids).logits - loaded(ids).logits).abs().max())
    return Verification(rows, max_diff, _config_differences(merged.config, loaded.config))


def report(written: Written, verification: Verification) -> str:
    lines = [
        f"file: {written.path}",
        f"size: {written.size_bytes} bytes ({written.size_bytes / 2**20:.1f} MiB)",
        f"architecture: {written.architecture}",
        f"quantization: {written.quantization}",
        f"tensors: {written.tensor_count}",
        f"max abs logit difference (first prompt, same ids): {verification.max_abs_logit_diff:.6g}",
        f"greedy outputs identical: {verification.identical}/{len(verification.rows)}",
    ]
    for i, row in enumerate(verification.rows, 1):
        verdict = "identical" if row.identical else "DIFFERENT"
        ids = "" if row.same_prompt_ids else " (the GGUF tokenizer split the prompt differently)"
        lines.append(f"  row {i}: {verdict}{ids}")
        lines.append(f"    merged: {row.merged!r}")
        if not row.identical:
            lines.append(f"    gguf:   {row.gguf!r}")
    if verification.config_differences:
        lines.append("config fields the GGUF loader did not carry back (merged -> loaded):")
        for key, (a, b) in verification.config_differences.items():
            lines.append(f"  {key}: {a!r} -> {b!r}")
    return "\n".join(lines)
