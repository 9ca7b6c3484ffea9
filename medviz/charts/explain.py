"""Explanation charts: pure functions of ``shap.Explanation`` objects and tables; never a model.

Colours follow shap's convention: red pushes the probability up, blue pushes it down.
Every word or value that came from a user is HTML-escaped before it reaches markup.
Titles, axes and legends are in the active language (:mod:`medviz.i18n`, per session).
"""
from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from medviz.charts import hover
from medviz.i18n import N_, _

RED = (214, 39, 40)
BLUE = (31, 119, 180)
ATTENTION = (255, 170, 0)
SCALE = N_("calibrated probability")  # the scale SHAP values are on; translated where shown


def _class_values(exp, label: str | None = None) -> tuple[np.ndarray, float, str]:
    """(values per word, base value, label) for one class of a text explanation."""
    values = np.asarray(exp.values, dtype=float)
    base = np.asarray(exp.base_values, dtype=float)
    names = exp.output_names
    if values.ndim == 2:
        if label is None:
            j = int(np.argmax(base + values.sum(axis=0)))
        else:
            j = list(names).index(label)
        return values[:, j], float(base[j]), str(names[j])
    return values, float(base), str(label or names or "")


def text_shap_html(exp, label: str | None = None, unread_tail: str = "") -> str:
    """The case's words shaded red (towards ``label``) / blue (away), alpha ∝ |SHAP|; all escaped.

    ``exp.data`` holds each word with its trailing separator, as the explainer returns it. Each word
    carries a tooltip with its signed contribution. ``unread_tail`` (text past the model's length
    limit) is shown greyed.
    """
    values, _base, _label = _class_values(exp, label)
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    out = []
    for seg, v in zip(exp.data, values):
        seg = str(seg)
        word = seg.rstrip()
        trail = seg[len(word):]
        a = abs(v) / peak if peak > 0 else 0.0
        r, g, b = RED if v > 0 else BLUE
        out.append(
            f'<span title="{v:+.4f}" style="background: rgba({r},{g},{b},{0.85 * a:.3f}); '
            f'border-radius: 3px; padding: 0 1px">{html.escape(word)}</span>{html.escape(trail)}'
        )
    if unread_tail:
        tip = html.escape(_("not read by the model"), quote=True)
        out.append(f'<span style="color: #999" title="{tip}">{html.escape(unread_tail)}</span>')
    return "".join(out).replace("\n", "<br>")


def attention_html(att_exp) -> str:
    """The same words shaded by attention weight (relative to the most attended word); escaped."""
    values = np.asarray(att_exp.values, dtype=float)
    peak = float(values.max()) if values.size else 0.0
    r, g, b = ATTENTION
    out = []
    for seg, v in zip(att_exp.data, values):
        seg = str(seg)
        word = seg.rstrip()
        a = v / peak if peak > 0 else 0.0
        out.append(
            f'<span title="{v:.3f}" style="background: rgba({r},{g},{b},{a:.3f}); border-radius: 3px; '
            f'padding: 0 1px">{html.escape(word)}</span>{html.escape(seg[len(word):])}'
        )
    return "".join(out).replace("\n", "<br>")


def word_bar(exp, label: str | None = None, k: int = 12) -> go.Figure:
    """Horizontal bars of the k words with the largest |SHAP| for one class, signed, with the base value."""
    values, base, lab = _class_values(exp, label)
    names = [str(n) for n in exp.feature_names]
    order = np.argsort(-np.abs(values), kind="stable")[:k][::-1]
    # Repeated words get their place in the text so bars stay distinct ("2 (word 5)": the "#5" shown before read as a
    # rank to a clinician, session 14)
    counts: dict[str, int] = {}
    for n in names:
        counts[n.lower()] = counts.get(n.lower(), 0) + 1
    ticks = [_("{word} (word {n})").format(word=names[i], n=i + 1) if counts[names[i].lower()] > 1 else names[i]
             for i in order]
    fig = go.Figure(
        go.Bar(
            x=values[order],
            y=ticks,
            orientation="h",
            marker_color=[f"rgb{RED}" if v > 0 else f"rgb{BLUE}" for v in values[order]],
            text=[f"{v:+.3f}" for v in values[order]],
            textposition="outside", cliponaxis=False,  # value labels past the longest bar stay visible
            hovertemplate=hover("%{y}: %{x:+.4f}"),
        )
    )
    total = base + values.sum()
    fig.update_layout(
        title=dict(text=_("Strongest words for “{label}” · base {base} → {total}").format(
            label=html.escape(lab), base=f"{base:.3f}", total=f"{total:.3f}"), font=dict(size=14)),
        xaxis=dict(title=_("SHAP value ({scale})").format(scale=_(SCALE)), zeroline=True),
        yaxis=dict(title=None, automargin=True),
        height=90 + 26 * len(order),
        margin=dict(l=10, r=30, t=40, b=40),
    )
    return fig


