"""A text bundle's calibrated safety settings (preprocessing kind, conformal calibration, out-of-scope
detector), read once from its manifest. Light to import: the manifest check uses it before any model loads."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from medviz.text.conformal import ConformalCalibration
from medviz.text.ood import OutOfScopeDetector


@dataclass(frozen=True)
class SafetyConfig:
    """The bundle's calibrated safety settings, read once from its manifest."""

    preprocessing: str
    conformal: ConformalCalibration | None
    detector: OutOfScopeDetector | None
    languages: tuple[str, ...] = ("en",)  # manifest inputs.languages: "zh" = the tokenizer reads Chinese

    @classmethod
    def from_manifest(cls, manifest: Mapping) -> "SafetyConfig":
        from medviz.text.preprocess import bundle_preprocessing

        conf = manifest.get("conformal")
        oos = manifest.get("out_of_scope")
        return cls(
            preprocessing=bundle_preprocessing(manifest),
            conformal=ConformalCalibration.from_manifest(conf) if conf else None,
            detector=OutOfScopeDetector.from_manifest(oos) if oos else None,
            languages=tuple((manifest.get("inputs") or {}).get("languages") or ("en",)),
        )
