"""Plotly figures of the compare and 2D toy pages (no Streamlit here, so they can be tested and
reused): two runs' losses overlaid, and the GAN-Lab-style toy plane."""

from __future__ import annotations

import numpy as np
import pandas  # noqa: F401  (see below)
import plotly.graph_objects as go

from playground.i18n import t
from playground.ui.charts import SEPARATORS

# Plotly looks pandas up in sys.modules without importing it. When another session's thread is
# still importing pandas (st.dataframe or st.line_chart on a fresh server), plotly then sees a
# half-initialised module and raises AttributeError. Importing it here, fully, before any figure
# is built closes that window for these pages.

RUN_COLOURS = ("#1f77b4", "#e4572e")          # run A blue, run B red-orange
SURFACE_SCALE = [[0.0, "rgb(70,110,200)"], [1.0, "rgb(245,170,80)"]]   # as in the saved toy plots
REAL_COLOUR = "rgb(20,110,50)"
FAKE_COLOUR = "rgb(200,0,160)"


def ema(values: list[float], weight: float = 0.8) -> list[float]:
    """Exponential moving average (None values are carried over), for readable step curves."""
    out, acc = [], None
    for v in values:
        if v is None:
            out.append(acc)
            continue
        acc = v if acc is None else weight * acc + (1 - weight) * v
        out.append(acc)
    return out


def overlay_figure(series: list[dict], fields: tuple[str, str], names: tuple[str, str],
                   selected_epoch: int | None, y_title: str, height: int = 380,
                   hline: float | None = None, lang: str = "en") -> go.Figure:
    """Two runs' curves on one epoch axis. ``series``: per run {"label", "steps": [(x_epochs,
    record)], "epochs": {epoch: record}}. ``fields`` are drawn solid and dashed; steps thin and
    smoothed, epoch means as dots. A dotted vertical line marks ``selected_epoch``."""
    fig = go.Figure()
    for i, s in enumerate(series):
        colour = RUN_COLOURS[i % 2]
        for field, name, dash in zip(fields, names, ("solid", "dash")):
            xs = [x for x, r in s["steps"] if r.get(field) is not None]
            ys = [r[field] for x, r in s["steps"] if r.get(field) is not None]
            if xs:
                fig.add_trace(go.Scatter(x=xs, y=ema(ys), mode="lines", line=dict(color=colour, width=1.2, dash=dash),
                                         opacity=0.55, name=t("{run}: {name} (steps, smoothed)", lang,
                                                                run=s["label"], name=name),
                                         legendgroup=f"{i}{field}", showlegend=False, hoverinfo="skip"))
            ep = sorted((e, r[field]) for e, r in s["epochs"].items() if r.get(field) is not None)
            if ep:
                fig.add_trace(go.Scatter(x=[e for e, _ in ep], y=[v for _, v in ep], mode="lines+markers",
                                         line=dict(color=colour, width=2.5, dash=dash), marker=dict(size=7),
                                         name=t("{run}: {name}", lang, run=s["label"], name=name),
                                         legendgroup=f"{i}{field}"))
    if hline is not None:
        fig.add_hline(y=hline, line=dict(color="grey", dash="dot"),
                      annotation_text=f"{hline:g}".replace(".", "," if lang == "pt" else "."),
                      annotation_position="bottom right")
    if selected_epoch is not None:
        fig.add_vline(x=selected_epoch, line=dict(color="black", dash="dot"),
                      annotation_text=t("epoch {epoch}", lang, epoch=selected_epoch), annotation_position="top")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), xaxis_title=t("epoch", lang),
                      separators=SEPARATORS.get(lang, ".,"),
                      yaxis_title=y_title, legend=dict(orientation="h", y=-0.22, x=0),
                      hovermode="x unified")
    return fig


