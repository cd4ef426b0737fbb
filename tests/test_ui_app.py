"""The dashboard's Home, Train, Watch and Runs pages driven by Streamlit's AppTest, over tiny run
folders trained for real (a second or two each), plus the helpers behind them."""

import io
import json
import os
import shutil
import signal
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from conftest import TINY_IMAGES, TINY_TOY
from dataclasses import fields

from playground.config import TrainConfig
from playground.runs import Run, pid_alive
from playground.worker import train_run

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
PAGES = {"home": None, "train": "playground/ui/pages/train.py", "watch": "playground/ui/pages/watch.py",
         "runs": "playground/ui/pages/runs.py"}

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402


def _cfg(base: dict, **over) -> TrainConfig:
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **base, **over}).validate()


@pytest.fixture(scope="module")
def made_runs(tmp_path_factory):
    """Three finished runs trained on the CPU: MNIST DCGAN (2 epochs), a hinge MLP, a ring toy."""
    root = tmp_path_factory.mktemp("made")
    for run_id, cfg in (("mnist", _cfg(TINY_IMAGES, epochs=2, name="Tiny MNIST")),
                        ("hinge", _cfg(TINY_IMAGES, arch="mlp", objective="hinge")),
                        ("ring", _cfg(TINY_TOY))):
        run = Run(root / run_id)
        run.create(cfg)
        assert train_run(run, echo=False) == 0
    return root


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Empty runs and pretrained folders that the app is pointed at."""
    runs, pre = tmp_path / "runs", tmp_path / "pretrained"
    runs.mkdir()
    pre.mkdir()
    monkeypatch.setenv("GAN_PLAYGROUND_RUNS", str(runs))
    monkeypatch.setenv("GAN_PLAYGROUND_PRETRAINED", str(pre))
    monkeypatch.setenv("GAN_PLAYGROUND_MAX_JOBS", "1")
    return runs, pre


@pytest.fixture
def with_runs(folders, made_runs):
    runs, pre = folders
    for p in made_runs.iterdir():
        shutil.copytree(p, runs / p.name)
    return runs, pre


def app(page: str = "home", run: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if run:
        at.query_params["run"] = run
    if PAGES[page]:
        at.switch_page(PAGES[page])
    return at.run()


def texts(at) -> str:
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")
    parts = [str(e.value) for kind in kinds for e in getattr(at, kind)]
    return "\n".join(parts)


def fake_running(run: Run) -> None:
    """Make ``run`` look alive: this test process as its worker, a fresh heartbeat."""
    st = run.read_status()
    run.write_status(**{**st, "state": "running", "pid": os.getpid(), "heartbeat": time.time()})


# ----------------------------------------------------------------------------- rendering
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_no_runs(folders, page):
    at = app(page)
    assert not at.exception
    if page == "home":
        assert any(b.label == "Train the classroom preset" for b in at.button)
    if page in ("watch", "runs"):
        assert "No runs yet" in texts(at) or "no runs yet" in texts(at)


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_runs(with_runs, page):
    for key in ("runs/mnist", "runs/hinge", "runs/ring"):
        at = app(page, run=key)
        assert not at.exception, (page, key, [e.value for e in at.exception])
    if page == "home":
        assert len(at.get("image")) == 3          # one card with its newest grid per run


def test_watch_shows_charts_grid_and_plain_explanations(with_runs):
    at = app("watch", run="runs/mnist")
    assert len(at.get("plotly_chart")) == 2
    assert at.get("image")[0].captions == ["Epoch 2"]
    assert at.get("image")[0].proto.imgs[0].url.endswith(".png")   # not re-encoded as a JPEG
    body = texts(at)
    assert "D(x) is how sure the discriminator is" in body
    assert at.subheader[0].value == "Tiny MNIST"
    critic = app("watch", run="runs/hinge")
    assert "critic" in texts(critic) and "D(x) is how sure" not in texts(critic)
    spec = json.loads(critic.get("plotly_chart")[1].proto.spec)
    assert not any(s.get("y0") == 0.5 for s in spec["layout"].get("shapes", []))   # no 0.5 line


def test_scrubber_changes_the_epoch_shown_and_the_chart_marker(with_runs):
    at = app("watch", run="runs/mnist")
    slider = at.select_slider(key="scrub::runs/mnist")
    assert slider.options == ["0", "1", "2"] and slider.value == 2

    def marker(at):
        spec = json.loads(at.get("plotly_chart")[0].proto.spec)
        return [s["x0"] for s in spec["layout"]["shapes"] if s.get("name") == "selected epoch"]

    assert marker(at) == [2]
    slider.set_value(1).run()
    assert not at.exception
    assert at.get("image")[0].captions == ["Epoch 1"]
    assert marker(at) == [1]
    at.button(key="play_btn::runs/mnist").click().run()   # steps the slider through 0, 1, 2
    assert not at.exception and at.get("image")[0].captions == ["Epoch 2"]
    assert at.select_slider(key="scrub::runs/mnist").value == 2 and marker(at) == [2]
    assert "play::runs/mnist" not in at.session_state and at.button(key="play_btn::runs/mnist")


def test_bad_run_key_in_the_url_is_refused_politely(with_runs):
    at = app("watch", run="runs/../../etc")
    assert not at.exception
    assert "There is no run called" in texts(at)


# ----------------------------------------------------------------------------- control
def test_replaced_grids_stay_fetchable_for_a_few_epochs():
    """A slow browser may still ask for a grid that newer epochs replaced: one session's page shows
    ten epochs, in fragment reruns (the live Watch page) and full runs, driven as Streamlit's script
    runner drives its real media store."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    from playground.ui.widgets import HELD_GRIDS, hold_recent

    storage = MemoryMediaFileStorage("/media")
    mgr, state, ids = MediaFileManager(storage), {}, []

    def served(file_id) -> bool:
        try:
            storage.get_file(file_id)
            return True
        except Exception:
            return False

    def show(grid: bytes, full_run: bool) -> None:
        if full_run:
            mgr.clear_session_refs()                      # the start of a full run
        ids.append(mgr.add(grid, "image/png", "1.(0.1).2").rsplit("/", 1)[-1].split(".")[0])  # st.image
        hold_recent(state, "run-a::768", grid, mgr)
        mgr.remove_orphaned_files()                       # the end of the (fragment) run

    for epoch in range(10):
        show(b"grid of epoch %d" % epoch, full_run=epoch % 4 == 0)
        assert [served(i) for i in ids] == [e >= epoch - HELD_GRIDS for e in range(epoch + 1)], epoch
    show(b"grid of epoch 9", full_run=True)               # the same grid again: nothing more held
    assert [served(i) for i in ids[:-1]] == [e >= 9 - HELD_GRIDS for e in range(10)]
    assert len(state["_grids_shown::run-a::768"]) == HELD_GRIDS + 1
    hold_recent(state, "run-b::768", b"x", None)          # outside a server: only remembered
    assert state["_grids_shown::run-b::768"] == [b"x"]


