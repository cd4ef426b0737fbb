"""The Ray backend of the job manager: each training job is the unchanged worker command
(``python -m playground train --run-dir …``) submitted to an existing Ray cluster through Ray's
Jobs API, with the resources it needs (one GPU for a CUDA job, CPUs for a CPU job, and any custom
resources the lab declares), so Ray places it on a node with a free GPU and keeps it waiting while
none is free. Nothing here schedules: Ray does.

``ray`` is imported only inside this module's functions: the app, the local queue and every test
that does not use Ray run without it installed (requirements-cluster.txt adds it).

The cluster's address follows Ray's own convention (``RAY_ADDRESS``, e.g. ``http://head:8265``).
It is never put into a message a learner reads: a cluster that cannot be reached is reported as
:class:`ClusterUnavailable` with a plain sentence, and the details go to the server's log.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import socket
import sys
import time
from pathlib import Path

from .devices import DEVICE_ENV
from .i18n import msg
from .runs import CPUS_ENV, LAUNCHER_ENV, Run, RunError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESOURCES_ENV = "GAN_PLAYGROUND_RAY_RESOURCES"   # JSON: custom resources every job asks for
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
CAPACITY_TTL_S = 30.0
# One client per address and the cluster's resources, kept between the dashboard's page runs (each
# makes a fresh job manager): connecting asks the cluster for its version, a round trip each time.
_clients: dict = {}
_capacity: dict = {}
_down_until: dict = {}      # address -> monotonic time: a cluster that did not answer is not asked again before
DOWN_FOR_S = 15.0
CONNECT_TIMEOUT_S = 3.0


class ClusterUnavailable(RunError):
    """The cluster cannot be reached or refused a request; ``args[0]`` is a stored message
    (playground/i18n.py) that never names the cluster's address."""


def _log(text: str) -> None:
    """Details for the administrator (the server's or the CLI's stderr), never for a page."""
    sys.stderr.write(f"[ray backend] {text}\n")
    sys.stderr.flush()


def parse_resources(text: str | None) -> dict[str, float]:
    """``GAN_PLAYGROUND_RAY_RESOURCES`` as {name: amount}; ValueError says what is wrong."""
    if not text or not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not doc:
        raise ValueError(f"{RESOURCES_ENV} must be a JSON object of resource names and amounts, "
                         f'such as {{"training_slot": 1}}; got {text[:80]!r}')
    out = {}
    for name, amount in doc.items():
        if (not isinstance(name, str) or not name or name in ("CPU", "GPU", "memory")
                or isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 < amount <= 1e6):
            raise ValueError(f"{RESOURCES_ENV}: {name!r}: {amount!r} is not a custom resource with a "
                             "positive amount (CPU and GPU are set from the run's device)")
        out[name] = float(amount)
    return out


def _check_port(address: str | None) -> None:
    """For an http(s) address, OSError unless its port accepts a connection within a few seconds
    (other forms of address are left to Ray)."""
    from urllib.parse import urlsplit

    parts = urlsplit(address or "")
    if parts.scheme in ("http", "https") and parts.hostname:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S).close()


def _need(req: dict) -> dict:
    """{resource: amount} of one job from its entrypoint request (only what it asks for)."""
    need = {"GPU": req.get("entrypoint_num_gpus", 0), "CPU": req.get("entrypoint_num_cpus", 0),
            **req.get("entrypoint_resources", {})}
    return {k: float(v) for k, v in need.items() if v}


def _is_gpu(device: str) -> bool:
    return device == "cuda" or device.startswith("cuda:")


