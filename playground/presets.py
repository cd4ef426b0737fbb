"""Named combinations people know: a preset is a description plus config overrides.

A GAN variant is a combination of independent choices (architecture × objective × conditional ×
tricks), so presets are data, not code.
"""

from __future__ import annotations

from dataclasses import dataclass

from .i18n import N_
from .config import ConfigError, TrainConfig

_MLP = dict(arch="mlp", g_hidden=(256, 512, 1024), d_hidden=(1024, 512, 256), dropout=0.3)
_DCGAN = dict(arch="dcgan", g_filters=64, d_filters=64, kernel_size=4, batchnorm=True)
# FCC-GAN (Barua et al. 2019): G's dense layers 64 and 512 before its convs, D's 256 and 128 after them
# (playground/models/fccgan.py).
_FCC = dict(arch="fccgan", g_hidden=(64, 512), d_hidden=(256, 128), g_filters=64, d_filters=64, kernel_size=4,
            batchnorm=True, dropout=0.0)
_FACES = dict(dataset="folder", image_size=64, channels=3, lr_g=1e-4, lr_d=1e-4, dropout=0.3, epochs=50)
_ADAM = dict(lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, batch_size=128)
# Gulrajani et al. 2017: Adam(1e-4, 0, 0.9), 5 critic steps, penalty weight 10, no BatchNorm in D.
_WGAN = dict(objective="wgan-gp", lr_g=1e-4, lr_d=1e-4, beta1=0.0, beta2=0.9, d_steps=5, gp_weight=10.0)
_TOY = dict(arch="toy", g_hidden=(128, 128, 128), d_hidden=(128, 128, 128), z_dim=2, dropout=0.0,
            batch_size=256, log_every=10, sample_count=64, snapshot_schedule="1")


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    description: str
    overrides: dict

    def config(self, **more) -> TrainConfig:
        """The preset's config with ``more`` applied on top, validated."""
        base = TrainConfig().to_dict()
        base.update(self.overrides)
        base.update(more)
        base["preset"] = self.name
        return TrainConfig.from_dict(base).validate()


def _p(name, title, description, *bases: dict, **overrides) -> Preset:
    """A preset from shared building blocks (later ones win) and its own overrides."""
    merged: dict = {}
    for b in bases:
        merged.update(b)
    merged.update(overrides)
    return Preset(name, title, description, merged)


