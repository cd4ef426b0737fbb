"""Run every reliability campaign of issue 7 and write benchmarks/reliability.md.

    .venv/bin/python scripts/reliability_report.py                 # the full campaigns (~15-30 min on 2 CPUs)
    .venv/bin/python scripts/reliability_report.py --kills 5 --watch-seconds 20 --out /tmp/r.md   # a quick look
    .venv/bin/python scripts/reliability_report.py --only folders --keep-previous   # rerun one campaign, keep the rest

Campaigns (helpers in tests/support/reliability.py; tests with fewer trials in tests/test_crash_safety.py,
test_jobs.py, test_os_errors.py, test_hostile_input.py):
1. crashes: SIGKILL a real worker at --kills random moments (steps, or inside a grid, checkpoint,
   snapshot, metrics, status or config write), check the folder, resume it with the CLI, compare
   with an uninterrupted run;
2. restarts: kill the process that started a worker; queue through a restart; 8 simultaneous
   starts at limits 1 and 2 (and, as a control, the same without the lock); two Resumes at once;
3. OS errors: ENOSPC and EACCES at each kind of write, and a really full tmpfs;
4. hostile input: the hostile uploads, run ids and keys of tests/test_hostile_input.py, hand edits;
5. many watchers: scripts/many_watchers.py (10 Chromium pages on one live run);
6. run folders edited, linked or replaced by hand (tests/support/hostile_files.py; tests in
   tests/test_run_folder_safety.py): refused resumes, links out of a run, FIFOs and devices in a run
   and in an image folder, edited files and bad flags, each through the real command line.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("GAN_PLAYGROUND_CACHE", str(ROOT / ".cache" / "test-cache"))

import torch  # noqa: E402

from playground import jobs  # noqa: E402
from playground.data import DataError, check_zip  # noqa: E402
from playground.jobs import JobManager  # noqa: E402
from playground.runs import RunError, check_run_id, resolve_run  # noqa: E402
from tests.support import reliability as rel  # noqa: E402

torch.set_num_threads(1)


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def row(*cells) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


# ----------------------------------------------------------------------------- 1. crashes
def crash_campaign(work: Path, kills: int, seed: int) -> dict:
    rng = random.Random(seed)
    root = work / "crash"
    root.mkdir()
    reference = rel.reference_run(root)
    moments = [rel.CRASH_MOMENTS[i % len(rel.CRASH_MOMENTS)] for i in range(kills)]
    rng.shuffle(moments)
    trials, attempts = [], 0
    while len(trials) < kills and attempts < 2 * kills + 5:
        moment = moments[len(trials)]
        attempts += 1
        t0 = time.monotonic()
        r = rel.crash_trial(root, f"kill-{attempts:02d}-{moment}", moment, rng, reference=reference)
        r["seconds"] = round(time.monotonic() - t0, 1)
        log(f"crash {len(trials) + 1}/{kills} {moment}: killed={r['killed']} survived={r['survived']} "
            f"lost={r['lost_epochs']} {r.get('problems') or ''}")
        if r["killed"]:
            trials.append(r)
    return {"trials": trials, "attempts": attempts}


def crash_section(res: dict) -> list[str]:
    t = res["trials"]
    survived = sum(r["survived"] for r in t)
    lines = ["## 1. Worker killed with SIGKILL", "",
             "Each trial starts `python -m playground train --run-dir …` in its own session (4 epochs × 16 "
             "steps, DCGAN on 256 bundled MNIST images), kills its process group with SIGKILL at the moment "
             "shown, then checks: config, status and every metrics line parse (a torn last line is allowed "
             "and counted); every grid PNG/NPZ and listed snapshot opens; a train checkpoint that does not "
             "verify is skipped by resume; the run reads as `interrupted` and the job manager does not count "
             "it; then `python -m playground train --run-dir … --resume` runs it to the end and the folder "
             "must hold every epoch and step line exactly once (no repeats, no gaps), grids 0–4 and no "
             "temporary files. Separately, the resumed run is compared with an uninterrupted run of the same "
             "seed (resume restores weights, both Adam states and the RNG, so losses and the last grid "
             "should be identical).",
             "", f"Kills: {len(t)} (worker starts: {res['attempts']}; a start whose worker ended before the "
             "chosen moment is not a kill and was drawn again). Survived: "
             f"**{survived}/{len(t)}**. Completed epochs lost and trained again: "
             f"{sum(r['lost_epochs'] for r in t)} (at most 1 per kill, only when the kill landed after an "
             "epoch's metrics line but before its checkpoint was complete). Runs lost: "
             f"{len(t) - survived}. Identical to the uninterrupted run: "
             f"{sum(not r.get('differs_from_reference') for r in t)}/{len(t)}.", "",
             row("#", "moment", "where", "status at kill", "resumed from epoch", "epochs lost", "torn line",
                 "temp files left", "survived", "same as uninterrupted"), row(*["---"] * 10)]
    for i, r in enumerate(t, 1):
        w = dict(r["where"])
        where = f"after step {w['after_step']}" if "after_step" in w else f"write #{w.get('write')} {' '.join(w.get('file') or [])}"
        st = w.get("status", {})
        lines.append(row(i, w["moment"], where, f"epoch {st.get('epoch')}, step {st.get('step')}",
                         r.get("resumed_from"), r["lost_epochs"], "yes" if r.get("torn_last_line") else "",
                         r.get("leftovers"), "yes" if r["survived"] else f"NO: {r.get('problems')}",
                         "yes" if not r.get("differs_from_reference") else "no"))
    diffs = [r for r in t if r.get("differs_from_reference")]
    if diffs:
        lines += ["", f"Differences from the uninterrupted run (first of {len(diffs)}): "
                  f"`{diffs[0]['differs_from_reference'][0][:400]}`"]
    return lines


# ----------------------------------------------------------------------------- 2. restarts
def restart_campaign(work: Path, trials: int) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    fake = rel.fake_python(work)
    out: dict = {"parent_death": [], "queue": [], "submit": {1: [], 2: []}, "no_lock": [], "resume": []}
    for i in range(trials):
        r = rel.parent_death_trial(work / f"parent-{i}", rel.tiny_config(epochs=3, **rel.FAST_CONFIG), "orphan")
        log(f"parent death {i + 1}: {r['survived']} {r['problems']}")
        out["parent_death"].append(r)
        out["queue"].append(rel.queue_restart_trial(work / f"queue-{i}", fake))
        out["resume"].append(rel.double_resume_trial(work / f"resume-{i}", fake))
    for limit in (1, 2):
        for i in range(5):
            r = rel.concurrent_submit_trial(work / f"submit-{limit}-{i}", 8, limit, fake)
            log(f"8 starts, limit {limit}: max active {r['max_active']} ({r['observations']} looks)")
            out["submit"][limit].append(r)
    for i in range(5):
        out["no_lock"].append(_submit_without_lock(work / f"nolock-{i}", fake))
    log(f"without the lock: max active {[r['max_active'] for r in out['no_lock']]}")
    return out


def _submit_without_lock(root: Path, fake: Path) -> dict:
    """The control: the same 8 simultaneous starts (threads) with the file lock replaced by nothing."""
    real = jobs._locked
    jobs._locked = lambda root: contextlib.nullcontext()
    barrier, most, done = threading.Barrier(8), [0], threading.Event()

    def start():
        barrier.wait()
        JobManager(root, max_jobs=1, python=str(fake)).submit(rel.tiny_config())

    def watch():
        while not done.is_set():
            most[0] = max(most[0], rel.count_active(root))

    try:
        root.mkdir(parents=True)
        watcher = threading.Thread(target=watch)
        watcher.start()
        threads = [threading.Thread(target=start) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(0.3)
        done.set()
        watcher.join()
        most[0] = max(most[0], rel.count_active(root))
        started = rel.count_active(root)
    finally:
        jobs._locked = real
        rel.stop_all(root)
    return {"max_active": most[0], "started": started}


def restart_section(res: dict) -> list[str]:
    pd, q, rs = res["parent_death"], res["queue"], res["resume"]
    lines = ["## 2. Server restarts, refreshes and simultaneous starts", "",
             row("campaign", "trials", "survived", "lost", "what was checked"), row(*["---"] * 5),
             row("parent killed", len(pd), sum(r["survived"] for r in pd), sum(not r["survived"] for r in pd),
                 "a Python process submits a job through JobManager (as the server does) and is SIGKILLed; "
                 "the worker (own session) trains on, a new JobManager sees it active, it finishes with every "
                 "epoch exactly once"),
             row("queue through a restart", len(q), sum(r["survived"] for r in q), sum(r["lost"] for r in q),
                 "limit 1, two jobs; the managers are dropped; the queued job stays queued on disk, a new "
                 "manager respects the limit, and starts it once the first worker dies (SIGKILL, no exit hook)"),
             row("two Resumes at once", len(rs), sum(r["survived"] for r in rs), sum(not r["survived"] for r in rs),
                 "limit 2, both sessions past the first check before either holds the lock: exactly one worker")]
    for limit in (1, 2):
        t = res["submit"][limit]
        lines.append(row(f"8 simultaneous starts, limit {limit}", len(t), sum(r["survived"] for r in t),
                         sum(max(0, r["max_active"] - limit) for r in t),
                         f"8 processes call submit at one instant; active runs counted "
                         f"{sum(r['observations'] for r in t):,} times in all: most seen "
                         f"{max(r['max_active'] for r in t)}; {limit} running and {8 - limit} queued at the end"))
    nl = res["no_lock"]
    lines += ["", f"Control (the same 8 starts from threads with the file lock removed, limit 1): most active "
              f"runs seen {[r['max_active'] for r in nl]}, workers started {[r['started'] for r in nl]} — the "
              "observation does catch a broken limit, and the lock is what keeps it.", "",
              "Parent-death trials: " + "; ".join(
                  f"worker {r['worker_pid']} outlived parent {r['parent_pid']}" for r in pd) + "."]
    return lines


# ----------------------------------------------------------------------------- 3. OS errors
def os_error_campaign(work: Path) -> dict:
    trials = []
    for err in (errno.ENOSPC, errno.EACCES):
        for kind in rel.OS_ERROR_KINDS:
            r = rel.os_error_trial(work, f"{errno.errorcode[err]}-{kind}", kind, err)
            log(f"{r['errno']} at {kind}: {r['survived']} {r['problems']}")
            trials.append(r)
    real = [_real_full_disk(work / f"disk-{i}", leave) for i, leave in enumerate((0, 48 * 1024, 0, 48 * 1024))]
    return {"trials": trials, "real": real}


def _real_full_disk(mnt: Path, leave: int) -> dict:
    from playground.runs import Run
    from playground.worker import train_run
    from test_os_errors import _fill
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode:
        return {"skipped": proc.stderr.strip() or "mount failed"}
    try:
        run = Run(mnt / "r")
        cfg = rel.tiny_config(epochs=1, **rel.FAST_CONFIG)
        run.create(cfg)
        train_run(run, echo=False)
        grids = {e: run.sample_path(e).read_bytes() for e in run.sample_epochs()}
        _fill(mnt, leave)
        code = train_run(run, resume=True, epochs=6, echo=False)
        st = run.read_status()
        folder = rel.check_run_folder(run)
        problems = list(folder["problems"])
        if code != 1 or st.get("state") != "failed" or "disk is full" not in str(st.get("error")):
            problems.append(f"ended {st.get('state')}: {st.get('error')}")
        if any(run.sample_path(e).read_bytes() != d for e, d in grids.items()):
            problems.append("a grid saved before the disk filled changed")
        kept = rel.checkpoint_epoch(run)
        (mnt / "filler").unlink()
        if train_run(run, resume=True, epochs=6, echo=False) != 0:
            problems.append("resume failed after freeing space")
        problems += rel.check_finished(run, cfg.replace(epochs=6))
        return {"leave": leave, "failed_at_epoch": kept, "message": st.get("error"), "survived": not problems,
                "problems": problems}
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def os_error_section(res: dict) -> list[str]:
    t, real = res["trials"], res["real"]
    lines = ["## 3. Full disk and refused writes", "",
             "Injected: from the first write of one kind after epoch 1's checkpoint, every write of that kind "
             "fails (in the one function every run-folder write calls first). Expected: the run ends `failed` "
             "with a plain message naming its folder, epoch 1's checkpoint verifies, every grid and snapshot "
             "opens, and once the fault is gone resume trains epochs 2–3 exactly once.", "",
             row("errno", "write that failed", "survived", "message"), row(*["---"] * 4)]
    for r in t:
        lines.append(row(r["errno"], f"{r['kind']} ({' '.join(r['failed_write'])})",
                         "yes" if r["survived"] else f"NO: {r['problems']}", r["message"]))
    lines += ["", "Real: a 4 MiB tmpfs, one epoch trained, the disk filled to the last byte (or to 48 KiB "
              "short of it), resume asked for 6 epochs; then the filler is deleted and the run resumed.", "",
              row("room left", "survived", "newest checkpoint when it failed", "message"), row(*["---"] * 4)]
    for r in real:
        if "skipped" in r:
            lines.append(row("-", "skipped", "-", r["skipped"]))
        else:
            lines.append(row(f"{r['leave'] // 1024} KiB", "yes" if r["survived"] else f"NO: {r['problems']}",
                             f"epoch {r['failed_at_epoch']}", r["message"]))
    ok = sum(r["survived"] for r in t) + sum(r.get("survived", False) for r in real)
    n = len(t) + sum("skipped" not in r for r in real)
    lines += ["", f"Trials {n}, survived **{ok}/{n}**, runs lost {n - ok}, checkpoints or grids lost 0 "
              "(checked in every trial)."]
    return lines


# ----------------------------------------------------------------------------- 4. hostile input
def hostile_campaign(work: Path) -> dict:
    import test_hostile_input as H
    from playground.runs import Run
    uploads = []
    for case in H.REFUSED:
        folder = work / "hostile" / case / "runs" / "_uploads" / "u1"
        folder.mkdir(parents=True)
        path = folder / "images.zip"
        which, why = H.build(case, path)
        before = H.all_files(work / "hostile" / case)
        t0 = time.monotonic()
        try:
            check_zip(path)
            msg, refused = "accepted", False
        except DataError as e:
            msg, refused = str(e).replace(str(path), "<upload>"), True
        uploads.append({"case": case, "refused": refused, "names_it": which.replace(str(path), "<upload>") in msg
                        and why in msg, "nothing_written": H.all_files(work / "hostile" / case) == before,
                        "seconds": round(time.monotonic() - t0, 3), "bytes": path.stat().st_size, "message": msg})
    runs_root = work / "hostile" / "ids" / "runs"
    Run(runs_root / "good").create(rel.tiny_config())
    ids = []
    for run_id in H.HOSTILE_IDS:
        a = _raises(lambda: check_run_id(run_id))
        b = _raises(lambda: resolve_run(runs_root, run_id))
        ids.append({"id": repr(run_id)[:60], "rejected": a and b})
    os.environ["GAN_PLAYGROUND_RUNS"] = str(runs_root)
    os.environ["GAN_PLAYGROUND_PRETRAINED"] = str(work / "hostile" / "ids" / "pretrained")
    from playground.ui.common import get_run
    keys = ["runs/../../etc", "runs/..", "../runs/good", "/runs/good", "runs//good", "runs/good/",
            "pretrained/../runs/good", "runs/good\x00", "runs/good\n", "etc/passwd", "runs/" + "a" * 500]
    keyres = [{"key": repr(k)[:60], "rejected": get_run(k) is None} for k in keys]
    control = get_run("runs/good") is not None
    shell = {rel_path: calls for f in sorted(H.CORE.rglob("*.py"))
             if (calls := H.dangerous_calls(f.read_text())) for rel_path in [str(f.relative_to(H.CORE))]}
    return {"uploads": uploads, "ids": ids, "keys": keyres, "control": control, "shell": shell,
            "core_files": len(list(H.CORE.rglob("*.py")))}


def _raises(fn) -> bool:
    try:
        fn()
    except RunError:
        return True
    return False


def hostile_section(res: dict) -> list[str]:
    up, ids, keys = res["uploads"], res["ids"], res["keys"]
    ok = sum(u["refused"] and u["names_it"] and u["nothing_written"] for u in up)
    lines = ["## 4. Hostile input", "",
             f"Uploads: {len(up)} hostile zips (built at the real limits), each stored as "
             "`<runs>/_uploads/<id>/images.zip` and checked as the dashboard checks an upload. Refused with a "
             f"message naming the member and the reason, nothing written anywhere: **{ok}/{len(up)}**. "
             "(Skipped members — corrupt, non-image, lying header, 64 and 900 megapixel images — are covered "
             "by tests/test_hostile_input.py::test_bad_members_are_skipped_and_counted_by_reason.)", "",
             row("upload", "size", "refused", "names member + reason", "nothing written", "seconds", "message"),
             row(*["---"] * 7)]
    for u in up:
        lines.append(row(u["case"], f"{u['bytes']:,} B", u["refused"], u["names_it"], u["nothing_written"],
                         u["seconds"], u["message"][:160]))
    lines += ["", f"Run ids from the URL or a form: {sum(i['rejected'] for i in ids)}/{len(ids)} hostile ids "
              "rejected by both `check_run_id` and `resolve_run`: " + ", ".join(f"`{i['id']}`" for i in ids
                                                                                  if i["rejected"]) + ".",
              f"Dashboard run keys (`?run=`): {sum(k['rejected'] for k in keys)}/{len(keys)} rejected by "
              f"`playground.ui.common.get_run` (and the control `runs/good` was accepted: {res['control']}).",
              f"Shell and unpickling: {res['core_files']} core files scanned with `ast` for `shell=`, "
              "`os.system`/`popen`/`exec*`/`spawn*`, `subprocess.getoutput`, `pickle`/`marshal`, `eval`/`exec`, "
              "`torch.load` without `weights_only=True`, `np.load(allow_pickle=True)`: "
              f"{'none found' if not res['shell'] else res['shell']}.",
              "Hand-edited config.json (bad value, unknown key, wrong type, wrong format version, no config, "
              "not JSON) and checkpoint JSON (epoch changed: its `meta_sha256` no longer matches; resume skips "
              "it) are covered by tests/test_hostile_input.py."]
    return lines


# ----------------------------------------------------------------------------- 5. many watchers
def watcher_campaign(work: Path, pages: int, seconds: float) -> dict:
    out = work / "watchers.json"
    cmd = [sys.executable, str(ROOT / "scripts" / "many_watchers.py"), "--pages", str(pages),
           "--seconds", str(seconds), "--json", str(out)]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 600)
    except subprocess.TimeoutExpired:   # a busy machine: say so in the report instead of losing it
        return {"error": f"scripts/many_watchers.py did not finish within {seconds + 600:g} s"}
    if not out.exists():
        return {"error": (proc.stdout + proc.stderr)[-2000:]}
    return json.loads(out.read_text())


def watcher_section(r: dict, pages: int, seconds: float) -> list[str]:
    lines = ["## 5. Many watchers", ""]
    if "error" in r:
        return lines + [f"Could not be run: `{r['error'][-500:]}`"]
    probes = len(r["failed_requests_explained"]["base_path_probe"])
    offline = r["failed_requests_explained"]["offline_external"]
    lines += [f"`scripts/many_watchers.py --pages {pages} --seconds {seconds:g}`: a real Streamlit server on "
              f"127.0.0.1, one run training on the CPU, {r['pages_opened']} headless Chromium pages (separate "
              f"sessions) on `{r['url_path']}` for {r['window_s']} s.", "",
              row("measure", "value"), row("---", "---"),
              row("page errors (uncaught JavaScript)", r["page_errors"]),
              row("exceptions / error boxes shown on the pages", f"{r['exceptions_shown']} / {r['errors_shown']}"),
              row("error lines in the server log", len(r["server_log_error_lines"])),
              row("console errors", f"{r['console_errors']} ('Failed to load resource', the failed requests "
                                    f"below; other messages: {len(r['console_errors_unexplained'])})"),
              row("slowest page to open (seconds to the HTML)",
                  max((p.get("open_s") or 0) for p in r["per_page"]) if r.get("per_page") else "n/a"),
              row("failed requests", f"{probes} × Streamlit's client probing `/watch/_stcore/*` before the root "
                                     f"(404, harmless); offline: {', '.join(offline) or 'none'}; unexplained: "
                                     f"{r['failed_requests_unexplained'] or 'none'}"),
              row("live-view polls in the window (messages the pages sent)", r["polls"]),
              row("polls per page per second", r["polls_per_page_per_s"]),
              row("server CPU in the window", f"{r['server_cpu_s_window']} s"),
              row("**server CPU per poll**", f"**{r['server_cpu_ms_per_poll']} ms**"),
              row("pages showing the run's title", f"{r['pages_showing_the_run']}/{r['pages_opened']}"),
              row("run state at the end / epoch", f"{r['run_state']} / {r['run_epoch']}"),
              row("verdict", "no errors from the app" if r["ok"] else "see above")]
    media = [u for u in r["failed_requests_unexplained"] if "/media/" in u]
    if media:
        lines += ["", f"{len(media)} failed request(s) were sample-grid images (`/media/…`) answered 404: most "
                  "likely an image of an earlier poll whose in-memory media file Streamlit had already dropped "
                  "when the browser, slowed by the load, asked for it. The page shows the next poll's image; "
                  "for the dashboard to look at."]
    if r["console_errors_unexplained"]:
        lines += ["", "Other console messages (first of each):", ""]
        lines += [f"- `{m[:160]}`" for m in dict.fromkeys(r["console_errors_unexplained"])][:5]
    return lines


# ----------------------------------------------------------------------------- 6. edited, linked, special
def folder_campaign(work: Path) -> dict:
    """Every case in this process (cli.main, each under a 120 s alarm, so a hang is reported, not
    waited for); then a few of them again as real `python -m playground` processes."""
    import tests.support.hostile_files as HF
    work.mkdir(parents=True, exist_ok=True)
    template = HF.trained_run(work / "template", epochs=3)
    out: dict = {"refusals": [], "links": [], "special": [], "snapshots": [], "flags": [], "fifo": [], "processes": [],
                 "work": str(work)}
    for case in HF.RESUME_REFUSALS:
        out["refusals"].append(HF.resume_refusal_trial(work, template, case, inline=True))
        log(f"refusal {case}: {out['refusals'][-1]['survived']} {out['refusals'][-1]['problems']}")
    for entry in HF.LINKED_ENTRIES:
        for command in ("resume", "sample", "start"):
            r = HF.link_trial(work, template, entry, command, inline=True)
            if r:
                out["links"].append(r)
                log(f"link {r['case']}: {r['survived']} {r['problems']}")
    for entry in HF.SPECIAL_ENTRIES:
        for kind in HF.SPECIAL_KINDS:
            for command in ("resume", "sample", "runs"):
                r = HF.special_trial(work, template, entry, kind, command, inline=True)
                out["special"].append(r)
                log(f"special {r['case']}: {r['survived']} {r['problems']}")
    for case in HF.EDITED_SNAPSHOTS:
        out["snapshots"].append(HF.edited_snapshot_trial(work, template, case, inline=True))
        log(f"snapshot {case}: {out['snapshots'][-1]['survived']} {out['snapshots'][-1]['problems']}")
    out["fifo"].append(HF.fifo_in_images_trial(work / "inline", inline=True))
    for case in HF.flag_cases(work, template):
        out["flags"].append(HF.flag_trial(work, template, case, inline=True))
        log(f"flag {case}: {out['flags'][-1]['survived']} {out['flags'][-1]['problems']}")
    real = work / "processes"
    real.mkdir()
    for trial in (lambda: HF.resume_refusal_trial(real, template, "training checkpoints slimmed away (as in pretrained/)"),
                  lambda: HF.resume_refusal_trial(real, template, "--epochs 0 on a finished run"),
                  lambda: HF.link_trial(real, template, "checkpoints", "resume"),
                  lambda: HF.special_trial(real, template, "status.json", "link to /dev/zero", "runs"),
                  lambda: HF.special_trial(real, template, "checkpoints/snapshot_epoch_0003.json", "fifo", "sample"),
                  lambda: HF.fifo_in_images_trial(real),
                  lambda: HF.flag_trial(real, template, "train --device cuda:abc")):
        out["processes"].append(trial())
        log(f"process {out['processes'][-1]['case']}: {out['processes'][-1]['survived']}")
    return out


def folder_section(res: dict) -> list[str]:
    def table(trials, what):
        lines = [row(what, "exit", "entries changed", "seconds", "survived", "message"), row(*["---"] * 6)]
        for r in trials:
            msg = r["message"].replace("error: ", "").replace(res["work"], "<work>")
            lines.append(row(r["case"], r["exit"], r["changed"], r["seconds"],
                             "yes" if r["survived"] else f"NO: {r['problems']}", msg[:220]))
        return lines

    groups = [("refusals", "A resume that must be refused"), ("links", "An entry made a link out of the run"),
              ("special", "An entry replaced by a FIFO, a device or a link to /dev/zero"),
              ("snapshots", "A snapshot edited by hand, then sampled"),
              ("fifo", "Special files in an image folder"), ("flags", "A bad flag"),
              ("processes", "Again as real processes (`python -m playground …`)")]
    total = sum(len(res[k]) for k, _ in groups)
    ok = sum(r["survived"] for k, _ in groups for r in res[k])
    lines = ["## 6. Run folders edited, linked or replaced by hand", "",
             "Each trial copies a finished 3-epoch run (DCGAN on 64 bundled MNIST images, three training "
             "checkpoints), changes one thing, records every entry inside the run and in a folder outside it "
             "(bytes by sha256, link targets, kinds; links never followed), runs the command a person would "
             "run through the CLI's own entry point (`playground.cli.main` in the campaign's process, under "
             "a 120 s alarm that reports a hang; the last table runs seven of the cases again as real "
             "`python -m playground` processes) and checks the exit status, that "
             "the message names the problem, that stderr holds no Python traceback, that nothing hung, and "
             "that every entry inside and outside is exactly as it was (for a new run started over a link: "
             "everything outside). Checkpoint edits marked *re-hashed* recompute the size, sha256 and "
             "`meta_sha256`, so only the content checks can catch them.", "",
             f"Trials {total}, survived **{ok}/{total}**, entries changed by a refused command "
             f"{sum(r['changed'] for k, _ in groups for r in res[k] if k != 'fifo')}.", ""]
    for key, title in groups:
        lines += [f"### {title}", "", *table(res[key], "case"), ""]
    return lines


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Run the reliability campaigns and write the report.")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--restart-trials", type=int, default=3)
    ap.add_argument("--watch-pages", type=int, default=10)
    ap.add_argument("--watch-seconds", type=float, default=60.0)
    ap.add_argument("--only", default="crash,restarts,os,hostile,watchers,folders",
                    help="comma-separated campaigns to run (default: all)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep-previous", action="store_true",
                    help="keep the sections (and summary rows) of campaigns not in --only from the report at --out")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "reliability.md"))
    args = ap.parse_args(argv)
    command = "scripts/reliability_report.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    started, load0 = time.time(), os.getloadavg()
    only = set(args.only.split(","))
    sections, summary = [], [row("campaign", "trials", "survived", "lost"), row(*["---"] * 4)]
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        work = Path(tmp)
        if "crash" in only:
            log("1. crashes")
            ct = crash_campaign(work, args.kills, args.seed)
            sections.append(crash_section(ct))
            ct = ct["trials"]
            ok = sum(r["survived"] for r in ct)
            summary.append(row("1. SIGKILL of the worker", len(ct), ok, f"{len(ct) - ok} runs; "
                               f"{sum(r['lost_epochs'] for r in ct)} completed epochs retrained"))
        if "restarts" in only:
            log("2. restarts")
            rs = restart_campaign(work / "restarts", args.restart_trials)
            sections.append(restart_section(rs))
            t = rs["parent_death"] + rs["queue"] + rs["resume"] + rs["submit"][1] + rs["submit"][2]
            ok = sum(r["survived"] for r in t)
            summary.append(row("2. restarts, refreshes, simultaneous starts", len(t), ok, f"{len(t) - ok} jobs"))
        if "os" in only:
            log("3. OS errors")
            (work / "os").mkdir()
            oserr = os_error_campaign(work / "os")
            sections.append(os_error_section(oserr))
            t = oserr["trials"] + [r for r in oserr["real"] if "skipped" not in r]
            ok = sum(r["survived"] for r in t)
            summary.append(row("3. full disk / refused writes", len(t), ok,
                               f"{len(t) - ok} runs; 0 checkpoints or grids"))
        if "hostile" in only:
            log("4. hostile input")
            hostile = hostile_campaign(work)
            sections.append(hostile_section(hostile))
            up = hostile["uploads"]
            n = len(up) + len(hostile["ids"]) + len(hostile["keys"])
            ok = (sum(u["refused"] and u["names_it"] and u["nothing_written"] for u in up)
                  + sum(i["rejected"] for i in hostile["ids"]) + sum(k["rejected"] for k in hostile["keys"]))
            summary.append(row("4. hostile uploads, ids and keys", n, ok, f"{n - ok} accepted"))
        if "watchers" in only:
            log("5. many watchers")
            w = watcher_campaign(work, args.watch_pages, args.watch_seconds)
            sections.append(watcher_section(w, args.watch_pages, args.watch_seconds))
            if "error" not in w:
                summary.append(row("5. many watchers", f"{w['pages_opened']} pages × {w['window_s']} s",
                                   "no app errors" if w["ok"] else "errors (see 5)",
                                   f"{w['server_cpu_ms_per_poll']} ms server CPU per poll"))
        if "folders" in only:
            log("6. edited, linked and special run folders")
            fo = folder_campaign(work / "folders")
            sections.append(folder_section(fo))
            t = [r for k in ("refusals", "links", "special", "snapshots", "fifo", "flags", "processes") for r in fo[k]]
            ok = sum(r["survived"] for r in t)
            summary.append(row("6. run folders edited, linked, special; bad flags", len(t), ok,
                               f"{len(t) - ok} trials; {sum(r['changed'] for r in t)} entries changed"))
    kept = []
    if args.keep_previous and Path(args.out).exists():
        kept = _previous_sections(Path(args.out).read_text(), only)
        summary[2:] = sorted(summary[2:] + [r for r, _ in kept if r], key=lambda r: r[:6])
        sections = sorted([sec for _, sec in kept] + sections, key=lambda sec: sec[0])
    header = ["# Reliability report", "",
              f"Written by `.venv/bin/python {command.strip()}` on {time.strftime('%Y-%m-%d %H:%M')}, "
              f"in {(time.time() - started) / 60:.1f} min. Machine: {platform.machine()}, {os.cpu_count()} CPUs "
              f"(shared; load average {load0[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end), Python "
              f"{platform.python_version()}, PyTorch {torch.__version__}, CPU only."
              + (f" Campaigns run this time: {', '.join(sorted(only))}; the others' sections are kept from the "
                 "previous report and say so." if kept else ""), "", *summary, ""]
    text = "\n".join(header + [line for s in sections for line in s + [""]])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    log(f"wrote {args.out}")
    return 0


CAMPAIGN_NUMBERS = {"crash": "1", "restarts": "2", "os": "3", "hostile": "4", "watchers": "5", "folders": "6"}


def _previous_sections(text: str, only: set) -> list[tuple[str, list[str]]]:
    """(summary row, section lines) of the previous report's campaigns that were not run now."""
    lines = text.splitlines()
    written = next((ln for ln in lines if ln.startswith("Written by")), "")
    when = written.split(" on ", 1)[-1].split(",", 1)[0] if written else "an earlier run"
    out = []
    for key, number in CAMPAIGN_NUMBERS.items():
        if key in only:
            continue
        start = next((i for i, ln in enumerate(lines) if ln.startswith(f"## {number}. ")), None)
        if start is None:
            continue
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        body = lines[start:end]
        while body and not body[-1].strip():
            body.pop()
        note = f"*Kept from the previous report (written {when.split(' in ')[0]}); not rerun this time.*"
        summary = next((ln for ln in lines if ln.startswith(f"| {number}. ")), "")
        out.append((summary, [body[0], "", note, *body[1:]]))
    return out


if __name__ == "__main__":
    sys.exit(main())
