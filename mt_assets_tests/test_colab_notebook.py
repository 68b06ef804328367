"""notebooks/colab_quickstart.ipynb is valid nbformat, and its CPU-runnable cells (everything not
tagged `colab-only` or `gpu`) run through in a real Jupyter kernel on this interpreter: `mt-assets env`
starts an embedded PostgreSQL in a throwaway MT_HOME, the real Quran sample is loaded, and the
`dagster` CLI trains, translates, scores and ranks a tiny model the notebook picks up from
MT_NOTEBOOK_CONFIG / MT_CONFIG_DIR instead of its Colab default."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import psycopg
import pytest
from nbclient import NotebookClient

from mt_assets_tests.tiny_models import QURAN_CONFIG, tiny_m2m100

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "colab_quickstart.ipynb"
SKIPPED_TAGS = {"colab-only", "gpu"}
CONFIG = "tiny-colab-ar-en"


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


@pytest.fixture
def notebook_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """An isolated MT_HOME (traversable by the embedded server's user) and a kernelspec for sys.executable."""
    home = Path(tempfile.mkdtemp(prefix="mt-colab-", dir="/tmp"))
    home.chmod(0o755)
    configs = home / "configs"
    configs.mkdir()
    model = tiny_m2m100(tmp_path / "m2m100")
    (configs / f"{CONFIG}.yaml").write_text(QURAN_CONFIG.format(name=CONFIG, model=model, description="the notebook test"))
    kernel_dir = tmp_path / "jupyter" / "kernels" / "mt-assets-test"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "mt-assets test", "language": "python",
    }))
    for name in [k for k in os.environ if k.startswith(("MT_", "DAGSTER_"))]:
        monkeypatch.delenv(name)
    env = {"MT_HOME": str(home / "state"), "MT_CONFIG_DIR": str(configs), "MT_NOTEBOOK_CONFIG": CONFIG,
           "JUPYTER_PATH": str(tmp_path / "jupyter"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)  # the kernel, and every command it runs, inherits this environment
    try:
        yield env
    finally:
        subprocess.run([sys.executable, "-m", "mt_assets.cli", "db", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)


def test_notebook_is_valid_and_marks_what_needs_colab_or_a_gpu():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    install = [c for c in code if "pip" in c.source and "install" in c.source]
    assert install and all("colab-only" in _tags(c) for c in install)
    assert all("google.colab" in c.source for c in install), "the install cell must guard on google.colab"
    assert all(SKIPPED_TAGS & _tags(c) for c in code if "google.colab import" in c.source or "cuda" in c.source)
    assert not any(c.get("outputs") for c in code), "the committed notebook carries no outputs"


def test_cpu_cells_run_the_pipeline_and_print_the_leaderboard(notebook_env):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells = [c for c in nb.cells if not (SKIPPED_TAGS & _tags(c))]
    client = NotebookClient(nb, kernel_name="mt-assets-test", timeout=600,
                            resources={"metadata": {"path": notebook_env["MT_HOME"].rsplit("/", 1)[0]}})
    client.execute()  # raises CellExecutionError, with the cell's output, when a cell fails

    printed = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    assert f"config: {CONFIG}" in printed
    assert "wrote" in printed and "quran-ar-en.tsv" in printed
    assert CONFIG in printed and "chrF++" in printed, "the leaderboard table names the tiny config"
    shown = "".join(out.get("data", {}).get("text/plain", "") for out in nb.cells[-1].outputs)
    # the leaderboard's method column, a segments output column (wide frames elide middle ones), controls
    assert all(s in shown for s in (f"{CONFIG}:base", "output:", "control_seeds")), "mt_assets.results' frames"
    url = subprocess.run([sys.executable, "-m", "mt_assets.cli", "db", "url"],
                         capture_output=True, text=True, check=True).stdout.strip()
    with psycopg.connect(url) as conn:
        status, logged = conn.execute(
            "select m.status, (select count(*) from llm.training_logs l where l.fine_tuned_model_id = m.id)"
            " from llm.fine_tuned_models m join llm.tuning_configs c on c.id = m.tuning_config_id"
            " where c.name = %s", (CONFIG,)).fetchone()
        scored = conn.execute("select count(*) from llm.evaluation").fetchone()[0]
    assert status == "succeeded" and logged > 0 and scored > 0
