"""The training configuration: one flat dataclass, validated with messages a learner can act on.

A run is fully described by its ``TrainConfig`` plus the shape of its data (``DataInfo``); both are
stored in the run's ``config.json`` and inside every checkpoint's JSON, so a model can always be
rebuilt without the code that trained it guessing anything.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, fields

from .i18n import N_, msg
from .registry import (ARCH_NAMES, ARCHITECTURES, D_DOWNSAMPLES, FAMILIES, FAMILY_NAMES, G_ACTIVATIONS, HIDDEN_LAYERS,
                       HIDDEN_SIZE, IMAGE_CHANNELS, IMAGE_SIZES, KERNEL_SIZES, MODEL_RANGES, OBJECTIVE_NAMES,
                       UPSAMPLES)

FORMAT_VERSION = 1

DATASET_NAMES = ("mnist", "fashion-mnist", "cifar10", "folder", "ring", "grid", "spiral", "moons")
TOY_NAMES = ("ring", "grid", "spiral", "moons")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
JOINT_D_BATCH = ("auto", "on", "off")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
DATA_SOURCES = ("auto", "bundled", "download")

# Fields a running job accepts from its control file (control.json; playground/live.py applies them).
LIVE_FIELDS = ("lr_g", "lr_d", "d_steps", "g_steps")


class ConfigError(ValueError):
    """One or more invalid config values; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass
class TrainConfig:
    """Everything that decides what a run trains and how.

    Defaults are the DCGAN of Radford et al. (2015) on the bundled Fashion-MNIST subset.
    """

    # what this run is
    name: str = ""
    preset: str = ""
    # data
    dataset: str = "fashion-mnist"
    data_dir: str = ""              # npz file/folder, torchvision root, image folder or .zip
    data_source: str = "auto"       # auto: cached torchvision copy, else the bundled subset
    image_size: int = 0             # 0 = the dataset's own (28 MNIST, 32 CIFAR-10, 64 folders); or 128
    channels: int = 0               # 0 = the dataset's own; 1 grey, 3 colour
    max_images: int = 0             # 0 = all; otherwise a class-balanced random subset
    # model
    family: str = "gan"             # how a training step updates the networks (registry.FAMILIES)
    arch: str = "dcgan"
    objective: str = "bce"
    conditional: bool = False
    z_dim: int = 100
    g_hidden: tuple = (256, 512, 1024)
    d_hidden: tuple = (1024, 512, 256)
    g_filters: int = 64
    d_filters: int = 64
    kernel_size: int = 4
    upsample: str = "convtranspose"
    batchnorm: bool = True
    minibatch_std: bool = False
    dropout: float = 0.0
    embed_dim: int = 50
    g_activation: str = "auto"      # G's hidden activation: auto (the architecture's own), relu, leakyrelu
    g_dropout: float = 0.0          # dropout in G's hidden layers
    d_downsample: str = "stride"    # dcgan/fccgan D: stride-2 conv, or conv + average pooling ("avgpool")
    minibatch_disc: int = 0         # minibatch discrimination in D (Salimans et al. 2016): kernels, 0 = off
    minibatch_disc_dim: int = 5     # the size of each minibatch-discrimination kernel
    # optimisation
    epochs: int = 25
    batch_size: int = 128
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0
    d_steps: int = 1                # D updates per G update (the critic steps of WGAN-GP)
    g_steps: int = 1                # G updates in a row each time G trains: above 1, G learns more often than D
    gp_weight: float = 10.0
    # stabilising tricks
    label_smoothing: float = 0.0    # one-sided: real target = 1 - label_smoothing
    instance_noise: float = 0.0     # std of Gaussian noise on D's inputs at the start
    instance_noise_epochs: int = 0  # anneal to 0 over this many epochs (0 = the whole run)
    replay: float = 0.0             # share of D's fake batch drawn from older fakes
    replay_size: int = 2048         # number of old fakes kept
    mode_seeking: float = 0.0       # weight of the mode-seeking term in G's loss (Mao et al. 2019)
    # AC-GAN (family "acgan")
    aux_weight: float = 1.0         # weight of the class loss in both networks' losses
    aux_fakes: bool = True          # D's classifier also learns the class of generated images (the paper)
    # InfoGAN (family "infogan")
    info_categories: int = 10       # values of the categorical code (0 = none)
    info_continuous: int = 2        # continuous codes, uniform in [-1, 1]
    info_weight: float = 1.0        # weight of the mutual-information term
    # semi-supervised GAN (family "sgan")
    labelled: int = 100             # sgan: how many training images keep their label (class-balanced)
    # execution
    seed: int = 0
    device: str = "auto"
    # speed modes (README "Speed"; playground/speed.py resolves them per device)
    threads: int = 0                # CPU threads for torch (0 = auto: all physical cores, shared among job slots)
    precision: str = "auto"         # auto: bf16 autocast on CUDA, fp32 elsewhere
    channels_last: bool = True      # NHWC convolutions (DCGAN) on CUDA and the CPU
    fused_adam: bool = True         # Adam as one fused kernel per step
    joint_d_batch: str = "auto"     # D on real+fake as one batch (auto: where exactly equivalent, GPU)
    compile: bool = False           # torch.compile the models
    compile_mode: str = "reduce-overhead"  # torch.compile mode; reduce-overhead = CUDA graphs on CUDA
    # what gets written
    log_every: int = 20             # steps between metric lines (and host syncs)
    sample_count: int = 64          # images in the fixed-noise grid (unconditional runs)
    sample_seed: int = 1234         # seed of the fixed noise: equal across runs with equal z_dim
    snapshot_schedule: str = "1:10,5:50,10"
    keep_checkpoints: int = 2
    quality_samples: int = 2000     # generated samples scored after each epoch (0 = no quality figure)

    # ------------------------------------------------------------------ helpers
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["g_hidden"] = list(self.g_hidden)
        d["d_hidden"] = list(self.d_hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict, *, strict: bool = True) -> "TrainConfig":
        """Build from a dict (config.json, a form). Unknown keys are an error when ``strict``."""
        if not isinstance(d, dict):
            raise ConfigError({"config": "must be a JSON object"})
        known = {f.name: f for f in fields(cls)}
        errors = {k: "is not a known setting" for k in d if k not in known} if strict else {}
        kwargs = {}
        for k, v in d.items():
            if k not in known:
                continue
            try:
                kwargs[k] = _coerce(k, known[k], v)
            except (TypeError, ValueError, OverflowError) as e:
                errors[k] = e.args[0] if e.args and isinstance(e.args[0], str) else str(e)
        if errors:
            raise ConfigError(errors)
        return cls(**kwargs)

    def replace(self, **changes) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **changes})

    @property
    def is_toy(self) -> bool:
        return self.dataset in TOY_NAMES

    def validate(self) -> "TrainConfig":
        """Raise ConfigError naming every bad field and its allowed range; return self."""
        errors = validation_errors(self)
        if errors:
            raise ConfigError(errors)
        return self


