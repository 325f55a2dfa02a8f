"""The local sentiment engine: VADER with a call-centre layer, mapped to Comprehend's label and four scores.

VADER's ``compound`` is in -1..+1. Within the neutral band, -0.10 < compound < +0.40,
a text is NEUTRAL. The band was calibrated on ``pipeline/data/sentiment_labelled.csv``
(call-centre lines): VADER's own +-0.05 reads polite lines ("Yes please", "Sure, I can
do that") as positive and scores many complaints only mildly negative, hence the asymmetry. Outside it the polar confidence grows from
0.5 at the band's edge to 1.0 at |compound| = 1. Texts with both positive and negative
words get a MIXED share ``2 * min(pos, neg)`` of VADER's word proportions, and the
label MIXED when that share is at least 0.3. The four scores always sum to 1.

The call-centre layer. VADER's lexicon was built from social-media text; on call
transcripts it misreads two things, and both are fixed inside VADER's own maths rather
than by overriding its output:

* Words whose everyday sense is not sentiment on a support call. "like" ("I would like",
  "like they promised"), "no"/"yes"/"okay"/"sure"/"please"/"well" (answers and
  acknowledgements), "promise(d)" (usually a broken promise) and "interest"/"credit"/"pay"
  (banking nouns) get valence 0; "no" still negates the next word ("no problem", "no
  worries") through VADER's rule. "help", the service itself ("can I help you"), is damped;
  "thank" is raised to "thanks"; "cancel" and its forms lean negative (a customer leaving).
  ``CALL_CENTRE_LEXICON`` holds these; it is applied to this instance's ``lexicon`` dict,
  never to the installed package. The neutral band was re-checked with the layer on and kept.
* Complaints without strong words: "nobody called me back", "this is the third time I'm
  calling", "I've been waiting forty minutes", "still not fixed", "that didn't work", "was
  supposed to", "never arrived", "no signal", "charged twice". VADER scores these 0.
  ``COMPLAINT_CUES`` are regular expressions for such complaint shapes; each matched span
  (overlapping matches merged) gets one sentinel word, ``COMPLAINT_TOKEN``, inserted just
  before it, whose lexicon valence (``COMPLAINT_VALENCE``, like "trouble") then goes through
  VADER's usual weighting: boosters, "but", punctuation and normalisation. The cues already
  contain their own negation ("never", "didn't"), so the sentinel is placed outside VADER's
  three-word negation look-back; otherwise "I don't know why nobody called" would read as
  praise.
"""

from __future__ import annotations

import re
import string

from vaderSentiment.vaderSentiment import NEGATE, SentimentIntensityAnalyzer

from pipeline.exceptions import ConfigurationError
from pipeline.ports import SentimentAnalyzer, SentimentResult

__all__ = ["NEUTRAL_BAND", "VaderSentiment", "from_vader"]

NEUTRAL_BAND = (-0.10, 0.40)
MIXED_LABEL_SHARE = 0.3

CALL_CENTRE_LEXICON: dict[str, float] = {
    # function words, answers, acknowledgements and courtesy: not sentiment on a call
    "like": 0.0, "no": 0.0, "yes": 0.0, "okay": 0.0, "ok": 0.0, "sure": 0.0, "please": 0.0, "well": 0.0,
    "honestly": 0.0, "honest": 0.0, "promise": 0.0, "promised": 0.0, "promises": 0.0,
    # nouns of the trade ("interest rate", "credit card", "to hand")
    "interest": 0.0, "credit": 0.0, "pay": 0.0, "hand": 0.0,
    # the service itself ("can I help you"): damped, so that "thanks for your help" stays warm
    "help": 1.0,
    # "thank you" is the same act as "thanks" (VADER: 1.5 against 1.9)
    "thank": 1.9,
    # leaving the company leans negative
    "cancel": -1.0, "cancels": -1.0, "cancelled": -1.0, "canceled": -1.0, "cancelling": -1.0,
    "canceling": -1.0, "cancellation": -1.0, "cancellations": -1.0,
}