def deletion_chart(table: pd.DataFrame) -> go.Figure:
    """Drop in P(label) against the number of deleted words, one line per way of choosing them."""
    fig = go.Figure()
    styles = {"SHAP": ("rgb(214,39,40)", "solid"), "attention": ("rgb(255,140,0)", "dash"), "random": ("gray", "dot")}
    for method, g in table.groupby("method", sort=False):
        colour, dash = styles.get(str(method), ("black", "solid"))
        name = (_("random (mean of {n} draws)").format(n=table.attrs.get("n_random", "?")) if method == "random"
                else _("top-k {method}").format(method=_("attention") if method == "attention" else method))
        fig.add_trace(go.Scatter(x=g["k"], y=g["drop"], mode="lines+markers", name=name,
                                 line=dict(color=colour, dash=dash),
                                 hovertemplate="k=%{x}: " + _("drop") + " %{y:.3f}"))  # plotly adds the trace name
    label = html.escape(str(table.attrs.get("label", "")))
    fig.update_layout(
        title=dict(text=_("Deletion check: fall in P({label}) when k words are removed").format(label=label),
                   font=dict(size=14)),
        xaxis=dict(title=_("words removed (k)"), dtick=1),
        yaxis=dict(title=_("drop in probability")),
        height=320,
        margin=dict(l=10, r=10, t=40, b=40),
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


def waterfall(exp_row, specs: Sequence[Mapping[str, Any]], *, max_display: int = 10) -> go.Figure:
    """Plotly waterfall from the base value to the risk for one row; bars labelled with value and unit.

    ``exp_row``: a one-row tabular explanation (values (F,), base value, data (F,)).
    """
    from medviz.explain import format_value

    values = np.asarray(exp_row.values, dtype=float).reshape(-1)
    data = np.asarray(exp_row.data, dtype=float).reshape(-1)
    base = float(np.asarray(exp_row.base_values).reshape(-1)[0])
    by_name = {s.get("name"): s for s in specs}
    names = list(exp_row.feature_names)
    order = list(np.argsort(-np.abs(values), kind="stable"))
    shown, rest = order[:max_display], order[max_display:]
    labels, measures, xs, texts = [], [], [], []
    for j in shown[::-1]:
        spec = by_name.get(names[j], {"name": names[j]})
        disp = spec.get("label") or names[j]
        labels.append(html.escape(f"{disp} = {format_value(data[j], spec)}"))
        measures.append("relative")
        xs.append(values[j])
        texts.append(f"{values[j]:+.3f}")
    if rest:
        labels.insert(0, _("{n} other features").format(n=len(rest)))
        measures.insert(0, "relative")
        s = float(values[rest].sum())
        xs.insert(0, s)
        texts.insert(0, f"{s:+.3f}")
    total = base + values.sum()
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            measure=["absolute"] + measures + ["total"],
            y=[_("base value (mean risk)")] + labels + [_("this patient's risk")],
            x=[base] + xs + [total],
            base=0,
            text=[f"{base:.3f}"] + texts + [f"{total:.3f}"],
            textposition="outside",
            increasing=dict(marker=dict(color=f"rgb{RED}")),
            decreasing=dict(marker=dict(color=f"rgb{BLUE}")),
            totals=dict(marker=dict(color="rgb(90,90,90)")),
            connector=dict(line=dict(color="rgb(180,180,180)")),
        )
    )
    fig.update_layout(
        xaxis=dict(title=_("risk ({scale})").format(scale=_(SCALE)), range=[0, max(1.0, total + 0.05)]),
        yaxis=dict(automargin=True),
        height=120 + 30 * (len(labels) + 2),
        margin=dict(l=10, r=40, t=20, b=40),
        showlegend=False,
    )
    return fig


def mean_abs_importance(exp, specs: Sequence[Mapping[str, Any]] | None = None) -> go.Figure:
    """Mean |SHAP| per feature over a set of rows (global importance), largest at the top."""
    values = np.asarray(exp.values, dtype=float)
    imp = np.abs(values).mean(axis=0)
    names = _display_names(exp.feature_names, specs)
    order = np.argsort(imp, kind="stable")
    fig = go.Figure(go.Bar(x=imp[order], y=[names[i] for i in order], orientation="h", marker_color="rgb(90,90,90)",
                           text=[f"{v:.3f}" for v in imp[order]], textposition="outside", cliponaxis=False,
                           hovertemplate=hover("%{y}: %{x:.4f}")))
    fig.update_layout(xaxis=dict(title=_("mean |SHAP value| ({scale}), n = {n}").format(scale=_(SCALE), n=len(values))), yaxis=dict(automargin=True),
                      height=80 + 32 * len(names), margin=dict(l=10, r=40, t=20, b=40))
    return fig


def _display_names(feature_names, specs) -> list[str]:
    by_name = {s.get("name"): s for s in (specs or [])}
    out = []
    for n in feature_names:
        s = by_name.get(n, {})
        lab = s.get("label") or n
        unit = s.get("unit")
        out.append(html.escape(f"{lab} ({unit})" if unit else str(lab)))
    return out


