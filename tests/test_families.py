"""The training step of a GAN family, through its public interface (playground/families/)."""

import pytest
import torch

from playground import registry
from playground.data import load_dataset
from playground.families import Batch, GanStep, build_step, step_class
from playground.families.gan import GanFamily, mode_seeking_term
from playground.runs import Run
from playground.speed import resolve
from playground.training import Hooks, Trainer, model_spec


def _step(cfg):
    data = load_dataset(cfg.dataset, max_images=cfg.max_images, seed=0, source="bundled",
                        device=torch.device("cpu"))
    spec = model_spec(cfg, data.info)
    torch.manual_seed(0)
    step = build_step(cfg, spec, resolve(cfg, spec, torch.device("cpu")), torch.device("cpu"), 4)
    return step, data


def test_every_family_of_the_registry_has_a_step():
    for name in registry.FAMILIES:
        assert issubclass(step_class(name), GanStep)
    with pytest.raises(ValueError, match="family must be one of"):
        step_class("no-such-family")


def test_gan_step_returns_named_statistics_and_updates_both_networks(tiny_cfg):
    step, data = _step(tiny_cfg(conditional=True))
    assert isinstance(step, GanFamily) and set(step.modules) == {"G", "D"}
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in step.modules.items()}
    batch = Batch(data.x[:8].float().div(127.5).sub(1), data.y[:8], epoch=1, index=0, measure=True)
    d = step.d_step(batch)
    g = step.g_step(batch)
    step.end_step()
    assert set(d) == set(step.D_STATS) | {"grad_norm_d"} and set(g) == set(step.G_STATS) | {"grad_norm_g"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in {**d, **g}.values())
    for k, m in step.modules.items():   # a real optimizer step moved every network
        assert any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters())), k
    sums = {k: float(v) for k, v in {**d, **g}.items()}
    out = step.summarize(sums, d_updates=1, g_updates=1)
    assert out["loss_d"] == pytest.approx(sums["loss_d"]) and out["loss_g"] == pytest.approx(sums["loss_g"])
    assert step.summarize(sums, 1, 0)["loss_g"] is None          # no G update in the window


def test_critic_objectives_report_no_probabilities(tiny_cfg):
    step, _ = _step(tiny_cfg(objective="hinge"))
    assert not step.has_probabilities
    assert step.summarize({k: 1.0 for k in step.D_STATS + step.G_STATS}, 1, 1)["d_real"] is None


def test_mode_seeking_term_is_the_inverse_ratio_of_image_to_noise_distance():
    fake = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, 0.0], [1.0, 2.0]])   # pairs (0, 2) and (1, 3)
    z = torch.tensor([[0.0], [0.0], [2.0], [4.0]])
    ratios = torch.tensor([0.25 / 2.0, 0.5 / 4.0])                           # mean |dx| / mean |dz|
    assert mode_seeking_term(fake, z).item() == pytest.approx(1.0 / (ratios.mean().item() + 1e-5))


def test_mode_seeking_pairs_share_a_label_and_raise_g_loss(tiny_cfg):
    plain, data = _step(tiny_cfg(conditional=True))
    seeking, _ = _step(tiny_cfg(conditional=True, mode_seeking=1.0))
    x, y = data.x[:8].float().div(127.5).sub(1), data.y[:8]
    for step in (plain, seeking):
        torch.manual_seed(1)
        step.d_step(Batch(x, y, 1, 0, False))
    labels = seeking._y_fake
    assert torch.equal(labels[:4], labels[4:]) and torch.equal(labels[:4], y[:4])
    assert torch.equal(plain._y_fake, y)        # off: the fakes take the real batch's labels
    plain_stats = plain.g_step(Batch(x, y, 1, 0, False))
    seek_stats = seeking.g_step(Batch(x, y, 1, 0, False))
    assert "mode_seeking" not in plain_stats and plain.G_STATS == ("loss_g",)
    assert seeking.G_STATS == ("loss_g", "mode_seeking") and seek_stats["mode_seeking"] > 0
    fake, z = seeking._fake, seeking._z     # the reported term is the one of this step's fakes
    assert seek_stats["mode_seeking"].item() == pytest.approx(mode_seeking_term(fake.float(), z).item(), rel=1e-5)


def test_trainer_runs_a_family_through_the_public_epoch_interface(tmp_path, tiny_cfg):
    """What the benchmark times: train_epoch() alone writes step lines and no end-of-epoch outputs."""
    cfg = tiny_cfg(epochs=2, conditional=True, mode_seeking=0.5)
    data = load_dataset(cfg.dataset, max_images=cfg.max_images, seed=0, source="bundled",
                        device=torch.device("cpu"))
    run = Run(tmp_path / "r")
    run.create(cfg)
    t = Trainer(run, cfg, data, torch.device("cpu"), Hooks())
    stats = t.train_epoch(1)
    assert stats.images_per_s > 0 and set(stats.values) == set(t.step_impl.D_STATS + t.step_impl.G_STATS)
    assert stats.values["mode_seeking"] > 0
    assert run.sample_epochs() == [] and run.train_checkpoint_stems() == []
    t.finish_epoch(1, stats)
    assert run.sample_epochs() == [1] and len(run.train_checkpoint_stems()) == 1


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_a_family_may_widen_d_and_condition_g_alone(arch):
    """The model options families build on: D with class outputs on its shared body, a G-only
    condition (D is not told the label), and InfoGAN's continuous codes at the front of z."""
    from playground import sampling
    from playground.models import ModelSpec, build_models

    spec = ModelSpec(arch, z_dim=6, num_classes=3, d_outputs=4, d_labels=False, cont_codes=2,
                     label_role="code", g_hidden=(16,), d_hidden=(16,), g_filters=4, d_filters=4)
    torch.manual_seed(0)
    G, D = build_models(spec)
    assert D.num_classes == 0 and D.embed is None and G.num_classes == 3 and G.cont_codes == 2
    z = sampling.fixed_noise(6, 5, 7, cont_codes=2)
    assert z[:, :2].abs().max() <= 1 and torch.equal(z[:, 2:], sampling.fixed_noise(6, 5, 7)[:, 2:])
    x = G(z, torch.tensor([0, 1, 2, 0, 1]))
    h = D.body(x)
    out = D(x, torch.tensor([0, 1, 2, 0, 1]))          # labels are ignored by an unconditioned D
    assert out.shape == (5, 4) and torch.equal(out, D.logits(h))
    assert h.flatten(1).shape[1] == D.feature_dim
    with pytest.raises(ValueError, match="label_role"):
        ModelSpec(arch, label_role="colour").validate()
    with pytest.raises(ValueError, match="cont_codes"):
        ModelSpec(arch, z_dim=2, cont_codes=3).validate()


def test_config_refuses_a_family_where_it_cannot_train(tiny_cfg, monkeypatch):
    from playground.config import ConfigError, TrainConfig

    fam = registry.Family("only-images", "x", "gan", points=False, conditional=False, objectives=("bce",))
    monkeypatch.setitem(registry.FAMILIES, fam.name, fam)
    monkeypatch.setattr("playground.config.FAMILY_NAMES", tuple(registry.FAMILIES))
    with pytest.raises(ConfigError) as e:
        TrainConfig(dataset="ring", arch="toy", family="only-images", conditional=True, objective="hinge").validate()
    assert set(e.value.errors) >= {"family", "conditional", "objective"}
    TrainConfig(dataset="mnist", family="only-images").validate()
