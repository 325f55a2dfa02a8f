"""One recording in, one ``calls`` row and its ``turns`` rows out: the steps both engines share."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipeline import __version__
from pipeline.steps.audio import MAX_CALL_MINUTES, CallAudio, decode_call, loudness_score, speech_intervals
from pipeline.steps.days import zone
from pipeline.steps.discovery import Recording
from pipeline.exceptions import BadRecording, InfrastructureError, SentimentError
from pipeline.steps.metrics import cut_ins, interruptions, non_talk_time, overlap_time, talk_time
from pipeline.analytics.pii import redact, redact_turns
from pipeline.ports import Transcript
from pipeline.steps.sentiment import summarize
from pipeline.steps.turns import align_to_speech, build_turns, words_per_minute
from pipeline.wiring import Components

__all__ = ["CallOutcome", "failure_row", "language_rows", "process_recording", "utc_now"]

log = logging.getLogger(__name__)

TURN_EDGE_GAP_S = 0.2  # turn edges snap to speech measured with pauses over 0.2 s kept apart


@dataclass(slots=True)
class CallOutcome:
    recording: Recording
    call: dict | None = None
    turns: list[dict] = field(default_factory=list)
    turns_raw: list[dict] = field(default_factory=list)
    failure: dict | None = None
    timings: dict[str, float] = field(default_factory=dict)
    audio_s: float = 0.0


def utc_now() -> datetime:
    """Naive UTC, as the lake's timestamp columns hold it."""
    return datetime.now(UTC).replace(tzinfo=None)


def failure_row(recording: Recording, stage: str, error: str) -> dict:
    return {
        "recording_uri": recording.uri,
        "contact_id": recording.contact_id,
        "stage": stage,
        "error": error,
        "failed_at": utc_now(),
        "pipeline_version": __version__,
    }


def process_recording(recording: Recording, components: Components, agent_channel: int,
                      max_call_minutes: float = MAX_CALL_MINUTES) -> CallOutcome:
    """Never raises for a bad recording: the outcome then carries a ``failures`` row with the reason.

    Raises :class:`InfrastructureError` when a service or engine fails (not the recording): the batch
    must fail and be retried rather than quarantine a good call. A recording that needs more memory
    than the process may have (``MemoryError``, e.g. under ``AFTERCALL_WORKER_MEMORY_MB``) is the
    recording's: it is quarantined at stage ``memory``. ``max_call_minutes``: longer calls are refused
    from their header, before decoding (``AFTERCALL_MAX_CALL_MINUTES``).
    """
    outcome = CallOutcome(recording)
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        outcome.timings[stage] = outcome.timings.get(stage, 0.0) + now - clock
        clock = now

    try:
        try:
            handle = components.source.open(recording)
        except (BadRecording, MemoryError):  # deleted or changed since discovery: the sources say so themselves
            raise
        except Exception as exc:  # the store is down, throttled, refusing: not this recording's fault
            raise InfrastructureError("read", f"{type(exc).__name__}: {exc}", recording.uri) from exc
        with handle:  # open while the audio is used: every step reads the samples from it, a block at a time
            lap("read")
            audio = decode_call(handle, recording.uri, agent_channel, max_call_minutes)
            outcome.audio_s = audio.duration_s
            lap("decode")
            outcome.call, levels, intervals = _acoustics(recording, audio)
            lap("acoustics")
            if components.transcriber is not None:
                try:
                    transcript = components.transcriber.transcribe(recording, audio)
                except (BadRecording, InfrastructureError, MemoryError):
                    raise
                except RuntimeError as exc:
                    if _out_of_memory(exc):  # CTranslate2 / MKL under the worker's cap: not the engine's fault
                        raise MemoryError(str(exc)) from exc
                    raise InfrastructureError("transcribe", f"{type(exc).__name__}: {exc}", recording.uri) from exc
                except Exception as exc:  # the engine failed, not the recording (which decoded): retry the batch
                    raise InfrastructureError("transcribe", f"{type(exc).__name__}: {exc}", recording.uri) from exc
                lap("transcribe")
                del audio
                outcome.turns, outcome.turns_raw = language_rows(outcome.call, transcript, components,
                                                                 outcome.audio_s, levels, lap)
    except InfrastructureError:
        raise
    except MemoryError:
        outcome.call, outcome.turns, outcome.turns_raw = None, [], []
        stage = next(iter(reversed(outcome.timings)), None)
        reason = (f"ran out of memory{f' after the {stage} step' if stage else ''}: needs more than this process "
                  "may use (AFTERCALL_WORKER_MEMORY_MB)")
        log.warning("quarantined %s at memory: %s", recording.uri, reason)
        outcome.failure = failure_row(recording, "memory", reason)
    except BadRecording as exc:
        log.warning("quarantined %s at %s: %s", recording.uri, exc.stage, exc.reason)
        outcome.call, outcome.turns, outcome.turns_raw = None, [], []
        outcome.failure = failure_row(recording, exc.stage, exc.reason)
    except Exception as exc:
        log.exception("unexpected error on %s", recording.uri)
        outcome.call, outcome.turns, outcome.turns_raw = None, [], []
        outcome.failure = failure_row(recording, "process", f"{type(exc).__name__}: {exc}")
    return outcome


