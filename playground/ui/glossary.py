"""Plain explanations of the technical terms a learner meets in papers (BCE, WGAN-GP, FID...),
shown on hover where the term appears. The words stay as they are in every language; the
explanations are messages of the catalogs (see playground/locale/GLOSSARY.md)."""

from __future__ import annotations

from playground.i18n import N_, stored_text

TERMS = {
    "bce": N_("BCE (binary cross-entropy): the discriminator answers “real or fake?” with a "
              "probability and is scored by how far it is from the right answer. “Non-saturating” "
              "means the generator maximises log D(G(z)) instead of minimising log(1 − D(G(z))), so it "
              "still learns when D rejects its images."),
    "minimax": N_("Minimax: the original GAN game of Goodfellow et al. (2014), in which the generator "
                  "minimises exactly what the discriminator maximises. Its generator learns slowly "
                  "when D is sure, which is why the non-saturating BCE is the usual choice."),
    "lsgan": N_("LSGAN (least squares GAN): D's answers are scored by their squared distance from 1 "
                "(real) and 0 (fake) instead of by cross-entropy, which gives smoother gradients."),
    "hinge": N_("Hinge: D gives each image a score and is only pushed until real images score above "
                "+1 and fakes below −1; the generator raises the score of its images."),
    "wgan-gp": N_("WGAN-GP (Wasserstein GAN with gradient penalty): the discriminator becomes a "
                  "critic that scores images, and the gap between the scores of real and generated "
                  "images estimates how far apart the two distributions are. The gradient penalty "
                  "keeps the critic smooth, which makes training more stable."),
    "fid": N_("FID (Fréchet Inception Distance) measures how far the statistics of generated images "
              "are from those of real images in the features of an image classifier; lower is better. "
              "The “Fréchet distance” here follows the same recipe in the features of a small "
              "classifier trained on MNIST or Fashion-MNIST, so it compares runs on the same data, "
              "not with the FID values in papers."),
}


def objective_help(objective: str) -> str:
    """The message id explaining ``objective`` ("" when there is none)."""
    return TERMS.get(objective, "")


# Class names the datasets store in English (playground.data.CLASS_NAMES and the toys), listed so
# the catalogs hold them: pages show them with ``class_name``.
CLASS_NAMES = (
    N_("T-shirt/top"), N_("Trouser"), N_("Pullover"), N_("Dress"), N_("Coat"), N_("Sandal"), N_("Shirt"),
    N_("Sneaker"), N_("Bag"), N_("Ankle boot"),
    N_("airplane"), N_("automobile"), N_("bird"), N_("cat"), N_("deer"), N_("dog"), N_("frog"), N_("horse"),
    N_("ship"), N_("truck"),
    N_("upper moon"), N_("lower moon"),
)


def class_name(name, lang: str) -> str:
    """A class's name in ``lang`` when it is one of the datasets' own, else as it is (a folder
    name from an uploaded zip stays what the learner called it)."""
    return stored_text(str(name), lang)
