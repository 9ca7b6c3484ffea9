"""Live-performance chart for the Monitoring page: a metric per period with its 95% CI and counts,
beside the bundle's test figure as a dashed line. Pure: a tidy table in, a plotly Figure out.
Text is in the active language (medviz.i18n); metric labels come translated from the caller."""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from medviz.charts import hover
from medviz.i18n import _

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")


def live_performance(
    periods: pd.DataFrame,
    metrics: Sequence[tuple[str, str]],
    reference: Mapping[str, float],
    *,
    title: str | None = None,
    y_range: tuple[float, float] | None = (0.0, 1.02),
) -> go.Figure:
    """``periods`` has columns period, n and for each metric ``m``: m, m_lo, m_hi.
    ``metrics`` = [(column, label)] (labels already translated). ``reference`` = {column: test figure}.
    ``title`` defaults to "Live performance from recorded outcomes" in the active language."""
    fig = go.Figure()
    for i, (col, label) in enumerate(metrics):
        color = COLORS[i % len(COLORS)]
        d = periods.dropna(subset=[col]) if col in periods else periods.iloc[0:0]
        if len(d):
            fig.add_trace(go.Scatter(
                x=d["period"], y=d[col], mode="lines+markers", name=_("{metric} (live)").format(metric=label), line={"color": color},
                error_y={"type": "data", "symmetric": False, "array": d[f"{col}_hi"] - d[col],
                         "arrayminus": d[col] - d[f"{col}_lo"], "color": color},
                customdata=d[["n"]].to_numpy(),
                hovertemplate=hover(label + ": %{y:.3f}", "n = %{customdata[0]}"),
            ))
        if col in reference:
            fig.add_hline(y=reference[col], line={"dash": "dash", "color": color},
                          annotation_text=_("{metric} on test: {value}").format(metric=label, value=f"{reference[col]:.3f}"), annotation_position="bottom right")
    if len(periods):
        fig.add_trace(go.Bar(x=periods["period"], y=periods["n"], name=_("outcomes (n)"), yaxis="y2",
                             marker={"color": "rgba(120,120,120,0.25)"}, hovertemplate=hover("n = %{y}")))
    fig.update_layout(
        title=title or _("Live performance from recorded outcomes"), xaxis_title=_("period (when the prediction was made)"),
        yaxis={"title": _("value"), "range": y_range},
        yaxis2={"title": _("outcomes recorded"), "overlaying": "y", "side": "right", "showgrid": False, "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.25}, margin={"t": 50, "b": 40},
    )
    return fig
