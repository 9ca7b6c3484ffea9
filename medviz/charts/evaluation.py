"""Evaluation charts: tidy tables (from :mod:`medviz.metrics` / :mod:`medviz.evaluation`) in, plotly Figure out.

Every chart states its cohort in the title line passed by the caller, and plots counts or
probabilities on fixed 0–1 axes so two cohorts drawn side by side can be compared by eye.
Titles, axes, legends and hover labels are in the active language (:mod:`medviz.i18n`, per session);
default titles are translated when the chart is drawn, never at import.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from medviz.charts import hover
from medviz.i18n import _

BLUE = "#1f77b4"
ORANGE = "#d62728"
GREY = "#7f7f7f"
BAND = "rgba(31,119,180,0.18)"


def _ci(est: float | None, lo: float | None, hi: float | None, fmt: str = ".3f") -> str:
    if est is None:
        return _("not estimable")
    if lo is None or hi is None:
        return f"{est:{fmt}}"
    return _("{estimate} (95% CI {lo}–{hi})").format(estimate=f"{est:{fmt}}", lo=f"{lo:{fmt}}", hi=f"{hi:{fmt}}")



def _layout(fig: go.Figure, title: str, height: int = 380, **kw) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, font=dict(size=14)),
        height=height + 40,
        # the legend hangs below the x-axis title (anchored at its top): long legend entries, e.g. in
        # Chinese or with a CI, no longer run into the axis title
        margin=dict(l=50, r=20, t=60, b=100),
        legend=dict(orientation="h", yanchor="top", y=-0.22, x=0),
        **kw,
    )
    return fig


def roc_chart(roc: pd.DataFrame, auc: float | None, lo: float | None, hi: float | None, *, title: str | None = None,
              operating_point: tuple[float, float] | None = None) -> go.Figure:
    """ROC curve with AUC and its CI in the legend; optional marker at the chosen threshold (fpr, tpr)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color=GREY, dash="dot"), name=_("chance (AUC 0.5)"),
                             hoverinfo="skip"))
    if len(roc):
        fig.add_trace(go.Scatter(
            x=roc["fpr"], y=roc["tpr"], mode="lines", line=dict(color=BLUE, width=2, shape="hv"),
            name=_("model: AUC {value}").format(value=_ci(auc, lo, hi)), customdata=roc["threshold"],
            hovertemplate=hover(_("1 − specificity") + " %{x:.2f}", _("sensitivity") + " %{y:.2f}",
                                _("threshold") + " %{customdata:.3f}"),
        ))
    if operating_point is not None:
        fig.add_trace(go.Scatter(x=[operating_point[0]], y=[operating_point[1]], mode="markers",
                                 marker=dict(color=ORANGE, size=11, symbol="x"), name=_("chosen threshold")))
    return _layout(fig, title or _("ROC curve"), xaxis=dict(title=_("1 − specificity (false-positive rate)"), range=[0, 1]),
                   yaxis=dict(title=_("Sensitivity (true-positive rate)"), range=[0, 1.02]))


def pr_chart(pr: pd.DataFrame, ap: float | None, lo: float | None, hi: float | None, prevalence: float | None, *,
             title: str | None = None) -> go.Figure:
    fig = go.Figure()
    if prevalence is not None:
        fig.add_trace(go.Scatter(x=[0, 1], y=[prevalence, prevalence], mode="lines", line=dict(color=GREY, dash="dot"),
                                 name=_("prevalence baseline ({prevalence})").format(prevalence=f"{prevalence:.1%}"), hoverinfo="skip"))
    if len(pr):
        fig.add_trace(go.Scatter(
            x=pr["recall"], y=pr["precision"], mode="lines", line=dict(color=BLUE, width=2, shape="vh"),
            name=_("model: AP {value}").format(value=_ci(ap, lo, hi)),
            hovertemplate=hover(_("sensitivity (recall)") + " %{x:.2f}", _("PPV (precision)") + " %{y:.2f}"),
        ))
    return _layout(fig, title or _("Precision–recall curve"), xaxis=dict(title=_("Sensitivity (recall)"), range=[0, 1]),
                   yaxis=dict(title=_("PPV (precision)"), range=[0, 1.02]))


