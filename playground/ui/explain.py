"""The plain sentences beside each chart and grid, written for someone who has never trained a GAN."""

from __future__ import annotations

from playground.i18n import N_

# Message ids: pages translate them with tr() where they are shown.
LOSSES = N_(
    "Each line is one network's training loss: faint for every logged step, bold smoothed, diamonds "
    "for the mean of each epoch. GAN losses do not fall to zero like other models' do, because each "
    "network's loss is the other's gain. In a healthy run both wobble around a steady level; D's "
    "loss sinking towards 0 while G's keeps climbing means D has won and G has stopped learning.")

PROBABILITIES = N_(
    "D(x) is how sure the discriminator is that real images are real; D(G(z)) is how sure it is "
    "that generated images are real. In a healthy run both hover between about 0.3 and 0.8, D(x) a "
    "little above D(G(z)). D(G(z)) collapsing to 0 means the generator can no longer fool D.")

CRITIC = N_(
    "With the hinge and WGAN-GP objectives the discriminator is a critic: it gives each image a "
    "score, not a probability, so there is no 0.5 line. Watch the gap between the real and the "
    "generated scores: it shrinks as the generator gets better.")

CHANGES = N_("Dotted purple lines mark where a setting was changed during training.")

GRID_IMAGES = N_(
    "The same noise vectors passed through the generator after each epoch, so every grid is "
    "comparable. Epoch 0 is what the untrained generator draws: often flat grey or faint noise, "
    "since its weights are still random and small. In a healthy run shapes appear within "
    "a few epochs and sharpen; the same picture in every cell is mode collapse.")

GRID_CONDITIONAL = N_(
    "This run is conditional: each row asks the generator for one class, with the same noise in "
    "every row.")

GRID_CODES = N_(
    "This is an InfoGAN run: one row per value of the categorical code, with the same noise in every "
    "row. Nobody told the network what the code means: whatever changes from row to row is what "
    "it found on its own.")

GRID_TOY = N_(
    "Green dots are real data, magenta dots are generated, and the background is the "
    "discriminator's opinion (orange: 'real', blue: 'fake'). A healthy generator covers every green "
    "cluster; hopping between a few of them is mode collapse.")

LIVE_SETTINGS = N_(
    "Change the learning rates, the number of D steps per G step or of G steps per D step while the "
    "run trains. The worker applies them at its next step and the charts mark the moment.")


def grid_caption(is_toy: bool, rows: bool | str, tr=lambda m: m) -> str:
    """The caption under a run's grids, through ``tr`` (the page's translation). ``rows``: what the
    grid's rows are, "class" (a conditional generator, AC-GAN), "code" (InfoGAN's categorical code),
    or "" / False (no rows); True reads as "class"."""
    if is_toy:
        return tr(GRID_TOY)
    rows = "class" if rows is True else rows
    extra = {"class": GRID_CONDITIONAL, "code": GRID_CODES}.get(rows or "")
    return tr(GRID_IMAGES) + (" " + tr(extra) if extra else "")


def grid_rows(model: dict | None, conditional: bool) -> str:
    """What a run's grid rows are, from its config.json "model" entry (None before the data are
    loaded: then the config's ``conditional`` switch decides): "class", "code" or ""."""
    if isinstance(model, dict) and model.get("num_classes"):
        return "code" if model.get("label_role") == "code" else "class"
    return "class" if conditional and not isinstance(model, dict) else ""
