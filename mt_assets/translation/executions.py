"""User-defined executions: `configs/executions/*.yaml` compares methods of several configs.

    name: ar-en-gemma-vs-nllb        # [a-z0-9][a-z0-9-]*
    description: Gemma 3 270M vs NLLB on the shared Arabic test verses
    methods: [gemma3-270m-lora-ar-en:fine-tuned, nllb-600m-lora-ar-en:fine-tuned]

A method is `<config>:base` or `<config>:fine-tuned`. The execution's test rows are the
dataset rows in the test split of every config involved (configs with the same split
settings share them). It is registered once all its methods exist, i.e. after the
translations step of each config involved has run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mt_assets.translation.errors import TranslationError
from mt_assets.tuning.config import NAME_PATTERN, display_path

EXECUTIONS_DIR = "executions"
_METHOD_PATTERN = r"^[a-z0-9][a-z0-9-]*:(base|fine-tuned)$"


class ExecutionFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    description: str = ""
    methods: list[str] = Field(min_length=2, description="<config>:base or <config>:fine-tuned")

    @field_validator("methods")
    @classmethod
    def _methods(cls, methods: list[str]) -> list[str]:
        for index, name in enumerate(methods):
            if not re.match(_METHOD_PATTERN, name):
                raise ValueError(f"[{index}] {name!r} is not <config>:base or <config>:fine-tuned")
        if len(set(methods)) != len(methods):
            raise ValueError("lists a method twice")
        return methods


@dataclass(frozen=True)
class LoadedExecution:
    source: str
    spec: ExecutionFile


def _line_of(node: yaml.Node | None, key: str) -> int | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if key_node.value == key:
                return key_node.start_mark.line + 1
    return None


def load_execution_file(path: Path) -> LoadedExecution:
    source = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise TranslationError(f"{source}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise TranslationError(f"{source}: YAML error: {exc}") from None
    if not isinstance(raw, dict):
        raise TranslationError(f"{source}: (top level): must be a mapping with name, description, methods")
    try:
        return LoadedExecution(source, ExecutionFile.model_validate(raw))
    except ValidationError as err:
        problems = []
        for e in err.errors():
            field = ".".join(str(p) for p in e["loc"]) or "(top level)"
            line = _line_of(node, str(e["loc"][0])) if e["loc"] else None
            where = f"{source}:{line}" if line else source
            message = e["msg"].removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                message = "unknown key (allowed: name, description, methods)"
            problems.append(f"{where}: {field}: {message}")
        raise TranslationError("\n".join(problems)) from None


def load_execution_dir(config_dir: Path) -> tuple[list[LoadedExecution], list[str]]:
    """(valid files, one error line per problem). Two files with one name are both refused."""
    directory = config_dir / EXECUTIONS_DIR
    if not directory.is_dir():
        return [], []
    loaded: list[LoadedExecution] = []
    errors: list[str] = []
    for path in sorted(p for pattern in ("*.yaml", "*.yml") for p in directory.glob(pattern)):
        try:
            loaded.append(load_execution_file(path))
        except TranslationError as err:
            errors.extend(str(err).splitlines())
    names: dict[str, list[str]] = {}
    for item in loaded:
        names.setdefault(item.spec.name, []).append(item.source)
    duplicated = {n for n, sources in names.items() if len(sources) > 1}
    for name in sorted(duplicated):
        errors.append(f"{', '.join(names[name])}: name: {name!r} is used by several files (all refused)")
    return [item for item in loaded if item.spec.name not in duplicated], errors


@dataclass(frozen=True)
class UserExecution:
    name: str
    id: int | None  # None while waiting for methods
    missing_methods: tuple[str, ...]
    shared_test_rows: int


def ensure_user_execution(conn: psycopg.Connection, item: LoadedExecution) -> UserExecution:
    """Register the execution once all its methods exist; refuse a name that is a config's."""
    spec = item.spec
    with conn.transaction():
        clash = conn.execute("select 1 from llm.tuning_configs where name = %s", (spec.name,)).fetchone()
        if clash:
            raise TranslationError(
                f"{item.source}: name: {spec.name!r} is a tuning config's execution; choose another name"
            )
        configs = sorted({m.rsplit(":", 1)[0] for m in spec.methods})
        known = {
            r[0] for r in conn.execute("select name from llm.tuning_configs where name = any(%s)", (configs,))
        }
        for index, method in enumerate(spec.methods):
            if method.rsplit(":", 1)[0] not in known:
                raise TranslationError(
                    f"{item.source}: methods[{index}]: no tuning config {method.rsplit(':', 1)[0]!r}"
                )
        found = dict(
            conn.execute(
                "select name, id from llm.translation_method where name = any(%s)", (spec.methods,)
            ).fetchall()
        )
        shared = conn.execute(
            "select count(*) from (select dataset_record_id from llm.tuning_dataset_distribution td "
            "join llm.tuning_configs c on c.id = td.tuning_config_id "
            "where c.name = any(%s) and td.split = 'test' group by dataset_record_id "
            "having count(distinct c.name) = %s) shared",
            (configs, len(configs)),
        ).fetchone()[0]
        missing = tuple(m for m in spec.methods if m not in found)
        if missing:
            return UserExecution(spec.name, None, missing, shared)
        execution_id = conn.execute(
            "insert into llm.translation_execution (name, description) values (%s, %s) "
            "on conflict (name) do update set description = excluded.description returning id",
            (spec.name, spec.description),
        ).fetchone()[0]
        conn.execute(
            "delete from llm.translation_execution_models where translation_execution_id = %s "
            "and translation_method_id <> all(%s)",
            (execution_id, list(found.values())),
        )
        for method_id in found.values():
            conn.execute(
                "insert into llm.translation_execution_models (translation_execution_id, translation_method_id) "
                "values (%s, %s) on conflict on constraint translation_execution_models_key do nothing",
                (execution_id, method_id),
            )
    return UserExecution(spec.name, execution_id, (), shared)
