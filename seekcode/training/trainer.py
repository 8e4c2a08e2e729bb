"""The contrastive training loop: large batches, hard negatives, early stopping, resume.

A run writes into its model directory:

    MODEL_DIR/
      encoder.json, weights...   # the best model so far (by validation MRR): load_encoder(MODEL_DIR)
      train_config.json          # the TrainConfig
      train_log.json             # per-epoch loss, validation MRR, time
      checkpoint/state.pt        # latest state: weights, optimizer, RNG, data position

Running again with the same directory continues from the checkpoint (after an
interruption, or with a new time budget) and reproduces what one uninterrupted run
would have done.
"""

from __future__ import annotations

import json
import pickle
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seekcode.corpus.record import Record
from seekcode.errors import InputError
from seekcode.eval.metrics import mrr, pool_ranks
from seekcode.training.config import RESUMABLE_CHANGES, TrainConfig
from seekcode.training.data import duplicate_groups, split_partitions, training_pairs
from seekcode.training.loss import contrastive_loss
from seekcode.training.mining import mine_negatives
from seekcode.training.trainable import Features, MiniLMTrainable, Trainable

CHECKPOINT = "checkpoint/state.pt"
TRAIN_CONFIG = "train_config.json"
TRAIN_LOG = "train_log.json"


@dataclass
class TrainResult:
    """What a run did: the best validation MRR, where it stopped and why."""

    best_mrr: float = 0.0
    best_epoch: int = -1
    epochs: int = 0
    steps: int = 0
    stopped: str = ""
    minutes: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)


def pool_mrr(query_vecs: np.ndarray, code_vecs: np.ndarray) -> float:
    """MRR of query i finding code i among all codes, ties counted against the model."""
    return mrr(pool_ranks(query_vecs, code_vecs))


def seed_everything(seed: int) -> np.random.Generator:
    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def build_trainable(cfg: TrainConfig, pairs: Sequence[Record]) -> Trainable:
    """A fresh model of type cfg.model (the neural ones get tokenizers trained on `pairs`)."""
    if cfg.model == "minilm":
        from seekcode.encoders.minilm import MiniLMConfig, MiniLMEncoder

        return MiniLMTrainable(MiniLMEncoder(MiniLMConfig(runtime="torch")))
    from seekcode.encoders.neural import NeuralConfig, NeuralEncoder

    return NeuralEncoder.build(pairs, NeuralConfig.for_kind(cfg.model, **cfg.arch))


def load_trainable(cfg: TrainConfig, directory: Path) -> Trainable:
    if cfg.model == "minilm":
        from seekcode.encoders.minilm import MiniLMEncoder

        return MiniLMTrainable(MiniLMEncoder.load(directory))
    from seekcode.encoders.neural import NeuralEncoder

    return NeuralEncoder.load(directory)