def test_grids_any_page_showed_stay_fetchable_for_a_while():
    """The server-wide holder: a grid stays in the real media store for HOLD_SECONDS after any page
    last showed it, whatever the sessions do meanwhile (newer epochs, full reruns, a session that
    ends), and no longer; at most ``most`` are held."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage, _calculate_file_id

    from playground.ui.widgets import GridHolder

    storage = MemoryMediaFileStorage("/media")
    mgr, now = MediaFileManager(storage), [0.0]
    holder = GridHolder(seconds=60, most=5, clock=lambda: now[0])

    def served(grid: bytes) -> bool:
        try:
            storage.get_file(_calculate_file_id(grid, "image/png"))
            return True
        except Exception:
            return False

    def show(grid: bytes) -> None:                        # one (fragment) run of a session
        mgr.add(grid, "image/png", "1.(0.1).2")            # what st.image registers
        assert holder.hold(mgr, grid)
        mgr.remove_orphaned_files()                       # the end of the run

    for epoch in range(3):
        now[0] = 10.0 * epoch
        show(b"grid of epoch %d" % epoch)
    mgr.clear_session_refs()                              # the session ends (or reruns in full)
    mgr.remove_orphaned_files()
    assert all(served(b"grid of epoch %d" % e) for e in range(3))
    now[0] = 65.0                                         # epoch 0 was shown 65 s ago, 1 and 2 later
    show(b"grid of epoch 3")
    assert not served(b"grid of epoch 0")
    assert all(served(b"grid of epoch %d" % e) for e in (1, 2, 3))
    for epoch in range(4, 9):                             # more than `most` within the minute
        now[0] = 66.0 + epoch
        show(b"grid of epoch %d" % epoch)
    mgr.clear_session_refs()
    mgr.remove_orphaned_files()
    assert [served(b"grid of epoch %d" % e) for e in range(1, 9)] == [False] * 3 + [True] * 5
    assert not GridHolder().hold(object(), b"x")          # another media store: says so, no error


def test_pause_stop_and_live_settings_reach_the_control_file(with_runs):
    runs, _ = with_runs
    run = Run(runs / "mnist")
    fake_running(run)
    at = app("watch", run="runs/mnist")
    labels = [b.label for b in at.button]
    assert "Pause" in labels and "Stop" in labels
    next(b for b in at.button if b.label == "Pause").click().run()
    assert run.read_control()["state"] == "paused"
    at.text_input(key="live::runs/mnist::lr_g").set_value("0,0001")   # G's learning rate, a decimal comma
    next(b for b in at.button if b.label == "Apply").click().run()
    assert not at.exception
    assert run.read_control()["lr_g"] == pytest.approx(1e-4)
    next(b for b in at.button if b.label == "Stop").click().run()
    assert run.read_control()["state"] == "stopped"


def test_watchers_of_one_run_share_its_charts(with_runs, monkeypatch):
    """Ten students on one run cost one chart build per metrics update, not ten."""
    from playground.ui import charts

    runs, _ = with_runs
    run = Run(runs / "mnist")
    fake_running(run)
    built = []
    real = charts.loss_figure
    monkeypatch.setattr(charts, "loss_figure", lambda *a, **k: built.append(1) or real(*a, **k))

    def points(at) -> int:
        spec = json.loads(at.get("plotly_chart")[0].proto.spec)
        return sum(len(t.get("x") or []) for t in spec["data"])

    first, second = app("watch", run="runs/mnist"), app("watch", run="runs/mnist")
    assert not first.exception and not second.exception
    assert len(built) == 1 and points(first) == points(second) > 0
    last = run.read_metrics(0)[0]
    step = max(r.get("step", 0) for r in last if r.get("type") == "step")
    run.append_metrics([{**next(r for r in reversed(last) if r.get("type") == "step"),
                         "step": step + 1, "time": time.time()}])
    third = app("watch", run="runs/mnist")      # a new line: built again, with the new point
    assert len(built) == 2 and points(third) > points(first)


def test_live_setting_out_of_range_gets_a_message(with_runs):
    runs, _ = with_runs
    run = Run(runs / "mnist")
    fake_running(run)
    at = app("watch", run="runs/mnist")
    at.number_input(key="live::runs/mnist::d_steps").set_value(0)      # D steps per G step
    next(b for b in at.button if b.label == "Apply").click().run()
    # under the field: its visible name (never the internal one) and the allowed range
    refused = [m.value for m in at.markdown if "⚠" in m.value]
    assert any("D steps per G step: must be a whole number at least 1 and at most 100, got 0" in m
               for m in refused), refused
    assert not any("d_steps" in m for m in refused)
    assert "d_steps" not in run.read_control()
    at.run()                                     # a live update reruns the page: the message stays
    assert any("D steps per G step: must be" in m.value for m in at.markdown)
    at.number_input(key="live::runs/mnist::d_steps").set_value(2)      # a changed value clears it
    next(b for b in at.button if b.label == "Apply").click().run()
    assert not any("D steps per G step: must be" in m.value for m in at.markdown)
    assert run.read_control()["d_steps"] == 2


def test_failed_run_is_explained_with_what_to_try(with_runs):
    runs, _ = with_runs
    run = Run(runs / "mnist")
    run.write_status(**{**run.read_status(), "state": "failed",
                        "error": "The losses became NaN at epoch 2."})
    at = app("watch", run="runs/mnist")
    assert any("The losses became NaN" in e.value for e in at.error)
    assert any("learning rates" in i.value for i in at.info)
    assert any(b.label == "Resume" for b in at.button)


def test_event_records_show_as_warnings(with_runs):
    runs, _ = with_runs
    run = Run(runs / "mnist")
    run.append_metrics([{"type": "event", "epoch": 2, "step": 10, "time": time.time(),
                         "kind": "test", "message": "D is winning: D(G(z)) fell to 0.01."}])
    at = app("watch", run="runs/mnist")
    assert any("D is winning" in w.value for w in at.warning)


def test_pretrained_runs_are_read_only(with_runs):
    runs, pre = with_runs
    shutil.move(str(runs / "mnist"), str(pre / "mnist"))
    at = app("watch", run="pretrained/mnist")
    assert not at.exception
    assert not {"Pause", "Stop", "Resume", "Continue training"} & {b.label for b in at.button}
    assert "read-only" in texts(at)
    runs_page = app("runs", run="pretrained/mnist")
    assert not any(b.label == "Delete run" for b in runs_page.button)
    home = app("home")
    assert "Trained and ready" in texts(home)


def test_a_pretrained_run_offers_a_new_run_from_its_settings(with_runs):
    """A pretrained run cannot be resumed (no training checkpoints ship): its Watch page opens the
    Train form filled with every setting of that run instead."""
    runs, pre = with_runs
    shutil.move(str(runs / "hinge"), str(pre / "hinge"))
    cfg = Run(pre / "hinge").read_config()
    at = app("watch", run="pretrained/hinge")
    copy = next(b for b in at.button if b.label == "New run from these settings")
    copy.click().run()
    assert not at.exception
    assert any(b.label == "Start training" for b in at.button)      # now on the Train page
    assert at.selectbox(key="train.arch").value == cfg.arch == "mlp"
    assert at.selectbox(key="train.objective").value == cfg.objective == "hinge"
    assert at.number_input(key="train.epochs").value == cfg.epochs
    assert at.text_input(key="train.name").value == ""               # a new run gets its own name
    start = next(b for b in at.button if b.label == "Start training")
    assert not start.disabled                                        # the settings are valid as they are


# ----------------------------------------------------------------------------- train form
def test_train_form_shows_validation_next_to_the_field(folders):
    at = app("train")
    at.number_input(key="train.batch_size").set_value(0).run()
    assert any("must be a whole number at least 1" in m.value for m in at.markdown)
    start = next(b for b in at.button if b.label == "Start training")
    assert start.disabled
    at.selectbox(key="train.dataset").set_value("ring").run()
    assert any("dcgan needs images" in m.value for m in at.markdown)


def test_choosing_a_preset_fills_the_form(folders):
    at = app("train")
    at.selectbox(key="train.preset").set_value("ring-collapse").run()
    assert at.selectbox(key="train.dataset").value == "ring"
    assert at.selectbox(key="train.arch").value == "toy"
    assert at.selectbox(key="train.objective").value == "bce"
    assert at.text_input(key="train.lr_g").value != at.text_input(key="train.lr_d").value   # G 10x faster


def test_folder_dataset_needs_an_upload(folders):
    at = app("train")
    at.selectbox(key="train.dataset").set_value("folder").run()
    # nothing is wrong yet, so nothing red: the page says what to do, and Start waits for the zip
    assert not at.error and not any(m.value.startswith(":red") for m in at.markdown)
    assert not any("'folder'" in m.value for m in at.markdown)
    assert "Upload a zip of your images above to start." in [c.value for c in at.caption]
    assert next(b for b in at.button if b.label == "Start training").disabled
    # the preset's box no longer claims its own data set
    assert any("used on your own images" in i.value for i in at.info)
    assert not any("bundled Fashion-MNIST subset" in i.value for i in at.info)


def test_an_epoch_of_a_few_steps_is_warned_with_a_batch_size(folders):
    at = app("train")
    at.number_input(key="train.max_images").set_value(50)
    at.number_input(key="train.batch_size").set_value(32).run()
    warning = next(w.value for w in at.warning if "training step" in w.value)
    assert "an epoch is only 1 training step" in warning and "batch size of 4" in warning
    at.number_input(key="train.batch_size").set_value(4).run()
    assert not any("training step" in w.value for w in at.warning)


def test_start_from_the_form_creates_a_run_and_a_live_worker(folders):
    runs, _ = folders
    at = app("train")
    at.selectbox(key="train.preset").set_value("gan-mnist").run()
    for key, value in {"train.epochs": 1, "train.batch_size": 8, "train.max_images": 40,
                       "train.z_dim": 8, "train.log_every": 2, "train.sample_count": 16}.items():
        at.number_input(key=key).set_value(value)
    at.text_input(key="train.g_hidden").set_value("16, 16")
    at.text_input(key="train.d_hidden").set_value("16, 16")
    at.selectbox(key="train.data_source").set_value("bundled")
    at.selectbox(key="train.device").set_value("cpu")
    at.text_input(key="train.name").set_value("from the form")
    at.run()
    assert not at.exception and not any(m.value.startswith(":red") for m in at.markdown)
    next(b for b in at.button if b.label == "Start training").click().run()
    created = [p for p in runs.iterdir() if (p / "config.json").is_file()]
    assert len(created) == 1
    run = Run(created[0])
    pid = run.read_status().get("pid")
    try:
        assert at.query_params["run"] == f"runs/{run.id}"         # switched to its Watch page
        assert at.subheader[0].value == "from the form"
        assert run.read_config().max_images == 40
        deadline = time.time() + 90
        while run.state() in ("queued", "running") and time.time() < deadline:
            time.sleep(0.5)
        assert run.state() == "finished", run.read_status()
        assert run.sample_epochs() == [0, 1]
        again = app("watch", run=f"runs/{run.id}")          # a fresh session finds it
        assert not again.exception and again.get("image")[0].captions == ["Epoch 1"]
    finally:
        if pid and pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)


def test_one_click_classroom_start_from_an_empty_home(folders):
    runs, _ = folders
    at = app("home")
    next(b for b in at.button if b.label == "Train the classroom preset").click().run()
    created = [p for p in runs.iterdir() if (p / "config.json").is_file()]
    assert len(created) == 1
    run = Run(created[0])
    pid = run.read_status().get("pid")
    try:
        assert run.read_config().preset == "classroom"
        assert at.query_params["run"] == f"runs/{run.id}" and not at.exception
        assert run.state() in ("running", "finished")          # a live worker was started
    finally:
        if pid and pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)                      # a classroom run takes minutes


# ----------------------------------------------------------------------------- runs page
def test_rename_and_delete_from_the_runs_page(with_runs):
    runs, _ = with_runs
    at = app("runs", run="runs/mnist")
    at.text_input[0].set_value("Digits, first try")
    next(b for b in at.button if b.label == "Save name").click().run()
    assert not at.exception
    assert json.loads((runs / "mnist" / "label.json").read_text())["name"] == "Digits, first try"
    assert "Digits, first try" in str(at.table[0].value)
    delete = next(b for b in at.button if b.label == "Delete run")
    assert delete.disabled                                 # until confirmed
    at.checkbox(key="del_ok::runs/mnist").check().run()
    next(b for b in at.button if b.label == "Delete run").click().run()
    assert not at.exception
    assert not (runs / "mnist").exists() and (runs / "hinge").exists()


def test_active_runs_cannot_be_deleted(with_runs):
    runs, _ = with_runs
    fake_running(Run(runs / "mnist"))
    at = app("runs", run="runs/mnist")
    assert not any(b.label == "Delete run" for b in at.button)
    assert "stop it on the Watch page" in texts(at)


# ----------------------------------------------------------------------------- helpers
def test_train_form_has_a_widget_for_every_setting(folders):
    """Every setting has a widget once its family is picked; a family's own settings only then."""
    from playground.registry import FAMILIES

    at = app("train")
    keys, own = set(), {}
    for family in FAMILIES:
        at.selectbox(key="train.family").set_value(family).run()
        shown_now = {w.key for kind in ("selectbox", "number_input", "text_input", "checkbox")
                     for w in getattr(at, kind)}
        own[family] = {f"train.{name}" for name, _ in FAMILIES[family].settings}
        assert own[family] <= shown_now, family
        for other, names in own.items():
            if other != family:
                assert not names & shown_now, (family, other)
        keys |= shown_now
    assert {f"train.{f.name}" for f in fields(TrainConfig)} - {"train.data_dir"} <= keys


