"""Conversation metrics with Contact Lens' definitions, over speech intervals in seconds.

Definitions (also in docs/metrics.md):

- talk time: total length of a participant's speech intervals.
- non-talk time: the sum of every period longer than 3 s in which neither participant
  speaks, including the start and the end of the recording (hold music is not speech).
- overlap: time in which both participants speak at once.
- interruption by X: X starts speaking while the other participant has already been
  speaking for at least 0.5 s, and both then keep speaking together for at least 0.5 s.
  ``agent_interruptions`` counts the agent cutting into the customer, and the reverse.
  Starting together, or a short backchannel ("mm") under the other, is not counted. A participant's
  speech that resumes within 0.3 s of its own last speech continues it (it does not start anew): a
  transcript's utterances split one stretch of speech into sentences, and the second sentence of
  someone who was cut into is not a cut-in of its own (as Call Analytics counts on its published call).
  With a transcript the rule runs on turns (or a transcript's utterances) and their words
  (:func:`cut_ins`): a pause spent listening to the other is not the speaker's, and speech resumes there
  without starting anew; ``turns.is_interruption`` flags the interrupting turns and the call's counts
  are their number. Without one (acoustic-only runs) it runs on the speech intervals.

A transcript without its audio (an imported Transcribe or Call Analytics file) holds segments, not speech:
there interruptions are counted as Call Analytics counts them (:func:`segment_cut_ins`, the durations it
reports are the segments' overlaps), and talk speed is measured on the words that were not redacted
(:func:`talk_speed`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Sequence

from pipeline.steps.audio import Interval

__all__ = ["BACKCHANNELS", "NON_TALK_MIN_S", "REDACTED", "SEGMENT_OVERLAP_S", "TimedWord", "bridged", "cut_ins",
           "interruptions", "non_talk_time", "overlap_time", "pauses", "redacted_times", "segment_cut_ins",
           "speech_tracks", "subtract", "talk_speed", "talk_time", "union", "yielded_pauses"]

NON_TALK_MIN_S = 3.0
INTERRUPT_HELD_S = 0.5  # the interrupted participant was already this far into speaking
INTERRUPT_OVERLAP_S = 0.5  # ...and both talk together at least this long
CONTINUES_S = 0.3  # a participant's speech resuming within this gap continues the same stretch
# Call Analytics on a transcript: every interruption it reports on the public outputs lasts 2.1 s or more, each
# the overlap of the two segments; overlaps under 2 s ("Okay, perfect" over "thank you") are not counted.
SEGMENT_OVERLAP_S = 2.0
# Listener tokens: an overlap in which the interrupter says only these is listening, not taking the floor.
# Fillers ("uh", "um") are not among them: they start a turn (the 183 s call's "Uh" at 18.7 s is counted).
BACKCHANNELS = frozenset({"mm", "mhm", "mmhm", "hmm", "uh-huh", "huh", "ah", "oh", "yeah", "yes", "yep", "yup",
                          "okay", "ok", "right", "alright", "sure"})
REDACTED = "[PII]"  # Transcribe's mark for a redacted stretch (one item, however many words were said)

TimedWord = tuple[float, float, str]


def talk_time(intervals: Sequence[Interval]) -> float:
    return sum(end - begin for begin, end in intervals)


def union(*tracks: Sequence[Interval]) -> list[Interval]:
    """Merge intervals from any number of participants into disjoint, sorted intervals."""
    merged: list[list[float]] = []
    for begin, end in sorted(iv for track in tracks for iv in track):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return [(b, e) for b, e in merged]


def non_talk_time(a: Sequence[Interval], b: Sequence[Interval], duration_s: float) -> float:
    """Sum of the silences longer than 3 s, from the start of the recording to its end."""
    total, cursor = 0.0, 0.0
    for begin, end in union(a, b) + [(duration_s, duration_s)]:
        if begin - cursor > NON_TALK_MIN_S:
            total += begin - cursor
        cursor = max(cursor, end)
    return total


def overlap_time(a: Sequence[Interval], b: Sequence[Interval]) -> float:
    total, i, j = 0.0, 0, 0
    a, b = sorted(a), sorted(b)
    while i < len(a) and j < len(b):
        total += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def interruptions(interrupter: Sequence[Interval], other: Sequence[Interval],
                  starts: Collection[float] | None = None) -> list[float]:
    """Start times at which ``interrupter`` cut into ``other`` (see the module docstring for the rule).

    ``starts``: where the interrupter may start at all (its utterances' or turns' beginnings); speech that
    resumes after a pause in which it listened (:func:`speech_tracks`' floor) is no new start.
    """
    cut_ins = []
    other = bridged(other)
    other_held = [o_begin + INTERRUPT_HELD_S for o_begin, _ in other]
    allowed = None if starts is None else {round(s, 6) for s in starts}
    for begin, end in bridged(interrupter):
        if allowed is not None and round(begin, 6) not in allowed:
            continue
        # ``other`` is disjoint and sorted: only the last stretch begun INTERRUPT_HELD_S before ``begin`` can
        # still be running at ``begin`` (bisected: no scan of every stretch per start).
        k = bisect_right(other_held, begin) - 1
        if k >= 0:
            o_begin, o_end = other[k]
            if o_begin + INTERRUPT_HELD_S <= begin < o_end and min(o_end, end) - begin >= INTERRUPT_OVERLAP_S:
                cut_ins.append(begin)
    return cut_ins


def bridged(intervals: Sequence[Interval]) -> list[Interval]:
    """``intervals`` with gaps of at most :data:`CONTINUES_S` closed (one stretch of speech)."""
    merged: list[list[float]] = []
    for begin, end in sorted(intervals):
        if merged and begin - merged[-1][1] <= CONTINUES_S:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return [(b, e) for b, e in merged]


def subtract(intervals: Sequence[Interval], remove: Sequence[Interval]) -> list[Interval]:
    """``intervals`` (merged) without the times of ``remove``."""
    out: list[Interval] = []
    cuts = union(remove)
    cut_ends = [c_end for _, c_end in cuts]
    for begin, end in union(intervals):
        cursor = begin
        for k in range(bisect_right(cut_ends, begin), len(cuts)):  # disjoint, sorted: from the first ending after
            c_begin, c_end = cuts[k]
            if c_begin >= end:
                break
            if c_begin > cursor:
                out.append((cursor, c_begin))
            cursor = max(cursor, c_end)
        if cursor < end:
            out.append((cursor, end))
    return out


def pauses(utterances: Sequence[Interval], words: Sequence[Interval]) -> list[Interval]:
    """The pauses between the words of each utterance (a word belongs to the utterance its middle falls in)."""
    gaps: list[Interval] = []
    by_middle = sorted(words, key=lambda w: (w[0] + w[1]) / 2)  # bisected: a 100k-word call is not 10^10 steps
    middles = [(w[0] + w[1]) / 2 for w in by_middle]
    for u_begin, u_end in utterances:
        inside = sorted(by_middle[bisect_left(middles, u_begin):bisect_right(middles, u_end)])
        spoken_to = inside[0][1] if inside else u_end
        for begin, end in inside[1:]:
            if begin > spoken_to:
                gaps.append((spoken_to, begin))
            spoken_to = max(spoken_to, end)
    return gaps


def yielded_pauses(utterances: Sequence[Interval], words: Sequence[Interval],
                   other_words: Sequence[Interval]) -> list[Interval]:
    """Pauses between the words of one utterance that begin while the other participant is speaking.

    A transcript's utterance runs from its first word to its last, and its pauses count as talk (Call
    Analytics' talk time). A pause the other participant was already speaking into when it began is not
    the speaker's, though: they fell silent to listen ("Yeah." ... the other goes on ... "Mhm."). The other's
    speech is their words, gaps up to :data:`CONTINUES_S` closed; a word belongs to the utterance its middle
    falls in.
    """
    other = bridged(other_words)
    other_begins = [o_b for o_b, _ in other]  # disjoint, sorted: only the last begun by ``b`` may hold it

    def spoken_into(b: float) -> bool:
        k = bisect_right(other_begins, b) - 1
        return k >= 0 and b < other[k][1]

    return [(b, e) for b, e in pauses(utterances, words) if spoken_into(b)]


def _while_begun(intervals: Sequence[Interval], start: int, before: float):
    for k in range(start, len(intervals)):
        if intervals[k][0] >= before:
            return
        yield intervals[k]


def speech_tracks(spans: dict[str, list[Interval]],
                  word_times: dict[str, list[Interval]] | None = None
                  ) -> dict[str, tuple[list[Interval], list[Interval]]]:
    """Each participant's (talk, floor) intervals from utterances (and their words, when known).

    Talk: the utterances, less the time the other participant speaks during the participant's yielded pauses
    (:func:`yielded_pauses`: they listened). Floor, where interruptions are looked for: the
    utterances less those whole pauses (speaking again after listening is a new start).
    """
    tracks = {}
    for p, other in (("AGENT", "CUSTOMER"), ("CUSTOMER", "AGENT")):
        own = union(spans.get(p, []))
        if not word_times:
            tracks[p] = (own, own)
            continue
        theirs = bridged(word_times.get(other, []))
        yielded = yielded_pauses(own, word_times.get(p, []), word_times.get(other, []))
        their_ends = [oe for _, oe in theirs]  # disjoint, sorted: from the first that ends after b, while begun by e
        listened = [(max(b, ob), min(e, oe)) for b, e in yielded
                    for ob, oe in _while_begun(theirs, bisect_right(their_ends, b), e) if min(e, oe) > max(b, ob)]
        # A silence of both over 3 s inside an utterance ("One moment." ... "Alright") is non-talk, not talk.
        silent = [(b, e) for b, e in subtract(pauses(own, word_times.get(p, [])), theirs) if e - b > NON_TALK_MIN_S]
        tracks[p] = (subtract(own, listened + silent), subtract(own, yielded + silent))
    return tracks


def cut_ins(spans: dict[str, list[Interval]], word_times: dict[str, list[Interval]] | None = None
            ) -> dict[str, list[float]]:
    """Each participant's interruptions of the other, from utterances or turns (and their words, when known).

    The one definition for both engines: :func:`interruptions` on each participant's floor
    (:func:`speech_tracks`), starting only where an utterance or turn starts.
    """
    floor = {p: f for p, (_, f) in speech_tracks(spans, word_times).items()}
    return {p: interruptions(floor[p], floor[other], [b for b, _ in union(spans.get(p, []))])
            for p, other in (("AGENT", "CUSTOMER"), ("CUSTOMER", "AGENT"))}


def _tokens(words: Sequence[TimedWord]) -> list[str]:
    text = " ".join(t for _, _, t in words).lower().replace("uh huh", "uh-huh").replace("mm hmm", "mhm")
    return [t for t in (w.strip(".,?!;:\"'") for w in text.split()) if t]


def segment_cut_ins(spans: dict[str, list[Interval]], words: dict[str, list[TimedWord]]) -> dict[str, list[float]]:
    """Each participant's interruptions of the other on a transcript's segments, as Call Analytics counts them.

    X interrupts where one of X's stretches (its segments, gaps up to :data:`CONTINUES_S` closed: a second
    sentence continues the first) begins after a stretch of the other's has begun and before it ends, the two
    overlap for at least :data:`SEGMENT_OVERLAP_S`, and X's words in the overlap are not only backchannels
    (:data:`BACKCHANNELS`). ``words``: each participant's timed words with their text; a segment without timed
    words may be given as one word spanning it.
    """
    out: dict[str, list[float]] = {}
    for p, other in (("AGENT", "CUSTOMER"), ("CUSTOMER", "AGENT")):
        theirs = bridged(spans.get(other, []))
        their_begins = [b for b, _ in theirs]
        own_words = sorted(words.get(p, []))
        word_begins = [b for b, _, _ in own_words]
        found = []
        for begin, end in bridged(spans.get(p, [])):
            k = bisect_left(their_begins, begin) - 1  # the last of theirs begun strictly before
            if k < 0 or begin >= theirs[k][1]:
                continue
            overlap_end = min(end, theirs[k][1])
            if overlap_end - begin < SEGMENT_OVERLAP_S:
                continue
            said = own_words[bisect_left(word_begins, begin - 0.05):bisect_left(word_begins, overlap_end)]
            tokens = _tokens(said)
            if tokens and all(t in BACKCHANNELS for t in tokens):
                continue
            found.append(begin)
        out[p] = found
    return out


def redacted_times(words: Sequence[TimedWord]) -> list[Interval]:
    """The times of the redacted items (:data:`REDACTED`, punctuation Transcribe glued to it aside)."""
    return [(b, e) for b, e, t in words if t.strip().rstrip(".,?!") == REDACTED]


def talk_speed(talk: Sequence[Interval], words: int, redacted: Sequence[Interval] = ()) -> float | None:
    """Words per minute of ``talk``, measured where the words are known.

    ``redacted``: the times of redacted items (:data:`REDACTED`, counted among ``words``). Each stands for
    however many words were said in its time (a spelled name, an address), so its time and the item are left
    out: redaction does not make the speaker slower.
    """
    seconds = talk_time(subtract(talk, redacted)) if redacted else talk_time(talk)
    known = words - len(redacted)
    if not seconds > 0 or seconds == float("inf") or (known <= 0 and redacted):  # NaN fails ``> 0``
        return None
    return round(known / seconds * 60, 1)