def calibration_chart(bins: pd.DataFrame, smooth: pd.DataFrame, risks: np.ndarray, *, title: str | None = None,
                      note: str = "", mark: float | None = None) -> go.Figure:
    """Smoothed curve with its CI band, binned observed rates with Wilson CIs, and a histogram of risks below."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color=GREY, dash="dot"),
                             name=_("perfect calibration"), hoverinfo="skip"), row=1, col=1)
    if len(smooth):
        fig.add_trace(go.Scatter(
            x=np.concatenate([smooth["predicted"], smooth["predicted"][::-1]]),
            y=np.concatenate([smooth["observed_hi"], smooth["observed_lo"][::-1]]),
            fill="toself", fillcolor=BAND, line=dict(width=0), name=_("95% CI (spline)"), hoverinfo="skip"), row=1, col=1)
        fig.add_trace(go.Scatter(x=smooth["predicted"], y=smooth["observed"], mode="lines", line=dict(color=BLUE, width=2),
                                 name=_("smoothed (spline logistic)"),
                                 hovertemplate=hover(_("predicted") + " %{x:.2f}", _("observed") + " %{y:.2f}")), row=1, col=1)
    if len(bins):
        fig.add_trace(go.Scatter(
            x=bins["mean_predicted"], y=bins["observed"], mode="markers", marker=dict(color="black", size=7),
            error_y=dict(type="data", symmetric=False, array=bins["observed_hi"] - bins["observed"],
                         arrayminus=bins["observed"] - bins["observed_lo"], color="black", thickness=1),
            name=_("risk groups (observed, Wilson CI)"), customdata=np.stack([bins["n"], bins["events"]], axis=1),
            hovertemplate=hover(_("mean predicted") + " %{x:.2f}", _("observed") + " %{y:.2f}",
                                _("{events} of {n}").format(events="%{customdata[1]}", n="%{customdata[0]}")),
        ), row=1, col=1)
    if mark is not None:
        fig.add_vline(x=mark, line=dict(color=ORANGE, width=2, dash="dash"), row=1, col=1)
    fig.add_trace(go.Histogram(x=np.asarray(risks), xbins=dict(start=0, end=1, size=0.02), marker_color=GREY,
                               name=_("patients per predicted risk"), showlegend=False,
                               hovertemplate=hover(_("risk") + " %{x}", _("{n} patients").format(n="%{y}"))), row=2, col=1)
    fig.update_xaxes(range=[0, 1], row=1, col=1)
    fig.update_xaxes(range=[0, 1], title=_("Predicted probability"), row=2, col=1)
    fig.update_yaxes(range=[0, 1.02], title=_("Observed proportion"), row=1, col=1)
    fig.update_yaxes(title="n", row=2, col=1)
    if note:
        fig.add_annotation(text=note, xref="paper", yref="paper", x=0.01, y=0.99, showarrow=False, align="left",
                           font=dict(size=11), bgcolor="rgba(255,255,255,0.85)", row=1, col=1)
    return _layout(fig, title or _("Calibration"), height=480)


def decision_curve_chart(dc: pd.DataFrame, *, title: str | None = None, max_threshold: float = 0.6,
                         threshold: float | None = None) -> go.Figure:
    """Net benefit of using the model vs treating everyone and no one, over threshold probabilities."""
    d = dc[dc["threshold"] <= max_threshold]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=d["threshold"], y=d["treat_none"], mode="lines", line=dict(color="black", width=1),
                             name=_("treat none")))
    fig.add_trace(go.Scatter(x=d["threshold"], y=d["treat_all"], mode="lines", line=dict(color=GREY, dash="dash"),
                             name=_("treat all")))
    fig.add_trace(go.Scatter(x=d["threshold"], y=d["net_benefit"], mode="lines", line=dict(color=BLUE, width=2),
                             name=_("model"),
                             hovertemplate=hover(_("threshold") + " %{x:.2f}", _("net benefit") + " %{y:.3f}")))
    if threshold is not None and threshold <= max_threshold:
        fig.add_vline(x=threshold, line=dict(color=ORANGE, dash="dot"))
    top = float(np.nanmax(d[["net_benefit", "treat_all"]].to_numpy())) if len(d) else 0.1
    return _layout(fig, title or _("Decision curve"), xaxis=dict(title=_("Threshold probability"), range=[0, max_threshold]),
                   yaxis=dict(title=_("Net benefit"),
                              range=[-0.05, max(0.05, top * 1.1)]))


def confusion_chart(cm: dict, *, positive: str | None = None, title: str = "") -> go.Figure:
    """2×2 table at a threshold as a heatmap with counts; rows = truth, columns = model call.

    ``positive``: the positive label as the bundle writes it (default: "positive" in the active language).
    """
    positive = positive or _("positive")
    z = [[cm["tp"], cm["fn"]], [cm["fp"], cm["tn"]]]
    text = [[_("TP {n}").format(n=cm["tp"]), _("FN {n}").format(n=cm["fn"])],
            [_("FP {n}").format(n=cm["fp"]), _("TN {n}").format(n=cm["tn"])]]
    fig = go.Figure(go.Heatmap(
        z=z, x=[_("called {positive}").format(positive=positive), _("called negative")],
        y=[_("truly {positive}").format(positive=positive), _("truly negative")], text=text,
        texttemplate="%{text}", colorscale="Blues", showscale=False, hovertemplate=hover("%{text}")))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title or _("Confusion matrix at threshold {threshold}").format(threshold=f"{cm['threshold']:.2f}"), height=300)


def multiclass_heatmap(cm: pd.DataFrame, *, title: str | None = None, normalize: bool = True) -> go.Figure:
    """True diagnosis (rows) × top-1 prediction (columns); colour = share of the row, text = counts."""
    counts = cm.to_numpy()
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts, dtype=float), where=rows > 0) if normalize else counts
    labels = [str(c) for c in cm.columns]
    fig = go.Figure(go.Heatmap(
        z=share, x=labels, y=[str(i) for i in cm.index], text=np.where(counts > 0, counts.astype(str), ""),
        texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1 if normalize else None,
        colorbar=dict(title=_("share of row")), customdata=counts,
        hovertemplate=hover(_("true") + " %{y}", _("predicted") + " %{x}",
                            _("{n} cases ({share} of row)").format(n="%{customdata}", share="%{z:.0%}"))))
    fig.update_yaxes(autorange="reversed", title=_("True diagnosis"), tickfont=dict(size=10))
    fig.update_xaxes(title=_("Model's top-1 diagnosis"), tickangle=-45, tickfont=dict(size=10))
    n = len(labels)
    return _layout(fig, title or _("Confusion matrix (top-1 call)"), height=max(420, 140 + 24 * n))


def reliability_chart(rel: pd.DataFrame, *, title: str | None = None, ece: float | None = None) -> go.Figure:
    """Top-label reliability: mean confidence vs accuracy per bin (Wilson CI), bar width ~ count in hover."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color=GREY, dash="dot"), name=_("perfect"),
                             hoverinfo="skip"))
    if len(rel):
        fig.add_trace(go.Scatter(
            x=rel["confidence"], y=rel["accuracy"], mode="markers+lines", marker=dict(color=BLUE, size=8),
            error_y=dict(type="data", symmetric=False, array=rel["accuracy_hi"] - rel["accuracy"],
                         arrayminus=rel["accuracy"] - rel["accuracy_lo"], thickness=1),
            customdata=rel["n"], name=_("top-1 accuracy by confidence (Wilson CI)"),
            hovertemplate=hover(_("confidence") + " %{x:.2f}", _("accuracy") + " %{y:.2f}",
                                _("{n} cases").format(n="%{customdata}"))))
    t = title or _("Reliability of the top diagnosis")
    if ece is not None:
        t = _("{title} — ECE {ece}").format(title=t, ece=f"{ece:.3f}")
    return _layout(fig, t, xaxis=dict(title=_("Model's probability for its top diagnosis"), range=[0, 1]),
                   yaxis=dict(title=_("Share where the top diagnosis was right"), range=[0, 1.05]))


