"""The training loop shared by teacher training and distillation: background batch prefetch,
optimiser and schedule, resuming, one epoch of steps, and the per-epoch history line."""
from __future__ import annotations

import json
import math
import queue
import threading
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm


class prefetch:
    """Iterate a DataLoader in a background thread (OpenCV and numpy release the GIL), so
    augmentation overlaps the training step without forking worker processes."""

    def __init__(self, loader: DataLoader, depth: int = 3):
        self.loader, self.depth = loader, depth

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        q: queue.Queue = queue.Queue(self.depth)
        done = object()

        def work():
            try:
                for b in self.loader:
                    q.put(b)
            except BaseException as e:  # re-raised in the consumer
                q.put(e)
            q.put(done)

        threading.Thread(target=work, daemon=True).start()
        while (b := q.get()) is not done:
            if isinstance(b, BaseException):
                raise b
            yield b


def optimisation(model: torch.nn.Module, params: list, cfg, steps_per_epoch: int):
    """(EMA copy, AdamW, linear warm-up + cosine schedule per step) from a recipe with ``lr``,
    ``weight_decay``, ``ema_decay``, ``epochs`` and ``warmup_epochs``; shared by teacher
    training and distillation."""
    ema = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    total, warm = cfg.epochs * steps_per_epoch, int(cfg.warmup_epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, warm)) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    return ema, opt, sched


def resume_from(last: Path, model, ema, opt, sched) -> tuple[int, float]:
    """Restore training state from ``last`` if it exists; (first epoch to run, best val NME)."""
    if not last.is_file():
        return 0, float("inf")
    ck = torch.load(last, map_location="cpu", weights_only=False)
    model.load_state_dict(ck["model"])
    ema.module.load_state_dict(ck["ema"])
    ema.n_averaged.fill_(ck["ema_n"])
    opt.load_state_dict(ck["optimizer"])
    sched.load_state_dict(ck["scheduler"])
    print(f"resumed from {last} at epoch {ck['epoch'] + 1}")
    return ck["epoch"] + 1, ck["best"]


def epoch_loader(ds: Dataset, cfg, epoch: int) -> prefetch:
    """The epoch's shuffled batches (seeded by ``cfg.seed`` and the epoch), prefetched."""
    return prefetch(DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, drop_last=len(ds) > cfg.batch_size,
                               generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch)))


def run_epoch(model: torch.nn.Module, loader, step_loss: Callable[[dict], tuple[torch.Tensor, dict]], params: list,
              opt, sched, ema, desc: str, fixed: tuple[torch.nn.Module, ...] = ()) -> dict:
    """One pass over ``loader``: ``step_loss(batch) -> (loss, parts)``, clipped AdamW step, schedule
    and EMA update per batch; returns each loss part averaged over the epoch. The ``fixed``
    modules stay in eval mode (BatchNorm normalises with its running statistics)."""
    model.train()
    for m in fixed:
        m.eval()
    run: dict = {}
    bar = tqdm(loader, desc=desc, leave=False, mininterval=5)
    for batch in bar:
        loss, parts = step_loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        ema.update_parameters(model)
        for k, v in parts.items():
            run[k] = run.get(k, 0.0) + v / len(loader)
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    return run


def record_epoch(out_dir: Path, summary: dict, epochs: int, weights: str = "") -> None:
    """Append the epoch's summary to ``history.jsonl`` and print its line."""
    with open(Path(out_dir) / "history.jsonl", "a") as f:
        f.write(json.dumps(summary) + "\n")
    rep, which = summary["val"], f" ({weights} weights)" if weights else ""
    print(f"epoch {summary['epoch']}/{epochs} {summary['time_s']}s loss {summary['train']['landmarks']:.3f} val NME{which} "
          f"{100 * rep['nme_mean']:.2f} % (median {100 * rep['nme_median']:.2f}, FR@10 {100 * rep['fr10']:.2f} %)", flush=True)