def _coerce(name: str, f: dataclasses.Field, v):
    """Convert JSON/CLI values to the field's type, with a message that names what was expected."""
    default = f.default if f.default is not dataclasses.MISSING else None
    if isinstance(default, bool):
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            return v.lower() in ("true", "1", "yes", "on")
        if isinstance(v, int) and v in (0, 1):
            return bool(v)
        raise ValueError(msg("must be true or false, got {value}", value=_short(v)))
    if isinstance(default, int):
        if isinstance(v, bool):
            raise ValueError(msg("must be a whole number, got {value}", value=_short(v)))
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, int):
            return v
        if isinstance(v, str):
            try:
                return int(v.strip())
            except ValueError:
                pass
        raise ValueError(msg("must be a whole number, got {value}", value=_short(v)))
    if isinstance(default, float):
        if isinstance(v, bool):
            raise ValueError(msg("must be a number, got {value}", value=repr(v)))
        try:
            return float(v)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(msg("must be a number, got {value}", value=_short(v))) from None
    if isinstance(default, tuple):
        if isinstance(v, str):
            v = [p for p in v.replace(",", " ").split() if p]
        if not isinstance(v, (list, tuple)):
            raise ValueError(msg("must be a list of layer sizes such as 256,512,1024, got {value}", value=_short(v)))
        try:
            return tuple(int(x) for x in v)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(msg("must be a list of whole numbers such as 256,512,1024, got {value}", value=_short(v))) from None
    if isinstance(default, str):
        if not isinstance(v, str):
            raise ValueError(msg("must be text, got {value}", value=_short(v)))
        return v
    return v


def _short(v) -> str:
    """repr of a value for a message, cut short (an edited file can hold anything)."""
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _num(x) -> str:
    """A bound as a person writes it: 2147483647, not 2.14748e+09; 0.0001, not 0.000100000."""
    return str(x) if isinstance(x, int) else f"{x:g}"