COMPLAINT_TOKEN = "callcentrecomplaint"
COMPLAINT_VALENCE = -1.8

_TIME = r"(?:minutes?|mins|hours?|days?|weeks?|months?|ages|forever|since)"
COMPLAINT_CUES: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.IGNORECASE) for p in (
    # nobody got back / came / fixed it
    r"\b(?:nobody|no one|no-one)\b[^.?!]{0,40}?\b(?:call\w*|rang|phoned|got back|gets back|get back|came|come|showed|"
    r"turned up|fixed|answered|responded|replied|contacted|bothered|helped|listen\w*|sorted)\b",
    # repeated contact: "third time", "four times", "calling again", "told you already"
    r"\b(?:second|third|fourth|fifth|sixth|umpteenth|hundredth|\d+(?:st|nd|rd|th)) time\b",
    r"\b(?:two|three|four|five|six|several|many|multiple|countless|\d+) (?:times|calls|agents|different \w+)\b",
    r"\b(?:calling|ringing|phoning|chasing|called|rang|phoned|chased|explained|told)\b[^.?!,;]{0,40}?"
    r"\b(?:again|already)\b",
    # waiting: "waiting forty minutes", "on hold for an hour", "waiting since Monday"
    rf"\b(?:waiting|waited|on hold|been holding)\b[^.?!,;]{{0,30}}?\b{_TIME}\b",
    # still broken: "still not fixed", "still have no signal", "still waiting"
    r"\bstill (?:\w+ )?(?:not|no|nothing|never|\w+n't|cannot|waiting|broken|down|wrong|missing)\b",
    # a fix or delivery that failed: "did not help", "didn't work", "hasn't arrived", "won't connect"
    r"\b(?:did|does|do|has|have|had|was|is|were|would)(?:n't| not|nt)\b (?:\w+ )?(?:work|working|worked|help|helped|"
    r"fix|fixed|solve|solved|resolve|resolved|sort|sorted|arrive|arrived|received|turn up|turned up|show up|"
    r"showed up|come through|go through|gone through)\b",
    r"\bwon't (?:work|help|fix|solve|turn on|connect|load|charge)\b",
    r"\bnever (?:\w+ )?(?:came|come|arrived|received|called|rang|showed|turned up|happened|got|heard|replied|answered|"
    r"responded|sent|fixed|sorted|worked|bothered|returned|delivered)\b",
    # broken expectations: "was supposed to", "should have arrived", "I was told ... and it isn't"
    r"\b(?:was|were) supposed to\b|\bshould(?: have|'ve) (?:been|arrived|come|called|received|had|got)\b",
    r"\b(?:told|promised|assured|said)\b[^.?!]{0,60}?\b(?:but|and) (?:it|they|he|she|you|nobody|nothing|that)(?:'s)? "
    r"(?:\w+n't|never|(?:is|was|has|did|have|had) not)\b",
    # loss of service: "no signal", "drops out", "the internet has been down"
    r"\b(?:no|without|lost(?: the| my| our)?|losing(?: the| my)?) (?:signal|service|internet|connection|broadband|"
    r"power|electricity|heating|hot water|dial tone|wi-?fi|network|coverage|phone line|access)\b(?! charges?| fees?)",
    r"\b(?:drops?|dropping|dropped|cuts?|cutting) (?:out|off)\b",
    r"\b(?:internet|broadband|wi-?fi|network|line|service|signal|website|site|app|system|power|phone|connection)s? "
    r"(?:has been|have been|is|was|are|were|went|goes|keeps going) (?:down|offline|dead)\b",
    r"\b(?:keeps|kept|keep) (?:on )?(?:happening|dropping|failing|crashing|cutting|freezing|breaking|disconnecting|"
    r"rebooting|restarting|charging|sending|asking|getting)\b",
    # billing errors: "charged twice", "taken twice", "double what it should be"
    r"\b(?:overcharg\w*|double[- ]charg\w*)|\b(?:taken|billed|debited|charged) (?:\w+ )?(?:twice|two times|double)\b|"
    r"\b(?:double|twice|triple) (?:what|the amount)\b|\bmore than (?:it|they|i) should\b",
    # refusals and frustration idioms
    r"\b(?:can ?not|can't|cannot|unable to|not able to|won't)\b (?:\w+ )?(?:refund|waive|reimburse|compensate|"
    r"reverse|remove|help)\b",
    r"\b(?:fed up|sick (?:and tired )?of|tired of|had enough|wits'? end|last straw|waste of (?:time|money)|"
    r"wasting my time|(?:a|an absolute|a complete) joke)\b",
))


