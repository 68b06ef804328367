"""The job bundle: a wheel of this package cached by source hash, SFTP uploads readable by the
remote user only, and downloads whose sha256 is checked against a manifest computed remotely."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import posixpath
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import paramiko

import mt_assets
from mt_assets.models.artefacts import sha256_file
from mt_assets.remote.commands import remote_join, run, shell_join, validate_name, validate_remote_path
from mt_assets.remote.errors import BundleError, ChecksumError, CommandError
from mt_assets.remote.session import SSHSession

FILE_MODE = 0o600
DIR_MODE = 0o700
_CHUNK = 1 << 20

# Files whose content defines the wheel; anything else in the tree (tests, docs, caches) does not.
_SOURCE_TOP_FILES = ("pyproject.toml", "dagster.yaml")
_SOURCE_DIRS = ("mt_assets", "sql")


@dataclass(frozen=True)
class Wheel:
    path: Path
    sha256: str
    source_hash: str
    cached: bool


def project_root() -> Path:
    """The source tree this package was imported from (an editable or repository checkout)."""
    root = Path(mt_assets.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise BundleError(
            f"mt_assets was imported from {root}, which has no pyproject.toml: the SSH launcher builds its wheel "
            f"from a source checkout; install the project with `pip install -e .` from the repository"
        )
    return root


def _source_files(root: Path) -> list[Path]:
    files = [root / name for name in _SOURCE_TOP_FILES if (root / name).is_file()]
    for top in _SOURCE_DIRS:
        for path in (root / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
                files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def source_hash(root: Path) -> str:
    """sha256 over (relative path, content hash) of every file that goes into the wheel."""
    digest = hashlib.sha256()
    for path in _source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + sha256_file(path).encode() + b"\0")
    return digest.hexdigest()


def build_wheel(cache_dir: Path, root: Path | None = None) -> Wheel:
    """The package's wheel, built with `pip wheel --no-deps` only when its sources changed."""
    root = root or project_root()
    key = source_hash(root)
    final = cache_dir / key
    cached = sorted(final.glob("*.whl")) if final.is_dir() else []
    if cached:
        return Wheel(cached[0], sha256_file(cached[0]), key, cached=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    command = [sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--disable-pip-version-check",
               "-q", "-w", str(work)]
    if importlib.util.find_spec("hatchling") is not None:
        command.append("--no-build-isolation")  # offline and ~5x faster than an isolated build
    try:
        proc = subprocess.run(command, capture_output=True, text=True)
        wheels = sorted(work.glob("*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            raise BundleError(f"building the wheel of {root} failed ({shell_join(command)}):\n"
                              f"{(proc.stderr or proc.stdout).strip()[-3000:]}")
        try:
            os.rename(work, final)  # atomic: a concurrent build of the same sources wins or loses whole
        except OSError:
            if not any(final.glob("*.whl")):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wheel = sorted(final.glob("*.whl"))[0]
    return Wheel(wheel, sha256_file(wheel), key, cached=False)


def ensure_remote_dir(sftp: paramiko.SFTPClient, path: str, mode: int = DIR_MODE) -> str:
    """`mkdir -p path`; directories we create get `mode`, and so does `path` itself."""
    validate_remote_path(path)
    absolute = path.startswith("/")
    parts = [p for p in path.split("/") if p]
    current = "/" if absolute else ""
    for part in parts:
        current = posixpath.join(current, part) if current else part
        try:
            if not stat.S_ISDIR(sftp.stat(current).st_mode or 0):
                raise BundleError(f"remote path {current} exists and is not a directory")
        except FileNotFoundError:
            sftp.mkdir(current, mode)
            sftp.chmod(current, mode)  # mkdir's mode is filtered by the server's umask
    sftp.chmod(path, mode)
    return path


def upload_file(sftp: paramiko.SFTPClient, local: Path, remote: str, mode: int = FILE_MODE) -> str:
    """Upload atomically (temp name, then rename) with `mode` set before any byte is written."""
    validate_remote_path(remote)
    partial = remote + ".part"
    with open(local, "rb") as src, sftp.open(partial, "wb") as dst:
        sftp.chmod(partial, mode)
        dst.set_pipelined(True)
        for block in iter(lambda: src.read(_CHUNK), b""):
            dst.write(block)
    sftp.posix_rename(partial, remote)
    return remote


def job_dir(workdir: str, job_id: str) -> str:
    """`<workdir>/jobs/<job_id>`: one directory per job, so concurrent jobs never share files."""
    return remote_join(workdir, "jobs", validate_name(job_id, "job id"))


def upload_bundle(session: SSHSession, remote_dir: str, files: Mapping[str, Path]) -> dict[str, str]:
    """Upload `{remote file name: local path}` into `remote_dir` (0700), each file 0600, and verify
    every upload against a remotely computed sha256. Returns `{name: sha256}`."""
    for name in files:
        validate_name(name, "bundle file name")
    expected = {name: sha256_file(path) for name, path in files.items()}
    session.call(lambda s: ensure_remote_dir(s.sftp, remote_dir))
    for name, path in files.items():
        session.call(lambda s, name=name, path=path: upload_file(s.sftp, path, posixpath.join(remote_dir, name)))
    got = session.call(lambda s: remote_sha256(s, [posixpath.join(remote_dir, n) for n in files]))
    for name, digest in expected.items():
        remote = posixpath.join(remote_dir, name)
        if got.get(remote) != digest:
            raise ChecksumError(f"upload of {files[name]} to {remote} is corrupt: local sha256 {digest}, "
                                f"remote {got.get(remote)}")
    return expected


def upload_wheel(session: SSHSession, workdir: str, wheel: Wheel) -> str:
    """`<workdir>/wheels/<sha256[:16]>/<wheel file>`, uploaded only if absent (the name is content-keyed
    and uploads are atomic, so an existing file is complete)."""
    remote_dir = remote_join(workdir, "wheels", wheel.sha256[:16])
    remote = posixpath.join(remote_dir, validate_name(wheel.path.name, "wheel file name"))

    def put(s: SSHSession) -> None:
        try:
            s.sftp.stat(remote)
            return
        except FileNotFoundError:
            pass
        ensure_remote_dir(s.sftp, remote_dir)
        upload_file(s.sftp, wheel.path, remote)

    session.call(put)
    got = session.call(lambda s: remote_sha256(s, [remote]))
    if got.get(remote) != wheel.sha256:
        raise ChecksumError(f"remote wheel {remote} has sha256 {got.get(remote)}, expected {wheel.sha256}; "
                            f"delete it and retry")
    return remote


# Runs on the remote under its Python: hashes files (not following symlinks) and prints JSON.
# Python rather than `sha256sum` so file names with newlines or odd bytes round-trip, and it
# works on hosts without coreutils (macOS).
_HASH_SCRIPT = r"""
import hashlib, json, os, sys
mode, args = sys.argv[1], sys.argv[2:]
def digest(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()
files, links = {}, []
if mode == "paths":
    for p in args:
        if os.path.isfile(p) and not os.path.islink(p):
            files[p] = digest(p)
else:
    root = args[0]
    for d, dirs, names in os.walk(root):
        dirs.sort()
        for n in sorted(names + [x for x in dirs if os.path.islink(os.path.join(d, x))]):
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                links.append(rel)
            elif os.path.isfile(p):
                files[rel] = digest(p)
json.dump({"files": files, "symlinks": links}, sys.stdout)
"""


def _hash_call(session: SSHSession, args: list[str]) -> dict:
    result = run(session.client, [session.target.python, "-S", "-c", _HASH_SCRIPT, *args], timeout=600)
    if result.exit_code != 0:
        raise CommandError(f"hashing {args[1:]} on {session.target.host_port} failed: "
                           f"{result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout)


def remote_sha256(session: SSHSession, paths: list[str]) -> dict[str, str]:
    """`{path: sha256}` of the given remote regular files (missing ones are absent)."""
    return _hash_call(session, ["paths", *paths])["files"]


def remote_manifest(session: SSHSession, remote_dir: str) -> dict[str, str]:
    """`{relative path: sha256}` of every regular file under `remote_dir`, computed on the remote."""
    validate_remote_path(remote_dir)
    result = _hash_call(session, ["tree", remote_dir])
    if result["symlinks"]:
        raise ChecksumError(f"{remote_dir} on {session.target.host_port} contains symlinks, which are not "
                            f"downloaded (they could point outside the job): {result['symlinks'][:10]}")
    return result["files"]


def download_verified(sftp: paramiko.SFTPClient, remote: str, local: Path, expected_sha256: str) -> Path:
    """Download to a temporary name, hashing on the way; keep it only if the sha256 matches."""
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(local.name + ".part")
    digest = hashlib.sha256()
    try:
        with sftp.open(remote, "rb") as src, open(partial, "wb") as dst:
            src.prefetch()
            for block in iter(lambda: src.read(_CHUNK), b""):
                digest.update(block)
                dst.write(block)
        if digest.hexdigest() != expected_sha256:
            raise ChecksumError(f"download of {remote} is corrupt: sha256 {digest.hexdigest()}, "
                                f"expected {expected_sha256}")
        os.replace(partial, local)
    finally:
        partial.unlink(missing_ok=True)
    return local


def _safe_relative(rel: str, remote_dir: str) -> PurePosixPath:
    path = PurePosixPath(rel)
    if path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts):
        raise ChecksumError(f"remote manifest of {remote_dir} lists an unsafe path {rel!r}")
    return path


def download_tree(
    session: SSHSession, remote_dir: str, local_dir: Path, include: Callable[[str], bool] | None = None
) -> dict[str, str]:
    """Download every file under `remote_dir` (or those whose relative path `include` accepts) into
    `local_dir`, each verified against the remote manifest. Returns the downloaded part of the manifest
    `{relative path: sha256}`; retried per file on a dropped connection."""
    manifest = session.call(lambda s: remote_manifest(s, remote_dir))
    if include is not None:
        manifest = {rel: digest for rel, digest in manifest.items() if include(rel)}
    for rel, digest in manifest.items():
        target = local_dir.joinpath(*_safe_relative(rel, remote_dir).parts)
        if target.is_file() and sha256_file(target) == digest:
            continue  # already downloaded before a dropped connection
        source = posixpath.join(remote_dir, rel)
        session.call(lambda s, source=source, target=target, digest=digest:
                     download_verified(s.sftp, source, target, digest))
    return manifest
