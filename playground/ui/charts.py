"""Plotly figures built from metric records (see README "Run folder format"). No streamlit.

The x axis is the epoch as a fraction (step / steps_per_epoch), so epoch means sit at whole
numbers, a setting changed mid-epoch sits where it happened, and the epoch picked on the scrubber
is a vertical line at that number.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

from playground.i18n import format_number, t
from playground.live import LIVE_SETTINGS
from playground.registry import OBJECTIVES, Chart

D_COLOUR, G_COLOUR = "#1f77b4", "#e8710a"
REAL_COLOUR, FAKE_COLOUR = "#188038", "#c5221f"
SERIES_COLOURS = ("#188038", "#c5221f", "#1f77b4", "#e8710a", "#9334e6")
SELECTED_COLOUR = "#5f6368"
CHANGE_COLOUR = "#9334e6"
CHANGE_NAMES = {s.name: s.label for s in LIVE_SETTINGS}   # what a change marker names
# Plotly's decimal and thousands separators per language (its hover numbers and axis ticks).
SEPARATORS = {"pt": ",.", "en": ".,"}


def ema(values: list, weight: float = 0.8) -> list:
    """Exponential moving average with the start-up bias removed (as TensorBoard smooths):
    s_t = w·s_{t-1} + (1-w)·v_t, divided by 1 - w^t. Missing or non-finite values stay gaps and
    do not disturb the average."""
    out, s, n = [], 0.0, 0
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(None)
            continue
        n += 1
        s = weight * s + (1 - weight) * v
        out.append(s / (1 - weight ** n))
    return out


def x_of(rec: dict, steps_per_epoch: int) -> float:
    """Where a record goes on the epoch axis."""
    if steps_per_epoch:
        return rec.get("step", 0) / steps_per_epoch
    return float(rec.get("epoch", 0))


def _values(records: list[dict], key: str) -> list:
    return [r.get(key) for r in records]


def _layout(fig: go.Figure, title: str, y_title: str, height: int, lang: str = "en") -> go.Figure:
    fig.update_layout(
        separators=SEPARATORS.get(lang, ".,"),
        title=dict(text=title, x=0, xanchor="left", font=dict(size=15)), height=height,
        # The toolbar stands upright in the right margin: lying across the top, it covered the
        # end of the title in a half-width column.
        margin=dict(l=10, r=36, t=40, b=10), hovermode="x unified", modebar=dict(orientation="v"),
        legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0.0),
        xaxis_title=t("epoch", lang), yaxis_title=y_title)
    return fig


def _change_value(v, lang: str) -> str:
    return format_number(v, lang, significant=4) if isinstance(v, (int, float)) else str(v)


def _marks(fig: go.Figure, changes: list[dict], steps_per_epoch: int, selected_epoch, lang: str = "en") -> None:
    """Dotted purple lines where a live setting changed; a grey line at the scrubbed epoch."""
    by_x: dict[float, list[str]] = {}
    for c in changes:
        field = c.get("field")
        # Plotly reads <tags> in annotation text: only the project's own names and numbers go in
        name = t(CHANGE_NAMES[field], lang) if field in CHANGE_NAMES else "?"
        by_x.setdefault(x_of(c, steps_per_epoch), []).append(
            f"{name} {_change_value(c.get('old'), lang)} → {_change_value(c.get('new'), lang)}")
    for x, texts in by_x.items():
        fig.add_vline(x=x, line=dict(color=CHANGE_COLOUR, dash="dot", width=1.5))
        fig.add_annotation(x=x, y=1, yref="paper", text="<br>".join(texts), showarrow=False,
                           xanchor="left", yanchor="top", font=dict(size=11, color=CHANGE_COLOUR),
                           bgcolor="rgba(255,255,255,0.8)", name="change")
    if selected_epoch is not None:
        fig.add_vline(x=selected_epoch, line=dict(color=SELECTED_COLOUR, width=2),
                      annotation_text=t("epoch {epoch}", lang, epoch=selected_epoch),
                      annotation_position="top left",
                      name="selected epoch")


def _pair(fig, steps, epochs, spe, key, name, colour, smooth_weight, lang="en"):
    xs = [x_of(r, spe) for r in steps]
    raw = _values(steps, key)
    fig.add_trace(go.Scatter(x=xs, y=raw, mode="lines", name=t("{name} (each log step)", lang, name=name),
                             line=dict(color=colour, width=1), opacity=0.3, showlegend=False,
                             hovertemplate="%{y:.3f}"))
    fig.add_trace(go.Scatter(x=xs, y=ema(raw, smooth_weight), mode="lines", name=name,
                             line=dict(color=colour, width=2.5), hovertemplate="%{y:.3f}"))
    if epochs:
        fig.add_trace(go.Scatter(x=[float(r.get("epoch", 0)) for r in epochs], y=_values(epochs, key),
                                 mode="markers", name=t("{name}, epoch mean", lang, name=name),
                                 showlegend=False,
                                 marker=dict(color=colour, size=8, symbol="diamond",
                                             line=dict(color="white", width=1)),
                                 hovertemplate="%{y:.3f}"))


def loss_figure(steps: list[dict], epochs: list[dict], changes: list[dict] = (),
                steps_per_epoch: int = 0, selected_epoch: int | None = None,
                smooth_weight: float = 0.8, height: int = 340, lang: str = "en") -> go.Figure:
    """D and G loss: each logged step (faint), smoothed (bold), epoch means (diamonds)."""
    fig = go.Figure()
    _pair(fig, steps, epochs, steps_per_epoch, "loss_d", t("D loss", lang), D_COLOUR, smooth_weight, lang)
    _pair(fig, steps, epochs, steps_per_epoch, "loss_g", t("G loss", lang), G_COLOUR, smooth_weight, lang)
    _marks(fig, list(changes), steps_per_epoch, selected_epoch, lang)
    return _layout(fig, t("Losses of the discriminator (D) and generator (G)", lang), t("loss", lang),
                   height, lang)


def is_critic(objective: str, records: list[dict]) -> bool:
    """True when D's outputs are critic scores (hinge, WGAN-GP): d_real is null in the records."""
    if objective in OBJECTIVES and not OBJECTIVES[objective].has_probabilities:
        return True
    return bool(records) and all(r.get("d_real") is None for r in records)


