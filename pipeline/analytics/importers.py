"""``aftercall import``: existing Amazon Transcribe, Call Analytics and Contact Lens outputs into the lake.

* **Transcribe** (``results.channel_labels`` or speaker labels): words → the same turns code as
  the audio path; talk time, non-talk time, overlap and interruptions from the words' timings
  with the same metrics code (a participant speaks from a word's start to its end, pauses under
  :data:`BRIDGE_S` bridged, as voice activity would); sentiment with the configured engine.
* **Call Analytics / Contact Lens** (``Transcript`` + ``ConversationCharacteristics``): the
  metrics the service computed are kept as it computed them (talk time, non-talk time,
  interruptions by interrupter, talk speed, overall and quarterly sentiment, loudness); one
  turn per transcript segment, with the service's sentiment label. The service's summary of the call
  (Call Analytics' generative summary, Contact Lens' post-contact summary) is kept as ``calls.summary``,
  redacted like the turns when redaction is on.

The contact id is ``CustomerMetadata.ContactId``, else the file name's part before the first
``_`` (Connect names files ``<contactId>_...``), else the job name. The day is ``--date``, else
the timestamp in the file name. Importing is idempotent: a day's partitions are re-written
with the imported contacts replaced, the day's other calls kept, categories re-applied.
"""

from __future__ import annotations

import json
import math
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pipeline import __version__
from pipeline.aws.transcript_format import call_summary, parse_transcribe, parse_utterances
from pipeline.steps.days import local_day, zone
from pipeline.steps.discovery import parse_recording_name
from pipeline.exceptions import AftercallError, ConfigurationError, InfrastructureError
from pipeline.steps.metrics import (TimedWord, non_talk_time, overlap_time, redacted_times, segment_cut_ins,
                                   speech_tracks, talk_speed, talk_time)
from pipeline.analytics.pii import redact
from pipeline.ports import Transcript, Word
from pipeline.steps.process import language_rows, summary_text
from pipeline.settings import Settings
from pipeline.wiring import Components, build_lake, build_sentiment, build_store

__all__ = ["BRIDGE_S", "ImportError_", "ImportSummary", "detect_format", "import_document", "import_paths"]

log = logging.getLogger(__name__)

BRIDGE_S = 0.3
Format = Literal["transcribe", "call-analytics", "contact-lens"]
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}|(\d{8})T\d{2}:?\d{2}")


class ImportError_(AftercallError):  # noqa: N801 - the builtin name is taken
    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"{uri}: {reason}")
        self.uri, self.reason = uri, reason


def detect_format(doc: Mapping[str, Any]) -> Format:
    if "results" in doc:
        return "transcribe"
    segments = doc.get("Transcript")
    if isinstance(segments, list) and segments and all("BeginOffsetMillis" in s for s in segments):
        # Without ConversationCharacteristics the metrics are recomputed from the utterances.
        if any("ParticipantRole" in s for s in segments):
            return "call-analytics"
        return "contact-lens"
    raise ValueError("neither Transcribe output nor Call Analytics / Contact Lens analysis")


