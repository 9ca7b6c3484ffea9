"""The model card's "Imported model" section: where the model came from and what medviz computed."""
from __future__ import annotations

from medviz.bundle import ModelBundle
from medviz.i18n import _


def import_section(bundle: ModelBundle):
    """A card Section for an imported bundle (None for a model medviz trained); fixed text in the active language."""
    from medviz.modelcard.card import Block, Section

    imp = bundle.manifest.get("import")
    if not imp:
        return None
    rows = [
        (_("Original file"), f"{imp.get('source_file', '?')} ({imp.get('source_format', '?')})"),
        (_("Original file SHA-256"), str(imp.get("source_sha256", "?"))),
        (_("Imported by"), str(imp.get("imported_by", "?"))),
        (_("Imported at (UTC)"), str(imp.get("imported_at", "?"))),
        (_("Labelled file"), f"{imp.get('data_file') or '?'} (SHA-256 {str(imp.get('data_sha256') or '?')[:16]}…)"),
        (_("Rows (calibration / test)"), f"{(imp.get('rows') or {}).get('calibration', '?')} / {(imp.get('rows') or {}).get('test', '?')}"),
    ]
    tok = imp.get("tokenizer")
    if tok:
        rows.append((_("Tokenizer"), _("{file}: {n} words, OOV token {oov}, {call}, reproduced inside the bundle's "
                                       "graph").format(
            file=tok.get("file"), n=tok.get("words_known"), oov=repr(tok.get("oov_token")),
            call=f"pad_sequences(maxlen={tok.get('sequence_length')}, padding={tok.get('padding')!r}, "
                 f"truncating={tok.get('truncating')!r})")))
    computed = list(imp.get("computed_at_import") or [])
    text = _("This model was trained outside medviz and imported unchanged: medviz added the tokenizer (if any), "
             "calibration and the thresholds below, fitted on the calibration part of the labelled file, and measured "
             "every figure on this card on the test part, which was not used for any fitting. How the model was "
             "trained, on which data, and whether the labelled file overlaps its training data is not known to medviz.")
    blocks = (Block("facts", rows), Block("text", text), Block("list", computed or [_("nothing recorded")]))
    return Section("import", _("Imported model: provenance"), blocks, "M1, M3, M8")