def _zip(members: dict) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def test_upload_keeps_a_good_zip_and_counts_what_it_skips(tmp_path):
    from playground.ui.upload import save_upload
    saved = save_upload("faces.zip", _zip({"a/1.png": _png(), "a/2.png": _png(), "notes.txt": b"hi"}),
                        tmp_path)
    assert saved.path.is_file() and saved.path.parent.parent == tmp_path / "_uploads"
    assert saved.n_images == 2 and saved.skipped == ["notes.txt"]
    assert "1 other file will be skipped" in saved.summary


@pytest.mark.parametrize("name,members,message", [
    ("evil.zip", {"../evil.png": _png()}, "'..' component"),
    ("abs.zip", {"/etc/evil.png": _png()}, "absolute path"),
    ("none.zip", {"readme.txt": b"no images"}, "contains no images"),
    ("pics.tar", {"a.png": _png()}, "is not a .zip file"),
])
def test_upload_rejects_bad_zips_and_keeps_nothing(tmp_path, name, members, message):
    from playground.ui.upload import UploadError, save_upload
    with pytest.raises(UploadError, match=message) as err:
        save_upload(name, _zip(members), tmp_path)
    assert str(tmp_path) not in str(err.value)             # the learner's file name, not a server path
    assert not any((tmp_path / "_uploads").glob("*/*")) if (tmp_path / "_uploads").exists() else True


