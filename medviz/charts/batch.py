"""Charts of a scored batch (Batch page): pure functions, scored table in, plotly Figure out.

Titles, axes and legends are in the active language (:mod:`medviz.i18n`, per session); band names
in the data stay English (the scored-CSV contract) and are translated only where drawn.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from medviz.charts import hover
from medviz.i18n import N_, _, format_number

BAND_ORDER = ("low", "medium", "high")
BAND_COLOURS = {"low": "#4C9A6A", "medium": "#E0A526", "high": "#C8453B", "not scored": "#9AA0A6"}
# Band values (English in the data) → their display name, translated where drawn.
BAND_NAMES = {"low": N_("low"), "medium": N_("medium"), "high": N_("high"), "not scored": N_("not scored")}


def band_name(band: str) -> str:
    """The display name of a risk band value in the active language (unknown values as they are)."""
    return _(BAND_NAMES[band]) if band in BAND_NAMES else str(band)


def risk_histogram(risk: Sequence[float], cut_points: Sequence[float], *, title: str | None = None) -> go.Figure:
    """Histogram of calibrated risks (5-point bins on 0–100 %) with the band cut-points drawn.

    ``title`` defaults to "Predicted risk" in the active language; n is appended.
    """
    r = pd.to_numeric(pd.Series(risk), errors="coerce").dropna().to_numpy() * 100
    fig = go.Figure(go.Histogram(x=r, xbins=dict(start=0, end=100, size=5), marker_color="#4A6FA5",
                                 hovertemplate=hover("%{x}%%: %{y} " + _("rows")), name=_("rows")))
    for cut, (lo, hi) in zip(cut_points, (("low", "medium"), ("medium", "high"))):
        fig.add_vline(x=cut * 100, line_dash="dash", line_color="#333",
                      annotation_text=_("{lower} | {upper} cut {cut}").format(
                          lower=band_name(lo), upper=band_name(hi), cut=f"{cut:.0%}"),
                      annotation_position="top")
    fig.update_layout(title=_("{title} (n = {n})").format(title=title or _("Predicted risk"), n=format_number(len(r))),
                      xaxis_title=_("calibrated risk (%)"), yaxis_title=_("rows"),
                      xaxis_range=[0, 100], bargap=0.05, margin=dict(t=60, b=40, l=40, r=20), height=340)
    return fig


def band_counts(bands: Sequence[str]) -> go.Figure:
    """Rows per risk band (low / medium / high), and rows not scored."""
    s = pd.Series(bands, dtype=object).fillna("").replace("", "not scored")
    order = [b for b in (*BAND_ORDER, "not scored") if b in set(s)] or list(BAND_ORDER)
    counts = s.value_counts().reindex(order, fill_value=0)
    total = max(int(counts.sum()), 1)
    fig = go.Figure(go.Bar(x=[band_name(b) for b in counts.index], y=counts.to_numpy(),
                           marker_color=[BAND_COLOURS.get(b, "#888") for b in counts.index],
                           text=[f"{format_number(c)} ({c / total:.0%})" for c in counts.to_numpy()], textposition="auto"))
    fig.update_layout(title=_("Rows per risk band"), yaxis_title=_("rows"), margin=dict(t=60, b=40, l=40, r=20), height=340)
    return fig


def label_counts(labels: Sequence[str], *, title: str | None = None, top: int = 25) -> go.Figure:
    """Rows per predicted label, most frequent first (horizontal bars); blank = not scored.

    ``title`` defaults to "Rows per predicted diagnosis" in the active language.
    """
    s = pd.Series(labels, dtype=object).fillna("").replace("", "not scored")
    counts = s.value_counts().head(top).iloc[::-1]
    fig = go.Figure(go.Bar(y=[band_name(v) if v == "not scored" else v for v in counts.index], x=counts.to_numpy(),
                           orientation="h", marker_color="#4A6FA5",
                           text=[format_number(c) for c in counts.to_numpy()], textposition="auto"))
    fig.update_layout(title=title or _("Rows per predicted diagnosis"), xaxis_title=_("rows"),
                      margin=dict(t=60, b=40, l=10, r=20), height=max(300, 24 * len(counts) + 100))
    return fig


def probability_histogram(prob: Sequence[float], *, title: str | None = None) -> go.Figure:
    """Histogram of top-1 probabilities (5-point bins on 0–100 %); ``title`` defaults to "Top-1 probability"."""
    p = pd.to_numeric(pd.Series(prob), errors="coerce").dropna().to_numpy() * 100
    fig = go.Figure(go.Histogram(x=p, xbins=dict(start=0, end=100, size=5), marker_color="#4A6FA5"))
    fig.update_layout(title=_("{title} (n = {n})").format(title=title or _("Top-1 probability"), n=format_number(len(p))),
                      xaxis_title=_("probability (%)"), yaxis_title=_("rows"),
                      xaxis_range=[0, 100], margin=dict(t=60, b=40, l=40, r=20), height=340)
    return fig


def icon_array(rate: float, *, n: int = 100, label: str | None = None, per_row: int = 10) -> go.Figure:
    """An icon array of ``n`` people, ``round(rate * n)`` of them highlighted (numerator and denominator).

    ``label`` (already in the active language) names the highlighted group; default "with the outcome".
    """
    label = label or _("with the outcome")
    k = int(round(float(rate) * n))
    idx = np.arange(n)
    x, y = idx % per_row, -(idx // per_row)
    hit = idx < k
    fig = go.Figure()
    for mask, colour, name in ((hit, "#C8453B", _("{k} {label}").format(k=k, label=label)),
                               (~hit, "#C9CED6", _("{n} without").format(n=n - k))):
        fig.add_trace(go.Scatter(x=x[mask], y=y[mask], mode="markers", name=name, hoverinfo="skip",
                                 marker=dict(symbol="circle", size=16, color=colour, line=dict(width=0))))
    fig.update_layout(title=_("{k} in {n} {label}").format(k=k, n=n, label=label), xaxis=dict(visible=False),
                      yaxis=dict(visible=False, scaleanchor="x"),
                      showlegend=True, legend=dict(orientation="h", y=-0.05), margin=dict(t=40, b=10, l=10, r=10),
                      height=320, plot_bgcolor="white")
    return fig
