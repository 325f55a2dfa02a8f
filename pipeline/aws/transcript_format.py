"""The one parser of Amazon Transcribe output, feeding the same turns and metrics code as Whisper.

Standard jobs with channel identification put each channel's words under
``results.channel_labels.channels[] = {channel_label: "ch_0", items: [...]}``; mono jobs with
speaker diarization label items ``spk_0``/``spk_1`` (on the item, or in older outputs through
``results.speaker_labels.segments``). Every number in that format is a string. Punctuation
items carry no times and are glued to the word before them, as Whisper prints them.
Call Analytics output is ``Transcript[{ParticipantRole, Items: [{BeginOffsetMillis, ...}]}]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pipeline.steps.audio import Participant
from pipeline.ports import Word

__all__ = ["call_summary", "parse_call_analytics", "parse_transcribe", "parse_utterances", "render_transcribe"]


def _participant_of_channel(label: str, agent_channel: int) -> Participant:
    if label not in ("ch_0", "ch_1"):  # ChannelIdentification is two channels: a third is no customer
        shown = repr(label) if len(repr(label)) <= 40 else repr(label)[:37] + "..."
        raise ValueError(f"channel_label {shown} is neither ch_0 nor ch_1")
    return "AGENT" if int(label[-1]) == agent_channel else "CUSTOMER"


def _seconds(value: Any, what: str) -> float:
    """A time of the file in seconds: Transcribe writes them as strings, and float() reads "NaN" and "-Infinity"."""
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"{what} {str(value)[:20]!r} is not a time in the recording")
    return seconds


def _span(item: dict[str, Any], what: str) -> tuple[float, float]:
    begin, end = _seconds(item["start_time"], f"{what} start_time"), _seconds(item["end_time"], f"{what} end_time")
    if end < begin:
        raise ValueError(f"{what} ends ({end:g} s) before it starts ({begin:g} s)")
    return begin, end


def _words(items: Iterable[dict[str, Any]], who) -> list[Word]:
    """Words from Transcribe items; ``who(item)`` names the participant of a pronunciation item."""
    words: list[Word] = []
    for item in items:
        best = item["alternatives"][0]
        if item.get("type") == "punctuation":
            if words:
                words[-1] = words[-1].glued(best["content"])
            continue
        begin, end = _span(item, "item")
        words.append(Word(who(item), round(begin, 3), round(end, 3),
                          best["content"], round(float(best.get("confidence") or 0.0), 4)))
    return words


def parse_transcribe(doc: dict[str, Any], agent_channel: int = 1, agent_speaker: str = "spk_0") -> list[Word]:
    """Words of both participants from a standard Transcribe job's JSON (channels or speaker labels)."""
    results = doc["results"]
    if results.get("channel_labels"):
        words: list[Word] = []
        for channel in results["channel_labels"]["channels"]:
            participant = _participant_of_channel(channel["channel_label"], agent_channel)
            words += _words(channel["items"], lambda _item, p=participant: p)
        return words
    items = results.get("items", [])
    if results.get("speaker_labels") or any("speaker_label" in i for i in items):
        speakers: list[tuple[float, float, str]] = [
            (*_span(s, "speaker segment"), s["speaker_label"])
            for s in (results.get("speaker_labels") or {}).get("segments", [])
        ]

        def who(item: dict[str, Any]) -> Participant:
            label = item.get("speaker_label")
            if label is None:
                t = _seconds(item["start_time"], "item start_time")
                label = next((s for b, e, s in speakers if b <= t <= e), agent_speaker)
            return "AGENT" if label == agent_speaker else "CUSTOMER"

        return _words(items, who)
    raise ValueError("transcript has neither channel_labels nor speaker labels: cannot tell agent from customer")


