"""The job bundle over a real sshd: cached wheel builds, uploads readable by the user only,
checksum-verified downloads, and a remote virtualenv that reinstalls only on a new wheel."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mt_assets.models.artefacts import sha256_file
from mt_assets.remote.bundle import (
    Wheel,
    build_wheel,
    download_tree,
    download_verified,
    job_dir,
    project_root,
    remote_manifest,
    source_hash,
    upload_bundle,
    upload_wheel,
)
from mt_assets.remote.connection import Backoff
from mt_assets.remote.errors import ChecksumError
from mt_assets.remote.session import SSHSession
from mt_assets.remote.venv import MARKER, ensure_venv
from mt_assets_tests.sshd import SSHServer, running_sshd

FAST = Backoff(attempts=3, initial=0.05)


@pytest.fixture(scope="module")
def sshd_server() -> Iterator[SSHServer]:
    with running_sshd() as server:
        yield server


@pytest.fixture
def session(sshd_server: SSHServer) -> Iterator[SSHSession]:
    with SSHSession(sshd_server.target(), backoff=FAST) as s:
        yield s


@pytest.fixture(scope="module")
def real_wheel(tmp_path_factory: pytest.TempPathFactory) -> Wheel:
    return build_wheel(tmp_path_factory.mktemp("wheels"))


def _tiny_project(root: Path) -> Path:
    (root / "mt_assets").mkdir(parents=True)
    (root / "mt_assets" / "__init__.py").write_text("VALUE = 1\n")
    (root / "sql").mkdir()
    (root / "sql" / "0001.sql").write_text("select 1;\n")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "mt-assets"\nversion = "0.1.0"\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["mt_assets"]\n'
    )
    return root


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_real_package_wheel_carries_the_remote_supervisor_and_sql(real_wheel: Wheel) -> None:
    names = zipfile.ZipFile(real_wheel.path).namelist()
    assert "mt_assets/remote/supervisor.py" in names
    assert any(n.startswith("mt_assets/_data/sql/") for n in names)
    assert real_wheel.sha256 == sha256_file(real_wheel.path)
    assert real_wheel.source_hash == source_hash(project_root())


def test_wheel_cache_hits_on_unchanged_sources_and_misses_on_change(tmp_path: Path) -> None:
    root = _tiny_project(tmp_path / "project")
    cache = tmp_path / "cache"
    first = build_wheel(cache, root)
    assert not first.cached
    (root / "README.md").write_text("not part of the wheel's sources\n")
    (root / "mt_assets" / "__pycache__").mkdir()
    (root / "mt_assets" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    again = build_wheel(cache, root)
    assert again.cached and again.path == first.path and again.sha256 == first.sha256
    (root / "sql" / "0001.sql").write_text("select 2;\n")
    changed = build_wheel(cache, root)
    assert not changed.cached and changed.source_hash != first.source_hash
    assert changed.path != first.path and first.path.exists()


def test_upload_bundle_sets_user_only_permissions(session: SSHSession, sshd_server: SSHServer, tmp_path: Path) -> None:
    (tmp_path / "job.json").write_text('{"job_id": "x"}')
    (tmp_path / "train.jsonl").write_text('{"source": "a", "target": "b"}\n' * 100)
    remote = job_dir(session.target.workdir, "tiny-" + uuid.uuid4().hex[:6])
    hashes = upload_bundle(session, remote, {"job.json": tmp_path / "job.json",
                                             "train.jsonl": tmp_path / "train.jsonl"})
    assert hashes["job.json"] == sha256_file(tmp_path / "job.json")
    local = Path(remote)  # the "remote" host is this machine
    assert _mode(local) == 0o700 and _mode(local.parent) == 0o700
    assert {p.name: _mode(p) for p in local.iterdir()} == {"job.json": 0o600, "train.jsonl": 0o600}
    assert (local / "train.jsonl").read_bytes() == (tmp_path / "train.jsonl").read_bytes()


def test_upload_rejects_unsafe_names(session: SSHSession, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="not a safe name"):
        upload_bundle(session, job_dir(session.target.workdir, "ok"), {"../escape": tmp_path / "f"})
    with pytest.raises(ValueError, match="not a safe name"):
        job_dir(session.target.workdir, "x; rm -rf ~")


def test_download_tree_verifies_each_file(session: SSHSession, sshd_server: SSHServer, tmp_path: Path) -> None:
    remote = Path(session.absolute(job_dir(session.target.workdir, "out-" + uuid.uuid4().hex[:6]))) / "output"
    (remote / "checkpoint-2").mkdir(parents=True)
    (remote / "adapter_model.safetensors").write_bytes(os.urandom(300_000))
    (remote / "checkpoint-2" / "trainer state.json").write_text('{"step": 2}')
    manifest = download_tree(session, str(remote), tmp_path / "local")
    assert set(manifest) == {"adapter_model.safetensors", "checkpoint-2/trainer state.json"}
    for rel, digest in manifest.items():
        assert sha256_file(tmp_path / "local" / rel) == digest
        assert (tmp_path / "local" / rel).read_bytes() == (remote / rel).read_bytes()
    assert not list((tmp_path / "local").rglob("*.part"))


def test_corrupted_download_is_detected_and_not_kept(session: SSHSession, tmp_path: Path) -> None:
    remote = Path(session.absolute(job_dir(session.target.workdir, "bad-" + uuid.uuid4().hex[:6])))
    remote.mkdir(parents=True)
    (remote / "adapter.bin").write_bytes(b"good weights" * 1000)
    expected = remote_manifest(session, str(remote))["adapter.bin"]
    (remote / "adapter.bin").write_bytes(b"bad! weights" * 1000)  # same size, different bytes
    target = tmp_path / "adapter.bin"
    with pytest.raises(ChecksumError, match="corrupt") as err:
        session.call(lambda s: download_verified(s.sftp, str(remote / "adapter.bin"), target, expected))
    assert expected in str(err.value)
    assert not target.exists() and not list(tmp_path.iterdir())


def test_symlinks_in_an_output_directory_are_refused(session: SSHSession, tmp_path: Path) -> None:
    remote = Path(session.absolute(job_dir(session.target.workdir, "link-" + uuid.uuid4().hex[:6])))
    remote.mkdir(parents=True)
    (remote / "key").symlink_to("/etc/hostname")
    with pytest.raises(ChecksumError, match="symlinks"):
        download_tree(session, str(remote), tmp_path / "local")


def test_wheel_upload_is_content_keyed_and_done_once(session: SSHSession, real_wheel: Wheel) -> None:
    remote = upload_wheel(session, session.target.workdir, real_wheel)
    assert real_wheel.sha256[:16] in remote and remote.endswith(real_wheel.path.name)
    local = Path(session.absolute(remote))
    before = local.stat().st_mtime_ns
    assert upload_wheel(session, session.target.workdir, real_wheel) == remote
    assert local.stat().st_mtime_ns == before and _mode(local) == 0o600


def test_venv_is_created_once_and_reinstalls_only_on_a_new_wheel(
    session: SSHSession, real_wheel: Wheel, tmp_path: Path
) -> None:
    remote_wheel = upload_wheel(session, session.target.workdir, real_wheel)
    venv_dir = session.target.workdir + "/venv-" + uuid.uuid4().hex[:6]
    first = ensure_venv(session, remote_wheel, real_wheel.sha256, venv_dir=venv_dir, install_dependencies=False)
    assert first.created and first.installed
    assert Path(first.python).is_absolute() and os.access(first.python, os.X_OK)
    marker = Path(first.python).parent.parent / MARKER
    assert marker.read_text().strip() == real_wheel.sha256
    dist = list((Path(first.python).parent.parent / "lib").glob("python3*/site-packages/mt_assets-0.1.0.dist-info"))
    assert len(dist) == 1
    installed_at = dist[0].stat().st_mtime_ns
    # The target's Python (this test's interpreter) is itself a virtualenv: its packages are the
    # job venv's too, as a base Python's are through --system-site-packages, so pip installs none again.
    seen = subprocess.run([first.python, "-c", "import dagster; print(dagster.__file__)"],
                          capture_output=True, text=True)
    assert seen.returncode == 0, seen.stderr[-2000:]
    assert Path(seen.stdout.strip()).is_relative_to(sys.prefix)

    again = ensure_venv(session, remote_wheel, real_wheel.sha256, venv_dir=venv_dir, install_dependencies=False)
    assert not again.created and not again.installed and again.python == first.python
    assert dist[0].stat().st_mtime_ns == installed_at

    # a rebuilt wheel (here: a dependency-free stand-in) is installed, dependencies resolved normally
    tiny = build_wheel(tmp_path / "cache", _tiny_project(tmp_path / "project"))
    tiny_remote = upload_wheel(session, session.target.workdir, tiny)
    third = ensure_venv(session, tiny_remote, tiny.sha256, venv_dir=venv_dir, install_dependencies=True)
    assert third.installed and not third.created
    assert marker.read_text().strip() == tiny.sha256
    assert (dist[0].parent / "mt_assets" / "__init__.py").read_text() == "VALUE = 1\n"
    shutil.rmtree(Path(first.python).parent.parent)
