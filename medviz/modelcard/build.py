"""Assembling the card from a bundle's manifest and its held-out evaluation, in the active language (medviz.i18n)."""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from medviz.bundle import ModelBundle
from medviz.i18n import _
from medviz.modelcard.card import ModelCard
from medviz.modelcard.performance import _limitations, _performance
from medviz.modelcard.sections import _audit, _cds, _data, _details, _explanations, _facts, _inputs, _intended, _method, _oversight, _safety, _versions


def build_model_card(bundle: ModelBundle, evaluation: Any = None, subgroups: Mapping[str, pd.DataFrame] | None = None) -> ModelCard:
    """Assemble the card. ``evaluation`` is the bundle-test Evaluation (recomputed if None and test predictions exist).

    Headings and fixed sentences are in the active language (call inside ``medviz.i18n.use_language(code)`` for
    another); the bundle's own text (title, labels, manifest prose) is kept as written.
    """
    from medviz import evaluation as E

    m = bundle.manifest
    if evaluation is None and bundle.test_predictions is not None:
        evaluation = E.evaluate_bundle_test(bundle)
    summ = evaluation.summary() if evaluation is not None else None
    if subgroups is None:
        subgroups = default_subgroups(bundle, evaluation)
    from medviz.importer.card import import_section

    tr = m.get("training") or {}
    sections = [
        _facts(bundle, summ),
        _details(bundle),
        _intended(bundle),
        _inputs(bundle),
        _data(bundle, summ),
        import_section(bundle),
        _method(bundle),
        _safety(bundle),
        _performance(bundle, evaluation, summ, subgroups),
        _limitations(bundle, evaluation, summ, subgroups),
        _explanations(bundle),
        _oversight(),
        _versions(bundle),
        _audit(),
        _cds(bundle),
    ]
    made = (_("imported {date}").format(date=str(m["import"].get("imported_at", "?"))[:10]) if m.get("import") else
            _("trained {date}").format(date=str(tr.get("trained_at", "?"))[:10]))
    return ModelCard(
        title=_("Model card: {title}").format(title=bundle.title),
        subtitle=f"{bundle.name} v{bundle.version} · {made} · "
                 + _("last validated {date}").format(date=m.get("last_validated", "?")),
        sections=tuple(sec for sec in sections if sec is not None),
    )


def default_subgroups(bundle: ModelBundle, evaluation: Any) -> dict[str, pd.DataFrame]:
    """Subgroups the test data allows: near-duplicate status (text); age bands and any categorical column (tabular)."""
    from medviz import evaluation as E

    tp = bundle.test_predictions
    out: dict[str, pd.DataFrame] = {}
    if evaluation is None or tp is None or len(tp) != evaluation.cohort.n:
        return out
    if bundle.is_text and "near_duplicate" in tp.columns:
        g = tp["near_duplicate"].astype(str).str.lower().map({"true": _("near-duplicate of a training text"),
                                                              "false": _("new wording")}).fillna(_("unknown"))
        out[_("Near-duplicate of training text")] = E.subgroup_table(evaluation, g)
    if bundle.is_tabular:
        for f in (m := bundle.manifest).get("inputs", {}).get("features", []) or []:
            if str(f.get("name", "")).lower() in ("age", "age_years") and f["name"] in tp.columns:
                out[_("{feature} (quartile bands)").format(feature=f.get("label") or f["name"])] = E.subgroup_table(evaluation, tp[f["name"]])
        for col in m.get("subgroup_columns", []) or []:
            if col in tp.columns:
                out[col] = E.subgroup_table(evaluation, tp[col])
    return out