def _negates(token: str) -> bool:
    word = token.strip(string.punctuation).lower()
    return word in NEGATE or word == "no" or "n't" in word


def mark_complaints(text: str) -> str:
    """``text`` with ``COMPLAINT_TOKEN`` inserted before each complaint span that ``COMPLAINT_CUES`` find."""
    text = text.replace("\u2019", "'")  # transcripts may use typographic apostrophes: "didn’t"
    spans = sorted(m.span() for cue in COMPLAINT_CUES for m in cue.finditer(text))
    starts: list[int] = []
    end = -1
    for s, e in spans:  # one sentinel per run of overlapping spans
        if s >= end:
            starts.append(s)
        end = max(end, e)
    if not starts:
        return text
    tokens = [(m.start(), m.group()) for m in re.finditer(r"\S+", text)]
    at: set[int] = set()
    for s in starts:
        k = next((i for i, (b, tok) in enumerate(tokens) if b + len(tok) > s), len(tokens))
        while k > 0 and any(_negates(tok) for _, tok in tokens[max(0, k - 3):k]):
            k -= 1  # keep the sentinel out of VADER's negation look-back
        at.add(k)
    words = [tok for _, tok in tokens]
    return " ".join(w for i in range(len(words) + 1)
                    for w in ([COMPLAINT_TOKEN] if i in at else []) + words[i:i + 1])


def from_vader(scores: dict[str, float], band: tuple[float, float] = NEUTRAL_BAND) -> SentimentResult:
    """Map VADER's ``polarity_scores`` to Comprehend's shape; ``band`` is (negative edge, positive edge)."""
    compound = scores["compound"]
    mixed = min(1.0, 2.0 * min(scores["pos"], scores["neg"]))
    rest = 1.0 - mixed
    positive = negative = 0.0
    edge = band[1] if compound > 0 else -band[0]
    if abs(compound) >= edge:
        polar = 0.5 + 0.5 * (abs(compound) - edge) / (1.0 - edge)
        positive, negative = (rest * polar, 0.0) if compound > 0 else (0.0, rest * polar)
        neutral = rest * (1.0 - polar)
        label = "POSITIVE" if compound > 0 else "NEGATIVE"
    else:
        neutral = rest
        label = "NEUTRAL"
    if mixed >= MIXED_LABEL_SHARE:
        label = "MIXED"
    return SentimentResult(label, round(positive, 4), round(negative, 4), round(neutral, 4), round(mixed, 4))  # type: ignore[arg-type]


class VaderSentiment(SentimentAnalyzer):
    name = "vader"

    def __init__(self, band: tuple[float, float] = NEUTRAL_BAND) -> None:
        self.band = band
        self._analyzer = SentimentIntensityAnalyzer()  # reads its lexicon from the installed package
        self._analyzer.lexicon = {**self._analyzer.lexicon, **CALL_CENTRE_LEXICON, COMPLAINT_TOKEN: COMPLAINT_VALENCE}

    def analyze(self, texts: list[str], language_code: str) -> list[SentimentResult]:
        if not language_code.lower().startswith("en"):
            raise ConfigurationError(f"VADER scores English only; language is {language_code}")
        return [from_vader(self._analyzer.polarity_scores(mark_complaints(t)), self.band) for t in texts]
