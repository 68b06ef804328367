"""`llm_tuning_configs` checked against the installed libraries, before any model loads.

Each key of `training_args`, `lora_config` and `generation` is checked against the class it is
given to — Seq2SeqTrainingArguments (seq2seq models) or TrainingArguments (decoder LLMs), peft's
LoraConfig, transformers' GenerationConfig — by the installed versions' own fields, never a list
kept here: an unknown key gets a did-you-mean, or its replacement when a release removed it
(`_REPLACED`, the one thing a signature cannot tell). Values are checked by each field's declared
type, then by constructing the objects (no model, no GPU). Keys that depend on the host
(`arguments.HOST_KEYS`: precision, distributed set-up) are checked by name and type only: the
training host decides them (`arguments.adapt_to_host`), so a CPU laptop validates a GPU config.

Problems are (field path, message) pairs; `mt_assets.tuning.config` adds the file and line.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import tempfile
import typing
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from mt_assets.training import arguments

Problem = tuple[tuple, str]
_WHERE = ("llm_tuning_configs",)
# Keys a transformers release removed, with what replaces them.
_REPLACED = {
    "evaluation_strategy": "eval_strategy",
    "no_cuda": "use_cpu",
    "warmup_ratio": "warmup_steps",
}
_REPLACEMENT_HINTS = {
    "warmup_ratio": "a step count, or a float in [0, 1) for a ratio of the total steps",
}
# LoraConfig keys the trainer sets from the model (`mt_assets.training.model.load_model`).
_LORA_SET_BY_TRAINER = ("task_type",)


# What `problems` checks a config against: TrainingArguments (transformers, which needs accelerate
# and torch to construct), LoraConfig (peft), GenerationConfig (transformers), and the rules here and
# in `arguments`. A stored config that passed against these (`versions()`) is not checked again
# while they stay the same (`mt_assets.tuning.store`).
CHECKED_PACKAGES = ("transformers", "peft", "accelerate", "torch")


def versions() -> dict[str, str]:
    """The installed versions of CHECKED_PACKAGES and a fingerprint of the check's own code. Cheap:
    package metadata and two source files, no import of the packages."""
    code = hashlib.sha256()
    for module in (__file__, arguments.__file__):
        code.update(Path(module).read_bytes())
    return {
        **{package: _version(package) for package in CHECKED_PACKAGES},
        "mt_assets.checks": code.hexdigest()[:16],
    }


def problems(
    training_args: Mapping[str, Any],
    lora_config: Mapping[str, Any] | None,
    generation: BaseModel,
    own_generation_keys: frozenset[str],
    kind: str,
    has_validation: bool,
) -> list[Problem]:
    out = _training_args(training_args, kind, has_validation)
    if lora_config is not None:
        out += _lora_config(lora_config)
    out += _generation(generation, own_generation_keys)
    return out


def unknown_generation_key(key: str, passed_keys: list[str]) -> str | None:
    """Why a key not in our `Generation` model is refused, when it is a GenerationConfig setting."""
    if key not in _generation_fields():
        return None
    return (
        f"a transformers GenerationConfig setting that mt-assets does not pass to generate() "
        f"(it passes {', '.join(passed_keys)}); remove it"
    )


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    """Init fields of a dataclass and their declared types (None where the type cannot be resolved)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a forward reference the installed version cannot resolve: names still count
        hints = {}
    return {f.name: hints.get(f.name) for f in dataclasses.fields(cls) if f.init}


@functools.cache
def _adapter(hint: Any) -> TypeAdapter | None:
    try:
        return TypeAdapter(hint)
    except Exception:  # a type pydantic has no schema for (e.g. GenerationConfig): construction checks it
        return None


def _type_problem(cls: type, key: str, value: Any, hint: Any) -> str | None:
    adapter = _adapter(hint) if hint is not None else None
    if adapter is None:
        return None
    try:
        # strict: "2e-4" is a str to PyYAML, and TrainingArguments would keep it one
        adapter.validate_python(value, strict=True)
    except ValidationError as err:
        return f"{err.errors()[0]['msg']} (got {value!r}; {cls.__name__}.{key} is {_type_name(hint)})"
    return None


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _unknown(key: str, cls: type, allowed: list[str], package: str) -> str:
    where = f"not a {cls.__name__} argument in the installed {package} {_version(package)}"
    if key in _REPLACED and _REPLACED[key] in allowed:
        new = _REPLACED[key]
        hint = f" ({_REPLACEMENT_HINTS[key]})" if key in _REPLACEMENT_HINTS else ""
        return f"{where}: replaced by {new!r}{hint}; rename it"
    close = difflib.get_close_matches(key, allowed, n=1)
    return where + (f"; did you mean {close[0]!r}?" if close else f"; see the {cls.__name__} documentation")