def _contact_id(doc: Mapping[str, Any], name: str) -> str:
    """The contact id a file names, held to the rules contact trace records are held to."""
    from pipeline.analytics.ctr import valid_contact_id

    metadata = doc.get("CustomerMetadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"CustomerMetadata is {type(metadata).__name__}, not an object")
    if metadata.get("ContactId"):
        return valid_contact_id(metadata["ContactId"])
    stem = PurePosixPath(name).name.rsplit(".", 1)[0]
    if "_" in stem:
        return valid_contact_id(stem.split("_", 1)[0])
    return valid_contact_id(doc.get("jobName") or doc.get("JobName") or stem)


def _finite_only(constant: str) -> float:
    raise ValueError(f"{constant} is not a number this lake stores")  # NaN / Infinity: JSON has neither


def _utf8_only(tables: Mapping[str, list[dict]]) -> None:
    """Refuse text the lake cannot store: JSON may escape a lone surrogate (``"\\ud800"``), UTF-8 has none.

    The error names the table and column only, never the text (a summary or a turn may hold PII)."""
    for table, rows in tables.items():
        for row in rows:
            for column, value in row.items():
                if isinstance(value, str):
                    try:
                        value.encode("utf-8")
                    except UnicodeEncodeError:
                        raise ValueError(f"{table}.{column} holds a lone surrogate (such as \\ud800 in the JSON), "
                                         "which is not text") from None


def _day(name: str, given: date | None, tz: str = "UTC") -> date:
    """``--date``, else the local day (``AFTERCALL_TIMEZONE``) of a Connect start stamp, else the date in the name."""
    if given:
        return given
    started = parse_recording_name(PurePosixPath(name).name)[1]
    if started is not None:
        return local_day(started, tz)
    match = _STAMP.search(PurePosixPath(name).name)
    if not match:
        raise ValueError("no date in the file name: pass --date YYYY-MM-DD")
    return date.fromisoformat(match[1]) if match[1] else datetime.strptime(match[2], "%Y%m%d").date()


def _intervals(words: Iterable[Word], participant: str) -> list[tuple[float, float]]:
    spans: list[list[float]] = []
    for w in sorted((w for w in words if w.participant == participant), key=lambda w: w.begin_s):
        if spans and w.begin_s - spans[-1][1] <= BRIDGE_S:
            spans[-1][1] = max(spans[-1][1], w.end_s)
        else:
            spans.append([w.begin_s, w.end_s])
    return [(b, e) for b, e in spans]


def _base(contact_id: str, uri: str, name: str, duration_s: float) -> dict:
    started = parse_recording_name(PurePosixPath(name).name)[1]
    return {"contact_id": contact_id, "recording_uri": uri, "duration_s": round(duration_s, 3),
            "call_started_at": started.replace(tzinfo=None) if started else None,
            "processed_at": datetime.now(UTC).replace(tzinfo=None), "pipeline_version": __version__}


def conversation_metrics(spans: dict[str, list[tuple[float, float]]], words: dict[str, int],
                         duration_s: float, spoken: dict[str, list[TimedWord]]) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Talk time, non-talk time, overlap, interruptions and talk speed from each participant's utterances.

    Call Analytics' definitions on a transcript: talk is the utterances' time (pauses inside an
    utterance count, as they do in Call Analytics, where summing word durations undercounts by 10-20 %)
    less what the other said while the participant listened (:func:`speech_tracks`); talk speed is words
    per minute of that talk time where the words were not redacted (:func:`talk_speed`); interruptions are
    the segments' overlaps Call Analytics counts (:func:`segment_cut_ins`). ``spoken``: each participant's
    timed words with their text. Returns the call's columns and each participant's interruption starts.
    """
    word_times = {p: [(b, e) for b, e, _ in spoken.get(p, [])] for p in ("AGENT", "CUSTOMER")}
    tracks = speech_tracks(spans, word_times)
    agent, customer = tracks["AGENT"][0], tracks["CUSTOMER"][0]
    cut_in = segment_cut_ins(spans, spoken)
    out: dict[str, Any] = {
        "non_talk_s": round(non_talk_time(agent, customer, duration_s), 3),
        "overlap_s": round(overlap_time(agent, customer), 3),
        "agent_interruptions": len(cut_in["AGENT"]),
        "customer_interruptions": len(cut_in["CUSTOMER"]),
    }
    for p, own in (("agent", agent), ("customer", customer)):
        out[f"{p}_talk_s"] = round(talk_time(own), 3)
        out[f"{p}_wpm"] = talk_speed(own, words.get(p.upper(), 0), redacted_times(spoken.get(p.upper(), [])))
    return out, cut_in


def _from_transcribe(doc, uri, name, settings: Settings, components: Components) -> tuple[dict, list, list]:
    words = parse_transcribe(doc, settings.agent_channel)
    utterances = parse_utterances(doc, settings.agent_channel)
    spans = utterances or {p: _intervals(words, p) for p in ("AGENT", "CUSTOMER")}  # older output: words
    duration = max([w.end_s for w in words] + [e for v in spans.values() for _, e in v], default=0.0)
    call = _base(_contact_id(doc, name), uri, name, duration)
    call["agent_channel"] = settings.agent_channel if doc["results"].get("channel_labels") else None
    transcript = Transcript(words, settings.language_code, "amazon-transcribe (imported)")
    turns, raw = language_rows(call, transcript, components, duration, None)
    counts = {p: sum(w.participant == p for w in words) for p in ("AGENT", "CUSTOMER")}
    spoken = {p: [(w.begin_s, w.end_s, w.text) for w in words if w.participant == p] for p in ("AGENT", "CUSTOMER")}
    metrics, cut_in = conversation_metrics(spans, counts, duration, spoken)
    call.update(metrics)  # after language_rows: the utterances' win
    # One interruption definition for the call and its turns (computed once per participant, not per turn).
    for t in turns:
        t["is_interruption"] = any(t["begin_s"] - 0.5 <= c < t["end_s"] for c in cut_in[t["participant"]])
    return call, turns, raw


ROLES = ("AGENT", "CUSTOMER")


def _role(seg: Mapping[str, Any], roles: Mapping[Any, Any], index: int) -> str:
    """The segment's participant, AGENT or CUSTOMER (Call Analytics: ``ParticipantRole``; Contact Lens:
    ``ParticipantId`` and the ``Participants`` list). Anything else refuses the file: it would land in
    the lake and on the report as it is."""
    role = seg.get("ParticipantRole") or roles.get(seg.get("ParticipantId"), seg.get("ParticipantId"))
    if isinstance(role, str) and role.strip().upper() in ROLES:
        return role.strip().upper()
    shown = repr(role) if len(repr(role)) <= 40 else repr(role)[:37] + "..."
    raise ValueError(f"transcript segment {index}: participant {shown} is neither AGENT nor CUSTOMER"
                     if role is not None else f"transcript segment {index} has no participant (ParticipantRole "
                                              "or ParticipantId)")


def _mean(values: Iterable[float]) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 2) if values else None


def _millis(value: Any, what: str) -> float:
    """An offset of a Call Analytics / Contact Lens file: a finite, non-negative number of milliseconds (JSON reads
    1e400 as infinity without asking ``parse_constant``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} {str(value)[:20]!r} is not a time in the recording")
    return value


