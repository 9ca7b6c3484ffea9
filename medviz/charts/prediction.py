"""Charts beside a single prediction (axis titles in the active language, medviz.i18n)."""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from medviz.charts import hover
from medviz.i18n import _


def differential_bar(ranked: pd.DataFrame, k: int = 5) -> go.Figure:
    """Horizontal bars of the top-k diagnoses; ``ranked`` has columns label, probability (sorted desc)."""
    top = ranked.head(k).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=top["probability"] * 100,
            y=top["label"],
            orientation="h",
            text=[f"{p:.1%}" for p in top["probability"]],
            textposition="outside",
            marker_color="#1f77b4",
            hovertemplate=hover("%{y}: %{x:.1f}%"),
        )
    )
    fig.update_layout(
        xaxis=dict(title=_("Calibrated probability (%)"), range=[0, 110]),
        yaxis=dict(title=None),
        height=60 + 42 * len(top),
        margin=dict(l=10, r=10, t=10, b=40),
    )
    return fig


def highlight_html(text: str, spans: list[tuple[int, int, float]], *, rgb: tuple[int, int, int] = (255, 170, 0)) -> str:
    """The typed text with character spans shaded by weight in [0, 1]; everything is HTML-escaped.

    ``spans`` are (start, end, weight) in character offsets of ``text``, non-overlapping and sorted.
    """
    out, pos = [], 0
    r, g, b = rgb
    for start, end, w in spans:
        out.append(html.escape(text[pos:start]))
        alpha = max(0.0, min(1.0, float(w)))
        word = html.escape(text[start:end])
        out.append(
            f'<span title="{alpha:.3f}" style="background: rgba({r},{g},{b},{alpha:.3f}); '
            f'border-radius: 3px; padding: 0 1px">{word}</span>'
        )
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>")