def _range(errors, name, value, lo, hi, *, lo_open=False, what="a number"):
    bad = not math.isfinite(value) if isinstance(value, float) else False
    if not bad:
        bad = value <= lo if lo_open else value < lo
        bad = bad or value > hi
    if bad:
        whole = what == "a whole number"
        if lo_open:
            text = (N_("must be a whole number greater than {lo} and at most {hi}, got {value}") if whole
                    else N_("must be a number greater than {lo} and at most {hi}, got {value}"))
        else:
            text = (N_("must be a whole number at least {lo} and at most {hi}, got {value}") if whole
                    else N_("must be a number at least {lo} and at most {hi}, got {value}"))
        errors[name] = msg(text, lo=_num(lo), hi=_num(hi), value=_short(value))


def _choice(errors, name, value, allowed):
    if value not in allowed:
        errors[name] = msg("must be one of {allowed}; got {value}", allowed=", ".join(allowed), value=repr(value))


def validation_errors(c: TrainConfig) -> dict[str, str]:
    """Every problem with ``c`` as {field: message}; empty when the config is valid."""
    e: dict[str, str] = {}
    _choice(e, "dataset", c.dataset, DATASET_NAMES)
    _choice(e, "data_source", c.data_source, DATA_SOURCES)
    _choice(e, "family", c.family, FAMILY_NAMES)
    _choice(e, "arch", c.arch, ARCH_NAMES)
    _choice(e, "objective", c.objective, OBJECTIVE_NAMES)
    _choice(e, "upsample", c.upsample, UPSAMPLES)
    _choice(e, "d_downsample", c.d_downsample, D_DOWNSAMPLES)
    _choice(e, "g_activation", c.g_activation, G_ACTIVATIONS)
    _choice(e, "precision", c.precision, PRECISIONS)
    _choice(e, "joint_d_batch", c.joint_d_batch, JOINT_D_BATCH)
    _choice(e, "compile_mode", c.compile_mode, COMPILE_MODES)
    if not (c.device in DEVICE_CHOICES or re.fullmatch(r"cuda:[0-9]{1,2}", c.device)):
        e["device"] = msg("must be one of {allowed} or cuda:N; got {value}", allowed=", ".join(DEVICE_CHOICES),
                          value=_short(c.device))
    if c.image_size not in (0, *IMAGE_SIZES):
        e["image_size"] = msg("must be 28, 32, 64 or 128 pixels (or 0 for the dataset's own); got {value}",
                              value=c.image_size)
    if c.channels not in (0, *IMAGE_CHANNELS):
        e["channels"] = msg("must be 1 (grey) or 3 (colour), or 0 for the dataset's own; got {value}",
                            value=c.channels)
    _range(e, "max_images", c.max_images, 0, 10_000_000, what="a whole number")
    if c.dataset == "folder" and not c.data_dir:
        e["data_dir"] = msg("a folder or .zip of images is needed for the 'folder' dataset")
    if c.dataset in TOY_NAMES and c.arch in ARCHITECTURES and not ARCHITECTURES[c.arch].points:
        e["arch"] = msg("{arch} needs images; 2D toy data trains with the 'toy' (or 'mlp') architecture", arch=c.arch)
    if c.dataset not in TOY_NAMES and c.arch == "toy":
        e["arch"] = msg("the 'toy' architecture is for the 2D toy datasets; use mlp or dcgan for images")
    fam = FAMILIES.get(c.family)
    if fam is not None:
        if c.dataset in TOY_NAMES and not fam.points:
            e["family"] = msg("{family} trains on images; choose an image dataset, or the gan family for "
                              "2D toys", family=c.family)
        if fam.needs_labels and c.dataset == "spiral":
            e["family"] = msg("{family} trains on class labels, and this dataset has none", family=c.family)
        if c.conditional and not fam.conditional:
            e["conditional"] = msg("{family} decides itself what G is given besides noise; turn "
                                   "conditional off", family=c.family)
        if fam.objectives and c.objective not in fam.objectives:
            e["objective"] = msg("{family} trains with {allowed}; got {value}", family=c.family,
                                 allowed=", ".join(fam.objectives), value=repr(c.objective))
        tricks = ("label_smoothing", "instance_noise", "replay", "mode_seeking")
        for name in tricks:
            if name not in fam.tricks and getattr(c, name) != getattr(_DEFAULTS, name):
                e[name] = msg("{family} does not use this trick; set it to 0", family=c.family)
    _range(e, "aux_weight", c.aux_weight, 0.0, 100.0)
    _range(e, "info_categories", c.info_categories, 0, 100, what="a whole number")
    _range(e, "info_continuous", c.info_continuous, 0, 10, what="a whole number")
    _range(e, "info_weight", c.info_weight, 0.0, 100.0)
    if c.family == "infogan" and c.info_categories == 0 and c.info_continuous == 0:
        e["info_categories"] = msg("InfoGAN needs at least one code: a categorical code of 2 or more "
                                   "values, or a continuous code")
    if c.family == "infogan" and c.info_categories == 1:
        e["info_categories"] = msg("a categorical code needs at least 2 values (or 0 for none)")
    if c.dataset == "spiral" and c.conditional:
        e["conditional"] = msg("the spiral has no classes to condition on; choose ring, grid or moons")
    for name in ("z_dim", "g_filters", "d_filters", "embed_dim", "dropout", "g_dropout", "minibatch_disc",
                 "minibatch_disc_dim"):
        lo, hi = MODEL_RANGES[name]
        _range(e, name, getattr(c, name), lo, hi, what="a whole number" if isinstance(lo, int) else "a number")
    (few, many), (small, large) = HIDDEN_LAYERS, HIDDEN_SIZE
    for name in ("g_hidden", "d_hidden"):
        sizes = getattr(c, name)
        if not few <= len(sizes) <= many or any(s < small or s > large for s in sizes):
            e[name] = msg("must list {few} to {many} layer sizes, each {small} to {large}; got {value}",
                          few=few, many=many, small=small, large=large, value=str(list(sizes)))
    if c.kernel_size not in KERNEL_SIZES:
        e["kernel_size"] = msg("must be 4 or 5; got {value}", value=c.kernel_size)
    _range(e, "epochs", c.epochs, 1, 10_000, what="a whole number")
    _range(e, "batch_size", c.batch_size, 1, 65_536, what="a whole number")
    _range(e, "lr_g", c.lr_g, 0.0, 1.0, lo_open=True)
    _range(e, "lr_d", c.lr_d, 0.0, 1.0, lo_open=True)
    _range(e, "beta1", c.beta1, 0.0, 0.999)
    _range(e, "beta2", c.beta2, 0.0, 0.99999)
    _range(e, "weight_decay", c.weight_decay, 0.0, 1.0)
    _range(e, "d_steps", c.d_steps, 1, 100, what="a whole number")
    _range(e, "g_steps", c.g_steps, 1, 100, what="a whole number")
    _range(e, "gp_weight", c.gp_weight, 0.0, 1000.0)
    if c.label_smoothing != 0.0:
        _range(e, "label_smoothing", c.label_smoothing, 0.0, 0.5)
    _range(e, "instance_noise", c.instance_noise, 0.0, 5.0)
    _range(e, "instance_noise_epochs", c.instance_noise_epochs, 0, 10_000, what="a whole number")
    _range(e, "replay", c.replay, 0.0, 0.9)
    _range(e, "replay_size", c.replay_size, 1, 1_000_000, what="a whole number")
    _range(e, "mode_seeking", c.mode_seeking, 0.0, 10.0)
    _range(e, "labelled", c.labelled, 1, 1_000_000, what="a whole number")
    _range(e, "seed", c.seed, 0, 2**31 - 1, what="a whole number")
    _range(e, "threads", c.threads, 0, 512, what="a whole number")
    _range(e, "log_every", c.log_every, 1, 100_000, what="a whole number")
    _range(e, "sample_count", c.sample_count, 1, 256, what="a whole number")
    _range(e, "sample_seed", c.sample_seed, 0, 2**31 - 1, what="a whole number")
    _range(e, "keep_checkpoints", c.keep_checkpoints, 1, 100, what="a whole number")
    _range(e, "quality_samples", c.quality_samples, 0, 20_000, what="a whole number")
    if 0 < c.quality_samples < 100:
        e["quality_samples"] = msg("must be 0 (off) or at least 100: fewer samples give a quality figure too "
                                   "noisy to compare epochs; got {value}", value=c.quality_samples)
    try:
        parse_schedule(c.snapshot_schedule)
    except ValueError as err:
        e["snapshot_schedule"] = err.args[0] if err.args and isinstance(err.args[0], str) else str(err)
    if len(c.name) > 100:
        e["name"] = msg("must be at most 100 characters")
    return e