PRESETS: dict[str, Preset] = {p.name: p for p in [
    _p("classroom", N_("Classroom: DCGAN on Fashion-MNIST in minutes"),
       N_("A small DCGAN on the bundled Fashion-MNIST subset, sized so a 2-core laptop CPU shows "
       "recognisable clothes within a few minutes."),
       # Batch 32: twice the updates per image; on a 2-core CPU it reached the "recognisable"
       # quality sooner than batch 64 (benchmarks/README.md, "Time to something recognisable").
       _DCGAN, _ADAM, dataset="fashion-mnist", g_filters=32, d_filters=32, batch_size=32,
       epochs=8, z_dim=64, log_every=20),
    _p("gan-mnist", N_("GAN (MLP) on MNIST"),
       N_("The fully connected GAN of Goodfellow et al. (2014) with the non-saturating loss."),
       _MLP, _ADAM, dataset="mnist", epochs=50),
    _p("gan-fashion", N_("GAN (MLP) on Fashion-MNIST"),
       N_("The fully connected GAN of Goodfellow et al. (2014) on clothing images."),
       _MLP, _ADAM, dataset="fashion-mnist", epochs=50),
    _p("dcgan-mnist", N_("DCGAN on MNIST"),
       N_("The convolutional GAN of Radford et al. (2015) on handwritten digits."),
       _DCGAN, _ADAM, dataset="mnist", epochs=25),
    _p("dcgan-fashion", N_("DCGAN on Fashion-MNIST"),
       N_("The convolutional GAN of Radford et al. (2015) on clothing images."),
       _DCGAN, _ADAM, dataset="fashion-mnist", epochs=25),
    _p("cgan-mnist", N_("Conditional GAN on MNIST"),
       N_("Mirza and Osindero (2014): G and D see the digit label, so you can ask for a digit."),
       _MLP, _ADAM, dataset="mnist", conditional=True, epochs=50),
    _p("cdcgan-mnist", N_("Conditional DCGAN on MNIST, with mode seeking"),
       N_("A conditional convolutional GAN: ask for a digit. Mode seeking (Mao et al. 2019) keeps the "
          "digits of one class different from each other instead of one digit drawn again and again."),
       _DCGAN, _ADAM, dataset="mnist", conditional=True, g_filters=32, d_filters=32, batch_size=64,
       mode_seeking=1.0, epochs=30),
    _p("acgan-mnist", N_("AC-GAN on MNIST"),
       N_("Odena et al. (2017): ask G for a digit while D, never told the digit, judges real or fake "
          "and names the digit of every image. Watch the auxiliary classifier's accuracy on real and "
          "on generated digits."),
       # Mode seeking as in the conditional DCGAN preset: without it this small G drew one image per
       # class whatever the noise (4 epochs on 10,000 MNIST images: within-class diversity 0.08,
       # 0.5 with it). D's classifier learns from real images alone (aux_fakes off): with the paper's
       # class loss on generated images too, G and D agreed on classes the images did not show
       # (scripts/family_scores.py on 10,000 MNIST images: the asked digit drawn 52% of the time after
       # 15 epochs, 30% after 10 without mode seeking; real images only: 83% after 10 epochs, FD 28,
       # all 10 digits, within-class diversity 0.65).
       _DCGAN, _ADAM, dataset="mnist", family="acgan", g_filters=32, d_filters=32, batch_size=64,
       mode_seeking=1.0, aux_fakes=False, epochs=25),
    _p("acgan-fashion", N_("AC-GAN on Fashion-MNIST"),
       N_("The auxiliary classifier GAN on clothing: ask for a sandal, and D checks that it looks "
          "like one."),
       _DCGAN, _ADAM, dataset="fashion-mnist", family="acgan", g_filters=32, d_filters=32,
       batch_size=64, mode_seeking=1.0, epochs=25, aux_fakes=False),
    _p("infogan-mnist", N_("InfoGAN on MNIST"),
       N_("Chen et al. (2016): one categorical code of 10 values and two continuous codes, never "
          "given a label. As it trains, most values of the categorical code come to pick one digit "
          "(one row of the grid per code value), while the noise changes the handwriting: see the "
          "codes in the Latent explorer."),
       # The paper's MNIST settings: 62 noise values, Adam 1e-3 for G and 2e-4 for D, beta1 0.5.
       # Trials on 10,000 MNIST images (code purity: for each code value, the share of its samples
       # the project's classifier puts in one digit; scripts/family_scores.py):
       # - as in the paper alone, G ignored its noise: one image per code value from epoch 1;
       # - mode seeking 0.1-1 (Mao et al. 2019) brought the noise back, but Q then read the code
       #   from faint details and it no longer picked the digit (purity 0.19-0.39 after 4-5 epochs);
       # - instance noise on D's and Q's inputs (0.5, fading over the run) alone: purity 0.97 after
       #   25 epochs, but still one image per code value (FD 151);
       # - both, with a light mode seeking (0.03): purity 0.68 (7 digits have a code of their own),
       #   varied handwriting in every row, FD 31 after 25 epochs (DCGAN, 32 filters; seeds 1 and 2:
       #   0.69 and 0.68, 7 digits each);
       # - the same on the paper's own network, an FCC-GAN (G: 1,024 dense units, then 7x7x128 and two
       #   upsampling convolutions; D: convolutions of 64 and 128, then 1,024 dense units): purity
       #   0.66 and 0.77 for seeds 0 and 1 (8 and 9 digits with a code of their own), FD 20, but its
       #   generator is 6.5 million weights (13 MB a snapshot, 30 s an epoch on one thread), against
       #   the DCGAN's 0.4 million. The preset (and pretrained/infogan-mnist, seed 1) is the DCGAN;
       #   `--arch fccgan --g-hidden 1024 --d-hidden 1024 --g-filters 64 --d-filters 64` is the paper's.
       _DCGAN, _ADAM, dataset="mnist", family="infogan", g_filters=32, d_filters=32, batch_size=64,
       z_dim=62, info_categories=10, info_continuous=2, info_weight=1.0, lr_g=1e-3, lr_d=2e-4,
       instance_noise=0.5, mode_seeking=0.03, epochs=25),
    _p("cgan-fashion", N_("Conditional GAN on Fashion-MNIST"),
       N_("A conditional fully connected GAN: ask for trousers, get trousers."),
       _MLP, _ADAM, dataset="fashion-mnist", conditional=True, epochs=50),
    _p("wgan-gp-mnist", N_("WGAN-GP on MNIST"),
       N_("Wasserstein GAN with gradient penalty (Gulrajani et al. 2017) on a DCGAN-shaped critic."),
       _DCGAN, _WGAN, dataset="mnist", batch_size=64, epochs=25),
    _p("wgan-gp-fashion", N_("WGAN-GP on Fashion-MNIST"),
       N_("Wasserstein GAN with gradient penalty on clothing images: a critic score, not a probability."),
       _DCGAN, _WGAN, dataset="fashion-mnist", batch_size=64, epochs=25),
    _p("report1-gan-fashion", N_("Course report 1: GAN on Fashion-MNIST"),
       N_("The first course report's MLP GAN: Adam 2e-4, betas 0.5/0.999, weight decay 1e-5, batch "
       "128, BCE, 100 epochs. Compare with report1-dcgan-fashion."),
       _MLP, _ADAM, dataset="fashion-mnist", weight_decay=1e-5, epochs=100),
    _p("report1-dcgan-fashion", N_("Course report 1: DCGAN on Fashion-MNIST"),
       N_("The first course report's DCGAN with the same optimiser settings as its GAN, 100 epochs."),
       _DCGAN, _ADAM, dataset="fashion-mnist", weight_decay=1e-5, epochs=100),
    _p("dcgan-tutorial-64", N_("PyTorch DCGAN tutorial: 64×64 colour images"),
       N_("The PyTorch DCGAN tutorial setup for a folder of 64×64 images such as faces or cars: "
       "ngf = ndf = 64, Adam 2e-4, beta1 0.5, batch 128, 5 epochs."),
       _DCGAN, _ADAM, dataset="folder", image_size=64, channels=3, epochs=5),
    _p("mlp-faces", N_("MLP face GAN (last course report)"),
       N_("A fully connected GAN on 64×64 face images with lr 1e-4 and D dropout 0.3."),
       _MLP, _ADAM, _FACES),
    _p("mlp-faces-g-relu-dropout", N_("MLP face GAN with ReLU and dropout in G (faces report)"),
       N_("The MLP face GAN with its generator changed as in the faces report's experiment: ReLU instead "
          "of LeakyReLU in G's hidden layers, and dropout 0.3 in G as well as in D. Everything else is "
          "the MLP face GAN's, so comparing the two runs shows what these two choices do to the faces."),
       _MLP, _ADAM, _FACES, g_activation="relu", g_dropout=0.3),
    _p("mlp-faces-g-steps", N_("MLP face GAN with G trained twice per D step (faces report)"),
       N_("The faces report let D critique less often: here G makes two updates, each on fresh noise, "
          "for every update of D, so D cannot race ahead of G. Compare its loss chart with the MLP face "
          "GAN's; G steps per D step can also be changed while the run trains."),
       _MLP, _ADAM, _FACES, g_steps=2),
    _p("fccgan-cifar10", N_("FCC-GAN on CIFAR-10 (the course report's network)"),
       N_("FCC-GAN (Barua et al. 2019): a DCGAN with dense layers around its convolutions. G passes the "
          "noise through dense layers of 64 and 512 units before its first feature map; D judges through "
          "dense layers of 256 and 128 units after its last convolution. The paper reports that it learns "
          "faster and more steadily than DCGAN: compare its grids with a DCGAN on the same photos."),
       _FCC, _ADAM, dataset="cifar10", batch_size=64, epochs=30),
    _p("fccgan-cifar10-smooth", N_("FCC-GAN on CIFAR-10 without checkerboards (the course report's fix)"),
       N_("The same FCC-GAN, with G upsampling by nearest neighbour + convolution and D downsampling by "
          "convolution + average pooling instead of strided convolutions: the course report's fix for "
          "checkerboard artefacts. Look closely at the grids: the fine criss-cross pattern that strided "
          "convolutions can leave in the images should not appear."),
       _FCC, _ADAM, dataset="cifar10", batch_size=64, epochs=30, upsample="nearest", d_downsample="avgpool"),
    _p("dcgan-128-folder", N_("DCGAN 128×128 on your own images (e.g. flowers)"),
       N_("DCGAN grown by one layer on each side for 128×128 colour images, as the course report did with "
          "flowers: G starts from a 4×4 map of 1,024 channels. Each image is four times the work of 64×64, "
          "so a GPU helps; on a CPU, start with a few hundred images."),
       _DCGAN, _ADAM, dataset="folder", image_size=128, channels=3, batch_size=64, epochs=25),
    _p("dcgan-mnist-minibatch-disc", N_("DCGAN on MNIST with minibatch discrimination"),
       N_("Salimans et al. (2016): D compares each image with the rest of its batch through 32 learned "
          "kernels, so a generator that draws nearly the same digit again and again gives itself away. "
          "Watch the sample grid: the digits should stay varied, with every class present."),
       _DCGAN, _ADAM, dataset="mnist", g_filters=32, d_filters=32, batch_size=64, minibatch_disc=32,
       minibatch_disc_dim=5, epochs=20),
    _p("sgan-mnist", N_("Semi-supervised GAN, 100 labels"),
       N_("The semi-supervised GAN (Odena 2016; Salimans et al. 2016) on MNIST with only 100 of the "
          "labels (10 per digit): its discriminator is a digit classifier that also learns from the "
          "unlabelled images. The accuracy chart compares it with the same network trained on the "
          "100 labelled images alone."),
       _DCGAN, _ADAM, family="sgan", dataset="mnist", labelled=100, g_filters=32, d_filters=32,
       batch_size=64, dropout=0.3, epochs=15),
    _p("sgan-fashion", N_("Semi-supervised GAN, 100 labels, on Fashion-MNIST"),
       N_("The semi-supervised GAN on clothing images with 100 labels (10 per class), against the "
          "same network trained on those 100 labelled images alone."),
       _DCGAN, _ADAM, family="sgan", dataset="fashion-mnist", labelled=100, g_filters=32, d_filters=32,
       batch_size=64, dropout=0.3, epochs=15),
    _p("bigan-mnist", N_("BiGAN on MNIST"),
       N_("BiGAN / ALI (Donahue et al. 2016; Dumoulin et al. 2016): a DCGAN with an encoder that "
          "learns to map digits back to their noise. Find a real digit's code in the Latent explorer "
          "and see G redraw it."),
       _DCGAN, _ADAM, family="bigan", dataset="mnist", g_filters=32, d_filters=32, z_dim=50,
       batch_size=64, dropout=0.2, epochs=20),
    _p("ring-collapse", N_("Mode collapse on the 8-Gaussian ring"),
       N_("A generator that learns ten times faster than its discriminator, on a ring of 8 Gaussians: "
          "it gathers all its points in one small patch and hops from cluster to cluster instead of "
          "covering all eight."),
       # With the original minimax loss at 1e-3 the points spread along the whole ring and only the
       # cluster count dipped now and then; this mismatch collapses from the first epochs to the last.
       _TOY, dataset="ring", objective="bce", lr_g=2e-3, lr_d=2e-4, beta1=0.5, beta2=0.999,
       epochs=30),
    _p("ring-healthy", N_("Healthy: the 8-Gaussian ring with minibatch standard deviation"),
       N_("The non-saturating GAN at a gentler learning rate, with D seeing the spread of each batch "
       "(minibatch standard deviation): the generator settles on all eight modes."),
       _TOY, dataset="ring", objective="bce", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999,
       minibatch_std=True, epochs=40),
    _p("ring-wgan-gp", N_("WGAN-GP on the 8-Gaussian ring"),
       N_("The same ring with WGAN-GP. Its critic needs many more steps than a CPU run of a few "
       "minutes gives it: after 30 epochs the points still form a blurred ring between the modes."),
       _TOY, _WGAN, dataset="ring", lr_g=1e-3, lr_d=1e-3, beta1=0.5, epochs=30),
    _p("grid-gan", N_("25 Gaussians on a grid"),
       N_("A harder toy: 25 modes on a 5×5 grid with the non-saturating GAN."),
       _TOY, dataset="grid", lr_g=1e-3, lr_d=1e-3, epochs=30),
]}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError({"preset": f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}"}) from None