def view_extent(extent: float, *point_sets: np.ndarray | None) -> float:
    """Half-width of the square to show: enough for the real points and nearly all generated ones
    (99th percentile, so a few stray points do not shrink the picture), never beyond ``extent``."""
    reach = 1.0
    for pts in point_sets:
        if pts is not None and len(pts):
            reach = max(reach, float(np.percentile(np.abs(np.asarray(pts)), 99)))
    return float(min(extent, np.ceil(reach * 1.25 * 2) / 2))


def toy_figure(surface: np.ndarray | None, surface_extent: float, real: np.ndarray | None,
               fake: np.ndarray | None, arrows: tuple[np.ndarray, np.ndarray] | None,
               surface_title: str = "D says real", view: float | None = None, height: int = 600,
               lang: str = "en") -> go.Figure:
    """The toy plane: D's output on the square [-surface_extent, surface_extent]² as a heat map
    (``surface`` [n, n] in [0, 1], top row = highest y), generated points, real points on top,
    and the generator's push on its points drawn as arrows (``arrows`` = line segments from
    latent.arrow_segments). ``view`` is the half-width shown (default: the surface's)."""
    fig = go.Figure()
    if surface is not None:
        n = surface.shape[0]
        axis = np.linspace(-surface_extent, surface_extent, n)
        fig.add_trace(go.Heatmap(z=np.asarray(surface)[::-1], x=axis, y=axis, zmin=0.0, zmax=1.0,
                                 colorscale=SURFACE_SCALE, name=t("D's view", lang), zsmooth="best", hovertemplate=
                                 "x %{x:.2f}, y %{y:.2f}<br>D: %{z:.2f}<extra></extra>",
                                 colorbar=dict(title=dict(text=surface_title, side="top"), orientation="h",
                                               thickness=12, len=0.6, x=0.5, y=-0.08, yanchor="top")))
    if fake is not None and len(fake):
        fig.add_trace(go.Scatter(x=fake[:, 0], y=fake[:, 1], mode="markers", name=t("generated", lang),
                                 marker=dict(color=FAKE_COLOUR, size=5, line=dict(width=0.5, color="white"))))
    if real is not None and len(real):
        fig.add_trace(go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", name=t("real data", lang), opacity=0.85,
                                 marker=dict(color=REAL_COLOUR, size=5, line=dict(width=0.5, color="white"))))
    if arrows is not None and len(arrows[0]):
        fig.add_trace(go.Scatter(x=arrows[0], y=arrows[1], mode="lines", name=t("generator's push", lang),
                                 line=dict(color="rgba(20,20,20,0.85)", width=1.3), hoverinfo="skip"))
    half = surface_extent if view is None else view
    rng = [-half, half]
    fig.update_xaxes(range=rng, constrain="domain", zeroline=False, showgrid=False)
    fig.update_yaxes(range=rng, scaleanchor="x", scaleratio=1, zeroline=False, showgrid=False)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), separators=SEPARATORS.get(lang, ".,"),
                      legend=dict(orientation="h", y=1.0, x=0, yanchor="bottom"), plot_bgcolor="rgb(235,235,235)")
    return fig


def coverage_figure(epochs: list[int], covered: list[int], modes: int, selected: int | None,
                    height: int = 190, lang: str = "en") -> go.Figure:
    """Clusters covered by the generated points at each saved epoch (0..modes), the selected epoch
    marked: a collapsing run dips and jumps here while a healthy one climbs to ``modes``."""
    fig = go.Figure(go.Scatter(x=epochs, y=covered, mode="lines+markers", line=dict(color=FAKE_COLOUR),
                               marker=dict(size=5), name=t("clusters covered", lang),
                               hovertemplate=t("epoch {x}: {y} covered", lang, x="%{x}", y="%{y}")
                               + "<extra></extra>"))
    if selected is not None:
        fig.add_vline(x=selected, line=dict(color="black", dash="dot"))
    fig.update_yaxes(range=[-0.3, modes + 0.3], dtick=max(1, modes // 4), title=t("covered", lang))
    fig.update_xaxes(title=t("epoch", lang))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), showlegend=False)
    return fig