def _construct(cls: type, kwargs: dict[str, Any]) -> str | None:
    try:
        cls(**kwargs)
    except Exception as exc:  # whatever the class refuses is a config problem, reported as it says it
        return f"{cls.__name__} refuses these settings: {exc}"
    return None


def _training_args(args: Mapping[str, Any], kind: str, has_validation: bool) -> list[Problem]:
    cls = arguments.training_arguments_class(kind)
    fields = _fields(cls)
    seq2seq_only = set(_fields(arguments.training_arguments_class("seq2seq"))) - set(fields)
    fixed = arguments.fixed_arguments(".", cuda=False)
    where = (*_WHERE, "training_args")
    out: list[Problem] = []
    for key, value in args.items():
        loc = (*where, key)
        if key in arguments.OWN_ARGS:
            default = arguments.OWN_ARGS[key]
            if type(value) is not type(default):
                out.append((loc, f"must be {type(default).__name__} (got {value!r})"))
        elif key in fixed:
            out.append((loc, "set by mt-assets itself for every training job; remove it"))
        elif key in seq2seq_only:
            out.append(
                (loc, f"a Seq2SeqTrainingArguments key, and this model trains with {cls.__name__}; remove it")
            )
        elif key not in fields:
            out.append((loc, _unknown(key, cls, sorted([*fields, *arguments.OWN_ARGS]), "transformers")))
        elif problem := _type_problem(cls, key, value, fields[key]):
            out.append((loc, problem))
    if out:
        return out
    with tempfile.TemporaryDirectory() as tmp:
        kwargs = arguments.merged(
            {k: v for k, v in args.items() if k not in arguments.HOST_KEYS}, has_validation
        )
        kwargs.update(arguments.fixed_arguments(tmp, cuda=False))  # nothing here touches a GPU
        problem = _construct(cls, kwargs)
    if problem is None:
        return []
    defaults = {k: v for k, v in arguments.DEFAULT_ARGS.items() if k not in args}
    if defaults:  # a refusal can name a value the config never set
        problem += f" (mt-assets' defaults for keys not set here: {defaults})"
    return [(where, problem)]


def _lora_config(config: Mapping[str, Any]) -> list[Problem]:
    from peft import LoraConfig

    fields = _fields(LoraConfig)
    where = (*_WHERE, "lora_config")
    out: list[Problem] = []
    for key, value in config.items():
        loc = (*where, key)
        if key in _LORA_SET_BY_TRAINER:
            out.append((loc, "set by mt-assets from the model (seq2seq or decoder LLM); remove it"))
        elif key not in fields:
            out.append((loc, _unknown(key, LoraConfig, sorted(fields), "peft")))
        elif problem := _type_problem(LoraConfig, key, value, fields[key]):
            out.append((loc, problem))
    if out:
        return out
    problem = _construct(LoraConfig, dict(config))
    return [(where, problem)] if problem else []


@functools.cache
def _generation_fields() -> frozenset[str]:
    from transformers import GenerationConfig

    return frozenset(GenerationConfig().to_dict())  # __init__ takes **kwargs: its attributes are the settings


def _generation(generation: BaseModel, own_keys: frozenset[str]) -> list[Problem]:
    """Our `Generation` keys other than our own are given to GenerationConfig by the translation code."""
    from transformers import GenerationConfig

    where = (*_WHERE, "generation")
    passed = {k: v for k, v in generation.model_dump().items() if k not in own_keys}
    missing = sorted(set(passed) - _generation_fields())
    if missing:
        return [
            (
                (*where, key),
                f"not a GenerationConfig setting in the installed transformers "
                f"{_version('transformers')}; mt-assets cannot pass it on",
            )
            for key in missing
        ]
    problem = _construct(GenerationConfig, passed)
    return [(where, problem)] if problem else []