_DEFAULTS = TrainConfig()


def parse_schedule(text: str) -> list[tuple[int, int]]:
    """Parse a generator snapshot schedule such as ``"1:10,5:50,10"``.

    Each ``every:until`` part saves a snapshot every ``every`` epochs up to epoch ``until``; a last
    bare ``every`` applies after that. ``"1:10,5:50,10"`` saves epochs 1-10, 15, 20, …, 50, 60, 70, ….
    Returns [(every, until)], with until = 0 for the open-ended last part.
    """
    msg_ = msg("must look like '1:10,5:50,10' (every epoch up to 10, every 5th up to 50, then every 10th); "
               "got {value}", value=repr(text))
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise ValueError(msg_)
    out = []
    last_until = 0
    for i, p in enumerate(parts):
        try:
            if ":" in p:
                every, until = (int(s) for s in p.split(":", 1))
            else:
                every, until = int(p), 0
        except ValueError:
            raise ValueError(msg_) from None
        if every < 1 or (until and until <= last_until) or (until == 0 and i != len(parts) - 1):
            raise ValueError(msg_)
        out.append((every, until))
        last_until = until
    return out


def is_snapshot_epoch(schedule: str, epoch: int, final_epoch: int) -> bool:
    """Whether the schedule keeps a generator snapshot at ``epoch`` (the last epoch always)."""
    if epoch == final_epoch:
        return True
    start = 0
    for every, until in parse_schedule(schedule):
        if until == 0 or epoch <= until:
            return (epoch - start) % every == 0
        start = until
    return False


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=False, allow_nan=False)