def _out_of_memory(exc: BaseException) -> bool:
    """A native library's allocation failure (``mkl_malloc: failed to allocate memory``, ``std::bad_alloc``)."""
    text = str(exc).lower()
    return "bad_alloc" in text or ("alloc" in text and "memory" in text)


def _acoustics(recording: Recording, audio: CallAudio) -> tuple[dict, dict, dict]:
    levels = {p: audio.levels(p) for p in ("AGENT", "CUSTOMER")}  # measured while decoding
    intervals = {p: speech_intervals(levels[p]) for p in levels}
    agent, customer = intervals["AGENT"], intervals["CUSTOMER"]
    call = {
        "contact_id": recording.contact_id,
        "recording_uri": recording.uri,
        "call_started_at": recording.call_started_at.replace(tzinfo=None) if recording.call_started_at else None,
        "call_started_local": (recording.call_started_at.astimezone(zone(recording.timezone)).replace(tzinfo=None)
                               if recording.call_started_at else None),
        "timezone": recording.timezone,
        "duration_s": round(audio.duration_s, 3),
        "sample_rate_hz": audio.sample_rate,
        "file_size_bytes": recording.size_bytes,
        "agent_channel": audio.agent_channel,
        "agent_talk_s": round(talk_time(agent), 3),
        "customer_talk_s": round(talk_time(customer), 3),
        "non_talk_s": round(non_talk_time(agent, customer, audio.duration_s), 3),
        "overlap_s": round(overlap_time(agent, customer), 3),
        "agent_interruptions": len(interruptions(agent, customer)),
        "customer_interruptions": len(interruptions(customer, agent)),
        "agent_loudness": loudness_score(levels["AGENT"], agent),
        "customer_loudness": loudness_score(levels["CUSTOMER"], customer),
        "processed_at": utc_now(),
        "pipeline_version": __version__,
    }
    return call, levels, intervals


def summary_text(summary: str | None, components: Components) -> str | None:
    """The engine's summary of the call as the lake keeps it: redacted like the turns when redaction is on
    (the detector runs even where the service redacted already; the unredacted summary is never stored)."""
    if not summary or not summary.strip():
        return None
    if components.pii_mask:
        return redact(summary.strip(), components.pii_mask, components.pii_detector)[0]
    return summary.strip()