def _checked_times(segments: list) -> None:
    """Refuse a file whose segment or word times are not times (the Transcribe path refuses the same)."""
    for n, seg in enumerate(segments):
        if not isinstance(seg, Mapping):
            raise ValueError(f"transcript segment {n} is not an object")
        begin = _millis(seg.get("BeginOffsetMillis"), f"segment {n} BeginOffsetMillis")
        if _millis(seg.get("EndOffsetMillis"), f"segment {n} EndOffsetMillis") < begin:
            raise ValueError(f"segment {n} ends before it begins")
        for i, item in enumerate(seg.get("Items") or []):
            if not isinstance(item, Mapping):
                raise ValueError(f"segment {n} item {i} is not an object")
            if "BeginOffsetMillis" in item or "EndOffsetMillis" in item:
                b = _millis(item.get("BeginOffsetMillis"), f"segment {n} item {i} BeginOffsetMillis")
                if _millis(item.get("EndOffsetMillis"), f"segment {n} item {i} EndOffsetMillis") < b:
                    raise ValueError(f"segment {n} item {i} ends before it begins")


def _from_analytics(doc, uri, name, kind: Format, components: Components) -> tuple[dict, list, list]:
    _checked_times(doc["Transcript"])
    roles = {p.get("ParticipantId", p.get("ParticipantRole")): p.get("ParticipantRole")
             for p in doc.get("Participants") or [] if isinstance(p, Mapping)}
    cc = doc.get("ConversationCharacteristics") or {}
    segments = sorted(doc["Transcript"], key=lambda s: s["BeginOffsetMillis"])
    duration = (cc.get("TotalConversationDurationMillis") or max((s["EndOffsetMillis"] for s in segments), default=0)) / 1000
    engine = "transcribe-call-analytics (imported)" if kind == "call-analytics" else "contact-lens (imported)"
    call = _base(_contact_id(doc, name), uri, name, duration)
    talk = (cc.get("TalkTime") or {}).get("DetailsByParticipant", {})
    cuts = (cc.get("Interruptions") or {}).get("InterruptionsByInterrupter", {})
    speed = (cc.get("TalkSpeed") or {}).get("DetailsByParticipant", {})
    sentiment = cc.get("Sentiment") or {}
    quarters = (sentiment.get("SentimentByPeriod") or {}).get("QUARTER", {})
    rows, raw = [], []
    for index, seg in enumerate(segments):
        role = _role(seg, roles, index)
        loud = seg.get("LoudnessScores") or seg.get("LoudnessScore") or []
        items = [i for i in seg.get("Items", []) if i.get("Type", "pronunciation") == "pronunciation"]
        text = seg.get("Content") or ""
        if not isinstance(text, str):
            raise ValueError(f"transcript segment {index}: Content is {type(text).__name__}, not text")
        before = (segments[index - 1].get("Content") or "") if index else ""
        shown = redact(text, components.pii_mask, context=before if isinstance(before, str) else "")[0] \
            if components.pii_mask else text
        begin = seg["BeginOffsetMillis"] / 1000
        rows.append({
            "contact_id": call["contact_id"], "turn_index": index, "participant": role,
            "begin_s": begin, "end_s": seg["EndOffsetMillis"] / 1000, "text": shown,
            "word_count": len(items) or len(text.split()),
            "confidence": _mean(i.get("Confidence") for i in items) if items else None,
            "sentiment": seg.get("Sentiment"), "loudness": _mean(loud),
            "is_interruption": any(abs(c["BeginOffsetMillis"] / 1000 - begin) < 1.0 or
                                   seg["BeginOffsetMillis"] <= c["BeginOffsetMillis"] < seg["EndOffsetMillis"]
                                   for c in cuts.get(role, [])),
        })
        if components.pii_mask and components.keep_raw_text:
            raw.append({"contact_id": call["contact_id"], "turn_index": index, "participant": role, "text": text})
    for p in ("AGENT", "CUSTOMER"):
        low = p.lower()
        call[f"{low}_talk_s"] = (talk.get(p) or {}).get("TotalTimeMillis", 0) / 1000
        call[f"{low}_interruptions"] = len(cuts.get(p, []))
        call[f"{low}_wpm"] = (speed.get(p) or {}).get("AverageWordsPerMinute")
        call[f"{low}_loudness"] = _mean(v for r in rows if r["participant"] == p for v in [r["loudness"]])
        call[f"{low}_sentiment"] = (sentiment.get("OverallSentiment") or {}).get(p)
        scores = [q.get("Score") for q in quarters.get(p, [])][:4]
        for i, score in enumerate(scores, start=1):
            call[f"{low}_sentiment_q{i}"] = score
        if len(scores) == 4 and None not in (scores[0], scores[3]):
            call[f"{low}_sentiment_shift"] = round(scores[3] - scores[0], 3)
    call.update(
        non_talk_s=(cc.get("NonTalkTime") or {}).get("TotalTimeMillis", 0) / 1000,
        customer_sentiment_start=call.get("customer_sentiment_q1"), customer_sentiment_end=call.get("customer_sentiment_q4"),
        language_code=doc.get("LanguageCode"), transcriber=engine, sentiment_engine=engine,
        transcript_word_count=sum(r["word_count"] for r in rows),
        summary=summary_text(call_summary(doc), components),  # redacted like the turns; NULL when none
    )
    if not all(k in cc for k in ("TalkTime", "NonTalkTime", "Interruptions", "TalkSpeed")):
        # The service computed none (or not all) of them: the same definitions as for plain Transcribe output.
        spans: dict[str, list[tuple[float, float]]] = {"AGENT": [], "CUSTOMER": []}
        spoken: dict[str, list[TimedWord]] = {"AGENT": [], "CUSTOMER": []}
        counts = {"AGENT": 0, "CUSTOMER": 0}
        for r, seg in zip(rows, segments):
            if r["participant"] in spans:
                spans[r["participant"]].append((r["begin_s"], r["end_s"]))
                counts[r["participant"]] += r["word_count"]
                timed = [(i["BeginOffsetMillis"] / 1000, i["EndOffsetMillis"] / 1000, str(i.get("Content", "")))
                         for i in seg.get("Items", []) if i.get("Type", "pronunciation") == "pronunciation"
                         and "BeginOffsetMillis" in i and "EndOffsetMillis" in i]
                # A segment without timed words is one word spanning it, so its text still tells a backchannel.
                spoken[r["participant"]] += timed or [(r["begin_s"], r["end_s"], seg.get("Content") or "")]
        metrics, cut_in = conversation_metrics(spans, counts, duration, spoken)
        call.update(metrics)
        for r in rows:
            r["is_interruption"] = r["begin_s"] in cut_in.get(r["participant"], [])
    return call, rows, raw