def d_output_figure(steps: list[dict], epochs: list[dict], objective: str, changes: list[dict] = (),
                    steps_per_epoch: int = 0, selected_epoch: int | None = None,
                    smooth_weight: float = 0.8, height: int = 340, lang: str = "en") -> go.Figure:
    """D(x) and D(G(z)) as probabilities with the 0.5 line, or the raw critic scores for
    hinge and WGAN-GP (which are not probabilities)."""
    critic = is_critic(objective, steps or epochs)
    real_key, fake_key = ("score_real", "score_fake") if critic else ("d_real", "d_fake")
    fig = go.Figure()
    _pair(fig, steps, epochs, steps_per_epoch, real_key, t("D(x), real images", lang), REAL_COLOUR,
          smooth_weight, lang)
    _pair(fig, steps, epochs, steps_per_epoch, fake_key, t("D(G(z)), generated images", lang), FAKE_COLOUR,
          smooth_weight, lang)
    if not critic:
        fig.add_hline(y=0.5, line=dict(color="#80868b", dash="dash", width=1.5),
                      annotation_text=t("0.5: D cannot tell them apart", lang),
                      annotation_position="bottom right")
        fig.update_yaxes(range=[-0.02, 1.02])
    _marks(fig, list(changes), steps_per_epoch, selected_epoch, lang)
    title = (t("Critic scores of real and generated images", lang) if critic
             else t("How sure D is that an image is real", lang))
    return _layout(fig, title, t("critic score", lang) if critic else t("probability 'real'", lang),
                   height, lang)


def family_figure(chart: Chart, records: list[dict], selected_epoch: int | None = None, height: int = 300,
                  lang: str = "en") -> go.Figure:
    """One of a family's own charts (registry.Chart): each series by epoch, as lines with markers;
    a series that holds one value for the whole run (a baseline) is drawn as a flat dashed line."""
    fig = go.Figure()
    fmt = "%{y:.1%}" if chart.percent else "%{y:.3f}"
    for (key, label), colour in zip(chart.series, SERIES_COLOURS * 4):
        pts = [(float(r.get("epoch", 0)), r[key]) for r in records
               if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        if not pts:
            continue
        xs, ys = zip(*pts)
        flat = len(set(ys)) == 1 and len(ys) > 1
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines" if flat else "lines+markers", name=t(label, lang),
                                 line=dict(color=colour, width=2, dash="dash" if flat else "solid"),
                                 marker=dict(size=7), hovertemplate=fmt))
    if chart.percent:
        fig.update_yaxes(range=[-0.02, 1.02], tickformat=".0%")
    _marks(fig, [], 0, selected_epoch, lang)
    return _layout(fig, t(chart.title, lang), "", height, lang)