def test_upload_size_limit(tmp_path):
    from playground.ui.upload import UploadError, save_upload
    with pytest.raises(UploadError, match="larger than"):
        save_upload("big.zip", io.BytesIO(b"x" * 3_000_000), tmp_path, max_bytes=2 * 1024 * 1024)
    assert list((tmp_path / "_uploads").iterdir()) == []


def test_metrics_cache_reads_only_new_lines_and_notices_a_rewrite(tmp_path):
    from playground.ui.metrics_cache import MetricsCache
    run = Run(tmp_path / "r")
    run.path.mkdir()
    cache = MetricsCache()
    run.append_metrics([{"type": "step", "epoch": 1, "step": 2}, {"type": "epoch", "epoch": 1, "step": 4}])
    assert cache.update(run) == 2
    first = cache.offset
    run.append_metrics([{"type": "change", "epoch": 2, "step": 5, "field": "lr_g", "old": 1, "new": 2}])
    with open(run.metrics_path, "a") as f:
        f.write('{"type": "step", "ep')                   # a line still being written
    assert cache.update(run) == 1 and cache.offset > first
    assert (len(cache.steps), len(cache.epochs), len(cache.changes)) == (1, 1, 1)
    run.truncate_metrics(0)                                # what a resume does: a new, shorter file
    run.append_metrics([{"type": "step", "epoch": 1, "step": 1}])
    cache.update(run)
    assert [r["step"] for r in cache.steps] == [1] and cache.epochs == []


