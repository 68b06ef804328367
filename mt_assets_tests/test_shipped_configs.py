"""Every config shipped in configs/ trained, translated and scored through the real assets.

Each file is copied with `llm_model` pointed at a tiny local model of the same architecture
(M2M100 with an NllbTokenizer for NLLB, Qwen2 for Qwen, Gemma 3 for Gemma) and only its size
settings shrunk (`_SHRUNK`: steps, batch, eval/log interval, new tokens); everything else —
eval_strategy, warmup, languages, data settings — stays as shipped, so a library release that
breaks a shipped config fails here rather than in a user's GPU session. Rows are loaded from raw
TSV files by `raw_files`/`dataset`, then each config runs `tuning_dataset_distribution`,
`fine_tuned_model`, `translations` and `evaluation` in one Dagster run on a Postgres-backed
instance. The QLoRA config trains where CUDA exists; without it, it must stop with the clear
early error and register no succeeded model.

Precision is the one setting adapted to the host (`_for_this_host`): a precision this host refuses
(fp16 on any CPU, bf16 on a CPU without amx_bf16/avx512_bf16) becomes fp32 here, as a CPU user
would set it; the refusal itself is tested in test_precision.py. A precision the host can run stays.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
import torch
import yaml

from mt_assets.assets.evaluation import evaluation
from mt_assets.assets.ingest import INGEST_ASSETS
from mt_assets.assets.training import fine_tuned_model
from mt_assets.assets.translation import translations
from mt_assets.assets.tuning import tuning_configs, tuning_dataset_distribution
from mt_assets.db.files import project_file
from mt_assets.models.precision import HostInfo, PrecisionError, resolve
from mt_assets.resources import DatabaseResource
from mt_assets.tuning.config import config_files
from mt_assets_tests.in_process_launcher import InProcessLauncher
from mt_assets_tests.ingest_support import HEADER, query, tsv, write
from mt_assets_tests.tiny_models import rows, tiny_gemma3, tiny_m2m100, tiny_qwen2

SHIPPED = config_files(project_file("configs"))
# A shipped model (by a family name in its source) -> the tiny builder of its architecture.
_TINY: dict[str, Callable[[Path], Path]] = {"nllb": tiny_m2m100, "qwen": tiny_qwen2, "gemma": tiny_gemma3}
# The only settings changed: how much work, never what kind.
_SHRUNK_TRAINING = {"max_steps": 2, "per_device_train_batch_size": 4, "logging_steps": 1}
_SHRUNK_GENERATION = {"max_new_tokens": 8}
ROWS_PER_EDITION = 130  # ~2 test and ~2 validation rows at the shipped 0.016 split sizes
QLORA_REFUSAL = "tuning_methodology 'qlora' needs a CUDA GPU"


def _tiny_builder(source: str) -> Callable[[Path], Path]:
    matches = [build for family, build in _TINY.items() if family in source.lower()]
    assert len(matches) == 1, f"no tiny model of {source!r}'s architecture: add a builder to tiny_models.py"
    return matches[0]


def _shrunk(shipped: dict, model_dir: Path) -> dict:
    config = {**shipped, "llm_model": str(model_dir)}
    settings = dict(config["llm_tuning_configs"])
    args = {**settings["training_args"], **_SHRUNK_TRAINING}
    if "eval_steps" in args:
        args["eval_steps"] = args["max_steps"]  # one validation pass, at the last step
    settings["training_args"] = args
    settings["generation"] = {**settings.get("generation", {}), **_SHRUNK_GENERATION}
    settings["precision"] = _for_this_host(settings.get("precision", "auto"))
    config["llm_tuning_configs"] = settings
    return config


def _for_this_host(precision: str) -> str:
    try:
        resolve(precision, HostInfo.detect())
    except PrecisionError:
        return "fp32"
    return precision


def _write_editions(raw: Path) -> None:
    for edition, language in (("quran-ar-en", "ar"), ("quran-fa-en", "fa")):
        lines = [
            f"{r['source_text']} {i}\t{i}\t1:{i}\t{r['official_translate']}\t{language}"
            for i, r in enumerate(rows(ROWS_PER_EDITION, source_language=language, seed=5), start=1)
        ]
        write(raw, f"{edition}.tsv", tsv(*lines, header=HEADER))


def _chain(error) -> str:
    """An error's message and its causes' (Dagster wraps the asset's exception)."""
    return error.message + (_chain(error.cause) if error.cause else "")


def _failure(result: dg.ExecuteInProcessResult) -> str:
    """The failed steps' errors, or the run's own (a resource that did not start)."""
    steps = [_chain(e.step_failure_data.error) for e in result.all_events if e.is_step_failure]
    return "\n".join(steps) or "\n".join(e.message or "" for e in result.all_events if e.is_run_failure)


def test_every_shipped_config_trains_translates_and_scores(pg_dagster_instance, mt_env, db_url, tmp_path):
    assert SHIPPED, "configs/ holds no config"
    config_dir, instance = Path(mt_env["MT_CONFIG_DIR"]), pg_dagster_instance
    names = []
    for path in SHIPPED:
        shipped = yaml.safe_load(path.read_text())
        model_dir = _tiny_builder(shipped["llm_model"])(tmp_path / "models" / shipped["name"])
        (config_dir / path.name).write_text(yaml.safe_dump(_shrunk(shipped, model_dir), allow_unicode=True))
        names.append((shipped["name"], shipped["tuning_methodology"], shipped["llm_tuning_configs"]))
    _write_editions(Path(mt_env["MT_RAW_DIR"]))
    resources = {"database": DatabaseResource(url=db_url), "launcher": InProcessLauncher()}
    dg.materialize([*INGEST_ASSETS, tuning_configs], instance=instance, resources=resources)
    assert query(db_url, "select count(*) from llm.tuning_configs") == [(len(SHIPPED),)]

    for name, methodology, settings in names:
        result = dg.materialize(
            [tuning_dataset_distribution, fine_tuned_model, translations, evaluation],
            instance=instance,
            resources=resources,
            partition_key=name,
            raise_on_error=False,
        )
        statuses = query(
            db_url,
            "select m.status from llm.fine_tuned_models m join llm.tuning_configs c on c.id = m.tuning_config_id "
            "where c.name = %s",
            (name,),
        )
        if methodology == "qlora" and not torch.cuda.is_available():
            assert not result.success, f"{name}: QLoRA without CUDA must fail"
            assert QLORA_REFUSAL in _failure(result), _failure(result)
            assert ("succeeded",) not in statuses, statuses
            continue
        assert result.success, f"{name}: {_failure(result)}"
        assert statuses == [("succeeded",)], (name, statuses)
        (environment,) = query(
            db_url,
            "select m.environment from llm.fine_tuned_models m join llm.tuning_configs c "
            "on c.id = m.tuning_config_id where c.name = %s",
            (name,),
        )[0]
        ran = resolve(_for_this_host(settings.get("precision", "auto")), HostInfo.detect()).precision
        assert environment["precision"] == ran, (name, environment)  # recorded with the model
        scored = query(
            db_url,
            "select m.kind, count(*) from llm.evaluation ev join llm.translation_method m "
            "on m.id = ev.translation_method_id join llm.tuning_configs c on c.id = m.tuning_config_id "
            "where c.name = %s and ev.scope = 'all' and ev.metric = 'chrf++' group by 1 order by 1",
            (name,),
        )
        assert scored == [("base", 1), ("fine_tuned", 1)], (name, scored)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_config_validates_here(path):
    """Every shipped file passes the check against the installed libraries (GPU settings included)."""
    from mt_assets.tuning.config import load_config_file

    result = load_config_file(path)
    assert result.ok, result.errors
