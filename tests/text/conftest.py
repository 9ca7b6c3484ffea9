"""Fixtures shared by the text tests."""
from __future__ import annotations

import pytest


def _train_tiny_kb_bundle(d, synonyms: dict, clinical: dict, epochs: int, with_test: bool = False):
    """A 3-condition bundle (tests.text.test_synth's knowledge base) trained in ``d`` with a knowledge-base expert
    over ``synonyms`` / ``clinical`` on 30 generated cases per condition (seconds); ``with_test``: 6 test cases per
    condition too. Returns (bundle path, ``d``); ``d`` holds train.jsonl (and test.jsonl)."""
    import pandas as pd

    from medviz.text.model import TextModelConfig
    from medviz.text.synth import CaseGenerator
    from medviz.text.synth.bayes import KnowledgeBaseBayes
    from medviz.text.train import TextTrainingSpec, train_text
    from tests.text.test_synth import _kb

    kb = _kb()
    train = pd.DataFrame([{"text": c.text, "label": c.label} for c in CaseGenerator(kb).generate(30, seed=5)])
    train.to_json(d / "train.jsonl", orient="records", lines=True)
    test = None
    if with_test:
        test = pd.DataFrame([{"text": c.text, "label": c.label} for c in CaseGenerator(kb).generate(6, seed=6)])
        test.to_json(d / "test.jsonl", orient="records", lines=True)
    spec = TextTrainingSpec(
        name="tiny-kb", text_column="text", label_column="label", seed=3, epochs=epochs, refit_epochs=epochs,
        calibration_fraction=0.3, expert=KnowledgeBaseBayes(kb, synonyms, clinical), expert_weight=1.0,
        config=TextModelConfig(min_note_count=1, max_tokens=300, sequence_length=64, embed_dim=8, rnn_units=8,
                               attention_units=8),
    )
    return train_text(spec, train, d / "bundle", test_df=test), d


@pytest.fixture(scope="session")
def train_tiny_kb_bundle():
    """:func:`_train_tiny_kb_bundle`: ``train_tiny_kb_bundle(d, synonyms, clinical, epochs, with_test=False)``."""
    return _train_tiny_kb_bundle