class Trainer:
    """Trains one model into one directory. `step_hook(step)` runs after each update (tests)."""

    def __init__(self, cfg: TrainConfig, out: str | Path, progress: bool = True,
                 log: Callable[[str], None] | None = None,
                 step_hook: Callable[[int], None] | None = None):
        self.cfg = cfg
        self.out = Path(out)
        self.progress = progress
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.step_hook = step_hook
        self.model: Trainable | None = None

    # ---- the run -------------------------------------------------------------------
    def fit(self, train: Sequence[Record], valid: Sequence[Record] = (),
            restart: bool = False) -> TrainResult:
        """Train on `train`, early-stop on `valid` (or on a held-out slice of `train`)."""
        cfg = self.cfg
        t0 = time.monotonic()
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        rng = seed_everything(cfg.seed)
        pairs = training_pairs(train)
        held = training_pairs(valid)
        if not held:
            # No validation set given: hold out a slice of the training pairs.
            cut = rng.permutation(len(pairs))
            n_valid = min(cfg.valid_max, max(1, len(pairs) // 20))
            held = [pairs[i] for i in cut[:n_valid]]
            pairs = [pairs[i] for i in sorted(cut[n_valid:])]
        elif len(held) > cfg.valid_max:
            held = [held[i] for i in sorted(rng.permutation(len(held))[: cfg.valid_max])]
        if len(pairs) < 2:
            raise InputError("need at least 2 training pairs (records with a docstring)")

        state = self._load_checkpoint(restart)
        if state is not None:
            model = load_trainable(cfg, self.out)
            model.torch_module().load_state_dict(state["module"])
            self.log(f"resuming from {self.out / CHECKPOINT} (epoch {state['epoch']}, "
                     f"step {state['step']})")
        else:
            self.log(f"building {cfg.model} on {len(pairs)} pairs ({len(held)} for validation)")
            model = build_trainable(cfg, pairs)
            self.out.mkdir(parents=True, exist_ok=True)
            model.save(self.out)
            (self.out / TRAIN_CONFIG).write_text(json.dumps(cfg.to_dict(), indent=2))
        self.model = model
        module = model.torch_module()
        phase = state.get("phase", "full") if state is not None else "full"
        if state is None and cfg.bag_warmup > 0:
            phase = "bag"
        if phase == "bag" and not _set_bag_phase(module, True):
            phase = "full"  # nothing gated: the bag phase would be the whole model

        qf = model.query_features([r.query_text for r in pairs])
        cf = model.code_features(pairs)
        vq = model.query_features([r.query_text for r in held])
        vc = model.code_features(held)
        groups = duplicate_groups(pairs)

        params = [p for p in module.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        res = TrainResult()
        epoch, step, batch_index = 0, 0, 0
        order: np.ndarray | None = None
        negs: np.ndarray | None = None
        bad_epochs, early_stopped = 0, False
        if state is not None:
            opt.load_state_dict(state["optimizer"])
            epoch, step, batch_index = state["epoch"], state["step"], state["batch_index"]
            order, negs = state["order"], state["negs"]
            bad_epochs, early_stopped = state["bad_epochs"], state["early_stopped"]
            res.best_mrr, res.best_epoch = state["best_mrr"], state["best_epoch"]
            res.history = state["history"]
            rng.bit_generator.state = state["numpy_rng"]
            torch.set_rng_state(state["torch_rng"])
            random.setstate(state["python_rng"])

        def checkpoint() -> None:
            self._save_checkpoint({
                "config": cfg.to_dict(), "module": module.state_dict(),
                "optimizer": opt.state_dict(), "epoch": epoch, "step": step,
                "batch_index": batch_index, "order": order, "negs": negs,
                "bad_epochs": bad_epochs, "early_stopped": early_stopped,
                "best_mrr": res.best_mrr, "best_epoch": res.best_epoch,
                "history": res.history, "phase": phase, "numpy_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
            })

        def validate(tag: str, at_start: bool = False) -> tuple[float, bool]:
            """Validation MRR, and whether it is the best yet (then the model is saved)."""
            model.weights_changed()
            mrr = pool_mrr(model.embed_features(vq, "query"), model.embed_features(vc, "code"))
            if mrr > res.best_mrr or (res.best_epoch < 0 and not at_start):
                res.best_mrr, res.best_epoch = mrr, epoch
                model.save(self.out)
                self.log(f"{tag}: valid MRR {mrr:.4f} (best, saved)")
                return mrr, True
            self.log(f"{tag}: valid MRR {mrr:.4f} (best {res.best_mrr:.4f})")
            return mrr, False

        if state is None and cfg.validate_start:
            # The starting model is the one to beat; the saved model stays as it is.
            res.best_mrr, _ = validate("before training", at_start=True)
            res.history.append({"epoch": 0, "loss": None, "valid_mrr": res.best_mrr, "steps": 0,
                                "seconds": 0.0, "mined": False})
        clock = time.process_time if cfg.clock == "cpu" else time.monotonic
        deadline = clock() + cfg.max_minutes * 60
        bag_deadline = clock() + cfg.bag_warmup * cfg.max_minutes * 60
        stopped = ""
        from tqdm import tqdm

        while not stopped:
            if early_stopped:
                stopped = "early stopping"
                break
            if epoch >= cfg.max_epochs:
                stopped = "max epochs"
                break
            if order is None:
                order = rng.permutation(len(pairs))
                if 0 < cfg.epoch_pairs < len(order):
                    order = order[: cfg.epoch_pairs]
                negs = None
                if cfg.mined_negatives and epoch > 0:
                    negs = self._mine(model, qf, cf, groups, order, rng)
                batch_index = 0
            n_batches = max(1, len(order) // cfg.batch_size)
            module.train()
            losses: list[float] = []
            t_epoch = time.monotonic()
            bar = tqdm(total=n_batches, initial=batch_index, desc=f"epoch {epoch + 1}",
                       unit="batch", disable=not self.progress, leave=False, file=sys.stderr)
            while batch_index < n_batches:
                if clock() > deadline:
                    stopped = "time budget"
                    break
                rows = order[batch_index * cfg.batch_size : (batch_index + 1) * cfg.batch_size]
                neg_rows = None if negs is None else negs[batch_index * cfg.batch_size :
                                                          (batch_index + 1) * cfg.batch_size]
                loss = self._step(model, opt, qf, cf, groups, rows, neg_rows, step)
                losses.append(loss)
                step += 1
                batch_index += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}")
                if self.step_hook is not None:
                    self.step_hook(step)
            bar.close()
            if stopped:
                # Out of time mid-epoch: keep the partial epoch if it is the best so far.
                validate(f"epoch {epoch + 1} (partial, out of time)")
                checkpoint()
                break
            mrr, improved = validate(f"epoch {epoch + 1}")
            res.history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses
                                else None, "valid_mrr": mrr, "steps": step,
                                "seconds": round(time.monotonic() - t_epoch, 1),
                                "mined": negs is not None, "phase": phase})
            bad_epochs = 0 if improved else bad_epochs + 1
            early_stopped = bad_epochs >= cfg.patience
            if phase == "bag" and (early_stopped or clock() > bag_deadline):
                # The full model starts from the best bag model (its gates are still zero,
                # so it computes the same function).
                phase = "full"
                module.load_state_dict(load_trainable(cfg, self.out).torch_module().state_dict())
                _set_bag_phase(module, False)
                bad_epochs, early_stopped = 0, False
                self.log(f"bag warm-up done after {step} steps; training the full model")
            epoch += 1
            order, negs, batch_index = None, None, 0
            checkpoint()

        res.epochs, res.steps, res.stopped = epoch, step, stopped
        res.minutes = round((time.monotonic() - t0) / 60, 2)
        (self.out / TRAIN_LOG).write_text(json.dumps(asdict(res), indent=2))
        self.log(f"stopped ({stopped}) after {epoch} epochs, {step} steps, "
                 f"{res.minutes} min; best valid MRR {res.best_mrr:.4f}")
        return res

    # ---- one update ----------------------------------------------------------------
    def _step(self, model: Trainable, opt: torch.optim.Optimizer, qf: Features, cf: Features,
              groups: np.ndarray, rows: np.ndarray, neg_rows: np.ndarray | None,
              step: int) -> float:
        cfg = self.cfg
        c_rows = rows if neg_rows is None else np.concatenate([rows, neg_rows[neg_rows >= 0]])
        exclude = torch.from_numpy(groups[rows][:, None] == groups[c_rows][None, :])
        exclude[torch.arange(len(rows)), torch.arange(len(rows))] = False
        for group in opt.param_groups:
            group["lr"] = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))

        def loss_of(q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
            return contrastive_loss(q, c, exclude, cfg.scale, cfg.hard_weight, cfg.margin)

        if cfg.chunk_size <= 0:
            loss = loss_of(model.embed_query_features(qf, rows),
                           model.embed_code_features(cf, c_rows))
            loss.backward()
        else:
            loss = self._cached_step(model, qf, cf, rows, c_rows, loss_of)
        module = model.torch_module()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(module.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    def _cached_step(self, model: Trainable, qf: Features, cf: Features, rows: np.ndarray,
                     c_rows: np.ndarray,
                     loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Gradient caching (Gao et al. 2021): the exact gradient of a big batch, in chunks.

        1. embed every chunk without a graph; 2. the loss and its gradient with respect
        to the embeddings; 3. re-embed each chunk with a graph (same dropout, by
        replaying the RNG) and backpropagate its slice of that gradient.
        """
        k = self.cfg.chunk_size
        plan = [(model.embed_query_features, qf, rows[i : i + k]) for i in range(0, len(rows), k)]
        plan += [(model.embed_code_features, cf, c_rows[i : i + k])
                 for i in range(0, len(c_rows), k)]
        rng_states, parts = [], []
        with torch.no_grad():
            for fn, feats, chunk in plan:
                rng_states.append(torch.get_rng_state())
                parts.append(fn(feats, chunk))
        after = torch.get_rng_state()
        emb = [p.detach().requires_grad_() for p in parts]
        n_q = (len(rows) + k - 1) // k
        loss = loss_of(torch.cat(emb[:n_q]), torch.cat(emb[n_q:]))
        loss.backward()
        for (fn, feats, chunk), state, e in zip(plan, rng_states, emb, strict=True):
            torch.set_rng_state(state)
            fn(feats, chunk).backward(e.grad)
        torch.set_rng_state(after)
        return loss.detach()

    # ---- hard negatives ------------------------------------------------------------
    def _mine(self, model: Trainable, qf: Features, cf: Features, groups: np.ndarray,
              order: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each query's negative among this epoch's codes, by the current (= last checkpoint's) model."""
        t = time.monotonic()
        sub_q = {k: v[order] for k, v in qf.items()}
        sub_c = {k: v[order] for k, v in cf.items()}
        qv = model.embed_features(sub_q, "query", self.progress)
        cv = model.embed_features(sub_c, "code", self.progress)
        local = mine_negatives(qv, cv, groups[order], self.cfg.mine_top_k, rng)
        out = np.where(local >= 0, order[np.maximum(local, 0)], -1)
        self.log(f"mined {int((out >= 0).sum())} hard negatives in {time.monotonic() - t:.0f}s")
        return out

    # ---- checkpoints ---------------------------------------------------------------
    def _load_checkpoint(self, restart: bool) -> dict[str, Any] | None:
        path = self.out / CHECKPOINT
        if restart or not path.exists():
            return None
        try:
            # Tensors and plain data only: unpickling arbitrary objects would run whatever
            # code a planted checkpoint names.
            state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise InputError(
                f"{path}: refusing to load a checkpoint that holds more than tensors and plain "
                "data (not written by seekcode, or tampered with); delete it or use --restart"
            ) from None
        for key in ("order", "negs"):  # saved as tensors (see _save_checkpoint)
            if state.get(key) is not None:
                state[key] = state[key].numpy()
        saved = dict(state["config"])
        now = self.cfg.to_dict()
        differs = [k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k]]
        if differs:
            raise InputError(
                f"{path}: checkpoint was trained with different settings ({', '.join(differs)}); "
                "use the same settings to resume, or --restart to start over"
            )
        return state

    def _save_checkpoint(self, state: dict[str, Any]) -> None:
        path = self.out / CHECKPOINT
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        # numpy arrays as tensors: weights_only loading accepts tensors and plain data only.
        state = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                 for k, v in state.items()}
        torch.save(state, tmp)
        tmp.replace(path)


def _set_bag_phase(module: torch.nn.Module, on: bool) -> bool:
    """Switch a model's gated encoders to (or from) their bag models; False if it has none."""
    switch = getattr(module, "set_bag_phase", None)
    return bool(switch(on)) if switch is not None else False


def train(cfg: TrainConfig, records: Sequence[Record], out: str | Path,
          valid: Sequence[Record] | None = None, restart: bool = False,
          progress: bool = True) -> TrainResult:
    """Train cfg.model on `records` into `out`. Without `valid`, the records' partitions
    decide (train / valid); without partitions, everything trains and 5% validates."""
    if valid is None:
        train_recs, valid_recs = split_partitions(records)
    else:
        train_recs, valid_recs = list(records), list(valid)
    return Trainer(cfg, out, progress=progress).fit(train_recs, valid_recs, restart=restart)
