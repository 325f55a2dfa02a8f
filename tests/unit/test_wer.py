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
