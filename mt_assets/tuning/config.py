"""The tuning config: pydantic model, YAML loading and validation.

Every problem is one line naming the file, the line when known, the field path and the
reason (`configs/x.yaml:7: data.test_size: Input should be less than 1 (got 1.5)`).
Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mt_assets import languages, prompts
from mt_assets.models.precision import TRAINING_ARGS_KEYS, Requested
from mt_assets.tuning import libraries, models

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
MAX_REPLICATES = 10
_FLORES = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(_Strict):
    editions: list[str] = Field(min_length=1, description="edition names; the newest loaded version of each")
    source_languages: list[str] = Field(min_length=1, description="ISO 639-1 codes of the rows to use")
    target_language: str = "en"
    test_size: float = Field(ge=0, lt=1)
    validation_size: float = Field(0.0, ge=0, lt=1)
    seed: int = 13
    min_source_chars: int | None = Field(None, ge=0)
    max_source_chars: int | None = Field(None, gt=0)
    max_train_rows: int | None = Field(
        None, gt=0, description="caps the train split only, so test rows stay comparable"
    )


class Generation(_Strict):
    num_beams: int = Field(4, ge=1)
    max_new_tokens: int = Field(256, ge=1)
    few_shot: int = Field(3, ge=0, description="train examples in the base method's prompt (decoder LLMs)")
    max_new_tokens_per_source_token: float | None = Field(
        None,
        gt=0,
        description="caps each row at ceil(ratio x its source tokens) + 16 new tokens (never above "
        "max_new_tokens), so an output that repeats itself stops early instead of filling max_new_tokens",
    )


# Generation keys read by mt-assets itself; the others are transformers GenerationConfig settings,
# passed to generate() by the translation code and checked against GenerationConfig (`libraries`).
OWN_GENERATION_KEYS = frozenset({"few_shot", "max_new_tokens_per_source_token"})


class LanguageCodes(_Strict):
    source: str = Field(min_length=1)
    target: str = Field(min_length=1)


class TuningSettings(_Strict):
    task: Literal["auto", "seq2seq", "causal"] = "auto"
    languages: LanguageCodes | None = None
    training_args: dict[str, Any] = Field(default_factory=dict)
    lora_config: dict[str, Any] | None = None
    generation: Generation = Field(default_factory=Generation)
    precision: Requested = Field(
        "auto",
        description="what training and translation compute in, resolved on the host that runs them "
        "(mt_assets.models.precision): auto is bf16 on CUDA with compute capability >= 8.0, fp16 autocast on "
        "older CUDA, fp32 on CPUs (CPU bf16 is opt-in until the precision benchmarks meet their targets); bf16 also runs on a CPU "
        "with amx_bf16/avx512_bf16; fp16 needs CUDA. A host that cannot run it refuses before the model loads. "
        "LoRA weights and optimizer state stay fp32. Part of the model (and of each method's definition)",
    )


# What a config's hashes cover. "model": data selection, model, methodology, task, languages,
# training and LoRA settings, prompt template, i.e. all but `llm_tuning_configs.generation` (and
# the description). "generation": only that block, which changes translations, never the model.
# "config": both; `config_sha256`, which tells that anything changed.
HashPart = Literal["config", "model", "generation"]


class TuningConfig(_Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    description: str = ""
    llm_model: str = Field(min_length=1)
    tuning_methodology: Literal["lora", "qlora", "full"]
    training_prompt_template: str | None = None
    data: DataConfig
    llm_tuning_configs: TuningSettings = Field(default_factory=TuningSettings)
    replicates: int = Field(
        1,
        ge=1,
        le=MAX_REPLICATES,
        description="models trained per partition, replicate k with training_args.seed + k - 1; the "
        "leaderboard shows their mean and spread",
    )

    def canonical_json(self, part: HashPart = "config") -> str:
        """The validated config, or one part of it (`HashPart`), as canonical JSON."""
        # `description` is documentation: editing it must not make trained models stale.
        payload = self.model_dump(mode="json", exclude={"description"})
        # Each replicate is a model of its own (its own seed, `training.registry`): how many there
        # are changes no model. Left out at 1, so configs written before it keep their hashes.
        replicates = payload.pop("replicates")
        # Precision changes the model; left out at auto, so configs written before it keep their hashes.
        if payload["llm_tuning_configs"]["precision"] == "auto":
            del payload["llm_tuning_configs"]["precision"]
        generation = payload["llm_tuning_configs"].pop("generation")
        if part == "generation":
            payload = generation
        elif part == "config":
            payload["llm_tuning_configs"]["generation"] = generation
            if replicates != 1:
                payload["replicates"] = replicates
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def _hash(self, part: HashPart) -> str:
        return hashlib.sha256(self.canonical_json(part).encode("utf-8")).hexdigest()

    @property
    def sha256(self) -> str:
        """`config_sha256`: hash of the whole validated config, not of the file: comments, key
        order, whitespace and spelled-out defaults do not change it. Any edit changes it."""
        return self._hash("config")

    @property
    def model_sha256(self) -> str:
        """`model_sha256`: everything that changes the trained model; an edit here retrains."""
        return self._hash("model")

    @property
    def generation_sha256(self) -> str:
        """`generation_sha256`: the generation settings; an edit here re-translates and re-scores."""
        return self._hash("generation")


_MODELS_AT: dict[tuple[str, ...], type[BaseModel]] = {
    (): TuningConfig,
    ("data",): DataConfig,
    ("llm_tuning_configs",): TuningSettings,
    ("llm_tuning_configs", "generation"): Generation,
    ("llm_tuning_configs", "languages"): LanguageCodes,
}


@dataclass(frozen=True)
class LoadedConfig:
    """One file's outcome: a config, or the reasons it was rejected."""

    source: str  # the file as shown in messages
    config: TuningConfig | None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    path: Path | None = None  # absolute; None for a config read from the database
    # What the config passed `libraries.problems` against (`libraries.versions()`); None when that
    # check was skipped (`validate_mapping`) or the config is invalid.
    libraries_checked: Mapping[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.config is not None and not self.errors


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _line_map(node: yaml.Node | None, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            out[child] = key_node.start_mark.line + 1
            _line_map(value_node, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*path, index)] = item.start_mark.line + 1
            _line_map(item, (*path, index), out)
    return out


def _parse_yaml(text: str) -> tuple[Any, dict[tuple, int]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        return data, _line_map(node)
    finally:
        loader.dispose()


def _field_path(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line_for(loc: Sequence[Any], lines: Mapping[tuple, int]) -> int | None:
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


def _problem(source: str, loc: Sequence[Any], message: str, lines: Mapping[tuple, int]) -> str:
    line = _line_for(loc, lines)
    where = f"{source}:{line}" if line else source
    return f"{where}: {_field_path(loc)}: {message}"


def _pydantic_message(error: Mapping[str, Any]) -> str:
    loc, kind, value = tuple(error["loc"]), error["type"], error.get("input")
    if kind == "extra_forbidden":
        allowed = sorted(_MODELS_AT.get(tuple(str(p) for p in loc[:-1]), TuningConfig).model_fields)
        if tuple(loc[:-1]) == ("llm_tuning_configs", "generation"):
            passed = [key for key in allowed if key not in OWN_GENERATION_KEYS]
            if reason := libraries.unknown_generation_key(str(loc[-1]), passed):
                return reason
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key{hint} (allowed here: {', '.join(allowed)})"
    message = error["msg"].removeprefix("Value error, ")
    if kind != "missing" and not isinstance(value, dict | list):
        message += f" (got {value!r})"
    return message


def _semantic_problems(
    cfg: TuningConfig, check_libraries: bool = True
) -> tuple[list[tuple[tuple, str]], list[tuple[tuple, str]]]:
    """Cross-field rules pydantic field types cannot express, and (`check_libraries`) the settings
    against the installed libraries. Returns (errors, warnings)."""
    errors: list[tuple[tuple, str]] = []
    warnings: list[tuple[tuple, str]] = []
    data, settings = cfg.data, cfg.llm_tuning_configs

    if data.test_size + data.validation_size >= 1:
        errors.append(
            (
                ("data",),
                f"test_size + validation_size must be < 1 (got {data.test_size} + {data.validation_size})",
            )
        )
    if data.min_source_chars is not None and data.max_source_chars is not None:
        if data.min_source_chars > data.max_source_chars:
            errors.append((("data", "min_source_chars"), "must not exceed data.max_source_chars"))
    for key in ("editions", "source_languages"):
        values = getattr(data, key)
        if len(set(values)) != len(values):
            errors.append((("data", key), "lists a value twice"))
    for index, code in enumerate(data.source_languages):
        if not languages.is_known(code):
            errors.append((("data", "source_languages", index), _unknown_language(code)))
    if not languages.is_known(data.target_language):
        errors.append((("data", "target_language"), _unknown_language(data.target_language)))

    template = cfg.training_prompt_template
    if template is not None:
        try:
            prompts.check(template)
            if "source_text" not in prompts.placeholders(template):
                errors.append((("training_prompt_template",), "must use $source_text"))
        except ValueError as err:
            errors.append((("training_prompt_template",), str(err)))

    info = models.describe(cfg.llm_model, settings.task)
    if info.kind == "causal":
        if template is None:
            errors.append(
                (("training_prompt_template",), f"required for decoder LLM {cfg.llm_model!r} ({info.reason})")
            )
        if settings.languages is not None:
            errors.append(
                (
                    ("llm_tuning_configs", "languages"),
                    f"language codes are for seq2seq models, and {cfg.llm_model!r} is taken for a decoder LLM "
                    f"({info.reason}); set llm_tuning_configs.task: seq2seq if it is not",
                )
            )
    else:
        errors.extend(_seq2seq_problems(cfg, info))
        if template is not None:
            warnings.append((("training_prompt_template",), "ignored: seq2seq models take no prompt"))

    if cfg.tuning_methodology in ("lora", "qlora"):
        if settings.lora_config is None:
            errors.append(
                (("llm_tuning_configs", "lora_config"), f"required for {cfg.tuning_methodology} (at least r)")
            )
        elif info.needs_target_modules and not settings.lora_config.get("target_modules"):
            errors.append(
                (
                    ("llm_tuning_configs", "lora_config", "target_modules"),
                    "required for m2m_100/NLLB models (PEFT has no default), e.g. [q_proj, k_proj, v_proj, out_proj]",
                )
            )
    elif settings.lora_config is not None:
        errors.append((("llm_tuning_configs", "lora_config"), "full fine-tuning uses no LoRA; remove it"))
    if cfg.tuning_methodology == "qlora":
        warnings.append(
            (
                ("tuning_methodology",),
                "qlora needs a CUDA GPU (bitsandbytes 4-bit): training fails early without one",
            )
        )

    for key in TRAINING_ARGS_KEYS:
        if key in settings.training_args:
            errors.append(
                (
                    ("llm_tuning_configs", "training_args", key),
                    f"precision is set in one place now: use llm_tuning_configs.precision: {key} instead "
                    "(the host that runs the job resolves it, mt_assets.models.precision)",
                )
            )

    if check_libraries:
        errors.extend(
            libraries.problems(
                settings.training_args,
                settings.lora_config,
                settings.generation,
                OWN_GENERATION_KEYS,
                info.kind,
                data.validation_size > 0,
            )
        )
    return errors, warnings


def _unknown_language(code: str) -> str:
    return f"unknown language code {code!r} (ISO 639-1; known: {', '.join(sorted(languages.NAMES))})"


def _seq2seq_problems(cfg: TuningConfig, info: models.ModelInfo) -> list[tuple[tuple, str]]:
    codes = cfg.llm_tuning_configs.languages
    where = ("llm_tuning_configs", "languages")
    if codes is None:
        example = languages.NLLB_CODES.get(cfg.data.source_languages[0], "arb_Arab")
        return [
            (where, f"seq2seq model {cfg.llm_model!r} needs {{source: {example}, target: eng_Latn}} codes")
        ]
    problems: list[tuple[tuple, str]] = []
    if len(cfg.data.source_languages) != 1:
        problems.append(
            (
                ("data", "source_languages"),
                "a seq2seq config takes one source language (its source code is fixed); use one config per language",
            )
        )
    for side, code, iso in (
        ("source", codes.source, cfg.data.source_languages[0]),
        ("target", codes.target, cfg.data.target_language),
    ):
        if not (info.uses_flores_codes or "_" in code):
            continue
        if not _FLORES.match(code):
            problems.append(((*where, side), f"{code!r} is not a FLORES-200 code like arb_Arab"))
        elif iso in languages.NLLB_CODES and languages.NLLB_CODES[iso] != code:
            problems.append(
                (
                    (*where, side),
                    f"{code!r} does not match data language {iso!r} (expected {languages.NLLB_CODES[iso]})",
                )
            )
    return problems


def validate_mapping(
    raw: Any,
    source: str,
    lines: Mapping[tuple, int] | None = None,
    *,
    libraries_checked_sha256: str | None = None,
) -> LoadedConfig:
    """Validate an already parsed config (from a file or a database row).

    `libraries_checked_sha256`: the config_sha256 of a config known to have passed the library
    check against the installed versions (a stored row's record, `store.read`). A config with that
    hash skips `libraries.problems`, the one check that imports transformers, peft and torch; every
    other check runs. Any other config is checked in full."""
    lines = lines or {}
    if not isinstance(raw, dict):
        return LoadedConfig(source, None, (f"{source}: (top level): must be a mapping of config keys",))
    try:
        cfg = TuningConfig.model_validate(raw)
    except ValidationError as err:
        problems = tuple(_problem(source, e["loc"], _pydantic_message(e), lines) for e in err.errors())
        return LoadedConfig(source, None, problems)
    check_libraries = libraries_checked_sha256 is None or cfg.sha256 != libraries_checked_sha256
    errors, warnings = _semantic_problems(cfg, check_libraries)
    return LoadedConfig(
        source,
        None if errors else cfg,
        tuple(_problem(source, loc, msg, lines) for loc, msg in errors),
        tuple(_problem(source, loc, msg, lines) for loc, msg in warnings),
        libraries_checked=libraries.versions() if check_libraries and not errors else None,
    )


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_config_file(path: Path) -> LoadedConfig:
    source = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return LoadedConfig(source, None, (f"{source}: cannot read: {err}",))
    try:
        raw, lines = _parse_yaml(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        reason = " ".join(str(p) for p in (err.context, err.problem) if p)
        return LoadedConfig(source, None, (f"{where}: YAML syntax error: {reason}",))
    except yaml.YAMLError as err:
        return LoadedConfig(source, None, (f"{source}: YAML error: {err}",))
    return replace(validate_mapping(raw, source, lines), path=path.resolve())


def config_files(directory: Path) -> list[Path]:
    return sorted(p for pattern in ("*.yaml", "*.yml") for p in directory.glob(pattern) if p.is_file())


def load_config_dir(directory: Path) -> list[LoadedConfig]:
    """Every config file in `directory`, in file-name order. Two valid files with the same
    `name` are both rejected: neither may silently win the partition."""
    if not directory.is_dir():
        raise FileNotFoundError(f"config directory {directory} does not exist (set MT_CONFIG_DIR)")
    results = [load_config_file(path) for path in config_files(directory)]
    by_name: dict[str, list[int]] = {}
    for index, result in enumerate(results):
        if result.ok:
            by_name.setdefault(result.config.name, []).append(index)
    for name, indices in by_name.items():
        if len(indices) < 2:
            continue
        sources = [results[i].source for i in indices]
        for i in indices:
            others = ", ".join(s for s in sources if s != results[i].source)
            message = f"{results[i].source}: name: {name!r} is also used by {others}; names must be unique (all rejected)"
            results[i] = replace(results[i], config=None, errors=(message,))
    return results
