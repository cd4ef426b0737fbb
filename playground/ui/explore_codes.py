"""The latent explorer's parts for an InfoGAN run: its codes as their own labelled controls, and a
code sweep (one row per value of the categorical code, a continuous code swept from -1 to 1).

The codes are inputs of G like the noise: the categorical code is G's label (``label_role`` "code"),
the continuous codes are the first ``cont_codes`` entries of z (playground/families/infogan.py).
"""

from __future__ import annotations

import streamlit as st
import torch

from playground import latent
from playground.i18n import N_
from playground.ui.i18n import num, tr

CODE_VALUES = [round(i / 20, 2) for i in range(-20, 21)]   # -1 to 1 in steps of 0.05

NEVER_LABELLED = N_(
    "This is an InfoGAN run. Its codes were never given labels: nobody told the network what the "
    "categorical code or the continuous codes should mean, so what each one controls is what the "
    "network found on its own. Try each value of the categorical code, and move a continuous code "
    "from −1 to 1.")


def intro_ui() -> None:
    st.info(tr(NEVER_LABELLED), icon=":material/lightbulb:")


def code_picker_ui(num_values: int) -> int:
    """The categorical code's value (G's label of an InfoGAN run)."""
    return st.selectbox(tr("Categorical code"), range(num_values), key="lx_code",
                        format_func=lambda i: tr("value {value}", value=i),
                        help=tr("G's categorical code: each value was free to mean anything. Look at "
                                "what changes from one value to the next."))


def init_state(cont_codes: int, z: torch.Tensor) -> None:
    """The continuous codes' sliders start at the seed's values (``z`` [z_dim])."""
    ss = st.session_state
    for i in range(cont_codes):
        if f"lx_cc{i}" not in ss:
            ss[f"lx_cc{i}"] = snap(float(z[i]))


def reset_state(cont_codes: int, z: torch.Tensor) -> None:
    for i in range(cont_codes):
        st.session_state[f"lx_cc{i}"] = snap(float(z[i]))


def snap(value: float) -> float:
    """The slider option nearest to ``value`` (codes lie in [-1, 1])."""
    return min(CODE_VALUES, key=lambda v: abs(v - value))


def continuous_ui(cont_codes: int) -> list[float]:
    """One slider per continuous code, in [-1, 1]; their values."""
    cols = st.columns(2)
    for i in range(cont_codes):
        cols[i % 2].select_slider(tr("continuous code {n}", n=i + 1), options=CODE_VALUES, key=f"lx_cc{i}",
                                  format_func=lambda v: num(v, decimals=2),
                                  help=tr("A code the generator learned to use, uniform between −1 and 1 "
                                          "while it trained."))
    return [float(st.session_state[f"lx_cc{i}"]) for i in range(cont_codes)]


def sweep_ui(gen: latent.LoadedGenerator, z: torch.Tensor, png) -> None:
    """The code sweep: rows = the categorical code's values, columns = one continuous code from −1
    to 1 (chosen here), the rest of z as the sliders above set it. ``png(images, ncol, px)``
    draws the grid."""
    choices = [None, *range(gen.cont_codes)]
    code = st.radio(tr("Sweep"), choices, key="lx_sweep", horizontal=True,
                    index=1 if gen.cont_codes else 0,
                    format_func=lambda c: (tr("no continuous code") if c is None
                                           else tr("continuous code {n}", n=c + 1)))
    images, cols = latent.code_sweep(gen, z, code)
    if gen.num_classes and code is not None:
        caption = tr("One row per value of the categorical code; from left to right continuous code {n} "
                     "goes from −1 to 1.", n=code + 1)
    elif gen.num_classes:
        caption = tr("One image per value of the categorical code.")
    else:
        caption = tr("From left to right continuous code {n} goes from −1 to 1.", n=(code or 0) + 1)
    st.image(png(images, cols), caption=caption, output_format="PNG")
