"""VADER's call-centre layer: closings, cancellations, negations and complaints without strong words."""

from __future__ import annotations

import csv
from importlib.resources import files

import pytest

from pipeline.adapters.vader import VaderSentiment

POLAR = {"POSITIVE", "NEGATIVE"}


def _load(name: str) -> list[tuple[str, str]]:
    """(label, text) rows; a text with unquoted commas is joined back together."""
    with files("pipeline").joinpath(f"data/{name}").open(newline="") as fh:
        rows = csv.reader(fh)
        assert next(rows) == ["label", "text"]
        return [(label, ",".join(rest).strip()) for label, *rest in rows if label]


def _score(rows: list[tuple[str, str]]) -> tuple[float, int]:
    """Accuracy and the number of polarity flips (POSITIVE for a NEGATIVE line or the reverse)."""
    results = VaderSentiment().analyze([text for _, text in rows], "en-US")
    correct = sum(r.label == label for (label, _), r in zip(rows, results, strict=True))
    flips = sum({r.label, label} == POLAR for (label, _), r in zip(rows, results, strict=True))
    return correct / len(rows), flips


@pytest.fixture(scope="module")
def engine() -> VaderSentiment:
    return VaderSentiment()


@pytest.mark.parametrize(("text", "allowed"), [
    ("No, that is all. Thanks, bye.", {"NEUTRAL", "POSITIVE"}),
    ("I would like to cancel my contract", {"NEGATIVE", "NEUTRAL"}),
    ("Nobody ever called me back like they promised", {"NEGATIVE"}),
])
def test_call_centre_phrasings_get_a_sensible_label(engine, text, allowed):
    assert engine.analyze([text], "en-US")[0].label in allowed


@pytest.mark.parametrize("text", [
    "This is the third time I'm calling", "I've been waiting forty minutes", "It is still not fixed",
    "That did not help", "I'm not happy", "I don't know why nobody got back to me",
])
def test_complaints_without_strong_words_are_negative(engine, text):
    assert engine.analyze([text], "en-US")[0].label == "NEGATIVE"


@pytest.mark.parametrize("text", ["Yes please.", "No, nothing else.", "I would like to pay my bill.",
                                  "Is there anything else I can help you with today?"])
def test_answers_and_requests_are_neutral(engine, text):
    assert engine.analyze([text], "en-US")[0].label == "NEUTRAL"


def test_the_layer_does_not_touch_the_installed_lexicon(engine):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    assert SentimentIntensityAnalyzer().lexicon["like"] == 1.5
    assert engine._analyzer.lexicon["like"] == 0.0


def test_tuning_set_accuracy_and_no_polarity_flips():
    rows = _load("sentiment_labelled.csv")
    accuracy, flips = _score(rows)
    print(f"tuning set: {len(rows)} lines, accuracy {accuracy:.3f}, polarity flips {flips}")
    assert len(rows) >= 120
    assert accuracy >= 0.85
    assert flips == 0


def test_held_out_set_accuracy_and_no_polarity_flips():
    rows = _load("sentiment_heldout.csv")
    accuracy, flips = _score(rows)
    print(f"held-out set: {len(rows)} lines, accuracy {accuracy:.3f}, polarity flips {flips}")
    assert accuracy >= 0.80, f"held-out accuracy {accuracy:.3f}"
    assert flips == 0, f"{flips} polarity flips on the held-out set"
