"""The benchmark's and tests' word error rate: spelling and numerals are not errors, words are."""

from tests.wer import normalise, wer


def test_numerals_read_as_spoken():
    assert normalise("£42.15 on the 12th, $20") == "forty two pounds fifteen on the twelfth twenty dollars".split()
    assert normalise("1,240 pounds") == "one thousand two hundred and forty pounds".split()
    assert normalise("it ends in 2917") == "it ends in two nine one seven".split()
    assert normalise("the 28th, the 1st, 3rd") == "the twenty eighth the first third".split()


def test_spelling_variants_and_real_errors():
    assert wer("I recognise the harbour colour.", "I recognize the Harbor color") == 0
    assert wer("your four hours", "for your hours") > 0
    assert wer("one two three four", "one two three") == 0.25


def test_vocabulary_phrases_are_counted_per_occurrence_normalised():
    from tests.wer import phrase_hits

    reference = "Good afternoon, Acme Telecom, Sarah speaking. Yes, Sarah here at Acme Telecom."
    assert phrase_hits(reference, "Don't have to noon, act me telecom, share with speaking.", ["Acme Telecom", "Sarah"]) \
        == (4, 0)
    assert phrase_hits(reference, "acme telecom sarah speaking, acme-telecom!", ["Acme Telecom", "Sarah"]) == (4, 3)
    assert phrase_hits(reference, "Sarah Sarah Sarah", ["Sarah", "Router"]) == (2, 2)  # never more than was said