def parse_utterances(doc: dict[str, Any], agent_channel: int = 1,
                     agent_speaker: str = "spk_0") -> dict[Participant, list[tuple[float, float]]] | None:
    """Each participant's utterances (start, end) from ``results.audio_segments``; None in older output without it.

    Call Analytics counts talk time over utterances, not words: the pauses between a sentence's words
    are talk. Current standard Transcribe output lists the same utterances as ``audio_segments``.
    """
    segments = doc["results"].get("audio_segments")
    if not segments:
        return None
    spans: dict[Participant, list[tuple[float, float]]] = {"AGENT": [], "CUSTOMER": []}
    for seg in segments:
        if "channel_label" in seg:
            who = _participant_of_channel(seg["channel_label"], agent_channel)
        else:
            who = "AGENT" if seg.get("speaker_label") == agent_speaker else "CUSTOMER"
        spans[who].append(_span(seg, "audio segment"))
    return {p: sorted(v) for p, v in spans.items()}


def parse_call_analytics(doc: dict[str, Any]) -> list[Word]:
    """Words from a Call Analytics (or Contact Lens-like) transcript with word items."""
    words: list[Word] = []
    for segment in doc["Transcript"]:
        role: Participant = "AGENT" if segment["ParticipantRole"] == "AGENT" else "CUSTOMER"
        for item in segment.get("Items", []):
            if item.get("Type") == "punctuation":
                if words:
                    words[-1] = words[-1].glued(item["Content"])
                continue
            words.append(Word(role, round(item["BeginOffsetMillis"] / 1000, 3), round(item["EndOffsetMillis"] / 1000, 3),
                              item["Content"], round(float(item.get("Confidence", 0.0)), 4)))
    return words


def call_summary(doc: dict[str, Any]) -> str | None:
    """The service's summary of the call, or None when the file carries none.

    Call Analytics' generative summary (``Settings.Summarization``) is
    ``ConversationCharacteristics.ContactSummary.AutoGenerated.OverallSummary.Content``; Contact Lens writes
    ``ContactSummary.PostContactSummary.Content``. Anything but non-blank text counts as none.
    """
    cc = doc.get("ConversationCharacteristics")
    summary = cc.get("ContactSummary") if isinstance(cc, dict) else None
    if not isinstance(summary, dict):
        return None
    for path in (("AutoGenerated", "OverallSummary"), ("PostContactSummary",)):
        node: Any = summary
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        content = node.get("Content") if isinstance(node, dict) else None
        if isinstance(content, str) and content.strip():
            return content.strip()
    return None


def render_transcribe(words: Iterable[Word], job_name: str, agent_channel: int = 1, account_id: str = "123456789012") -> dict:
    """The standard Transcribe JSON for ``words`` (channel identification): for fixtures and exports."""
    channels: dict[int, list[dict]] = {0: [], 1: []}
    everything: list[tuple[float, dict]] = []
    for w in sorted(words, key=lambda w: w.begin_s):
        channel = agent_channel if w.participant == "AGENT" else 1 - agent_channel
        text, trail = w.text, ""
        while text and not text[-1].isalnum() and text[-1] not in "'%$]":
            trail = text[-1] + trail
            text = text[:-1]
        items = [{"start_time": f"{w.begin_s:.3f}", "end_time": f"{w.end_s:.3f}",
                  "alternatives": [{"confidence": f"{w.confidence:.4f}", "content": text}], "type": "pronunciation"}]
        items += [{"alternatives": [{"confidence": "0.0", "content": mark}], "type": "punctuation"} for mark in trail]
        if not text:  # a lone mark: nothing to pronounce
            items = items[1:]
        channels[channel] += items
        everything += [(w.begin_s, {**i, "channel_label": f"ch_{channel}"}) for i in items]
    return {
        "jobName": job_name,
        "accountId": account_id,
        "status": "COMPLETED",
        "results": {
            "transcripts": [{"transcript": " ".join(w.text for w in sorted(words, key=lambda w: w.begin_s))}],
            "channel_labels": {"channels": [{"channel_label": f"ch_{c}", "items": channels[c]} for c in (0, 1)],
                               "number_of_channels": 2},
            "items": [i for _, i in everything],
        },
    }
