"""The dashboard's generic parts for GAN families: the Train form shows a family's own settings for it
alone, and the Watch page draws the charts a family declares from its metrics records."""

import json

from playground import registry
from playground.ui import charts, form
from playground.ui.metrics_cache import MetricsCache


def test_a_family_setting_applies_to_its_family_alone(monkeypatch):
    monkeypatch.setitem(form.FAMILY_SETTINGS, "fam-a", ("only_a",))
    monkeypatch.setitem(registry.FAMILIES, "fam-a", registry.Family("fam-a", "A", "gan", conditional=False,
                                                                    objectives=("bce", "lsgan")))
    assert form.applies("only_a", "fam-a") and not form.applies("only_a", "gan")
    assert form.applies("z_dim", "fam-a") and form.applies("z_dim", "gan")
    assert form.applies("conditional", "gan") and not form.applies("conditional", "fam-a")
    assert form.objective_choices("fam-a") == ("bce", "lsgan")
    assert form.objective_choices("gan") == registry.OBJECTIVE_NAMES


def test_every_family_setting_is_a_config_field_with_a_label_and_help():
    from playground.config import TrainConfig, field_help

    fields = TrainConfig().to_dict()
    for fam in registry.FAMILIES.values():
        for name, label in fam.settings:
            assert name in fields and label and name in field_help(), (fam.name, name)
        for chart in fam.charts:
            assert chart.title and chart.series


def test_family_chart_draws_each_series_by_epoch_and_a_constant_one_as_a_flat_line():
    chart = registry.Chart("Accuracy", (("acc", "GAN"), ("base", "baseline"), ("absent", "never")), percent=True)
    records = [{"type": "epoch", "epoch": e, "acc": 0.5 + e / 10, "base": 0.6} for e in (1, 2, 3)]
    fig = charts.family_figure(chart, records, selected_epoch=2)
    traces = {tr.name: tr for tr in fig.data}
    assert set(traces) == {"GAN", "baseline"}
    assert list(traces["GAN"].y) == [0.6, 0.7, 0.8] and list(traces["GAN"].x) == [1.0, 2.0, 3.0]
    assert traces["baseline"].line.dash == "dash" and traces["GAN"].line.dash == "solid"
    assert fig.layout.yaxis.tickformat == ".0%"


def test_metrics_cache_keeps_a_familys_own_record_types(tmp_path):
    from playground.runs import Run

    run = Run(tmp_path / "r")
    run.path.mkdir()
    lines = [{"type": "epoch", "epoch": 1}, {"type": "accuracy", "epoch": 0, "acc": 0.3},
             {"type": "accuracy", "epoch": 1, "acc": 0.4}]
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    m = MetricsCache()
    assert m.update(run) == 3
    assert [r["acc"] for r in m.of_type("accuracy")] == [0.3, 0.4] and len(m.of_type("epoch")) == 1
    assert m.of_type("nothing") == []