def import_document(doc: Mapping[str, Any], uri: str, settings: Settings, components: Components,
                    day: date | None = None) -> tuple[date, dict, list[dict], list[dict]]:
    """(day, ``calls`` row, ``turns`` rows, ``turns_raw`` rows) of one output file."""
    kind = detect_format(doc)
    name = PurePosixPath(uri).name
    if kind == "transcribe":
        call, turns, raw = _from_transcribe(doc, uri, name, settings, components)
    else:
        call, turns, raw = _from_analytics(doc, uri, name, kind, components)
    started = call.get("call_started_at")
    call["timezone"] = settings.timezone
    call["call_started_local"] = (started.replace(tzinfo=UTC).astimezone(zone(settings.timezone)).replace(tzinfo=None)
                                  if started else None)
    return _day(name, day, settings.timezone), call, turns, raw


@dataclass
class ImportSummary:
    imported: dict[str, int] = field(default_factory=dict)  # day -> calls
    failed: list[tuple[str, str]] = field(default_factory=list)


def _files(settings: Settings, targets: Iterable[str]) -> list[str]:
    found: list[str] = []
    for target in targets:
        if target.startswith("s3://"):
            store = build_store(settings, target)
            listed = [p for p in store.list(target) if p.endswith(".json")]
            found += listed or [target]
        elif Path(target).is_dir():
            found += sorted(str(p) for p in Path(target).rglob("*.json"))
        else:
            found.append(target)
    return found


