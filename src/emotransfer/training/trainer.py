"""One training loop for audio models, on Hugging Face Accelerate.

Accelerate places the model, runs mixed precision and gradient accumulation, and runs the
same script on several GPUs or nodes (``accelerate launch -m emotransfer.cli finetune ...``).
Variations override the named hooks (``compute_forward``, ``compute_loss``,
``on_epoch_end``) instead of copying the loop, as SpeechBrain's ``Brain`` does.

Resuming is exact: each epoch's shuffling, cropping and dropout draw from seeds derived from
``(seed, epoch)``, and a checkpoint (trainable weights, best weights, optimizer, counters) is
written atomically after every epoch; a killed run restarts the unfinished epoch and ends with
the same weights as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm.auto import tqdm

from emotransfer.evaluation.metrics import uar
from emotransfer.io import RunFolderError, load_tensors
from emotransfer.models.losses import balanced_class_weights
from emotransfer.transfer.base import head_parameters


class Trainer:
    """Train an :class:`~emotransfer.models.audio_model.EmotionModel` on waveforms.

    Args:
        model: the model, with its strategy already applied.
        param_groups: the strategy's groups (``params`` and ``lr_scale``).
        epochs: maximum epochs.
        batch_size: clips per step (before accumulation).
        learning_rate: base learning rate (scaled per group).
        weight_decay: AdamW weight decay.
        accumulation: gradient accumulation steps.
        mixed_precision: ``"no"``, ``"bf16"`` or ``"fp16"`` (Accelerate's names).
        patience: stop after this many epochs without a better validation UAR.
        max_seconds: random crop of longer training clips (``None`` = whole clips).
        seed: fixes shuffling, crops, dropout.
        checkpoint_dir: where the per-epoch checkpoint lives (``None`` = no checkpoints).
        augment: ``f(wave, sample_rate, rng) -> wave`` applied to training clips (e.g. a
            corruption from :mod:`emotransfer.data.corrupt`), drawn from the epoch's rng.
        head_epochs: linear probing before fine-tuning (LP-FT, Kumar et al. 2022): on a fresh
            start, every training clip is pooled once by the initial encoder (all hidden
            states, no gradients) and the layer mix + head alone train on those vectors for
            this many passes; then the strategy's parameters train from that head. A head
            that starts random sends large gradients into the encoder and distorts the
            pretrained features; starting from a trained head, the encoder moves less.
        progress: show progress bars.
    """

    def __init__(
        self,
        *,
        model: torch.nn.Module,
        param_groups: list[dict[str, Any]],
        epochs: int = 10,
        batch_size: int = 8,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-2,
        accumulation: int = 1,
        mixed_precision: str = "no",
        patience: int = 3,
        max_seconds: float | None = None,
        seed: int = 0,
        checkpoint_dir: str | Path | None = None,
        augment: Any = None,
        head_epochs: int = 0,
        progress: bool = False,
    ) -> None:
        self.model = model
        self.param_groups = param_groups
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.accumulation = accumulation
        self.mixed_precision = mixed_precision
        self.patience = patience
        self.max_seconds = max_seconds
        self.seed = seed
        self.checkpoint_dir = checkpoint_dir
        self.augment = augment
        self.head_epochs = head_epochs
        self.progress = progress

    # ---- hooks -------------------------------------------------------------------------
    def compute_forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(batch)

    def compute_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits, labels, weight=self.class_weights_)

    def on_epoch_end(self, epoch: int, record: dict[str, float]) -> None:
        """Called after validation with the epoch's record (loss, valid_uar, seconds)."""

    # ---- loop --------------------------------------------------------------------------
    def fit(
        self,
        waves: list[np.ndarray],
        labels: np.ndarray,
        *,
        valid_waves: list[np.ndarray] | None = None,
        valid_labels: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        valid_groups: np.ndarray | None = None,
    ) -> list[dict[str, float]]:
        """Train; keep the weights of the best validation epoch (last epoch without one).

        ``groups`` / ``valid_groups``: speaker ids of the clips, needed by a model with
        ``speaker_norm`` (its training batches then hold one speaker each).
        """
        self._groups = self._speaker_ids(groups, len(waves))
        from accelerate import Accelerator

        self.accelerator_ = Accelerator(
            mixed_precision=self.mixed_precision,
            gradient_accumulation_steps=self.accumulation,
            cpu=not torch.cuda.is_available(),
        )
        # The model's outputs, not the labels seen: a training split may lack a class.
        classes = int(getattr(self.model, "num_classes", int(labels.max()) + 1))
        self.class_weights_ = balanced_class_weights(torch.as_tensor(labels), classes)
        optimizer = torch.optim.AdamW(
            [{"params": g["params"], "lr": self.learning_rate * g["lr_scale"]}
             for g in self.param_groups],
            weight_decay=self.weight_decay,
        )  # fmt: skip
        model, optimizer = self.accelerator_.prepare(self.model, optimizer)
        self.class_weights_ = self.class_weights_.to(self.accelerator_.device)
        state = self._resume(optimizer)
        valid = (valid_waves, valid_labels, valid_groups, classes)
        if self.head_epochs and not state.get("head_done"):
            began = time.perf_counter()
            loss = self._fit_head(waves, labels)
            record = {"epoch": 0, "loss": loss, "seconds": time.perf_counter() - began}
            self._close_epoch(state, record, optimizer, valid, head_done=True)
        for epoch in range(state["epoch"] + 1, self.epochs + 1):
            if state["bad_epochs"] > self.patience:
                break
            began = time.perf_counter()
            loss = self._train_epoch(model, optimizer, waves, labels, epoch)
            record = {"epoch": epoch, "loss": loss, "seconds": time.perf_counter() - began}
            self._close_epoch(state, record, optimizer, valid, epoch=epoch)
            if state["bad_epochs"] >= self.patience:
                break
        if state["best"] is not None:
            self._load_trainable(state["best"])
        self.history_ = state["history"]
        return self.history_

    def _close_epoch(
        self, state: dict[str, Any], record: dict[str, float], optimizer: torch.optim.Optimizer,
        valid: tuple, **updates: Any,
    ) -> None:  # fmt: skip
        """Score the validation clips (if any), track the best weights, call the hook, apply
        ``updates`` to the state and write the checkpoint."""
        valid_waves, valid_labels, valid_groups, classes = valid
        if valid_waves is not None and valid_labels is not None and len(valid_labels):
            guess = self.predict_proba(valid_waves, groups=valid_groups).argmax(axis=1)
            record["valid_uar"] = uar(valid_labels, guess, classes)
        self._track(state, record)
        self.on_epoch_end(record["epoch"], record)
        state.update(updates)
        self._checkpoint(optimizer, state)

    def _fit_head(self, waves: list[np.ndarray], labels: np.ndarray) -> float:
        """The linear-probing stage of LP-FT: pool every clip once, train the layer mix and
        head on the pooled vectors (same batches, seeds and class weights as the epochs)."""
        model = self.model
        rng = np.random.default_rng([self.seed, 0])
        clips = [self._crop(wave, rng) for wave in waves]
        pooled = pool_layers(model, clips, self.batch_size, self.accelerator_.autocast).float()
        optimizer = torch.optim.AdamW(head_parameters(model), lr=self.learning_rate,
                                      weight_decay=self.weight_decay)  # fmt: skip
        targets = torch.as_tensor(labels, device=pooled.device)
        total, count = 0.0, 0
        model.train()
        for step in range(1, self.head_epochs + 1):
            rng = np.random.default_rng([self.seed, 0, step])
            torch.manual_seed(self.seed * 100003 + step)
            if self._groups is None:
                batches = np.array_split(
                    rng.permutation(len(clips)), -(-len(clips) // self.batch_size)
                )
            else:
                batches = self._speaker_batches(self._groups, rng)
            for rows in batches:
                ids = None
                if self._groups is not None:
                    ids = torch.as_tensor(self._groups[rows], device=pooled.device)
                logits = model.classify(model.mix(pooled[rows]), ids)
                loss = self.compute_loss(logits, targets[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if step == self.head_epochs:
                    total, count = total + float(loss.detach()) * len(rows), count + len(rows)
        return total / max(count, 1)

    def _train_epoch(
        self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, waves: list[np.ndarray],
        labels: np.ndarray, epoch: int,
    ) -> float:  # fmt: skip
        rng = np.random.default_rng([self.seed, epoch])
        torch.manual_seed(self.seed * 100003 + epoch)
        model.train()
        total, count = 0.0, 0
        if self._groups is None:
            batches = self._batches(rng.permutation(len(waves)), waves)
        else:
            batches = self._speaker_batches(self._groups, rng)
        for indices in tqdm(batches, desc=f"epoch {epoch}", disable=not self.progress):
            clips = [self._crop(waves[i], rng) for i in indices]
            if self.augment is not None:
                clips = [self.augment(clip, 16000, rng) for clip in clips]
            prepared = self.model.backbone.prepare(clips)
            if self._groups is not None:
                prepared["speaker"] = torch.as_tensor(self._groups[indices])
            batch = {k: v.to(self.accelerator_.device) for k, v in prepared.items()}
            targets = torch.as_tensor(labels[indices], device=self.accelerator_.device)
            with self.accelerator_.accumulate(model):
                with self.accelerator_.autocast():
                    loss = self.compute_loss(self.compute_forward(batch), targets)
                self.accelerator_.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
            total += float(loss.detach()) * len(indices)
            count += len(indices)
        return total / max(count, 1)

    @torch.no_grad()
    def predict_proba(
        self, waves: list[np.ndarray], batch_size: int | None = None,
        groups: np.ndarray | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Class probabilities ``(N, C)``; batches are length-sorted for speed. A
        speaker-normalised model takes each speaker's mean over all its clips in ``waves``."""
        return predict_proba(self.model, waves, batch_size or self.batch_size,
                             self._speaker_ids(groups, len(waves)))  # fmt: skip

    def _speaker_ids(self, groups: np.ndarray | None, count: int) -> np.ndarray | None:
        if not getattr(self.model, "speaker_norm", False):
            return None
        if groups is None or len(groups) != count:
            raise ValueError("a speaker-normalised model needs the speaker of every clip")
        return np.unique(np.asarray(groups).astype(str), return_inverse=True)[1]

    def _speaker_batches(self, groups: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        # One speaker per batch, so the batch mean is that speaker's mean; a short remainder
        # joins the speaker's previous batch rather than giving a mean of one or two clips.
        batches = []
        for speaker in rng.permutation(np.unique(groups)):
            rows = rng.permutation(np.flatnonzero(groups == speaker))
            chunks = [rows[i : i + self.batch_size] for i in range(0, len(rows), self.batch_size)]
            if len(chunks) > 1 and len(chunks[-1]) < self.batch_size // 2:
                last = chunks.pop()
                chunks[-1] = np.concatenate([chunks[-1], last])
            batches += chunks
        return [batches[i] for i in rng.permutation(len(batches))]

    def _batches(self, order: np.ndarray, waves: list[np.ndarray]) -> list[np.ndarray]:
        # Sort within windows of 16 batches by length: less padding, still shuffled.
        window = self.batch_size * 16
        batches = []
        for first in range(0, len(order), window):
            chunk = sorted(order[first : first + window], key=lambda i: len(waves[i]))
            batches += [np.array(chunk[i : i + self.batch_size])
                        for i in range(0, len(chunk), self.batch_size)]  # fmt: skip
        return batches

    def _crop(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.max_seconds is None:
            return wave
        limit = int(self.max_seconds * 16000)
        if len(wave) <= limit:
            return wave
        start = int(rng.integers(0, len(wave) - limit + 1))
        return wave[start : start + limit]

    def _track(self, state: dict[str, Any], record: dict[str, float]) -> None:
        state["history"].append(record)
        score = record.get("valid_uar")
        if score is None or state["best_uar"] is None or score > state["best_uar"]:
            state["best_uar"] = score
            state["best"] = self._trainable_state()
            state["best_epoch"] = record["epoch"]
            state["bad_epochs"] = 0
        else:
            state["bad_epochs"] += 1

    # ---- state ---------------------------------------------------------------------------
    def _trainable_state(self) -> dict[str, torch.Tensor]:
        names = {id(p) for g in self.param_groups for p in g["params"]}
        return {name: p.detach().cpu().clone() for name, p in self.model.named_parameters()
                if id(p) in names}  # fmt: skip

    def _load_trainable(self, tensors: dict[str, torch.Tensor]) -> None:
        parameters = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in tensors.items():
                parameters[name].copy_(value)

    def _checkpoint(self, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        if self.checkpoint_dir is None:
            return
        folder = Path(self.checkpoint_dir)
        staging = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        save_file(self._trainable_state(), str(staging / "trainable.safetensors"))
        if state["best"] is not None:
            save_file(state["best"], str(staging / "best.safetensors"))
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        counters = {k: v for k, v in state.items() if k != "best"}
        (staging / "state.json").write_text(json.dumps(counters, indent=1))
        old = folder.with_name(folder.name + ".old")
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
        shutil.rmtree(old, ignore_errors=True)

    def _resume(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        state: dict[str, Any] = {"epoch": 0, "best_uar": None, "best": None, "best_epoch": 0,
                                 "bad_epochs": 0, "history": []}  # fmt: skip
        if self.checkpoint_dir is None:
            return state
        folder = Path(self.checkpoint_dir)
        if not folder.exists() and folder.with_name(folder.name + ".old").exists():
            folder = folder.with_name(folder.name + ".old")  # killed between the two renames
        if not (folder / "state.json").is_file():
            return state
        try:
            state.update(json.loads((folder / "state.json").read_text()))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RunFolderError(
                f"{folder / 'state.json'}: unreadable checkpoint state ({error}); delete "
                f"{folder} to train this fold afresh"
            ) from error
        self._load_trainable(load_tensors(folder / "trainable.safetensors"))
        if (folder / "best.safetensors").is_file():
            state["best"] = load_tensors(folder / "best.safetensors")
        optimizer.load_state_dict(_optimizer_state(folder / "optimizer.pt"))
        return state


def _optimizer_state(path: Path) -> dict[str, Any]:
    """An optimizer checkpoint read as plain tensors and containers only (``weights_only``):
    a file that needs anything else unpickled (code, in a malicious file) is refused, and
    nothing of it is loaded."""
    try:
        return torch.load(path, weights_only=True)
    except Exception as error:  # UnpicklingError for code; corrupt data raises many types
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise RunFolderError(
            f"{path}: refused, not loaded: not a plain-tensor optimizer checkpoint ({reason}); "
            f"delete {path.parent} to train this fold afresh"
        ) from error


@torch.no_grad()
def predict_proba(
    model: Any, waves: list[np.ndarray], batch_size: int, speakers: np.ndarray | None = None
) -> np.ndarray:
    """Class probabilities ``(N, C)`` of an EmotionModel in eval mode, length-sorted batches;
    with ``speakers`` (integer ids) a speaker-normalised model pools every clip first, then
    normalises each clip by its speaker's mean over all the given clips."""
    pooled = pool_layers(model, waves, batch_size).float()
    ids = None if speakers is None else torch.as_tensor(speakers, device=pooled.device)
    logits = model.classify(model.mix(pooled), ids)
    return torch.softmax(logits.float(), dim=-1).cpu().numpy()


@torch.no_grad()
def pool_layers(
    model: Any, waves: list[np.ndarray], batch_size: int,
    autocast: Callable[[], AbstractContextManager] = contextlib.nullcontext,
) -> torch.Tensor:  # fmt: skip
    """Every hidden state of every clip, mean-pooled by an EmotionModel in eval mode:
    ``(N, L + 1, D)``, in the order of ``waves`` (batches are length-sorted for speed).
    ``autocast``: the mixed-precision context of the encoder pass (not of the front end)."""
    model.eval()
    order = np.argsort([len(w) for w in waves])
    device = next(model.parameters()).device
    pooled: list[torch.Tensor] = [torch.empty(0)] * len(waves)
    for first in range(0, len(order), batch_size):
        indices = order[first : first + batch_size]
        prepared = model.backbone.prepare([waves[i] for i in indices])
        batch = {key: value.to(device) for key, value in prepared.items()}
        with autocast():
            rows = model.pool_layers(batch)
        for index, row in zip(indices, rows):
            pooled[index] = row
    return torch.stack(pooled)