def language_rows(call: dict, transcript: Transcript, components: Components, duration_s: float,
                  levels: dict | None, lap=lambda stage: None) -> tuple[list[dict], list[dict]]:
    """Turns, talk speed and sentiment: fills the call's language columns; returns ``turns`` and ``turns_raw`` rows.

    With redaction on, PII is replaced before sentiment, so no engine (nor the lake's ``turns``) sees it.
    """
    sentiment = components.sentiment
    turns = build_turns(transcript.words)
    if levels:
        align_to_speech(turns, {p: speech_intervals(lv, TURN_EDGE_GAP_S) for p, lv in levels.items()})
    spans = {p: [(t.begin_s, t.end_s) for t in turns if t.participant == p] for p in ("AGENT", "CUSTOMER")}
    # The floor: each participant's turns less the pauses in which they listened to the other (the definition
    # imported transcripts get too, pipeline.steps.metrics.speech_tracks).
    times = {p: [(w.begin_s, w.end_s) for w in transcript.words if w.participant == p] for p in ("AGENT", "CUSTOMER")}
    cut_in = cut_ins(spans, times)
    # One definition for calls and turns: the call counts its interrupting turns.
    interrupting = [any(t.begin_s <= c < t.end_s for c in cut_in[t.participant]) for t in turns]
    call["agent_interruptions"], call["customer_interruptions"] = (
        sum(f for f, t in zip(interrupting, turns) if t.participant == p) for p in ("AGENT", "CUSTOMER"))
    lap("turns")
    raw_texts = [t.text for t in turns]
    # Each turn is read with the one before it: "The security code?" / "7, 8, 9." is a CVV.
    texts = redact_turns(raw_texts, components.pii_mask, components.pii_detector) if components.pii_mask else raw_texts
    try:
        results = sentiment.analyze(texts, transcript.language_code) if sentiment and turns else []
    except SentimentError as exc:  # the engine refused these texts even alone: this call's fault
        raise BadRecording(call["recording_uri"], "sentiment", str(exc)) from exc
    except MemoryError:
        raise
    except Exception as exc:  # throttled past every retry, or down: the service's fault, retry the batch
        raise InfrastructureError("sentiment", f"{type(exc).__name__}: {exc}", call["recording_uri"]) from exc
    units, sentiment_usd = sentiment.cost(texts) if sentiment and turns else (0, 0.0)
    lap("sentiment")
    call.update(
        summary=summary_text(transcript.summary, components),
        language_code=transcript.language_code,
        transcriber=transcript.engine,
        sentiment_engine=sentiment.name if sentiment else None,
        transcript_word_count=len(transcript.words),
        agent_wpm=words_per_minute(turns, "AGENT"),
        customer_wpm=words_per_minute(turns, "CUSTOMER"),
        transcribe_minutes=transcript.billed_minutes,
        comprehend_units=units,
        est_cost_usd=round(transcript.cost_usd + sentiment_usd, 6),
    )
    if results:
        for p in ("agent", "customer"):
            summary = summarize(turns, results, p.upper(), duration_s)  # type: ignore[arg-type]
            call[f"{p}_sentiment"] = summary.overall
            for i, q in enumerate(summary.quarters, start=1):
                call[f"{p}_sentiment_q{i}"] = q
            call[f"{p}_sentiment_shift"] = summary.shift
            if p == "customer":
                call["customer_sentiment_start"], call["customer_sentiment_end"] = summary.start, summary.end
    rows = []
    for index, turn in enumerate(turns):
        result = results[index] if results else None
        rows.append({
            "contact_id": call["contact_id"],
            "turn_index": index,
            "participant": turn.participant,
            "begin_s": turn.begin_s,
            "end_s": turn.end_s,
            "text": texts[index],
            "word_count": len(turn.words),
            "confidence": round(turn.confidence, 4),
            "sentiment": result.label if result else None,
            "sentiment_positive": result.positive if result else None,
            "sentiment_negative": result.negative if result else None,
            "sentiment_neutral": result.neutral if result else None,
            "sentiment_mixed": result.mixed if result else None,
            "loudness": loudness_score(levels[turn.participant], [(turn.begin_s, turn.end_s)]) if levels else None,
            "is_interruption": interrupting[index],
        })
    lap("turns")
    raw = []
    if components.pii_mask and components.keep_raw_text:
        raw = [{"contact_id": call["contact_id"], "turn_index": i, "participant": t.participant, "text": text}
               for i, (t, text) in enumerate(zip(turns, raw_texts, strict=True))]
    return rows, raw