def import_paths(settings: Settings, targets: Iterable[str], day: date | None = None) -> ImportSummary:
    """Import every output file under ``targets`` (files, folders, s3:// objects or prefixes)."""
    targets = list(targets)
    from pipeline.steps.days import check_lake_zone, record_lake_zone
    from pipeline.steps.run import DayResult, day_tables, new_run_id

    check_lake_zone(settings)  # a lake of another zone's days is refused before anything is read

    components = Components(source=None, transcriber=None, sentiment=build_sentiment(settings),  # type: ignore[arg-type]
                            pii_mask=settings.pii_mask if settings.redact_pii else None,
                            keep_raw_text=settings.pii_raw == "separate")
    summary = ImportSummary()
    days: dict[date, dict[str, tuple[dict, list[dict], list[dict]]]] = {}  # day -> contact -> rows; last file wins
    stores = {scheme: build_store(settings, root) for scheme, root in (("s3", "s3://"), ("local", "."))
              if any(t.startswith("s3://") == (scheme == "s3") for t in targets)}
    for path in _files(settings, targets):
        try:
            doc = json.loads(stores["s3" if path.startswith("s3://") else "local"].read_bytes(path),
                             parse_constant=_finite_only)
            if not isinstance(doc, dict):
                raise ValueError(f"a JSON {type(doc).__name__}, not an object")
            dt, call, turns, raw = import_document(doc, path, settings, components, day)
            _utf8_only({"calls": [call], "turns": turns, "turns_raw": raw})  # else the whole day's write fails
        except (ConfigurationError, InfrastructureError):
            raise  # a service or the settings failed, not this file
        except Exception as exc:  # whatever shape a file has, it costs only itself
            reason = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.warning("not imported: %s: %s", path, reason)
            summary.failed.append((path, reason))
            continue
        days.setdefault(dt, {})[call["contact_id"]] = (call, turns, raw)
    lake = build_lake(settings)
    run_id = new_run_id("import")
    for dt, contacts in sorted(days.items()):
        ids = set(contacts)
        new = {"calls": [c for c, _, _ in contacts.values()], "turns": [t for _, ts, _ in contacts.values() for t in ts],
               "turns_raw": [r for _, _, rs in contacts.values() for r in rs], "failures": []}
        with lake.day_lock(dt, run_id):  # one writer per day: the merge reads and replaces the day at once
            record_lake_zone(settings)
            merged = DayResult(dt)
            for table in ("calls", "turns", "turns_raw", "failures"):
                kept = [r for r in lake.read_partition(table, dt).to_pylist() if r.get("contact_id") not in ids]
                setattr(merged, table, kept + new[table])
            merged.calls.sort(key=lambda r: r["contact_id"])
            merged.turns.sort(key=lambda r: (r["contact_id"], r["turn_index"]))
            lake.write_partitions(dt, day_tables(settings, merged, lake), run_id=run_id)
        summary.imported[str(dt)] = len(ids)
    return summary
