"""Vital signs in a note: each reading parsed with its unit and labelled against an adult reference range.

Temperature (°C/°F), heart rate, respiratory rate, blood pressure (systolic and diastolic), SpO2 and
blood glucose (mmol/L or mg/dL). Ranges, their sources and the words an abnormal reading stands for
are data (data/vital_ranges.json). An abnormal reading is a present finding ("SpO2 88%" -> low oxygen
saturation) whatever negation precedes it: it is a measurement, not something the patient reports.
A normal reading is not a finding.

Hand-written regular expressions: no maintained library parses vital signs out of free text (medspaCy,
scispaCy and cTAKES' Python ports have no vital-sign component); each pattern is under test
(tests/text/test_clinical_vitals.py). A label with a number the label cannot mean ("Sat 14": Saturday
the 14th, not a saturation) is left as written and listed as not interpreted.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

from medviz.text.clinical.assertion import DATA
from medviz.text.clinical.types import VitalSign

_SEP = r"\s*(?:of|was|is|=|:|-)?\s*"
# a decimal comma as much of Europe writes it ("T 37,9", "BM 3,6"): one or two digits after the comma (session 14)
_NUM = r"(?P<v>\d{1,3}(?:\.\d+|,\d{1,2}(?!\d))?)"

_TEMPERATURE = re.compile(
    r"(?<![A-Za-z0-9])(?:(?-i:T)|temp(?:erature)?|tmax|t\s*max)" + _SEP + _NUM
    + r"(?:\s*(?:°|º|deg(?:rees?)?)?\s*(?P<u>[cf])(?![A-Za-z]))?", re.I)
_BLOOD_PRESSURE = re.compile(
    r"(?<![A-Za-z0-9])(?:bp|nibp|blood\s+pressure)" + _SEP + r"(?P<s>\d{2,3})\s*/\s*(?P<d>\d{2,3})(?:\s*mm\s*hg)?", re.I)
_HEART_RATE = re.compile(
    r"(?<![A-Za-z0-9])(?:hr|pulse(?:\s+rate)?|heart\s+rate|(?-i:P))" + _SEP + r"(?P<v>\d{2,3})(?:\s*(?:bpm|/\s*min|beats(?:\s*(?:/|per)\s*min(?:ute)?)?))?(?![\d/])", re.I)
_RESP_RATE = re.compile(
    r"(?<![A-Za-z0-9])(?:rr|resps?|resp(?:iratory)?\s+rate|respirations)" + _SEP + r"(?P<v>\d{1,2})(?:\s*(?:/\s*min|breaths(?:\s*(?:/|per)\s*min(?:ute)?)?))?(?![\d/])", re.I)
_SPO2 = re.compile(
    r"(?<![A-Za-z0-9])(?P<label>spo2|sao2|sp02|o2\s*sats?|oxygen\s+sat(?:uration)?s?|sat(?:uration)?s?)" + _SEP
    + r"(?P<v>\d{1,3})\s*(?P<pct>%)?(?P<air>\s*(?:on\s+)?(?:ra|room\s+air|air|\d{1,2}\s*l(?:/min)?(?:\s*o2)?))?(?![A-Za-z0-9])", re.I)
_GLUCOSE = re.compile(
    r"(?<![A-Za-z0-9])(?:bm|bgl|cbg|glucose|blood\s+(?:sugar|glucose)|rbs|fbs|gluc)" + _SEP + _NUM
    + r"(?:\s*(?P<u>mmol\s*/?\s*l|mg\s*/?\s*dl))?(?![A-Za-z0-9])", re.I)
# Short forms that mean blood glucose only with a glucose unit after the number ("BS 350 mg/dL";
# "BS" alone is also breath or bowel sounds, "BG" a blood gas)
_GLUCOSE_WITH_UNIT = re.compile(
    r"(?<![A-Za-z0-9])(?:bs|bsl|bg|bgs|fbg|rbg|fsbg)" + _SEP + _NUM
    + r"\s*(?P<u>mmol\s*/?\s*l|mg\s*/?\s*dl)(?![A-Za-z0-9])", re.I)


@functools.lru_cache(maxsize=1)
def reference_ranges() -> dict:
    """The adult reference ranges (data/vital_ranges.json), keyed by reading kind."""
    return json.loads((DATA / "vital_ranges.json").read_text(encoding="utf-8"))["vitals"]


@dataclass(frozen=True)
class VitalText:
    """The vital signs of one note: the readings, what the model reads in their place, and labels left alone."""

    readings: tuple[VitalSign, ...]
    replacements: tuple[tuple[int, int, str], ...]  # (start, end, model words; "" = dropped)
    not_interpreted: tuple[str, ...]


def _reading(kind: str, text: str, value: float, start: int, end: int) -> VitalSign:
    r = reference_ranges()[kind]
    low, high = r["low"], r["high"]
    status = "low" if low is not None and value < low else "high" if high is not None and value > high else "normal"
    finding = r.get(f"{status}_finding", "") if status != "normal" else ""
    return VitalSign(name=r["name"], text=text, value=value, unit=r["unit"], low=low, high=high, source=r["source"],
                     status=status, finding=finding, start=start, end=end)


def _words(kind: str, status: str) -> str:
    return reference_ranges()[kind].get(f"{status}_words", "") if status != "normal" else ""


def parse_vitals(text: str) -> VitalText:
    """Every vital-sign reading in ``text``, in reading order.

    A reading's ``start``/``end`` are character offsets in ``text``. Values a label cannot mean are
    not readings: temperature outside 25–45 °C / 77–113 °F, heart rate outside 20–250, respiratory
    rate outside 4–70, SpO2 outside 50–100, glucose outside 1–60 mmol/L / 20–1,000 mg/dL; a bare "sat"
    needs "%", "on air" or a value of 70–100. Those are listed in ``not_interpreted``."""
    readings: list[VitalSign] = []
    repl: list[tuple[int, int, str]] = []
    skipped: list[str] = []
    taken: list[tuple[int, int]] = []
    if not re.search(r"\d", text):
        return VitalText((), (), ())

    from medviz.text.synth.bayes import conditional_spans, not_observed

    # a value in a conditional clause or after a target word ("target sats 88-92%", "return if temp 38 or more") is not
    # the patient's: left as written and listed as not interpreted (session 14). Positions need the lower-cased text
    # to keep its length (a few non-ASCII capitals lengthen; such a text is read without this check).
    low = text.lower()
    conditional: list[tuple[int, int]] | None = None  # found on the first reading

    def observed(m: re.Match) -> bool:
        nonlocal conditional
        if len(low) != len(text):
            return True
        if conditional is None:
            conditional = conditional_spans(low)
        if not_observed(low, m.start(), conditional):
            skipped.append(m.group(0).strip())
            taken.append(m.span())
            return False
        return True

    def free(m: re.Match) -> bool:
        return not any(s < m.end() and m.start() < e for s, e in taken) and observed(m)

    def add(m: re.Match, items: list[tuple[str, float]]) -> None:
        span = m.group(0).strip()
        start = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
        end = start + len(span)
        got = [_reading(kind, span, value, start, end) for kind, value in items]
        readings.extend(got)
        words = []
        for (kind, _), r in zip(items, got):
            w = _words(kind, r.status)
            if w and w not in words:
                words.append(w)
        repl.append((start, end, " and ".join(words)))
        taken.append((start, end))

    for m in _BLOOD_PRESSURE.finditer(text):
        if not observed(m):
            continue
        s, d = int(m.group("s")), int(m.group("d"))
        if 50 <= s <= 300 and 20 <= d <= 200 and s > d:
            add(m, [("systolic", s), ("diastolic", d)])
        else:
            skipped.append(m.group(0).strip())
            taken.append(m.span())
    for m in _TEMPERATURE.finditer(text):
        if not free(m):
            continue
        v, unit = float(m.group("v").replace(",", ".")), (m.group("u") or "").lower()
        if unit == "f" or (not unit and 77 <= v <= 113):
            kind, ok = "temperature_F", 77 <= v <= 113
        else:
            kind, ok = "temperature_C", 25 <= v <= 45
        if ok:
            add(m, [(kind, v)])
        else:
            skipped.append(m.group(0).strip())
    for m in _SPO2.finditer(text):
        if not free(m):
            continue
        v = int(m.group("v"))
        bare_sat = m.group("label").lower().startswith("sat")
        if bare_sat and not (m.group("pct") or m.group("air") or 70 <= v <= 100):
            skipped.append(m.group(0).strip())  # "Sat 14": a Saturday, not a saturation
        elif 50 <= v <= 100:
            add(m, [("spo2", v)])
        else:
            skipped.append(m.group(0).strip())
    for pattern, kind, lo, hi in ((_HEART_RATE, "heart_rate", 20, 250), (_RESP_RATE, "respiratory_rate", 4, 70)):
        for m in pattern.finditer(text):
            if not free(m):
                continue
            v = int(m.group("v"))
            if lo <= v <= hi:
                add(m, [(kind, v)])
            else:
                skipped.append(m.group(0).strip())
    for m in [*_GLUCOSE.finditer(text), *_GLUCOSE_WITH_UNIT.finditer(text)]:
        if not free(m):
            continue
        v, unit = float(m.group("v").replace(",", ".")), re.sub(r"\s", "", (m.group("u") or "").lower())
        if unit.startswith("mg") or (not unit and v >= 40):
            kind, ok = "glucose_mgdl", 20 <= v <= 1000
        else:
            kind, ok = "glucose_mmol", 1 <= v <= 60
        if ok:
            add(m, [(kind, v)])
        else:
            skipped.append(m.group(0).strip())
    order = sorted(range(len(readings)), key=lambda i: (readings[i].start, i))
    return VitalText(tuple(readings[i] for i in order), tuple(sorted(repl)), tuple(skipped))


_FEVER_WORDS = re.compile(r"fever|febrile|pyrexi|high temperature|feverish|hot", re.I)


def contradictions(findings, readings) -> tuple[str, ...]:
    """Warnings where what the note reports and what it measured disagree.

    Fever reported as present but every measured temperature below 37.5 °C (99.5 °F), or fever read as
    absent ("afebrile", "no fever") with a measured temperature of 38.0 °C (100.4 °F) or more. The note
    is not changed: the clinician decides which is right. The warnings quote numbers only, never the
    note's words (they reach the audit log)."""
    temps = [r for r in readings if r.name == "temperature"]
    if not temps:
        return ()
    celsius = [r.value if r.unit == "°C" else (r.value - 32) * 5 / 9 for r in temps]
    shown = ", ".join(f"{r.value:g} {r.unit}" for r in temps)
    fever = [f for f in findings if _FEVER_WORDS.search(f.phrase) or f.phrase in ("afebrile", "apyrexial")]
    out = []
    if any(f.status == "present" for f in fever) and max(celsius) < 37.5:
        out.append(f"Fever is reported but the measured temperature is {shown}, below 37.5 °C: check which is right.")
    if any(f.status == "absent" for f in fever) and max(celsius) >= 38.0:
        out.append(f"Fever is read as absent but the measured temperature is {shown}, 38.0 °C or more: "
                   "check which is right.")
    return tuple(out)
