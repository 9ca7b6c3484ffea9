"""External validation: a labelled table from the user, scored like a batch, then evaluated."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from medviz import metrics as M
from medviz.bundle import ModelBundle
from medviz.errors import InputError, SchemaError, columns_hint, line_numbers
from medviz.evaluation.labels import _label_hint, bad_lines
from medviz.evaluation.results import EXTERNAL, Cohort, Evaluation
from medviz.evaluation.shift import CohortShift, tabular_shift, text_shift
from medviz.i18n import N_, Message


# ------------------------------------------------------------------------------------------------
# External validation
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExternalValidation:
    """A user's labelled file, scored and evaluated. Holds patient data: keep it in session state only."""

    evaluation: Evaluation
    scored: pd.DataFrame = field(repr=False)  # the rows that were evaluated: inputs + model outputs
    label_column: str
    text_column: str | None
    notes: tuple[str, ...]  # medviz.i18n.Message: English, translated by the page
    shift: "CohortShift | None"


def evaluate_external(
    bundle: ModelBundle,
    table: pd.DataFrame,
    label_column: str,
    *,
    text_column: str | None = None,
    scorer=None,
    resamples: int = M.DEFAULT_RESAMPLES,
    seed: int = M.DEFAULT_SEED,
    chunksize: int = 20_000,
) -> ExternalValidation:
    """Validate and score ``table`` like a batch, then evaluate it against ``label_column``.

    Rows whose label is blank, whose label the model does not know (text), or that the scorer
    refuses (its ``error`` column) are left out and counted in ``cohort.excluded``.
    """
    from medviz.families import family_for
    from medviz.scoring import make_scorer, score_frame

    if label_column not in table.columns:
        raise SchemaError(f"label column '{label_column}' not found: {columns_hint(table.columns, [label_column])}")
    if not len(table):
        raise InputError("the file has a header but no rows")
    scorer = scorer or make_scorer(bundle, text_column=text_column)
    scorer.check_columns(table.columns)
    excluded: dict[str, int] = {}
    notes: list[str] = []
    raw = table[label_column].astype(str).str.strip()
    blank = raw.eq("").to_numpy()
    if blank.any():
        excluded[Message(N_("blank label"))] = int(blank.sum())
    keep = ~blank
    family = family_for(bundle)
    idx, unreadable = family.label_index(bundle, raw[keep])
    if bundle.is_text:  # a diagnosis outside the model's list: left out and counted
        unk = np.zeros(len(raw), dtype=bool)
        unk[np.flatnonzero(keep)] = np.asarray(idx) < 0
        if unk.any():
            excluded[Message(N_("label not among the model's diagnoses"))] = int(unk.sum())
            notes.append(Message(
                N_("{n} row(s) carry labels the model cannot predict ({lines}); they are left out of every figure. A "
                   "diagnosis outside the model's list is always a miss: count them as such when judging the model."),
                n=int(unk.sum()), lines=line_numbers(np.flatnonzero(unk))))
        keep &= ~unk
    elif unreadable:  # an outcome that is not an outcome: the whole file is refused
        raise SchemaError(
            f"label column '{label_column}': {bad_lines(raw.reset_index(drop=True), unreadable)} hold a value that is not "
            "an outcome; " + _label_hint(bundle)
        )
    if not keep.any():
        raise InputError(f"label column '{label_column}': no row has a usable label")
    sub = table[keep]
    parts = [score_frame(scorer, sub.iloc[i : i + chunksize]) for i in range(0, len(sub), chunksize)]
    scored = pd.concat(parts) if parts else sub
    failed = scored["error"].astype(str).ne("").to_numpy()
    if failed.any():
        excluded[Message(N_("could not be scored (see the error column of a batch score)"))] = int(failed.sum())
    scored = scored[~failed]
    if scored.empty:
        raise InputError("no row could be scored; score the file on the Batch page to see why")
    raw_ok = scored[label_column].astype(str).str.strip()
    desc = Message(N_("uploaded labelled data, label column '{column}'"), column=label_column)
    cohort = Cohort(EXTERNAL, len(raw_ok), None, None, desc, excluded)
    ev: Evaluation = family.evaluate(bundle, raw_ok, scored, cohort=cohort, resamples=resamples, seed=seed)
    if bundle.is_text:
        tcol = getattr(scorer, "text_column", text_column)
        shift = text_shift(bundle, scored[tcol].astype(str)) if tcol in scored.columns else None
    else:
        tcol = None
        shift = tabular_shift(bundle, scored)
    return ExternalValidation(ev, scored.reset_index(drop=True), label_column, tcol, tuple(notes), shift)


def read_labelled_upload(data: bytes | io.BytesIO | str) -> pd.DataFrame:
    """Read an uploaded labelled CSV with :mod:`medviz.io`'s checks (string-typed)."""
    from medviz.io import read_table

    return read_table(data)
