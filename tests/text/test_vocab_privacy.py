"""A trained text model's vocabulary holds no identifiers and no word of fewer than k notes (issue 17, item 8)."""
from __future__ import annotations

import keras
import pytest

from medviz.text.layers import standardize_text
from medviz.text.vocab import fit_vocabulary, identifier_kinds, scrub_identifiers

NOTES = [
    "Jane Quixley MRN 00123456 seen 03/04/2021 with fever and cough, call 555-201-9876",
    "fever and cough for two days, email jq@example.org",
    "cough and fever since 2021-03-01, patient id A1234567",
    "fever cough chills on 4 March 2021",
    "headache and nausea, phone (020) 7946 0958",
    "headache nausea light hurts",
    "headache with nausea and vomiting",
]


@pytest.mark.parametrize("text, kinds", [
    ("seen 03/04/2021", ["date"]), ("on 2021-03-01", ["date"]), ("on 4 March 2021", ["date"]),
    ("March 4th, 2021", ["date"]), ("mail jq@example.org", ["email"]), ("call 555-201-9876", ["phone"]),
    ("phone (020) 7946 0958", ["phone"]), ("MRN 00123456", ["mrn"]), ("id A1234567", ["mrn"]),
    ("fever for 3 days, temp 38.5, bp 120/80", []),
])
def test_identifier_patterns(text, kinds):
    assert identifier_kinds(text) == kinds
    if kinds:
        assert not identifier_kinds(scrub_identifiers(text))


def _vectorizer(max_tokens=None):
    return keras.layers.TextVectorization(max_tokens=max_tokens, standardize=standardize_text, split="whitespace",
                                          output_mode="int", output_sequence_length=16)


def test_vocabulary_keeps_only_words_of_k_notes_without_identifiers():
    vec = _vectorizer()
    stats = fit_vocabulary(vec, NOTES, min_notes=3)
    vocab = set(vec.get_vocabulary())
    assert {"fever", "cough", "headache", "nausea", "and"} <= vocab
    for leaked in ("jane", "quixley", "00123456", "a1234567", "jq", "example", "555", "9876", "7946", "march", "2021"):
        assert leaked not in vocab, leaked
    assert stats["min_notes"] == 3 and stats["kept"] == len(vocab) - 2
    assert stats["notes_with_identifiers_stripped"] == 5
    # k = 1 keeps rare words, but identifiers are still stripped
    vec1 = _vectorizer()
    fit_vocabulary(vec1, NOTES, min_notes=1)
    vocab1 = set(vec1.get_vocabulary())
    assert "quixley" in vocab1 and "vomiting" in vocab1
    assert not vocab1 & {"00123456", "a1234567", "jq", "9876", "2021"}


def test_vocabulary_cap_counts_padding_and_oov():
    vec = _vectorizer(max_tokens=4)
    fit_vocabulary(vec, NOTES, min_notes=1)
    assert len(vec.get_vocabulary()) == 4