def test_ema_removes_the_start_up_bias():
    from playground.ui.charts import ema
    assert ema([0.0, 1.0], weight=0.5) == pytest.approx([0.0, 0.5 / 0.75])
    assert ema([2.0, None, 2.0, float("nan")]) == [pytest.approx(2.0), None, pytest.approx(2.0), None]


def test_change_records_become_chart_markers():
    from playground.ui.charts import loss_figure
    steps = [{"type": "step", "step": s, "epoch": 1, "loss_d": 1.0, "loss_g": 1.0} for s in (2, 4, 6)]
    change = {"type": "change", "step": 4, "epoch": 1, "field": "lr_g", "old": 2e-4, "new": 1e-4}
    fig = loss_figure(steps, [], [change], steps_per_epoch=8, selected_epoch=None)
    assert [s.x0 for s in fig.layout.shapes] == [0.5]
    assert "Learning rate of G" in fig.layout.annotations[0].text


def test_exports_gif_zip_png_and_checkpoint(made_runs):
    from playground.ui import exports
    run = Run(made_runs / "mnist")
    gif = Image.open(io.BytesIO(exports.progression_gif(run)))
    assert gif.format == "GIF" and gif.n_frames == len(run.sample_epochs()) == 3
    names = zipfile.ZipFile(io.BytesIO(exports.grids_zip(run))).namelist()
    assert names == [f"mnist/samples/epoch_{e:03d}.png" for e in (0, 1, 2)]
    small = Image.open(run.sample_path(2))
    big = Image.open(io.BytesIO(exports.display_png(run.sample_path(2))))
    assert big.width == small.width * (exports.DISPLAY_WIDTH // small.width) and big.width > small.width
    tensors, meta = exports.newest_snapshot_files(run)
    assert tensors.name == "snapshot_epoch_0002.safetensors" and json.loads(meta.read_text())["epoch"] == 2


def test_labels_are_checked_and_shown(made_runs, tmp_path):
    from playground.ui import runinfo
    run = Run(shutil.copytree(made_runs / "ring", tmp_path / "ring"))
    assert runinfo.display_name(run) == "ring"
    with pytest.raises(ValueError, match="cannot be empty"):
        runinfo.write_label(run, "   ")
    with pytest.raises(ValueError, match="at most"):
        runinfo.write_label(run, "x" * 101)
    runinfo.write_label(run, "  my   ring ")
    assert runinfo.display_name(run) == "my ring"
