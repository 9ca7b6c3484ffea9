"""Build a knowledge-base expert from a knowledge base and medviz's phrase tables, and put a rebuilt one into a
trained bundle (issue 15: the synonym and clinician-findings tables improve without retraining the network).

``python -m medviz train text --kb DIR`` builds the expert with :func:`build_expert`; ``python -m medviz calibrate
BUNDLE --rebuild-expert DIR`` rebuilds it with the same function from the current tables
(:func:`replace_expert`) before refitting the product temperature (medviz.text.recalibrate)."""
from __future__ import annotations

import json
from pathlib import Path

from medviz.errors import InputError
from medviz.text.synth.bayes import EXPERT_FILE, FORMAT, KnowledgeBaseBayes


def build_expert(kb_dir: str | Path, tokenizer: str | None = None) -> KnowledgeBaseBayes:
    """The naive-Bayes expert over the knowledge base in ``kb_dir`` (SymCat's format) with the synonym and
    clinician-findings tables of medviz.text.synth; ``tokenizer="han"`` (a model that reads Chinese) adds the
    Chinese names (medviz.text.synth.render_zh). Raises the knowledge base loader's :class:`InputError` for a bad
    folder."""
    from medviz.text.synth import load_knowledge_base, load_synonyms
    from medviz.text.synth.generate import load_clinical_findings

    synonyms, clinical = load_synonyms(), load_clinical_findings()
    if tokenizer == "han":
        from medviz.text.synth.render_zh import bilingual_clinical_findings, bilingual_synonyms

        synonyms, clinical = bilingual_synonyms(synonyms), bilingual_clinical_findings(clinical)
    return KnowledgeBaseBayes(load_knowledge_base(kb_dir), synonyms, clinical)


def replace_expert(bundle_dir: str | Path, kb_dir: str | Path, version: str | None = None,
                   change: str | None = None, command: str | None = None) -> dict:
    """Rebuild the knowledge-base expert of the bundle at ``bundle_dir`` from ``kb_dir`` and the current tables
    (:func:`build_expert`, with the bundle's tokenizer), write it to ``knowledge_base_expert.json`` and record its
    hash in the manifest (both atomically: temp name, then rename). ``version``: the bundle's new version;
    ``change``: a changelog line (manifest ``changelog``, newest first); ``command``: the command line, recorded
    with the date in ``knowledge_base_expert.rebuilt`` (the training notes of the expert). The network (``model.keras``) is
    untouched; the product temperature is left as it was (refit it next: medviz.text.recalibrate).
    Returns ``{"phrases": before, after, "sha256": ...}``. Raises :class:`InputError` for a bundle without an
    expert or a knowledge base whose condition names differ from the bundle's labels."""
    from medviz.bundle import MANIFEST_FILE, read_manifest, sha256_file

    path = Path(bundle_dir)
    manifest = read_manifest(path)
    meta = manifest.get("knowledge_base_expert")
    if not meta:
        raise InputError(f"{path.name}: the bundle has no knowledge-base expert to rebuild (manifest knowledge_base_expert)")
    tokenizer = ((manifest.get("architecture") or {}).get("tokenizer")
                 or (manifest.get("preprocessing") or {}).get("tokenizer"))
    expert = build_expert(kb_dir, tokenizer)
    if expert.labels != list(manifest["labels"]):
        raise InputError(f"--rebuild-expert {Path(kb_dir).name}: the knowledge base's condition names differ from the "
                         "bundle's labels")
    before = len(json.loads((path / meta["file"]).read_bytes())["phrases"])
    tmp = path / f".{EXPERT_FILE}.part"
    tmp.write_bytes(expert.to_json())
    tmp.replace(path / EXPERT_FILE)
    from datetime import datetime, timezone

    meta.update(file=EXPERT_FILE, format=FORMAT)
    meta["rebuilt"] = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": command,
                       "knowledge_base": f"{Path(kb_dir).name}/ (conditions.json, symptoms.json)",
                       "tables": "medviz/text/synth/synonyms.json, clinical_findings.json"
                                 + (", zh.json (Chinese names)" if tokenizer == "han" else "")
                                 + " and the reading rules of medviz/text/synth/bayes.py, as in this release's commit",
                       "network": "unchanged (model.keras not retrained)"}
    manifest["files"][EXPERT_FILE] = sha256_file(path / EXPERT_FILE)
    if version:
        manifest["version"] = version
    if change:
        manifest["changelog"] = [change, *(manifest.get("changelog") or [])]
    mtmp = path / f".{MANIFEST_FILE}.part"
    mtmp.write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
    mtmp.replace(path / MANIFEST_FILE)
    return {"phrases_before": before, "phrases_after": len(expert.phrase_col), "sha256": manifest["files"][EXPERT_FILE]}
