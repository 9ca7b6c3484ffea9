"""TensorFlow thread-pool rule (medviz.runtime)."""
from medviz.runtime import thread_counts


def test_thread_counts_rule_and_overrides(monkeypatch):
    monkeypatch.delenv("MEDVIZ_TF_INTRA_THREADS", raising=False)
    monkeypatch.delenv("MEDVIZ_TF_INTER_THREADS", raising=False)
    assert thread_counts(2) == (1, 2)
    assert thread_counts(1) == (1, 2)
    assert thread_counts(16) == (8, 2)
    monkeypatch.setenv("MEDVIZ_TF_INTRA_THREADS", "3")
    monkeypatch.setenv("MEDVIZ_TF_INTER_THREADS", "0")
    assert thread_counts(2) == (3, 1)  # at least one thread each
