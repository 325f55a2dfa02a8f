"""AFTERCALL_VOCABULARY: the file's rules, the setting, and the phrases reaching every Whisper decode."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.adapters.whisper import WhisperTranscriber, pack
from pipeline.exceptions import ConfigurationError
from pipeline.settings import ROOT_VOCABULARY_EXAMPLE, Settings, load_settings
from pipeline.steps.vocabulary import MAX_BYTES, MAX_PHRASE_CHARS, MAX_PHRASES, load_vocabulary


def _file(tmp_path, content: str | bytes, name: str = "vocab.txt"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_phrases_comments_blank_lines_bom_crlf_and_duplicates(tmp_path):
    path = _file(tmp_path, b"\xef\xbb\xbf# brand\r\nAcme  Telecom\r\n\r\n   Sarah \r\n# agents\nsarah\nO'Neill\nA.B.C.\nJean-Luc\n")
    vocabulary = load_vocabulary(path)
    assert vocabulary.phrases == ("Acme Telecom", "Sarah", "O'Neill", "A.B.C.", "Jean-Luc")
    assert vocabulary.lines == (2, 4, 7, 8, 9)
    assert vocabulary.prompt == "Acme Telecom, Sarah, O'Neill, A.B.C., Jean-Luc"
    assert vocabulary.transcribe_phrases("en-US") == ["Acme-Telecom", "Sarah", "O'Neill", "A.B.C.", "Jean-Luc"]


def test_old_mac_line_ends_are_line_ends(tmp_path):
    """A file with CR-only line ends was one line: every phrase merged into one."""
    path = tmp_path / "cr.txt"
    path.write_bytes(b"Acme\rZorblax\r\r# note\rFibreMax\r\nQuix\n")
    assert load_vocabulary(path).phrases == ("Acme", "Zorblax", "FibreMax", "Quix")
    path.write_bytes(b"Acme\r5G\r")
    with pytest.raises(ConfigurationError, match="line 2"):
        load_vocabulary(path)


def test_other_scripts_are_letters_too(tmp_path):
    assert load_vocabulary(_file(tmp_path, "에이스 텔레콤\nZoë\n")).phrases == ("에이스 텔레콤", "Zoë")


@pytest.mark.parametrize(("content", "line", "says"), [
    ("Acme\n5G plan\n", 2, "digits"),
    ("Acme\nAcme & Co\n", 2, "'&'"),
    ("# ok\nAcme, Telecom\n", 2, "','"),
    ("Acme\n\nhello # comment\n", 3, "'#'"),
    ("Acme\n" + "a" * (MAX_PHRASE_CHARS + 1) + "\n", 2, f"the {MAX_PHRASE_CHARS}"),
    ("Acme\n- . '\n", 2, "no letters"),
])
def test_a_bad_line_is_refused_naming_the_file_and_the_line(tmp_path, content, line, says):
    path = _file(tmp_path, content)
    with pytest.raises(ConfigurationError) as err:
        load_vocabulary(path)
    assert f"{path} line {line}" in str(err.value) and says in str(err.value)


def test_encoding_size_count_and_emptiness_are_refused(tmp_path):
    with pytest.raises(ConfigurationError, match=r"line 2: not UTF-8"):
        load_vocabulary(_file(tmp_path, b"Acme\nCaf\xe9\n", "latin1.txt"))
    with pytest.raises(ConfigurationError, match=f"more than the {MAX_BYTES}"):
        load_vocabulary(_file(tmp_path, "Acme\n" * (MAX_BYTES // 5 + 1), "big.txt"))
    with pytest.raises(ConfigurationError, match=f"more than {MAX_PHRASES} phrases"):
        load_vocabulary(_file(tmp_path, "\n".join(f"p {a}{b}{c}" for a in "abcdefghijk" for b in "abcdefghij"
                                                  for c in "abcdefghij"), "many.txt"))
    with pytest.raises(ConfigurationError, match="no phrases"):
        load_vocabulary(_file(tmp_path, "# nothing\n\n", "empty.txt"))
    with pytest.raises(ConfigurationError, match="cannot read it"):
        load_vocabulary(tmp_path / "absent.txt")


def test_transcribe_english_takes_only_its_character_set(tmp_path):
    vocabulary = load_vocabulary(_file(tmp_path, "Acme\nZoë Café\n"))
    with pytest.raises(ConfigurationError, match=r"line 2: 'Zoë Café' .*English vocabularies refuse \(é ë\)"):
        vocabulary.transcribe_phrases("en-GB")
    assert vocabulary.transcribe_phrases("fr-FR") == ["Acme", "Zoë-Café"]  # Transcribe checks other languages


def test_the_setting_is_off_by_default_and_a_bad_file_stops_the_run_naming_it(tmp_path):
    assert Settings().vocabulary is None and Settings().vocabulary_phrases is None
    assert Settings().transcribe_vocabulary is None
    bad = _file(tmp_path, "Acme\n4G\n")
    with pytest.raises(ConfigurationError) as err:
        load_settings(vocabulary=str(bad))
    assert str(err.value).startswith(f"AFTERCALL_VOCABULARY: {bad} line 2: '4G': digits")


def test_the_shipped_example_is_valid_for_both_engines():
    vocabulary = load_vocabulary(ROOT_VOCABULARY_EXAMPLE)
    assert "Acme Telecom" in vocabulary.phrases and "Sarah" in vocabulary.phrases
    assert vocabulary.transcribe_phrases("en-US")[0] == "Acme-Telecom"


def test_workers_get_the_vocabulary_through_the_settings_json(tmp_path, monkeypatch):
    """Pool workers rebuild their settings from JSON (pipeline.steps.run._init_worker) and their model from those."""
    from pipeline import wiring
    from pipeline.adapters import whisper

    path = _file(tmp_path, "Acme Telecom\nSarah\n")
    settings = Settings(vocabulary=str(path))
    again = Settings.model_validate_json(settings.model_dump_json())
    assert again.vocabulary == str(path) and again.vocabulary_phrases.prompt == "Acme Telecom, Sarah"
    built = {}

    class Recorder:
        def __init__(self, model, **kw):
            built.update(kw)

    monkeypatch.setattr(whisper, "WhisperTranscriber", Recorder)
    wiring.build_components(again)
    assert built["prompt"] == "Acme Telecom, Sarah"
    built.clear()
    wiring.build_components(Settings())
    assert built["prompt"] is None


class _Pipeline:
    def __init__(self):
        self.options = []

    def transcribe(self, samples, *, clip_timestamps, **options):
        self.options.append(options)
        return iter(()), None


def test_every_decode_path_sends_the_vocabulary_as_the_initial_prompt():
    """Packed groups and the piece-by-piece re-decode both go through one call to faster-whisper."""
    rate = 16000
    speech = {"AGENT": [(0, 5 * rate), (8 * rate, 12 * rate)], "CUSTOMER": [(20 * rate, 24 * rate)]}
    channels = {p: np.full(30 * rate, 0.1, np.float32) for p in ("AGENT", "CUSTOMER")}
    stream = pack(speech, channels)
    t = WhisperTranscriber.__new__(WhisperTranscriber)
    t.language, t.beam_size, t.pipeline, t.prompt = "en", 1, _Pipeline(), "Acme Telecom, Sarah"
    list(t._segments(stream.samples, stream.windows))
    list(t._segments(stream.samples, [(p.stream_s, p.stream_end_s) for p in stream.pieces]))
    assert [o["initial_prompt"] for o in t.pipeline.options] == ["Acme Telecom, Sarah"] * 2
    assert all(o.get("hotwords") is None for o in t.pipeline.options)
    plain = WhisperTranscriber.__new__(WhisperTranscriber)
    plain.language, plain.beam_size, plain.pipeline = "en", 1, _Pipeline()
    list(plain._segments(stream.samples, stream.windows))
    assert plain.pipeline.options[0]["initial_prompt"] is None
    json.dumps(t.pipeline.options[0])  # plain values only


def test_a_vocabulary_longer_than_whispers_prompt_says_which_phrases_are_not_used(caplog):
    short = WhisperTranscriber("tiny.en", prompt="Acme Telecom, Sarah")
    assert short.prompt == "Acme Telecom, Sarah" and "not used" not in caplog.text
    long = ", ".join(f"Product {chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(300))
    WhisperTranscriber("tiny.en", prompt=long)
    assert "Whisper reads its last 223 only: the phrases at the start of the file are not used locally" in caplog.text
