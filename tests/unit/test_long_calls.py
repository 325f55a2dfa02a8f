"""Long calls in bounded memory: decoding and transcription read a call block by block, with the same results.

A 4-hour stereo call is 0.9 GB as float32 at 8 kHz and 1.8 GB resampled to 16 kHz: held whole, it
cannot stay under 1.5 GB per worker. Each step now reads the recording a block at a time; these tests
check that block by block gives exactly what the whole call gave, and that a long call passes under
a memory cap that the whole-call code could not.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.adapters.whisper import (WINDOW_S, WhisperTranscriber, pack, pack_streams, piece_audio, resample,
                                       resample_blocks)
from pipeline.steps.audio import CallAudio, LevelMeter, decode_call, frame_levels_db
from pipeline.steps.process import _acoustics
from pipeline.steps.run import discover_day, process_recordings
from tests.conftest import DAY_DIR, DEMO_DAY, make_settings

ROOT = Path(__file__).resolve().parents[2]


def _whole(path: Path, agent_channel: int = 1) -> CallAudio:
    """The call as the code before block decoding held it: both channels in memory."""
    samples, rate = sf.read(path, dtype="float32", always_2d=True)
    return CallAudio(agent=np.ascontiguousarray(samples[:, agent_channel]),
                     customer=np.ascontiguousarray(samples[:, 1 - agent_channel]), sample_rate=rate,
                     agent_channel=agent_channel)


def test_levels_measured_block_by_block_equal_the_whole_channels(sample_files):
    x = _whole(sample_files[0]).agent
    meter = LevelMeter(8000)
    for start in range(0, len(x), 12_345):  # blocks that split 20 ms frames anywhere
        meter.feed(x[start:start + 12_345])
    assert np.array_equal(meter.levels(), frame_levels_db(x, 8000))
    assert meter.samples == len(x)


@pytest.mark.parametrize("agent_channel", [1, 0])
def test_block_decoding_gives_the_same_metrics_as_decoding_the_whole_call(sample_files, monkeypatch, agent_channel):
    import pipeline.steps.audio as audio_module

    monkeypatch.setattr(audio_module, "BLOCK_FRAMES_OF_20MS", 7)  # many small blocks, not one per minute
    for path in sample_files:
        streamed, whole = decode_call(str(path), str(path), agent_channel), _whole(path, agent_channel)
        assert streamed.agent is None and streamed.frames == whole.frames  # nothing held but the levels
        for p in ("AGENT", "CUSTOMER"):
            assert np.array_equal(streamed.levels(p), frame_levels_db(whole.channel(p), 8000))
            assert np.array_equal(streamed.channel(p), whole.channel(p))
        rec = type("Rec", (), {"contact_id": path.stem, "uri": str(path), "call_started_at": None, "size_bytes": 1,
                           "timezone": "UTC"})()
        got, want = _acoustics(rec, streamed)[0], _acoustics(rec, whole)[0]
        assert {k: v for k, v in got.items() if k != "processed_at"} == \
               {k: v for k, v in want.items() if k != "processed_at"}


def test_resampling_and_cutting_pieces_block_by_block_equal_the_whole_channel(sample_files):
    whole = _whole(sample_files[2])
    for p in ("AGENT", "CUSTOMER"):
        at_16k = resample(whole.channel(p), 8000)
        blocks = list(resample_blocks(whole.blocks(p, 8000 * 7 + 13), 8000))
        assert np.array_equal(np.concatenate(blocks), at_16k)
        assert WhisperTranscriber.channel_speech(whole, p) == WhisperTranscriber.speech(at_16k)
    speech = {p: WhisperTranscriber.channel_speech(whole, p) for p in ("AGENT", "CUSTOMER")}
    channels = {p: resample(whole.channel(p), 8000) for p in ("AGENT", "CUSTOMER")}
    cut = list(piece_audio(whole, speech))
    expected = [channels[p][a:b] for p in ("AGENT", "CUSTOMER") for a, b in speech[p]]
    assert len(cut) == len(expected) and all(np.array_equal(a, b) for a, b in zip(cut, expected, strict=True))


def test_streams_of_a_few_windows_hold_the_same_pieces_as_one_stream(sample_files):
    whole = _whole(sample_files[0])
    speech = {p: WhisperTranscriber.channel_speech(whole, p) for p in ("AGENT", "CUSTOMER")}
    channels = {p: resample(whole.channel(p), 8000) for p in ("AGENT", "CUSTOMER")}
    one = pack(speech, channels)
    first, *rest = groups = list(pack_streams(speech, piece_audio(whole, speech), max_windows=1))
    assert len(groups) == len(one.windows) > 1
    assert [len(g.windows) for g in groups] == [1] * len(groups)
    # the first group is the start of the one stream, exactly; every group starts at 0
    assert first.windows[0] == one.windows[0] and np.array_equal(first.samples, one.samples[:len(first.samples)])
    assert all(g.pieces[0].stream_s == 0 for g in groups)
    # together they hold every piece once, in order, at its place in the recording
    assert [(q.participant, q.begin_s, q.end_s) for g in groups for q in g.pieces] == \
           [(q.participant, q.begin_s, q.end_s) for q in one.pieces]


@pytest.fixture(scope="module")
def tiny():
    return WhisperTranscriber("tiny.en", cpu_threads=2)


def test_a_call_transcribed_a_window_at_a_time_has_the_same_words(tiny, sample_files):
    # c4e5 (110 words with tiny.en here). On 8b2d tiny.en writes nothing at all for the first
    # 30 s window of the Festival/Flite voices, leaving 30 words: too few to compare groupings on.
    audio = decode_call(str(sample_files[2]), str(sample_files[2]), 1)
    one = tiny.transcribe(None, audio).words
    tiny.group_windows = 1
    try:
        grouped = tiny.transcribe(None, audio).words
    finally:
        del tiny.group_windows
    assert [w.text for w in grouped] == [w.text for w in one] and len(one) > 40
    assert all(abs(a.begin_s - b.begin_s) <= 0.02 for a, b in zip(grouped, one, strict=True))


@pytest.fixture(scope="module")
def hour_long(tmp_path_factory, sample_files) -> Path:
    """A 60-minute stereo 8 kHz call (115 MB): the sample calls one after another."""
    path = tmp_path_factory.mktemp("long") / "long0060_20261122T20:00_UTC.wav"
    clips = [sf.read(f, dtype="int16", always_2d=True)[0] for f in sample_files]
    with sf.SoundFile(path, "w", samplerate=8000, channels=2, subtype="PCM_16", format="WAV") as out:
        frames, i = 0, 0
        while frames < 3600 * 8000:
            clip = clips[i % len(clips)][: 3600 * 8000 - frames]
            out.write(clip)
            frames, i = frames + len(clip), i + 1
    return path


def test_an_hour_long_call_is_processed_under_a_600_mb_worker_cap(source, tmp_path, hour_long):
    """Acoustic-only workers under AFTERCALL_WORKER_MEMORY_MB=600 (RLIMIT_AS): the whole-call decoder held the
    file's bytes and both channels (~0.6 GB for an hour) and quarantined this call at stage ``memory``."""
    (source / DAY_DIR / hour_long.name).hardlink_to(hour_long)
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=2, worker_memory_mb=600)
    result = process_recordings(settings, discover_day(settings, DEMO_DAY))
    assert result.failures == []
    [long] = [c for c in result.calls if c["contact_id"] == "long0060"]
    assert long["duration_s"] == 3600 and long["agent_talk_s"] > 1000 and long["customer_talk_s"] > 1000


