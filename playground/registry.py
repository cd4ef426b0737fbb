"""The choices a run is made of, declared once: architectures, objectives and the model fields' ranges.

config.py (validation), models/spec.py (what a model may be), losses.py (what each objective
computes), the failure-mode monitor and the dashboard (titles, choices) all read these tables; adding
an architecture or an objective is one entry here plus its code.

No torch here: the dashboard imports this module to draw its form.
"""

from __future__ import annotations

from dataclasses import dataclass

from .i18n import N_


@dataclass(frozen=True)
class Chart:
    """A chart the Watch page draws for a family's own metrics (e.g. a classifier's accuracy)."""

    title: str                              # message id
    series: tuple[tuple[str, str], ...]     # (key in the metrics records, legend label message id)
    record_type: str = "epoch"              # the metrics.jsonl records that carry the keys
    caption: str = ""                       # message id: what to look at, in plain words
    percent: bool = False                   # values in [0, 1] shown as percentages


@dataclass(frozen=True)
class Family:
    name: str
    title: str                 # message id
    module: str                # playground.families.<module> defines the family's GanStep
    explanation: str = ""      # message id: what the family adds and what to look at, in plain words
    short: str = ""            # message id: its name in a run's one-line description (e.g. "InfoGAN")
    points: bool = True        # trains on the 2D toys too (else images only)
    needs_labels: bool = False  # trains on the data's class labels (the dataset must have them)
    conditional: bool = True   # the config's "conditional" switch applies
    objectives: tuple[str, ...] = ()   # the objectives it trains with (empty: every one)
    # config fields only this family uses, with their visible names (message ids): the Train form
    # shows them for this family alone; their help texts are config.field_help()'s
    settings: tuple[tuple[str, str], ...] = ()
    charts: tuple[Chart, ...] = ()     # the Watch page's charts of the family's own metrics
    # the GAN family's stabilising tricks (config fields) this family's step applies; config
    # validation refuses the others when they are set
    tricks: tuple[str, ...] = ("label_smoothing", "instance_noise", "replay", "mode_seeking")


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str                 # message id (translated where it is shown)
    images: bool               # trains on images
    points: bool               # trains on 2D points
    convs: bool = False        # convolutional: channels-last applies, D downsamples (d_downsample)


@dataclass(frozen=True)
class Objective:
    name: str
    title: str                 # message id
    # How D's raw output reads as a probability of "real", for the charts: "sigmoid" (the output
    # is a logit), "clamp" (the output is trained towards 1 and 0), or "" (an unbounded critic score).
    probability: str
    smoothable: bool           # the real target can be smoothed below 1 (one-sided label smoothing)
    gradient_penalty: bool     # D's loss adds gp_weight * the WGAN-GP penalty

    @property
    def has_probabilities(self) -> bool:
        return bool(self.probability)


