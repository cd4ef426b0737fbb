import ast
from pathlib import Path

import pytest

from playground.config import ConfigError, TrainConfig, is_snapshot_epoch, parse_schedule
from playground.presets import PRESETS, get_preset


def test_defaults_are_valid_and_round_trip():
    c = TrainConfig().validate()
    assert TrainConfig.from_dict(c.to_dict()) == c


@pytest.mark.parametrize("field,value,needle", [
    ("lr_d", -0.001, "lr_d"), ("lr_g", 0.0, "greater than 0"), ("batch_size", 0, "at least 1"),
    ("epochs", 100_000, "at most"), ("image_size", 30, "28, 32, 64 or 128"), ("kernel_size", 3, "4 or 5"),
    ("objective", "wgan", "bce, minimax"), ("dropout", 1.5, "dropout"), ("beta1", 1.0, "beta1"),
    ("device", "tpu", "cuda:N"), ("label_smoothing", 0.7, "label_smoothing"),
    ("snapshot_schedule", "every 5", "1:10,5:50,10"), ("g_hidden", (), "layer sizes"),
    ("g_steps", 0, "at least 1 and at most 100"), ("g_steps", 1.5, "whole number"),
    ("g_activation", "sigmoid", "auto, relu, leakyrelu"), ("g_dropout", 0.95, "at most 0.9"),
    ("d_downsample", "maxpool", "stride, avgpool"), ("minibatch_disc", -3, "at least 0 and at most 512"),
    ("minibatch_disc_dim", 0, "at least 1 and at most 128"), ("image_size", 256, "128 pixels"),
])
def test_bad_values_name_the_field_and_range(field, value, needle):
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_dict({field: value}).validate()
    assert field in e.value.errors
    assert needle in str(e.value)


def test_type_errors_and_unknown_keys():
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_dict({"epochs": "many", "nonsense": 1})
    assert set(e.value.errors) == {"epochs", "nonsense"}
    assert TrainConfig.from_dict({"epochs": "3", "conditional": "true", "g_hidden": "8,16"}).epochs == 3
    assert TrainConfig.from_dict({"g_hidden": "8,16"}).g_hidden == (8, 16)


def test_combinations_are_checked():
    errs = TrainConfig.from_dict({"dataset": "ring", "arch": "dcgan"})
    with pytest.raises(ConfigError, match="arch"):
        errs.validate()
    with pytest.raises(ConfigError, match="data_dir"):
        TrainConfig.from_dict({"dataset": "folder"}).validate()
    with pytest.raises(ConfigError, match="conditional"):
        TrainConfig.from_dict({"dataset": "spiral", "arch": "toy", "conditional": True}).validate()


def test_snapshot_schedule():
    assert parse_schedule("1:10,5:50,10") == [(1, 10), (5, 50), (10, 0)]
    saved = [e for e in range(1, 101) if is_snapshot_epoch("1:10,5:50,10", e, 100)]
    for must in (1, 5, 10, 25, 50, 100):
        assert must in saved
    assert 11 not in saved and 12 not in saved and 15 in saved and 55 not in saved and 60 in saved
    assert is_snapshot_epoch("10", 7, 7)  # the last epoch always


def test_presets_are_valid_and_named_as_documented():
    for name in ("classroom", "gan-mnist", "dcgan-fashion", "cgan-mnist", "wgan-gp-fashion",
                 "report1-gan-fashion", "report1-dcgan-fashion", "dcgan-tutorial-64", "mlp-faces",
                 "ring-collapse"):
        assert name in PRESETS
    for p in PRESETS.values():
        over = {"data_dir": "/tmp/x"} if p.overrides.get("dataset") == "folder" else {}
        cfg = p.config(**over)
        assert cfg.preset == p.name
    r1 = get_preset("report1-dcgan-fashion").config()
    assert (r1.lr_g, r1.beta1, r1.beta2, r1.weight_decay, r1.batch_size, r1.objective) == \
        (2e-4, 0.5, 0.999, 1e-5, 128, "bce")
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("stylegan9")


def test_core_never_imports_streamlit():
    core = Path(__file__).resolve().parent.parent / "playground"
    offenders = []
    for path in core.rglob("*.py"):
        if "ui" in path.relative_to(core).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
                if node.level and (node.module or "").startswith("ui"):
                    names.append("streamlit (via ui)")
            if any(n.split(".")[0] == "streamlit" or "ui" == n.split(".")[0] and node.__class__ is ast.ImportFrom
                   and getattr(node, "level", 0) for n in names):
                offenders.append(str(path))
    assert offenders == []


def test_fccgan_needs_images():
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_dict({"dataset": "ring", "arch": "fccgan"}).validate()
    assert e.value.errors["arch"].startswith("fccgan needs images")
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_dict({"dataset": "ring", "arch": "dcgan"}).validate()
    assert e.value.errors["arch"].startswith("dcgan needs images")
    TrainConfig.from_dict({"dataset": "cifar10", "arch": "fccgan", "image_size": 128}).validate()
