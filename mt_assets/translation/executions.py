"""User-defined executions: `configs/executions/*.yaml` compares methods of several configs on one
set of test rows.

    name: ar-en-gemma-vs-nllb        # [a-z0-9][a-z0-9-]*
    description: Gemma 3 270M vs NLLB on the shared Arabic test verses
    methods: [gemma3-270m-lora-ar-en:fine-tuned, nllb-600m-lora-ar-en:fine-tuned]
    rows: gemma3-270m-lora-ar-en     # optional: whose test rows every method translates

A method is `<config>:base`, `<config>:fine-tuned` or `<config>:fine-tuned-rK` (replicate K of a
config with `replicates`); the floors (`translation/baselines.py`) and
every external system that covers the rows (`translation/systems.py`) join it as they join a
config's own execution. `rows` names the config whose test split every method translates
(llm.translation_execution.tuning_config_id); without it the configs involved must have the same
test rows (the same dataset rows), else the file is refused, naming the counts: a comparison on
different segments compares nothing. `rows` may name a config none of the methods belongs to:
`rows: gemma3-270m-lora-fa-en` with `gemma3-270m-lora-ar-en:fine-tuned` scores the Arabic-tuned
model on Persian verses, the cross-language control. A fine-tuned method whose training rows
(its config's train and validation split) include one of those test rows is refused: its score
would be inflated.

It is registered once all its methods exist, i.e. after the translations step of each config
involved has run; the translations step of any config involved then translates what each method
has not translated of those rows (resumable), and the evaluation step of that config scores it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mt_assets.translation.errors import TranslationError
from mt_assets.translation.methods import ensure_floors, link, upsert_execution
from mt_assets.tuning.config import NAME_PATTERN, display_path

EXECUTIONS_DIR = "executions"
_METHOD_PATTERN = r"^[a-z0-9][a-z0-9-]*:(base|fine-tuned(-r([2-9]|[1-9][0-9]+))?)$"  # -rK: replicate K > 1


class ExecutionFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    description: str = ""
    methods: list[str] = Field(
        min_length=2, description="<config>:base, <config>:fine-tuned or <config>:fine-tuned-rK (replicate K)"
    )
    rows: str | None = Field(default=None, pattern=NAME_PATTERN, description="the config whose test rows are used")

    @field_validator("methods")
    @classmethod
    def _methods(cls, methods: list[str]) -> list[str]:
        for index, name in enumerate(methods):
            if not re.match(_METHOD_PATTERN, name):
                raise ValueError(
                    f"[{index}] {name!r} is not <config>:base, <config>:fine-tuned or <config>:fine-tuned-rK"
                )
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
        raise TranslationError(f"{source}: (top level): must be a mapping with name, description, methods, rows")
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
                message = "unknown key (allowed: name, description, methods, rows)"
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
    rows_config: str  # whose test rows every method translates
    test_rows: int


def _test_rows(conn: psycopg.Connection, configs: list[str]) -> dict[str, set[int]]:
    """config name -> the dataset ids of its test rows"""
    out: dict[str, set[int]] = {name: set() for name in configs}
    for name, dataset_id in conn.execute(
        "select c.name, td.dataset_record_id from llm.tuning_dataset_distribution td "
        "join llm.tuning_configs c on c.id = td.tuning_config_id where c.name = any(%s) and td.split = 'test'",
        (configs,),
    ):
        out[name].add(dataset_id)
    return out


def _rows_config(conn: psycopg.Connection, item: LoadedExecution, configs: list[str]) -> str:
    """`rows`, checked, or the configs' one shared set of test rows."""
    spec = item.spec
    if spec.rows is not None:
        if conn.execute("select 1 from llm.tuning_configs where name = %s", (spec.rows,)).fetchone() is None:
            raise TranslationError(f"{item.source}: rows: no tuning config {spec.rows!r}")
        return spec.rows
    rows = _test_rows(conn, configs)
    if len({frozenset(ids) for ids in rows.values()}) > 1:
        shared = set.intersection(*rows.values())
        counts = ", ".join(f"{name}: {len(ids)}" for name, ids in rows.items())
        raise TranslationError(
            f"{item.source}: methods: the configs involved have different test rows ({counts}; "
            f"{len(shared)} shared); add `rows: <config>` to choose whose test rows every method translates"
        )
    return configs[0]


def _check_leak(conn: psycopg.Connection, item: LoadedExecution, rows_config: str, tuned: list[str]) -> None:
    """Refuse a fine-tuned method trained on a row it would be scored on."""
    for method in tuned:
        config = method.rsplit(":", 1)[0]
        leaked = conn.execute(
            "select count(*) from llm.tuning_dataset_distribution t "
            "join llm.tuning_configs tc on tc.id = t.tuning_config_id "
            "join llm.tuning_dataset_distribution s on s.dataset_record_id = t.dataset_record_id "
            "join llm.tuning_configs sc on sc.id = s.tuning_config_id "
            "where tc.name = %s and t.split = 'test' and sc.name = %s and s.split in ('train', 'validation')",
            (rows_config, config),
        ).fetchone()[0]
        if leaked:
            raise TranslationError(
                f"{item.source}: {method} was trained on {leaked} of the test rows of {rows_config!r} "
                f"(its config {config!r} has them in its train or validation split): its score there would be "
                "inflated; choose other rows or leave the method out"
            )


def ensure_user_execution(conn: psycopg.Connection, item: LoadedExecution) -> UserExecution:
    """Register the execution once all its methods exist, with its rows config and its methods
    (and the floors) linked; refuse a name that is a config's, unknown configs, configs with
    different test rows and no `rows`, and a fine-tuned method trained on those rows."""
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
        rows_config = _rows_config(conn, item, configs)
        rows_config_id, test_rows = conn.execute(
            "select c.id, (select count(*) from llm.tuning_dataset_distribution td "
            "  where td.tuning_config_id = c.id and td.split = 'test') "
            "from llm.tuning_configs c where c.name = %s",
            (rows_config,),
        ).fetchone()
        found = dict(
            conn.execute(
                "select name, id from llm.translation_method where name = any(%s)", (spec.methods,)
            ).fetchall()
        )
        missing = tuple(m for m in spec.methods if m not in found)
        if missing:
            return UserExecution(spec.name, None, missing, rows_config, test_rows)
        _check_leak(conn, item, rows_config, [m for m in spec.methods if ":fine-tuned" in m])
        execution_id = upsert_execution(conn, spec.name, spec.description, rows_config_id)
        link(conn, execution_id, [found[m] for m in spec.methods] + [floor.id for floor in ensure_floors(conn)])
    return UserExecution(spec.name, execution_id, (), rows_config, test_rows)