# GAN families: how a training step updates the networks (playground/families/).
FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("gan", N_("GAN"), "gan",
           N_("One generator against one discriminator: G turns noise into images, D tells them from "
              "real ones, and each learns from the other. Turn on \"conditional\" to give both the "
              "class label, so you can ask for a class.")),
    Family("acgan", N_("AC-GAN (auxiliary classifier GAN)"), "acgan",
           N_("Odena et al. (2017): G draws the class it is asked for, but D is not told the class. "
              "D judges real or fake and also names the class of every image, real or generated, and "
              "both networks are trained to get that class right. Look at the auxiliary classifier's "
              "accuracy: on real images it shows how well D has learned the classes, on generated "
              "images how clearly G draws the class it was asked for. Each row of the grid asks for one "
              "class."),
           short=N_("AC-GAN"), points=False, needs_labels=True, conditional=False,
           objectives=("bce", "minimax", "lsgan", "hinge", "wgan-gp"),
           settings=(("aux_weight", N_("Class loss weight")),
                     ("aux_fakes", N_("D classifies generated images too"))),
           charts=(Chart(N_("Auxiliary classifier accuracy"),
                         (("acc_real", N_("on real images")), ("acc_fake", N_("on generated images"))),
                         caption=N_("How often D's class head names the right class: of real images "
                                    "(their labels) and of generated ones (the class G was asked for). "
                                    "The generated line rising above the real one means G draws "
                                    "textbook examples of each class, easy to classify."),
                         percent=True),),
           tricks=("label_smoothing", "instance_noise", "mode_seeking")),
    Family("infogan", N_("InfoGAN (codes G learns to use, without labels)"), "infogan",
           N_("Chen et al. (2016): besides noise, G gets codes: by default a categorical code of 10 "
              "values and two continuous codes between −1 and 1. Nobody tells the network what the "
              "codes mean. A head Q on D's body must read the codes back from each generated image, "
              "and G is rewarded when it can, so G learns to make each code visible. On MNIST the "
              "categorical code usually ends up picking the digit and the continuous codes the slant "
              "or the width, without a single label. Watch how often Q recovers the code, then try "
              "the codes in the Latent explorer."),
           short=N_("InfoGAN"), points=False, needs_labels=False, conditional=False,
           objectives=("bce", "minimax", "lsgan", "hinge", "wgan-gp"),
           settings=(("info_categories", N_("Categorical code values")),
                     ("info_continuous", N_("Continuous codes")),
                     ("info_weight", N_("Information term weight"))),
           charts=(Chart(N_("How often Q recovers the categorical code"),
                         (("code_acc", N_("Q's guess is the code G was given")),),
                         caption=N_("Of the generated images, the share whose categorical code Q reads "
                                    "back right. Chance is one in the number of code values (one in ten "
                                    "for 10 values); close to all of them means each code value draws "
                                    "something Q can tell apart."),
                         percent=True),
                   Chart(N_("Information loss"),
                         (("info_loss", N_("information loss")), ("code_error", N_("continuous codes' error"))),
                         caption=N_("How badly Q reads the codes back: the categorical code's "
                                    "cross-entropy plus the continuous codes' squared error. It falls as "
                                    "G makes the codes visible in the images."))),
           tricks=("label_smoothing", "instance_noise", "mode_seeking")),
    Family("sgan", N_("Semi-supervised GAN"), "sgan",
           N_("The discriminator is also a classifier: it sorts real images into the classes and "
              "calls generated ones fake. Only a few images keep their label (100 by default); all "
              "the others still teach D what real images look like, because it must tell them from "
              "the generator's. Look at the accuracy chart: D's accuracy on held-out test images "
              "against the same network trained on the same few labels alone, without the GAN. The "
              "generator learns by feature matching, so its images matter less here than what they "
              "teach D."),
           short=N_("Semi-supervised GAN"), points=False, needs_labels=True, conditional=False, objectives=("bce",), tricks=(),
           settings=(("labelled", N_("Labelled images")),),
           charts=(Chart(N_("Classifier accuracy on test images"),
                         series=(("test_accuracy", N_("semi-supervised GAN's D")),
                                 ("baseline_accuracy", N_("same network, labelled images only"))),
                         record_type="sgan", percent=True,
                         caption=N_("Both classify the same held-out test images (a class-balanced fifth "
                                    "of the loaded images, at most 2,000, never trained on) and learned from "
                                    "the same labelled images. The flat line is the same discriminator "
                                    "trained on those labelled images alone for 300 Adam steps, without "
                                    "the generator and the unlabelled images: the gap between the lines is "
                                    "what the unlabelled images and the GAN bought.")),)),
    Family("bigan", N_("BiGAN / ALI (with an encoder)"), "bigan",
           N_("Besides the generator (noise to image) an encoder learns the way back (image to noise). "
              "The discriminator never sees an image alone: it judges pairs, a real image with the "
              "encoder's code for it against a generated image with the noise it came from. Fooling it "
              "forces the encoder and the generator to undo each other, so G(E(x)) comes to resemble x. "
              "Look at the reconstruction chart, and in the Latent explorer find a real image's code "
              "and walk between two real images."),
           short=N_("BiGAN"), points=False, conditional=False, objectives=("bce",), tricks=(),
           charts=(Chart(N_("Reconstruction error"),
                         series=(("recon_error", N_("images: mean |x − G(E(x))|")),
                                 ("latent_error", N_("codes: mean |z − E(G(z))|"))),
                         record_type="bigan",
                         caption=N_("Measured after each epoch on a fixed batch of 256 real training images "
                                    "(pixels from −1 to 1) and 256 fixed noise vectors. Falling lines mean the "
                                    "encoder and the generator learn to undo each other; BiGAN never trains "
                                    "on this error directly, only through the discriminator.")),
                   Chart(N_("Reconstructions that keep the class"),
                         series=(("recon_same_class", N_("G(E(x)) in the class of x")),),
                         record_type="bigan", percent=True,
                         caption=N_("The share of the same 256 real images whose redrawing G(E(x)) the "
                                    "project's digit and clothing classifier puts in the class it puts the "
                                    "real image in (MNIST and Fashion-MNIST only). One in ten would be chance.")),)),
)}

ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    Architecture("mlp", N_("GAN (MLP)"), images=True, points=True),
    Architecture("dcgan", "DCGAN", images=True, points=False, convs=True),
    Architecture("fccgan", "FCC-GAN", images=True, points=False, convs=True),
    Architecture("toy", N_("Toy MLP"), images=False, points=True),
)}

OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    Objective("bce", N_("non-saturating BCE"), "sigmoid", smoothable=True, gradient_penalty=False),
    Objective("minimax", N_("original minimax"), "sigmoid", smoothable=True, gradient_penalty=False),
    Objective("lsgan", "LSGAN", "clamp", smoothable=True, gradient_penalty=False),
    Objective("hinge", N_("hinge"), "", smoothable=False, gradient_penalty=False),
    Objective("wgan-gp", "WGAN-GP", "", smoothable=False, gradient_penalty=True),
)}

FAMILY_NAMES = tuple(FAMILIES)
ARCH_NAMES = tuple(ARCHITECTURES)
OBJECTIVE_NAMES = tuple(OBJECTIVES)
UPSAMPLES = ("convtranspose", "nearest")
D_DOWNSAMPLES = ("stride", "avgpool")         # D's downsampling: stride-2 conv, or conv + 2x2 average pooling
G_ACTIVATIONS = ("auto", "relu", "leakyrelu")  # G's hidden activation; auto: the architecture's own
IMAGE_SIZES = (28, 32, 64, 128)
IMAGE_CHANNELS = (1, 3)
KERNEL_SIZES = (4, 5)
LABEL_ROLES = ("class", "code")

# The model fields' ranges, checked by config validation (with a learner's message) and by
# ModelSpec.validate (for models built outside a config): (low, high), both allowed.
MODEL_RANGES = {
    "z_dim": (1, 1024),
    "g_filters": (1, 1024),
    "d_filters": (1, 1024),
    "embed_dim": (1, 1024),
    "dropout": (0.0, 0.9),
    "g_dropout": (0.0, 0.9),
    "minibatch_disc": (0, 512),       # minibatch discrimination: number of kernels B (0 = off)
    "minibatch_disc_dim": (1, 128),   # and the size C of each
    "num_classes": (0, 1000),
    "d_outputs": (1, 1001),
}
HIDDEN_LAYERS = (1, 8)        # how many hidden layers an MLP may have
HIDDEN_SIZE = (1, 8192)       # the width of each


def objective(name: str) -> Objective:
    """The objective called ``name``; ValueError naming the choices when there is none."""
    try:
        return OBJECTIVES[name]
    except (KeyError, TypeError):
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}; got {name!r}") from None


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}; got {name!r}") from None


def family_settings() -> set[str]:
    """Config fields that some family owns (shown in the form only for it)."""
    return {name for fam in FAMILIES.values() for name, _ in fam.settings}


def architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}; got {name!r}") from None
