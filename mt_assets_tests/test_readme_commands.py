"""Every shell block of the README after the quickstart runs as written, in order, in one shell,
from a fresh MT_HOME: the embedded server starts, the real Quran sample loads, a tiny config
trains locally and another one on a real sshd on 127.0.0.1 (the SSH launcher block), both are
translated and scored, and the leaderboard prints; the hub token never reaches the remote
files or Dagster's event log. Its own state, not the demo test's, so the two run side by side."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mt_assets_tests.cli_home import cli, quran_home
from mt_assets_tests.sshd import SSHServer, running_sshd
from mt_assets_tests.tiny_models import tiny_m2m100

CONFIG = "tiny-readme-ar-en"


README = Path(__file__).resolve().parent.parent / "README.md"
# The one block not run here, named by its first line: its two commands are the test command
# CI runs (.ci/run execs scripts/test) and the Gemma demo (~20 minutes on 2 cores, run by hand for
# the README's figures; test_e2e_demo_and_ui runs the same `mt-assets demo` with a tiny config).
NOT_RUN_BLOCKS = {"scripts/demo"}
# Lines the script leaves out: a server that runs until Ctrl-C (test_ui_... starts it).
NOT_RUN_LINES = ("dagster dev -m mt_assets",)
SECRET = "hf_readme_marker_7f3c"
SSH_CONFIG = "tiny-ssh-ar-en"


def readme_shell_blocks() -> list[str]:
    blocks, current = [], None
    for line in README.read_text(encoding="utf-8").splitlines():
        if current is None and line.strip() == "```bash":
            current = []
        elif current is not None and line.strip() == "```":
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def readme_script(ssh: SSHServer) -> str:
    """Every README shell block after the quickstart, in order, as one shell session, with the
    placeholders a user fills in filled in: this sshd, this interpreter, and for CONFIG a tiny config
    (trained here), except in the SSH and translate blocks, which get SSH_CONFIG (trained and
    translated on the sshd host). The NLLB block gets CONFIG: NLLB needs the hub."""
    lines = []
    for block in readme_shell_blocks():
        first = block.splitlines()[0]
        if first.split()[0] in NOT_RUN_BLOCKS:
            continue
        remote = first.startswith("export MT_LAUNCHER=ssh") or "--select translations,evaluation" in first
        block = block.replace("--partition CONFIG", f"--partition {SSH_CONFIG if remote else CONFIG}")
        lines += [line for line in block.splitlines() if not line.startswith(NOT_RUN_LINES)]
    script = "\n".join(lines)
    substitutions = {
        "source .venv/bin/activate": f"source {Path(sys.executable).parent}/activate",
        "MT_SSH_HOST=gpu.example.org": f"MT_SSH_HOST={ssh.host}",
        "MT_SSH_USER=me": f"MT_SSH_USER={ssh.user}",
        "MT_SSH_PORT=22": f"MT_SSH_PORT={ssh.port}",
        "MT_SSH_KEY_FILE=~/.ssh/id_ed25519": f"MT_SSH_KEY_FILE={ssh.client_key}",
        "MT_SSH_KNOWN_HOSTS=~/.ssh/known_hosts": f"MT_SSH_KNOWN_HOSTS={ssh.known_hosts}",
        "MT_SSH_WORKDIR=.mt-assets": f"MT_SSH_WORKDIR={ssh.dir / 'remote'}",
        "MT_SSH_PYTHON=python3": f"MT_SSH_PYTHON={sys.executable}",
        "HF_TOKEN=...": f"HF_TOKEN={SECRET}",
        "--partition nllb-600m-lora-ar-en": f"--partition {CONFIG}",
    }
    for placeholder, value in substitutions.items():
        assert placeholder in script, f"README no longer has {placeholder!r}: update this test"
        script = script.replace(placeholder, value)
    assert "CONFIG" not in script.replace("MT_CONFIG_DIR", ""), "a CONFIG placeholder was left unfilled"
    return "PS4='+ [${SECONDS}s] '\nset -euo pipefail -x\n" + script + "\n"


@pytest.fixture
def readme_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    model = tiny_m2m100(tmp_path / "m2m100")
    with quran_home("mt-readme-", (CONFIG, SSH_CONFIG), model, "the README test") as env:
        yield env


def test_readme_commands_run_as_written(readme_env):
    with running_sshd() as ssh:
        done = subprocess.run(
            ["bash", "-c", readme_script(ssh)], env=readme_env, cwd=README.parent,
            capture_output=True, text=True, timeout=900,
        )
        assert done.returncode == 0, f"{done.stderr[-6000:]}\n{done.stdout[-2000:]}"
        leaked = subprocess.run(["grep", "-rl", SECRET, str(ssh.dir)], capture_output=True, text=True)
        assert leaked.stdout == "", f"the hub token reached files on the remote host: {leaked.stdout}"
    for ran in ("mt-assets db start", "dagster definitions validate", "mt-assets sample-data quran",
                "--select tuning_configs", f"fine_tuned_model --partition {SSH_CONFIG}",
                f"--select translations,evaluation --partition {SSH_CONFIG}", "--select leaderboard",
                "mt-assets leaderboard", "mt-assets leaderboard --json", "--select 'tuning_dataset_distribution*'"):
        assert ran in done.stderr, f"{ran!r} did not run"
    assert re.search(r"^\s*llm\s*\|\s*evaluation\s*\|\s*table", done.stdout, re.M)  # psql '\dt llm.*'
    assert SSH_CONFIG in done.stdout and "chrF++" in done.stdout  # the terminal leaderboard

    url = cli("db", "url", env=readme_env).stdout.strip()
    rows = subprocess.run(
        ["psql", url, "-Atc",
         "select count(*) from llm.fine_tuned_models f join llm.tuning_configs c on c.id = f.tuning_config_id"
         f" where c.name = '{SSH_CONFIG}' and f.status = 'succeeded';"
         " select count(*) from llm.translation t join llm.translation_method m on m.id = t.translation_method_id"
         f" where m.name = '{SSH_CONFIG}:fine-tuned';"
         f" select count(*) from event_logs where event like '%{SECRET}%'"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert rows[0] == "1", "the README's SSH block trains the new config on the sshd host"
    assert int(rows[1]) > 0, "the README's translate block translates with the SSH-trained model"
    assert rows[2] == "0", "the hub token reached Dagster's event log"
