"""No transcript text in logs: what was said may hold PII, and logs are kept and shipped apart from the lake.

The sample calls' scripts go through the local engine's pieces (processing with a scripted transcriber,
Whisper's clip filtering with a stand-in model, importing Transcribe outputs) with every logger at DEBUG;
no log record may hold four words in a row of any turn.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from types import SimpleNamespace

import numpy as np
import pytest

from pipeline.settings import SAMPLES_DIR, Settings

DAY = date(2026, 11, 22)
SUMMARY = "The customer asked about a parcel that never arrived and the agent promised a refund by Friday."


@pytest.fixture(scope="module")
def scripts() -> list[dict]:
    return json.loads((SAMPLES_DIR / "truth.json").read_text())


def spoken(scripts) -> list[str]:
    return [t["text"] for c in scripts for t in c["turns"]]


def leaks(records: list[logging.LogRecord], texts: list[str]) -> list[str]:
    """Log messages (and tracebacks) holding four words in a row of any text."""
    found = []
    for record in records:
        message = record.getMessage() + (logging.Formatter().formatException(record.exc_info)
                                          if record.exc_info else "")
        flat = " ".join(re.findall(r"\w+", message.lower()))
        for text in texts:
            words = re.findall(r"\w+", text.lower())
            if any(" ".join(words[i:i + 4]) in flat for i in range(max(1, len(words) - 3))):
                found.append(message)
                break
    return found


@pytest.mark.parametrize("mask", [None, "type"])
def test_processing_the_sample_calls_logs_no_turn_text(scripts, caplog, mask):
    from pipeline.adapters.local_source import LocalSource
    from pipeline.adapters.vader import VaderSentiment
    from pipeline.steps.discovery import discover_local
    from pipeline.ports import Transcriber, Transcript, Word
    from pipeline.steps.process import process_recording
    from pipeline.wiring import Components

    by_id = {c["contact_id"]: c for c in scripts}

    class Scripted(Transcriber):
        name = "scripted"

        def transcribe(self, recording, audio):
            words = []
            for turn in by_id[recording.contact_id]["turns"]:
                tokens = turn["text"].split()
                step = (turn["end_s"] - turn["begin_s"]) / len(tokens)
                words += [Word(turn["participant"], turn["begin_s"] + i * step, turn["begin_s"] + (i + 1) * step,
                               token, 0.9) for i, token in enumerate(tokens)]
            return Transcript(words, "en-US", "scripted", summary=SUMMARY)  # as Call Analytics writes one

    components = Components(LocalSource(SAMPLES_DIR), Scripted(), VaderSentiment(), mask, True)
    with caplog.at_level(logging.DEBUG):
        outcomes = [process_recording(rec, components, 1) for rec in discover_local(SAMPLES_DIR, DAY)]
    assert sum(len(o.turns) for o in outcomes) >= 20  # the scripts went through
    assert all(o.call["summary"] == SUMMARY for o in outcomes)  # stored, in the lake only
    assert leaks(caplog.records, spoken(scripts) + [SUMMARY]) == []


def test_whisper_logs_what_it_drops_without_the_words(scripts, caplog):
    """A clip judged silent and a window that loops are logged by time and count, not by what was heard."""
    from pipeline.adapters.whisper import WhisperTranscriber

    said = spoken(scripts)

    def segment(start, text, **kw):
        words = [SimpleNamespace(start=start + i * 0.3, end=start + i * 0.3 + 0.25, word=" " + w, probability=0.9)
                 for i, w in enumerate(text.split())]
        return SimpleNamespace(**{"start": start, "text": text, "words": words, "no_speech_prob": 0.1,
                                  "avg_logprob": -0.2, "compression_ratio": 1.2, **kw})

    calls = []

    class StandIn:  # faster-whisper's BatchedInferencePipeline, replaying sample lines
        def transcribe(self, samples, **kw):
            calls.append(kw["clip_timestamps"])
            if len(calls) == 1:
                return [segment(0.0, said[0], no_speech_prob=0.9, avg_logprob=-1.5),
                        segment(10.0, " ".join([said[3]] * 4), compression_ratio=3.5),
                        segment(20.0, said[1])], None
            return [segment(10.0, said[3])], None

    whisper = WhisperTranscriber.__new__(WhisperTranscriber)
    whisper.pipeline, whisper.language, whisper.beam_size = StandIn(), "en", 1
    stream = SimpleNamespace(samples=np.zeros(16000 * 30, dtype=np.float32),
                             windows=[(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)],
                             pieces=[SimpleNamespace(stream_s=10.0, stream_end_s=15.0)],
                             owner=lambda begin, end: 0)  # every word is the one piece's: none skipped
    with caplog.at_level(logging.DEBUG):
        words = whisper.decode(stream)
    assert len(calls) == 2 and len(words) == len(said[1].split()) + len(said[3].split())
    assert any("judged silent" in r.getMessage() for r in caplog.records)
    assert leaks(caplog.records, said) == []


def test_importing_transcribe_outputs_of_the_sample_calls_logs_no_turn_text(scripts, caplog, tmp_path):
    from pipeline.analytics.importers import import_paths

    for call in scripts:
        channels = {"AGENT": [], "CUSTOMER": []}
        for turn in call["turns"]:
            tokens = turn["text"].split()
            step = (turn["end_s"] - turn["begin_s"]) / len(tokens)
            channels[turn["participant"]] += [
                {"start_time": f"{turn['begin_s'] + i * step:.3f}", "end_time": f"{turn['begin_s'] + (i + 1) * step:.3f}",
                 "alternatives": [{"confidence": "0.9", "content": token}], "type": "pronunciation"}
                for i, token in enumerate(tokens)]
        doc = {"jobName": call["contact_id"], "status": "COMPLETED", "results": {
            "transcripts": [{"transcript": " ".join(t["text"] for t in call["turns"])}], "items": [],
            "channel_labels": {"number_of_channels": 2, "channels": [
                {"channel_label": f"ch_{i}", "items": [dict(item, channel_label=f"ch_{i}") for item in channels[p]]}
                for i, p in enumerate(("CUSTOMER", "AGENT"))]}}}
        (tmp_path / call["file"].replace(".wav", ".json")).write_text(json.dumps(doc))
    broken = json.loads((tmp_path / scripts[0]["file"].replace(".wav", ".json")).read_text())
    del broken["results"]["channel_labels"]
    (tmp_path / "broken-1_20261122T18:00_UTC.json").write_text(json.dumps(broken))
    with caplog.at_level(logging.DEBUG):
        summary = import_paths(Settings(lake=str(tmp_path / "lake"), redact_pii=True), [str(tmp_path)])
    assert summary.imported == {"2026-11-22": len(scripts)} and len(summary.failed) == 1
    assert leaks(caplog.records, spoken(scripts)) == []