def per_class_chart(per_class: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Dot plot: sensitivity and PPV (Wilson CIs) per diagnosis, sorted by sensitivity."""
    d = per_class.sort_values("sensitivity", na_position="first")
    fig = go.Figure()
    for metric, colour, name in (("sensitivity", BLUE, _("sensitivity")), ("ppv", ORANGE, _("PPV"))):
        fig.add_trace(go.Scatter(
            x=d[metric], y=d["label"], mode="markers", marker=dict(color=colour, size=8), name=name,
            error_x=dict(type="data", symmetric=False, array=d[f"{metric}_hi"] - d[metric],
                         arrayminus=d[metric] - d[f"{metric}_lo"], thickness=1),
            customdata=d["support"], hovertemplate=hover("%{y}", name + " %{x:.2f}", _("support") + " %{customdata}")))
    return _layout(fig, title or _("Sensitivity and PPV per diagnosis"), height=max(360, 120 + 22 * len(d)),
                   xaxis=dict(range=[0, 1.02], title=_("Proportion")))


def risk_context_chart(smooth: pd.DataFrame, risks: np.ndarray, risk: float, *, title: str | None = None) -> go.Figure:
    """The test calibration curve with this patient's risk marked (Case page)."""
    fig = calibration_chart(pd.DataFrame(columns=["mean_predicted", "observed", "observed_lo", "observed_hi", "n", "events"]),
                            smooth, risks, title=title or _("Where this risk sits"), mark=risk)
    return fig


def subgroup_forest(table: pd.DataFrame, *, metric: str = "auc", title: str | None = None) -> go.Figure:
    """Estimate and CI per subgroup (flagged groups drawn hollow)."""
    d = table.iloc[::-1]
    flagged = d["flag"].astype(str).ne("")
    fig = go.Figure(go.Scatter(
        x=d[metric], y=[f"{g} (n={n})" for g, n in zip(d["group"], d["n"])], mode="markers",
        marker=dict(color=BLUE, size=9, symbol=np.where(flagged, "circle-open", "circle")),
        error_x=dict(type="data", symmetric=False, array=d[f"{metric}_hi"] - d[metric],
                     arrayminus=d[metric] - d[f"{metric}_lo"], thickness=1),
        hovertemplate=hover("%{y}", "%{x:.3f}")))
    return _layout(fig, title or _("AUC by subgroup"), height=max(260, 100 + 30 * len(d)), xaxis=dict(range=[0, 1.02]))