class RayBackend:
    """Submits, watches and stops the training jobs of one Ray cluster."""

    def __init__(self, address: str | None = None, resources: dict | None = None,
                 python: str = sys.executable):
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.resources = dict(resources) if resources is not None else parse_resources(os.environ.get(RESOURCES_ENV))
        self.python = python

    # ------------------------------------------------------------------ the connection
    def client(self):
        if _clients.get(self.address) is None:
            try:
                from ray.job_submission import JobSubmissionClient
            except ImportError:
                raise ClusterUnavailable(msg("the training cluster is not set up on this server "
                                             "(the Ray package is missing); ask the lab's administrator")) from None
            unreachable = ClusterUnavailable(msg("the training cluster cannot be reached; try again later "
                                                 "or ask the lab's administrator"))
            if time.monotonic() < _down_until.get(self.address, 0.0):
                raise unreachable   # a page must not wait for a cluster that just did not answer
            try:
                _check_port(self.address)   # Ray's client waits without a time limit
                _clients[self.address] = JobSubmissionClient(self.address)
            except Exception as e:  # ConnectionError, OSError, ValueError for a bad address, …
                _log(f"cannot reach the cluster at {self.address or '(RAY_ADDRESS unset)'}: {e}")
                _down_until[self.address] = time.monotonic() + DOWN_FOR_S
                raise unreachable from None
        return _clients[self.address]

    def forget(self) -> None:
        """Drop the cached connection (it broke): the next request connects again."""
        _clients.pop(self.address, None)
        _capacity.pop(self.address, None)

    # ------------------------------------------------------------------ what a job asks for
    def request(self, device: str, threads: int) -> dict:
        """Ray's entrypoint resources for a run with this device setting and thread count, and the
        device the worker must use. 'auto' asks for a GPU when the cluster has any."""
        if device == "auto":
            device = "cuda" if self.capacity().get("GPU", 0) > 0 else "cpu"
        if _is_gpu(device):
            req = {"entrypoint_num_gpus": 1, "entrypoint_num_cpus": 1}
            placed = "cuda"   # Ray sets CUDA_VISIBLE_DEVICES to the GPU it reserved: cuda:0 is that GPU
        else:
            cpus = max(1, int(threads or 1))
            req = {"entrypoint_num_cpus": cpus}
            placed = "cpu"    # a CPU job on a GPU node must not take a GPU Ray gave nobody
        if self.resources:
            req["entrypoint_resources"] = dict(self.resources)
        return {**req, "device": placed}

    def capacity(self) -> dict:
        """The cluster's total resources ({'CPU': 6, 'GPU': 2, 'training_slot': 3, …}) over its
        alive nodes, cached for half a minute; {} when they cannot be read."""
        now = time.monotonic()
        cached = _capacity.get(self.address)
        if cached and now - cached[0] < CAPACITY_TTL_S:
            return cached[1]
        total: dict = {}
        try:
            from ray.util.state import list_nodes

            address = getattr(self.client(), "_address", None) or self.address
            for node in list_nodes(address=address, detail=True, raise_on_missing_output=False, timeout=10):
                if getattr(node, "state", "") == "ALIVE":
                    for k, v in (getattr(node, "resources_total", None) or {}).items():
                        total[k] = total.get(k, 0) + float(v)
        except Exception as e:  # a cluster that cannot say: the job asks for what its config says
            _log(f"cannot read the cluster's resources: {e}")
            total = {}
        _capacity[self.address] = (now, total)
        return total

    def slots(self, device: str, threads: int) -> int | None:
        """How many jobs of this kind the cluster can run at once (None: unknown)."""
        total = self.capacity()
        if not total:
            return None
        need = _need(self.request(device, threads))
        counts = [int(total.get(k, 0) // v) for k, v in need.items()]
        return min(counts) if counts else None

    # ------------------------------------------------------------------ jobs
    def submission_id(self, run: Run) -> str:
        return f"gan-playground-{run.id}-{secrets.token_hex(3)}"

    def entrypoint(self, run: Run, resume: bool, epochs: int | None) -> str:
        """The worker command, exactly as the local backend runs it, from the project's folder
        (every node has the project at the same path: README "A lab with several machines")."""
        cmd = [self.python, "-m", "playground", "train", "--run-dir", str(run.path.resolve()), "--quiet"]
        if resume:
            cmd.append("--resume")
            if epochs is not None:
                cmd += ["--epochs", str(int(epochs))]
        return f"cd {shlex.quote(str(PROJECT_ROOT))} && exec {shlex.join(cmd)}"

    def submit(self, run: Run, submission_id: str, *, device: str, threads: int, resume: bool = False,
               epochs: int | None = None) -> dict:
        """Submit the worker of ``run``; returns what job.json records about it."""
        req = self.request(device, threads)
        placed = req.pop("device")
        total, need = self.capacity(), _need(req)
        if total and any(total.get(k, 0) < v for k, v in need.items()):
            # Ray would keep it waiting for a machine that does not exist
            raise ClusterUnavailable(msg("no machine of the training cluster offers what this run needs "
                                         "({needs}); choose another device or ask the lab's administrator",
                                         needs=", ".join(f"{k} {v:g}" for k, v in need.items())))
        env = {"PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1", DEVICE_ENV: placed,
               LAUNCHER_ENV: "ray"}   # the worker lowers its priority, as under the local backend
        if placed == "cpu":
            env[CPUS_ENV] = str(int(req["entrypoint_num_cpus"]))
        try:
            self.client().submit_job(entrypoint=self.entrypoint(run, resume, epochs), submission_id=submission_id,
                                     runtime_env={"env_vars": env}, metadata={"run": run.id}, **req)
        except ClusterUnavailable:
            raise
        except Exception as e:
            _log(f"the cluster refused job {submission_id}: {e}")
            raise ClusterUnavailable(msg("the training cluster did not accept the job; try again later "
                                         "or ask the lab's administrator")) from None
        return {"device": placed, "resources": {k: v for k, v in req.items()}}

    def status(self, submission_id: str) -> str | None:
        """Ray's status of the job (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED); 'LOST' when the
        cluster no longer knows it (restarted, or its history was cleared); None when the cluster
        cannot be asked right now."""
        try:
            status = self.client().get_job_status(submission_id)
            return str(getattr(status, "value", status))
        except ClusterUnavailable:
            return None
        except RuntimeError as e:
            if "404" in str(e) or "does not exist" in str(e):
                return "LOST"
            _log(f"cannot read the status of job {submission_id}: {e}")
            return None
        except Exception as e:  # a connection that broke since
            _log(f"cannot read the status of job {submission_id}: {e}")
            self.forget()
            return None

    def stop(self, submission_id: str) -> bool:
        """Ask Ray to end the job (its worker gets SIGTERM, saves a checkpoint and stops)."""
        try:
            return bool(self.client().stop_job(submission_id))
        except ClusterUnavailable:
            raise
        except Exception as e:
            _log(f"cannot stop job {submission_id}: {e}")
            return False
