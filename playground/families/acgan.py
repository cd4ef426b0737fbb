"""AC-GAN (Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs").

G draws an image of the class it is asked for, G(z, c); D is NOT told the class: it sees the image
alone and gives, from one shared body, the real-or-fake logit and K class logits (D's output is
[N, 1 + K]). Both networks train on the class:

    L_D = adversarial_D(real, fake) + aux_weight * (CE(class logits(real), y) + CE(class logits(fake), c))
    L_G = adversarial_G(fake)       + aux_weight *  CE(class logits(fake), c)

(the paper's D maximises L_S + L_C and G maximises L_C − L_S; with the non-saturating BCE
objective that is the pair above). With ``aux_fakes`` off, D's class loss keeps its real term
alone: D's classifier then cannot learn to name a generated image's class from traces G leaves
for it, so G's class loss can only be lowered by images that look like the class. The classes G is asked for are drawn uniformly at random each
step. ``loss_d``/``loss_g`` stay the adversarial parts, comparable with any other run; the class
loss is reported as ``class_loss`` (D's, mean of the real and fake terms) and ``class_loss_g``,
and the auxiliary classifier's accuracy as ``acc_real`` (on the real batch, against the data's
labels) and ``acc_fake`` (on the fakes, against the class G was asked for).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Batch
from .heads import HeadStep


class ACGanStep(HeadStep):
    D_STATS = HeadStep.ADV_STATS + ("class_loss", "acc_real", "acc_fake")
    G_STATS = ("loss_g", "class_loss_g")
    LOSSES = ("loss_d", "loss_g", "class_loss")

    @classmethod
    def adapt_spec(cls, spec, cfg, info):
        if not info.num_classes:
            raise ValueError("AC-GAN trains on class labels, and this dataset has none (put images in one "
                             "subfolder per class, or choose another family)")
        return dataclasses.replace(spec, num_classes=info.num_classes, d_outputs=1 + info.num_classes,
                                   d_labels=False, label_role="class")

    def __init__(self, cfg, spec, plan, device, steps_per_epoch: int):
        super().__init__(cfg, spec, plan, device, steps_per_epoch)
        self.num_classes = spec.num_classes
        self.finish_building()

    @property
    def wants_labels(self) -> bool:
        return True

    def draw_inputs(self, batch: Batch):
        B = batch.x.shape[0]
        z = torch.randn(B, self.spec.z_dim, device=self.device)
        c = torch.randint(0, self.num_classes, (B,), device=self.device)
        return z, c

    def d_losses(self, out_real: Tensor, out_fake: Tensor, h_fake: Tensor, batch: Batch):
        if batch.y is None:
            raise ValueError("AC-GAN needs the data's class labels in every batch")
        cls_real, cls_fake = out_real[:, 1:], out_fake[:, 1:]
        loss_real = F.cross_entropy(cls_real, batch.y)
        loss_fake = F.cross_entropy(cls_fake, self._y_fake)
        with torch.no_grad():
            stats = {"class_loss": 0.5 * (loss_real + loss_fake).detach(),
                     "acc_real": (cls_real.argmax(1) == batch.y).float().mean(),
                     "acc_fake": (cls_fake.argmax(1) == self._y_fake).float().mean()}
        loss = loss_real + loss_fake if self.cfg.aux_fakes else loss_real
        return self.cfg.aux_weight * loss, stats

    def g_losses(self, out_fake: Tensor, h_fake: Tensor):
        loss = F.cross_entropy(out_fake[:, 1:], self._y_fake)
        return self.cfg.aux_weight * loss, {"class_loss_g": loss.detach()}


STEP = ACGanStep
