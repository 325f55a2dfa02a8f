"""Custom vocabulary (``AFTERCALL_VOCABULARY``): brand, product, plan and agent names the engines should hear.

One phrase a line, UTF-8, ``#`` starts a comment line, blank lines are skipped. The same file
serves both engines, so it is held to Amazon Transcribe's rules for custom vocabularies
(developer guide, "Custom vocabularies" and "Character sets"): at most 50 KB, entries of at most
256 characters, letters with only apostrophes, hyphens and periods between them, no digits
(numbers are spelled out: "four-by-four"). A file that breaks a rule is refused with its path and
line, before any call is processed.

* locally, the phrases go to faster-whisper as ``initial_prompt`` (:attr:`Vocabulary.prompt`), read
  before every window (docs/speech.md: why ``initial_prompt`` and not ``hotwords``);
* on AWS, ``aftercall setup`` makes them a Transcribe custom vocabulary in list format
  (:meth:`Vocabulary.transcribe_phrases`: spaces become hyphens) and every job names it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.exceptions import ConfigurationError

__all__ = ["MAX_BYTES", "MAX_PHRASES", "MAX_PHRASE_CHARS", "Vocabulary", "load_vocabulary"]

MAX_BYTES = 50 * 1024  # Transcribe: a custom vocabulary holds at most 50 KB
MAX_PHRASE_CHARS = 256  # Transcribe: an entry has at most 256 characters
MAX_PHRASES = 1000  # far more than Whisper's prompt can hold (see Vocabulary.prompt); a guard against wrong files
_PUNCTUATION = "'-."  # the only marks Transcribe takes in a phrase (apostrophe, hyphen, period)
_ENGLISH = re.compile(r"^[A-Za-z'.-]+$")  # Transcribe's English character set (list format: no spaces)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The phrases of a vocabulary file, in file order, without duplicates."""

    path: str
    phrases: tuple[str, ...]
    lines: tuple[int, ...]  # each phrase's line in the file, for messages

    @property
    def digest(self) -> str:
        """SHA-256 of the phrases: what a transcript depends on (names Transcribe vocabularies and jobs)."""
        return hashlib.sha256("\n".join(self.phrases).encode()).hexdigest()

    @property
    def prompt(self) -> str:
        """Whisper's ``initial_prompt``: the phrases comma-separated. Whisper reads at most its last 223 tokens."""
        return ", ".join(self.phrases)

    def transcribe_phrases(self, language_code: str) -> list[str]:
        """The phrases in Transcribe's list format: words joined by hyphens, only the language's characters.

        English (en-*) takes a-z, A-Z, apostrophe, hyphen and period; other languages are checked by
        Transcribe when the vocabulary is created (a FAILED vocabulary stops ``aftercall setup`` with
        Transcribe's reason).
        """
        out = []
        for phrase, line in zip(self.phrases, self.lines, strict=True):
            listed = "-".join(phrase.split())
            if language_code.lower().startswith("en") and not _ENGLISH.match(listed):
                bad = sorted({ch for ch in listed if not _ENGLISH.match(ch)})
                raise ConfigurationError(f"AFTERCALL_VOCABULARY {self.path} line {line}: {phrase!r} has characters "
                                         f"Amazon Transcribe's English vocabularies refuse ({' '.join(bad)}): "
                                         "use a-z, A-Z, apostrophes, hyphens and periods")
            out.append(listed)
        return out


def _check_phrase(phrase: str) -> str | None:
    """Why Transcribe would refuse the phrase, or None."""
    if len(phrase) > MAX_PHRASE_CHARS:
        return f"{len(phrase)} characters, more than the {MAX_PHRASE_CHARS} a phrase may have"
    if any(ch.isdigit() for ch in phrase):
        return "digits are refused (Amazon Transcribe's rule): spell numbers out, e.g. 'five G'"
    bad = sorted({ch for ch in phrase if not (ch.isalpha() or ch in _PUNCTUATION or ch == " "
                                               or unicodedata.category(ch).startswith("M"))})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        return f"characters {shown} are refused: letters, spaces, apostrophes, hyphens and periods only"
    if not any(ch.isalpha() for ch in phrase):
        return "no letters"
    return None


def load_vocabulary(path: str | Path) -> Vocabulary:
    """Read and check a vocabulary file; a ConfigurationError names the file and the line."""
    return _load(str(Path(path).expanduser()))


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int, size: int) -> Vocabulary:
    return _parse(path)


def _load(path: str) -> Vocabulary:
    file = Path(path)
    try:
        stat = file.stat()
    except OSError as exc:
        raise ConfigurationError(f"AFTERCALL_VOCABULARY {path}: cannot read it ({exc.strerror or exc})") from None
    if not file.is_file():
        raise ConfigurationError(f"AFTERCALL_VOCABULARY {path}: not a file")
    if stat.st_size > MAX_BYTES:
        raise ConfigurationError(f"AFTERCALL_VOCABULARY {path}: {stat.st_size} bytes, more than the "
                                 f"{MAX_BYTES} a vocabulary may have (Amazon Transcribe's limit)")
    return _cached(path, stat.st_mtime_ns, stat.st_size)


def _parse(path: str) -> Vocabulary:
    try:
        with open(path, "rb") as f:  # at most one byte past the limit: /proc files say 0 bytes and may never end
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigurationError(f"AFTERCALL_VOCABULARY {path}: cannot read it ({exc.strerror or exc})") from None
    if len(raw) > MAX_BYTES:  # grew since stat()
        raise ConfigurationError(f"AFTERCALL_VOCABULARY {path}: more than {MAX_BYTES} bytes")
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark, as some editors write
    phrases: list[str] = []
    lines: list[int] = []
    seen: set[str] = set()
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigurationError(f"AFTERCALL_VOCABULARY {path} line {number}: not UTF-8 (byte "
                                     f"{exc.start + 1} of the line)") from None
        text = unicodedata.normalize("NFC", text).strip()
        if not text or text.startswith("#"):
            continue
        text = " ".join(text.split())
        problem = _check_phrase(text)
        if problem:
            raise ConfigurationError(f"AFTERCALL_VOCABULARY {path} line {number}: {text[:80]!r}: {problem}")
        if text.casefold() in seen:
            continue
        seen.add(text.casefold())
        phrases.append(text)
        lines.append(number)
        if len(phrases) > MAX_PHRASES:
            raise ConfigurationError(f"AFTERCALL_VOCABULARY {path} line {number}: more than {MAX_PHRASES} phrases")
    if not phrases:
        raise ConfigurationError(f"AFTERCALL_VOCABULARY {path}: no phrases (only comments or blank lines); "
                                 "unset AFTERCALL_VOCABULARY for no vocabulary")
    return Vocabulary(path, tuple(phrases), tuple(lines))
