"""One training loop for every trainer (`train maa`, `train gcc-phat-sm`, `kws train`).

:func:`fit` owns what every run does the same way: epochs, the optimiser and learning-rate
schedule steps, gradient clipping, resume from ``out_dir/last.pt`` (read with
``weights_only=True``), the choice of the best epoch (``model.pt``), data-parallel training
(:mod:`.distributed`), the progress bar, ``log.csv`` / ``metrics.json`` / ``curve.png`` and the
time budget (:mod:`.budget`). A :class:`Task` supplies what differs: the model, the batches of an
epoch, the loss of one batch, the validation metrics, the metric that picks the best epoch and the
metadata that goes into the checkpoints (CONTRIBUTING.md, "Add a trainer", has a worked example).

Reproducibility: the task seeds what an epoch draws from ``(seed, epoch)`` in
:meth:`Task.start_epoch`, so a run stopped after any epoch and resumed reaches the weights of an
unbroken run. Only rank 0 writes files.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from ..errors import InputError
from ..io_utils import write_json_atomic
from . import distributed as D
from .budget import fit_epochs, resumed_epochs
from .checkpoint import CheckpointFormat, cpu_copy
from .logging_io import epoch_progress, plot_learning_curve, write_csv_log
from .optim import adamw_cosine, set_total_steps
from .seeding import seed_everything

log = logging.getLogger("neuroaudio")


@dataclass
class Step:
    """What :meth:`Task.step` gives back for one batch.

    Attributes:
        loss: the scalar loss to minimise (with gradients).
        n: the batch's weight in the epoch means (samples, frames or clips).
        sums: per-batch sums named by their ``log.csv`` column, e.g. ``{"train_loss": loss * n,
            "train_acc5": hits}``; the epoch's row holds ``sum over batches / sum of n``.
    """

    loss: torch.Tensor
    n: int
    sums: dict[str, float]


class CosineSchedule:
    """The per-step schedule of :func:`.optim.adamw_cosine` (a ``LambdaLR`` stepped after each
    optimiser step; its total follows a run cut to its time budget)."""

    def __init__(self, sched: torch.optim.lr_scheduler.LambdaLR):
        self.sched = sched

    def before_step(self, step: int) -> None:
        """Nothing: the LambdaLR sets the learning rate when it steps."""

    def after_step(self) -> None:
        self.sched.step()

    def set_total(self, total_steps: int) -> None:
        set_total_steps(self.sched, total_steps)

    def state_dict(self) -> dict[str, Any] | None:
        return self.sched.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        self.sched.load_state_dict(state)


class Task:
    """What one kind of model brings to :func:`fit`. Subclass it; the defaults fit a DOA trainer.

    Attributes (set them in ``__init__`` or as class attributes):
        title: the curve's title (and the one progress bar's, with ``one_bar``).
        checkpoint: the :class:`CheckpointFormat` of ``model.pt`` and ``last.pt``.
        net: the network whose parameters are trained and clipped and whose ``state_dict`` is saved.
        steps_per_epoch: batches per epoch (the progress bar and the schedule's total).
        log_fields: the ``log.csv`` columns (``epoch``, the ``Step.sums`` keys, the validation keys,
            ``lr``, ``seconds``, ``cpu_seconds``).
        select, lower_is_better: the validation metric that picks ``model.pt`` (lower wins, or a
            non-finite best so far is replaced; higher wins with ties going to the later epoch).
        select_best: False: no ``model.pt`` during the run (the task writes its own afterwards).
        curve_loss_keys, curve_metric_keys: the columns drawn in ``curve.png``; ``plot_every``:
            plot every N epochs (and after the run when N > 1).
        csv_float_format: ``log.csv`` number format (e.g. ``".6g"``; None: Python's repr).
        round_seconds: digits of the ``seconds`` columns (None: as measured).
        epoch_metrics_json: write ``metrics.json`` (``{"best", "last"}``) after each epoch.
        resume_mismatch: a ``last.pt`` of another run: ``"raise"`` an InputError, or ``"restart"``.
        resume_log_level: the level of the "resuming from" log line.
        one_bar: one progress bar for the whole run (else one per epoch, removed when it ends).
    """

    title: str = "training"
    checkpoint: CheckpointFormat
    net: torch.nn.Module
    steps_per_epoch: int = 1
    log_fields: Sequence[str] = ()
    select: str = "val_loss"
    lower_is_better: bool = True
    select_best: bool = True
    curve_loss_keys: Sequence[str] = ("train_loss", "val_loss")
    curve_metric_keys: Sequence[str] = ("train_acc", "val_acc")
    plot_every: int = 1
    csv_float_format: str | None = None
    round_seconds: int | None = 2
    epoch_metrics_json: bool = True
    resume_mismatch: str = "raise"
    resume_log_level: int = logging.INFO
    one_bar: bool = False

    @property
    def module(self) -> torch.nn.Module:
        """The module put in training mode, wrapped for DDP and handed to :meth:`step` (``net``,
        or a module around it, e.g. a front end + network)."""
        return self.net

    # --- must be given -------------------------------------------------------------------------
    def checkpoint_meta(self) -> dict[str, Any]:
        """The entries every checkpoint of the run holds besides the weights (configs, array, rate,
        ``code_revision``, ...): JSON-able values and tensors. Called once, before training. Its
        ``config["train"]["epochs"]`` (when there) tells a resume whether the run was extended or
        cut to its time budget (:func:`.budget.resumed_epochs`)."""
        raise NotImplementedError

    def batches(self, epoch: int) -> Iterable[Any]:
        """The training batches of ``epoch`` (0-based), in order; each goes to :meth:`step`."""
        raise NotImplementedError

    def step(self, model: torch.nn.Module, batch: Any) -> Step | None:
        """Forward one batch through ``model`` (:attr:`module`, DDP-wrapped when distributed) and
        return its loss and sums; None skips the batch (e.g. empty)."""
        raise NotImplementedError

    def validate(self) -> dict[str, float]:
        """Validation metrics of :attr:`net` after an epoch (``log.csv`` columns, incl. ``select``)."""
        raise NotImplementedError

    # --- may be overridden ---------------------------------------------------------------------
    def start_epoch(self, epoch: int) -> None:
        """Seed what ``epoch`` draws (sample order, augmentation, dropout) from ``(seed, epoch)``."""

    def same_run(self, ck: dict[str, Any]) -> bool:
        """Whether ``last.pt`` (``ck``) belongs to this run (same config up to where it runs)."""
        return True

    def initial_best(self) -> dict[str, Any]:
        """The best metrics before any epoch (``{select: ±inf}``)."""
        return {self.select: math.inf if self.lower_is_better else -math.inf}

    def best_metrics(self, best: dict[str, Any]) -> dict[str, Any]:
        """The ``metrics`` entry of ``model.pt`` (default: the best epoch's validation metrics and
        ``epoch``)."""
        return best

    def resume_state(self, val: dict[str, float], best: dict[str, Any]) -> dict[str, Any]:
        """Entries of ``last.pt`` besides weights, optimiser, schedule and history: default the
        epoch's ``metrics`` and the ``best`` so far."""
        return {"metrics": val, "best": best}

    def load_resume_state(self, ck: dict[str, Any]) -> dict[str, Any]:
        """Read back what :meth:`resume_state` wrote; returns the best metrics so far."""
        return dict(ck.get("best", self.initial_best()))

    def end_epoch(self, epoch: int, n_epochs: int, state: dict[str, torch.Tensor]) -> None:
        """After the epoch's validation, with its weights (CPU copy), before the checkpoints."""

    def progress_text(self, epoch: int, means: dict[str, float], val: dict[str, float] | None) -> str:
        """The progress bar's text with ``one_bar`` (running means, then validation)."""
        return ""

    def plot(self, rows: list[dict[str, Any]], path: Path) -> None:
        """Draw ``curve.png``."""
        plot_learning_curve(rows, path, self.title, loss_keys=self.curve_loss_keys,
                            metric_keys=self.curve_metric_keys, metric_label="accuracy")


@dataclass
class FitSettings:
    """How :func:`fit` runs. ``epochs``: configured total (``train.epochs``); ``grad_clip``: max
    gradient norm (None/0: none); ``time_budget_s``: > 0 fits the epochs to that many wall seconds
    (:mod:`.budget`); ``resume``: continue from ``out_dir/last.pt`` when it exists."""

    out_dir: Path
    epochs: int
    grad_clip: float | None = None
    time_budget_s: float = 0.0
    resume: bool = True
    progress: bool = True


@dataclass
class FitResult:
    """``rows``: the log rows of every epoch (resumed ones included); ``best``: the best epoch's
    metrics and ``epoch``; ``n_epochs``: the run's total (``epochs``, or fewer when fitted to the
    budget)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    n_epochs: int = 0


def _improved(task: Task, val: dict[str, float], best: dict[str, Any]) -> bool:
    if not task.select_best:
        return False
    v, b = val[task.select], best.get(task.select, task.initial_best()[task.select])
    if task.lower_is_better:
        return v < b or not math.isfinite(b)
    return v >= b


class Schedule(Protocol):
    """A learning-rate schedule as :func:`fit` drives it (:class:`CosineSchedule`, or e.g. a rate
    computed from the step and the run's total)."""

    def before_step(self, step: int) -> None: ...

    def after_step(self) -> None: ...

    def set_total(self, total_steps: int) -> None: ...

    def state_dict(self) -> dict[str, Any] | None: ...     # None: nothing to save in last.pt

    def load_state_dict(self, state: dict[str, Any] | None) -> None: ...


class _Bar:
    """The progress bar: one per epoch (removed when it ends), or with ``task.one_bar`` one for the
    run with the task's text beside it."""

    def __init__(self, progress: Any, task: Task, spe: int, n_epochs: int, start: int):
        self.p, self.task, self.spe, self.one = progress, task, spe, task.one_bar
        if self.one:
            self.id = progress.add_task(task.title, total=spe * n_epochs, completed=start * spe, info="")

    def start_epoch(self, epoch: int, n_epochs: int) -> None:
        if not self.one:
            self.id = self.p.add_task(f"epoch {epoch + 1}/{n_epochs}", total=self.spe)

    def advance(self, epoch: int, sums: dict[str, float], n: float) -> None:
        if self.one and n:
            means = {k: v / n for k, v in sums.items()}
            self.p.update(self.id, advance=1, info=self.task.progress_text(epoch, means, None))
        else:
            self.p.advance(self.id)

    def end_epoch(self, epoch: int, means: dict[str, float], val: dict[str, float]) -> None:
        if self.one:
            self.p.update(self.id, info=self.task.progress_text(epoch, means, val))
        else:
            self.p.remove_task(self.id)

    def set_total(self, n_epochs: int) -> None:
        if self.one:
            self.p.update(self.id, total=self.spe * n_epochs)


def _resume(task: Task, opt: torch.optim.Optimizer, schedule: Schedule, last: Path, epochs: int, spe: int,
            info: D.DistInfo) -> tuple[list[dict[str, Any]], int, dict[str, Any], int] | None:
    """Load ``last`` into the task's net, ``opt`` and ``schedule``: ``(rows, epochs done, best so far,
    the run's total)``; None when it belongs to another run and the task restarts then."""
    ck = task.checkpoint.read(last)
    if not task.same_run(ck):
        if task.resume_mismatch == "raise":
            raise InputError(f"{last} was trained with another config; give another out_dir, or "
                             "--no-resume to start over")
        log.warning("%s was trained with another config; starting afresh", last)
        return None
    task.net.load_state_dict(ck["state_dict"])
    opt.load_state_dict(ck["optimizer"])
    if schedule.state_dict() is not None:
        schedule.load_state_dict(ck["scheduler"])
    best = task.load_resume_state(ck)
    _set_rng_state(ck.get("rng_state"), task.net)
    n_epochs = resumed_epochs(ck, epochs)       # a run cut to its time budget stays cut
    schedule.set_total(n_epochs * spe)
    if info.is_main:
        log.log(task.resume_log_level, "resuming from %s at epoch %d", last, int(ck["epoch"]))
    return list(ck.get("history", [])), int(ck["epoch"]), best, n_epochs


def _train_epoch(task: Task, model: torch.nn.Module, opt: torch.optim.Optimizer, schedule: Schedule,
                 epoch: int, spe: int, clip: float, bar: _Bar, info: D.DistInfo) -> dict[str, float]:
    """One pass over ``task.batches(epoch)``; the epoch's means of the steps' sums (over all ranks)."""
    model.train()
    sums: dict[str, float] = {}
    n_sum = 0.0
    for b, batch in enumerate(task.batches(epoch)):
        schedule.before_step(epoch * spe + b)
        st = task.step(model, batch)
        if st is not None:
            opt.zero_grad(set_to_none=True)
            st.loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(task.net.parameters(), clip)
            opt.step()
            schedule.after_step()
            for k, v in st.sums.items():
                sums[k] = sums.get(k, 0.0) + v
            n_sum += st.n
        bar.advance(epoch, sums, n_sum)
    *totals, n_sum = D.all_reduce_sum([*sums.values(), n_sum], info)
    D.broadcast_buffers(model, info)
    return {k: v / max(n_sum, 1) for k, v in zip(sums, totals, strict=True)}


def fit(task: Task, opt: torch.optim.Optimizer, schedule: Schedule, settings: FitSettings,
        info: D.DistInfo | None = None) -> FitResult:
    """Train ``task.net`` with ``opt`` and ``schedule`` for ``settings.epochs`` epochs (fewer when
    fitted to ``settings.time_budget_s``), continuing from ``out_dir/last.pt`` when it exists.

    Writes in ``settings.out_dir`` (rank 0): ``last.pt`` every epoch (weights, optimiser, schedule,
    history, ``epochs_fitted``, ``rng_state`` (torch's generators, for dropout) and
    :meth:`Task.resume_state`), ``model.pt`` when the epoch is the best so far, ``log.csv``,
    ``curve.png`` and (``epoch_metrics_json``) ``metrics.json``. Under DDP (``info``) every rank
    trains its share and rank 0 writes and decides the budget.
    """
    info = info or D.DistInfo()
    out = Path(settings.out_dir)
    spe, epochs = max(1, int(task.steps_per_epoch)), int(settings.epochs)
    rows: list[dict[str, Any]] = []
    start, best, n_epochs = 0, task.initial_best(), epochs    # n_epochs: lowered by the time budget
    if settings.resume and (out / "last.pt").is_file():
        resumed = _resume(task, opt, schedule, out / "last.pt", epochs, spe, info)
        if resumed is not None:
            rows, start, best, n_epochs = resumed
    meta = task.checkpoint_meta()
    model = D.wrap_model(task.module, info)
    budget_s = float(settings.time_budget_s)
    clip = float(settings.grad_clip) if settings.grad_clip else 0.0
    t_run = time.perf_counter()           # the budget counts the training loop (data and model are ready)
    checked: list[float] = []             # s into the run at each epoch's budget check
    one = task.one_bar
    with epoch_progress(settings.progress and info.is_main, info_field=one, transient=not one) as progress:
        bar = _Bar(progress, task, spe, n_epochs, start)
        for epoch in range(start, epochs):
            if epoch >= n_epochs:
                break
            t0, c0 = time.perf_counter(), time.process_time()
            task.start_epoch(epoch)
            bar.start_epoch(epoch, n_epochs)
            means = _train_epoch(task, model, opt, schedule, epoch, spe, clip, bar, info)
            val = task.validate()
            secs, cpu = time.perf_counter() - t0, time.process_time() - c0
            if task.round_seconds is not None:
                secs, cpu = round(secs, task.round_seconds), round(cpu, task.round_seconds)
            rows.append({"epoch": epoch + 1, **means, **val, "lr": opt.param_groups[0]["lr"],
                         "seconds": secs, "cpu_seconds": cpu})
            bar.end_epoch(epoch, means, val)
            improved = _improved(task, val, best)
            if improved:
                best = {**val, "epoch": epoch + 1}
            if budget_s > 0:
                # an epoch's wall time: from the previous epoch's check to this one (its training and
                # validation, and the previous epoch's checkpoint and plot), so the fit leaves room for all
                checked.append(time.perf_counter() - t_run)
                took = [{"seconds": b - a} for a, b in zip([0.0, *checked[:-1]], checked, strict=True)]
                fitted = fit_epochs(budget_s, checked[-1], epoch, start, took, n_epochs)
                n_epochs = int(D.all_reduce_sum([fitted if info.is_main else 0], info)[0])  # rank 0 decides
                schedule.set_total(n_epochs * spe)
                bar.set_total(n_epochs)
            state = cpu_copy(task.net.state_dict())
            task.end_epoch(epoch, n_epochs, state)
            if info.is_main:
                _save_epoch(task, out, meta, state, epoch, val, best, improved, opt, schedule, rows, n_epochs)
            D.barrier(info)
    if info.is_main and rows and task.plot_every > 1:
        task.plot(rows, out / "curve.png")
    return FitResult(rows, best, n_epochs)


def _rng_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """torch's global generator states after an epoch (CPU, and the net's GPU when on one): what
    draws from them (dropout) continues in a resumed run as in an unbroken one."""
    state = {"cpu": torch.get_rng_state()}
    dev = next(net.parameters(), torch.empty(0)).device
    if dev.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(dev)
    return state


def _set_rng_state(state: dict[str, torch.Tensor] | None, net: torch.nn.Module) -> None:
    """Restore what :func:`_rng_state` saved (a ``last.pt`` from before it was saved: nothing)."""
    if not state:
        return
    torch.set_rng_state(state["cpu"])
    dev = next(net.parameters(), torch.empty(0)).device
    if dev.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], dev)


def _save_epoch(task: Task, out: Path, meta: dict[str, Any], state: dict[str, torch.Tensor], epoch: int,
                val: dict[str, float], best: dict[str, Any], improved: bool, opt: torch.optim.Optimizer,
                schedule: Schedule, rows: list[dict[str, Any]], n_epochs: int) -> None:
    """model.pt (when improved), last.pt, log.csv, curve.png, metrics.json after ``epoch``."""
    if improved:
        task.checkpoint.save(out / "model.pt", {**meta, "state_dict": state, "epoch": epoch + 1,
                                                "metrics": task.best_metrics(best)})
    sched = schedule.state_dict()
    task.checkpoint.save(out / "last.pt", {
        **meta, "state_dict": state, "epoch": epoch + 1, "optimizer": cpu_copy(opt.state_dict()),
        **({"scheduler": sched} if sched is not None else {}), "history": rows, "epochs_fitted": n_epochs,
        "rng_state": _rng_state(task.net), **task.resume_state(val, best)})
    write_csv_log(out / "log.csv", rows, task.log_fields, task.csv_float_format)
    if (epoch + 1) % task.plot_every == 0:
        task.plot(rows, out / "curve.png")
    if task.epoch_metrics_json:
        write_json_atomic(out / "metrics.json", {"best": best, "last": rows[-1]})
    log.info("epoch %d/%d: %s", epoch + 1, n_epochs,
             {k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()})


def fit_doa(cfg: dict[str, Any], make_task: Callable[..., Task], prepare_data: Callable[..., tuple],
            data: tuple[Any, Any, Any, Any], resume: bool, progress: bool) -> dict[str, Any]:
    """``train()`` of a simulated-scene DOA trainer (`train maa`, `train gcc-phat-sm`).

    Args:
        cfg: the validated pipeline config (``train``: ``seed``, ``epochs``, ``lr``, ``weight_decay``,
            ``grad_clip``, optional ``time_budget_s``; ``out_dir``).
        make_task: ``(cfg, train_set, val_set, array, fs, dist_info) -> Task``.
        prepare_data: ``(cfg, dist_info, progress) -> (train_set, val_set, array, fs)``, used when
            ``data`` (the same four, e.g. from a test) has no training set.

    Seeds, starts DDP under torchrun, trains with AdamW and a per-step cosine (:func:`fit`).
    Returns ``{"metrics": best, "epoch": the run's epochs, "out_dir", "model": the last epoch's net
    on the CPU, "history": log rows, "dist": DistInfo}``.
    """
    from ..errors import InputError

    info = D.init_distributed()
    t_cfg = cfg["train"]
    seed_everything(int(t_cfg["seed"]))
    train_set, val_set, array, fs = data
    if train_set is None:
        train_set, val_set, array, fs = prepare_data(cfg, info, progress)
    if array is None or fs is None or val_set is None:
        raise InputError("train(): give array, fs and val_set together with train_set")
    task = make_task(cfg, train_set, val_set, array, fs, info)
    epochs = int(t_cfg["epochs"])
    opt, sched = adamw_cosine(task.net.parameters(), t_cfg, epochs * task.steps_per_epoch)
    res = fit(task, opt, CosineSchedule(sched),
              FitSettings(Path(cfg["out_dir"]), epochs, grad_clip=t_cfg["grad_clip"],
                          time_budget_s=float(t_cfg.get("time_budget_s", 0.0)), resume=resume,
                          progress=progress), info)
    return {"metrics": res.best, "epoch": res.n_epochs, "out_dir": str(cfg["out_dir"]),
            "model": task.net.cpu().eval(), "history": res.rows, "dist": info}