def beeswarm(exp, specs: Sequence[Mapping[str, Any]] | None = None, *, max_points: int = 2000, seed: int = 0) -> go.Figure:
    """One row of dots per feature: x = SHAP value, colour = the feature's value (low blue → high red)."""
    values = np.asarray(exp.values, dtype=float)
    data = np.asarray(exp.data, dtype=float)
    rng = np.random.default_rng(seed)
    if len(values) > max_points:
        keep = np.sort(rng.choice(len(values), size=max_points, replace=False))
        values, data = values[keep], data[keep]
    names = _display_names(exp.feature_names, specs)
    order = np.argsort(np.abs(values).mean(axis=0), kind="stable")
    fig = go.Figure()
    for pos, j in enumerate(order):
        col = data[:, j]
        finite = np.isfinite(col)
        lo, hi = (np.nanpercentile(col, 5), np.nanpercentile(col, 95)) if finite.any() else (0.0, 1.0)
        scaled = np.clip((col - lo) / (hi - lo), 0, 1) if hi > lo else np.full_like(col, 0.5)
        jitter = rng.uniform(-0.3, 0.3, size=len(col))
        fig.add_trace(go.Scattergl(
            x=values[:, j], y=pos + jitter, mode="markers", name=names[j], showlegend=False,
            marker=dict(size=4, color=np.where(finite, scaled, 0.5), colorscale=[[0, f"rgb{BLUE}"], [1, f"rgb{RED}"]],
                        cmin=0, cmax=1, showscale=(pos == len(order) - 1),
                        colorbar=dict(title=_("feature value"), tickvals=[0, 1], ticktext=[_("low"), _("high")])),
            customdata=np.where(finite, col, np.nan),
            hovertemplate=hover(names[j] + " = %{customdata:.4g}", "SHAP %{x:+.4f}"),
        ))
    fig.update_layout(
        xaxis=dict(title=_("SHAP value ({scale})").format(scale=_(SCALE)), zeroline=True),
        yaxis=dict(tickvals=list(range(len(order))), ticktext=[names[j] for j in order], automargin=True),
        height=80 + 40 * len(order), margin=dict(l=10, r=10, t=20, b=40),
    )
    return fig


def dependence(exp, feature: str, specs: Sequence[Mapping[str, Any]] | None = None, color_by: str | None = None) -> go.Figure:
    """SHAP value of ``feature`` against its value; optionally coloured by another feature's value."""
    names = list(exp.feature_names)
    if feature not in names:
        raise ValueError(f"feature '{feature}' is not in the explanation ({', '.join(names)})")
    j = names.index(feature)
    values = np.asarray(exp.values, dtype=float)
    data = np.asarray(exp.data, dtype=float)
    disp = _display_names(names, specs)
    marker: dict[str, Any] = dict(size=5, color="rgb(90,90,90)")
    if color_by and color_by in names and color_by != feature:
        c = names.index(color_by)
        marker = dict(size=5, color=data[:, c], colorscale=[[0, f"rgb{BLUE}"], [1, f"rgb{RED}"]], showscale=True,
                      colorbar=dict(title=disp[c]))
    fig = go.Figure(go.Scattergl(x=data[:, j], y=values[:, j], mode="markers", marker=marker,
                                 hovertemplate=hover(disp[j] + " = %{x:.4g}", "SHAP %{y:+.4f}")))
    blanks = int(np.isnan(data[:, j]).sum())
    fig.update_layout(
        xaxis=dict(title=disp[j] + (" " + _("({n} blank rows not shown)").format(n=blanks) if blanks else "")),
        yaxis=dict(title=_("SHAP value ({scale})").format(scale=_(SCALE)), zeroline=True),
        height=380, margin=dict(l=10, r=10, t=20, b=40),
    )
    return fig


def word_importance_chart(table: pd.DataFrame, diagnosis: str, k: int = 15) -> go.Figure:
    """Words with the largest mean SHAP contribution towards one diagnosis (global text view)."""
    t = table[table["diagnosis"] == diagnosis].sort_values("mean_shap", ascending=False).head(k).iloc[::-1]
    fig = go.Figure(go.Bar(
        x=t["mean_shap"], y=[html.escape(str(w)) for w in t["word"]], orientation="h",
        marker_color=[f"rgb{RED}" if v > 0 else f"rgb{BLUE}" for v in t["mean_shap"]],
        text=[f"{v:+.3f} (n={c})" for v, c in zip(t["mean_shap"], t["count"])], textposition="outside", cliponaxis=False,
        hovertemplate=hover("%{y}: %{x:+.4f}"),
    ))
    fig.update_layout(
        title=dict(text=_("Words pushing towards “{diagnosis}”").format(diagnosis=html.escape(diagnosis)), font=dict(size=14)),
        xaxis=dict(title=_("mean SHAP value when the word appears ({scale})").format(scale=_(SCALE))),
        yaxis=dict(automargin=True), height=90 + 26 * len(t), margin=dict(l=10, r=60, t=40, b=40),
    )
    return fig
