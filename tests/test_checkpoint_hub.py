"""Name resolution: a local folder, a fake Hugging Face cache, the bundled MiniLM package, a
fake `huggingface_hub` download, and the messages when none of them works.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from minibert import hub

# ---- name resolution ---------------------------------------------------------------------


def _fake_snapshot(cache: Path, name: str, rev: str) -> Path:
    repo = cache / ("models--" + name.replace("/", "--"))
    snap = repo / "snapshots" / rev
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(rev)
    return snap


def test_resolves_local_folder(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert hub.resolve_model_dir(tmp_path) == tmp_path


def test_path_that_does_not_exist_is_not_sent_to_the_hub(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(hub.ModelNotFoundError, match="no such folder"):
        hub.resolve_model_dir(tmp_path / "nope")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(hub.ModelNotFoundError, match="is a file"):
        hub.resolve_model_dir(tmp_path / "model.safetensors")


def test_resolves_hf_cache_with_refs_main(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    main = _fake_snapshot(tmp_path, "bert-base-uncased", "abc123")
    newer = _fake_snapshot(tmp_path, "bert-base-uncased", "pr-branch")
    ref = tmp_path / "models--bert-base-uncased" / "refs" / "main"
    ref.write_text("abc123\n")
    os.utime(main, (1, 1))  # the snapshot refs/main names is the older one on disk
    assert hub.resolve_model_dir("bert-base-uncased") == main
    ref.unlink()  # without refs/main, the newest complete snapshot
    assert hub.resolve_model_dir("bert-base-uncased") == newer
    (newer / "config.json").unlink()
    assert hub.resolve_model_dir("bert-base-uncased") == main


def test_hf_home_hub_layout(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    snap = _fake_snapshot(tmp_path / "hub", "google/bert_uncased_L-2_H-128_A-2", "r1")
    assert hub.resolve_model_dir("google/bert_uncased_L-2_H-128_A-2") == snap


def test_bundled_minilm_name(minilm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert hub.resolve_model_dir("all-MiniLM-L6-v2") == minilm_dir
    assert hub.resolve_model_dir("sentence-transformers/all-MiniLM-L6-v2") == minilm_dir


def test_download_through_fake_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    calls = {}

    def snapshot_download(repo_id, allow_patterns):
        calls["repo_id"], calls["patterns"] = repo_id, allow_patterns
        return str(tmp_path)

    monkeypatch.setitem(sys.modules, "huggingface_hub",
                        types.SimpleNamespace(snapshot_download=snapshot_download))
    assert hub.resolve_model_dir("org/model") == tmp_path
    assert calls["repo_id"] == "org/model" and "config.json" in calls["patterns"]


def test_download_failure_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def snapshot_download(**_):
        raise OSError("Name or service not known")

    monkeypatch.setitem(sys.modules, "huggingface_hub",
                        types.SimpleNamespace(snapshot_download=snapshot_download))
    with pytest.raises(
        hub.ModelNotFoundError, match="could not download 'org/model'.*local folder"
    ):
        hub.resolve_model_dir("org/model")


def test_offline_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # importing it would fail
    with pytest.raises(hub.ModelNotFoundError, match="HF_HUB_OFFLINE"):
        hub.resolve_model_dir("bert-base-uncased")


def test_no_huggingface_hub_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(hub.ModelNotFoundError, match="pip install huggingface_hub"):
        hub.resolve_model_dir("bert-base-uncased")