def test_an_hour_long_call_goes_to_whisper_in_bounded_pieces_under_a_memory_cap(tmp_path, hour_long):
    """The local transcriber's audio path for an hour under RLIMIT_AS = what the process has + 400 MB.

    The whole-call path resampled both channels (2 x 230 MB), measured levels in float64 (460 MB) and
    packed an hour of speech into one stream: far over. Whisper itself stands in (a model's memory
    is not the audio path's): it records the length of every stream it is given.
    """
    script = tmp_path / "capped.py"
    script.write_text(textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pipeline.adapters.whisper import GROUP_WINDOWS, WINDOW_S, WHISPER_RATE, WhisperTranscriber
        from pipeline.steps.audio import decode_call

        class Whisper:  # faster-whisper's batched pipeline, answering nothing
            longest = 0
            clips = 0
            def transcribe(self, samples, *, clip_timestamps, **options):
                Whisper.longest = max(Whisper.longest, len(samples))
                Whisper.clips += len(clip_timestamps)
                return iter(()), None

        vm = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 400 * 2**20, resource.RLIM_INFINITY))
        t = WhisperTranscriber.__new__(WhisperTranscriber)
        t.language, t.language_code, t.beam_size, t.name, t.pipeline = "en", "en-US", 1, "stand-in", Whisper()
        with open({str(hour_long)!r}, "rb") as fh:
            audio = decode_call(fh, "long", 1)
            assert t.transcribe(None, audio).words == []
        print(Whisper.clips, Whisper.longest / WHISPER_RATE, GROUP_WINDOWS * (WINDOW_S + 1))
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    clips, longest_s, bound_s = (float(v) for v in done.stdout.split())
    assert clips > 100  # the hour's speech went to Whisper ...
    assert longest_s <= bound_s  # ... never more than a group of windows at a time
    assert WINDOW_S == 30.0