def field_help() -> dict[str, str]:
    """One line per field for the CLI's --help and the dashboard's tooltips."""
    return dict(_HELP)


_HELP = {
    "name": N_("a name for the run shown in the dashboard"),
    "preset": N_("the preset this run started from"),
    "dataset": N_("mnist, fashion-mnist, cifar10, folder (your images), or a 2D toy: ring, grid, spiral, moons"),
    "data_dir": N_("an .npz file or folder, a torchvision data root, or a folder/.zip of your images"),
    "data_source": N_("auto (cached full data, else the bundled subset), bundled, or download (torchvision)"),
    "image_size": N_("28, 32, 64 or 128 pixels (0 = the dataset's own); 128 suits DCGAN or FCC-GAN on your own "
                     "images"),
    "channels": N_("1 for grey, 3 for colour (0 = the dataset's own)"),
    "max_images": N_("train on a class-balanced random subset of this many images (0 = all)"),
    "family": N_("how each training step updates the networks: gan (unconditional or conditional GAN), "
                 "acgan (auxiliary classifier GAN), infogan (codes learned without labels), sgan "
                 "(semi-supervised GAN), bigan (BiGAN / ALI, with an encoder)"),
    "arch": N_("mlp (fully connected GAN, Goodfellow 2014), dcgan (Radford 2015), fccgan (DCGAN with dense "
               "layers before G's and after D's convolutions, Barua 2019), toy (small MLP for 2D data)"),
    "objective": N_("bce (non-saturating), minimax (original), lsgan, hinge, wgan-gp"),
    "conditional": N_("feed class labels to G and D so you can ask for a class"),
    "z_dim": N_("size of the random noise vector z the generator starts from"),
    "g_hidden": N_("mlp/toy generator layer sizes, e.g. 256,512,1024; fccgan: the dense layers before G's "
                   "convolutions, e.g. 64,512"),
    "d_hidden": N_("mlp/toy discriminator layer sizes, e.g. 1024,512,256; fccgan: the dense layers after D's "
                   "convolutions, e.g. 256,128"),
    "g_filters": N_("dcgan/fccgan: filters in the generator's last hidden layer"),
    "d_filters": N_("dcgan/fccgan: filters in the discriminator's first layer"),
    "kernel_size": N_("dcgan/fccgan: convolution kernel size, 4 or 5"),
    "upsample": N_("dcgan/fccgan: convtranspose, or nearest (upsample + conv, avoids checkerboard artefacts)"),
    "batchnorm": N_("dcgan/fccgan: BatchNorm layers (never on G's output or D's input; off in the WGAN-GP "
                    "critic)"),
    "minibatch_std": N_("let D see the spread of the batch (helps against mode collapse)"),
    "dropout": N_("dropout in the discriminator (0 to 0.9)"),
    "embed_dim": N_("size of the label embedding for conditional models"),
    "g_activation": N_("the generator's hidden activation: relu, leakyrelu, or auto (the architecture's own: "
                       "ReLU in DCGAN and FCC-GAN, LeakyReLU in the MLP)"),
    "g_dropout": N_("dropout in the generator's hidden layers (0 to 0.9): G draws with some of its units "
                    "switched off at random"),
    "d_downsample": N_("dcgan/fccgan: how D halves its images: stride (a stride-2 conv) or avgpool (a conv, "
                       "then average pooling; against checkerboard artefacts)"),
    "minibatch_disc": N_("minibatch discrimination (Salimans 2016): D compares each image with the rest of "
                         "the batch through this many learned kernels, so a batch of near-copies gives itself "
                         "away (0 = off; e.g. 32)"),
    "minibatch_disc_dim": N_("the size of each minibatch-discrimination kernel (e.g. 5)"),
    "epochs": N_("passes over the training data"),
    "batch_size": N_("images per step"),
    "lr_g": N_("generator learning rate (Adam)"),
    "lr_d": N_("discriminator learning rate (Adam)"),
    "beta1": N_("Adam beta1 (0.5 in DCGAN)"),
    "beta2": N_("Adam beta2"),
    "weight_decay": N_("L2 weight decay for both optimizers"),
    "d_steps": N_("discriminator updates per generator update (5 for WGAN-GP)"),
    "g_steps": N_("generator updates each time G trains (2: G learns twice as often as D), each on fresh "
                  "noise"),
    "gp_weight": N_("WGAN-GP gradient penalty weight"),
    "label_smoothing": N_("one-sided label smoothing: real images are labelled 1 - this (e.g. 0.1)"),
    "instance_noise": N_("Gaussian noise std added to D's inputs, annealed to 0"),
    "instance_noise_epochs": N_("epochs over which the instance noise fades (0 = the whole run)"),
    "replay": N_("share of D's fake batch drawn from older generator samples (experience replay)"),
    "replay_size": N_("how many older fakes the replay buffer keeps"),
    "aux_weight": N_("AC-GAN: weight of the class loss in D's and G's losses (1 in the paper)"),
    "aux_fakes": N_("AC-GAN: D's classifier also learns to name the class of generated images, as in the paper. "
                    "Off: it learns from real images alone, so G cannot agree with D on a class its "
                    "images do not show"),
    "info_categories": N_("InfoGAN: values of the categorical code (0 = none)"),
    "info_continuous": N_("InfoGAN: continuous codes, each uniform between -1 and 1"),
    "info_weight": N_("InfoGAN: weight of the information term (how much G and Q are rewarded for codes "
                      "Q can read back)"),
    "mode_seeking": N_("mode seeking (Mao et al. 2019): rewards G when two noise vectors of the same class give "
                       "different images; against every image of a class looking alike (e.g. 1)"),
    "labelled": N_("semi-supervised GAN: how many training images keep their label (class-balanced, "
                   "drawn with the seed); the others are used without labels"),
    "seed": N_("random seed (same seed, same first sample grid on the CPU)"),
    "device": N_("auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps"),
    "threads": N_("CPU threads for training (0 = auto: all physical cores, shared among runs training at once)"),
    "precision": N_("auto (bf16 autocast on CUDA, fp32 elsewhere), fp32 or bf16; 2D toys always train in fp32"),
    "channels_last": N_("channels-last (NHWC) memory layout for DCGAN's convolutions on CUDA and the CPU"),
    "fused_adam": N_("Adam as one fused kernel per step (off: PyTorch's for-each Adam)"),
    "joint_d_batch": N_("D on real and fake images as one batch: auto (where exactly equivalent: no "
                     "BatchNorm or minibatch-std in D; on GPUs), on (always; with BatchNorm D then "
                     "normalises real and fake together), off"),
    "compile": N_("torch.compile the models (slower start; on the CPU measured no faster)"),
    "compile_mode": N_("torch.compile mode: default, reduce-overhead (CUDA graphs on CUDA) or max-autotune "
                    "(times alternative kernels before training; CUDA graphs on CUDA too)"),
    "log_every": N_("steps between logged metric lines"),
    "sample_count": N_("images in the fixed-noise grid"),
    "sample_seed": N_("seed of the fixed noise shared by runs with the same z_dim"),
    "snapshot_schedule": N_("when to keep generator snapshots: '1:10,5:50,10'"),
    "keep_checkpoints": N_("how many full training checkpoints to keep for resume"),
    "quality_samples": N_("generated samples scored by the quality figure after each epoch (0 = off)"),
}
