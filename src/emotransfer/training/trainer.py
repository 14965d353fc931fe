"""One training loop for every trainable model, on Hugging Face Accelerate.

The loop knows a model only through :meth:`~emotransfer.models.emotion_model.EmotionModel.
prepare` and ``model(batch)`` (a :class:`~emotransfer.models.emotion_model.ModelOutput`);
the sample rate comes from the model's encoder. Accelerate places the model, runs mixed
precision and gradient accumulation, and runs the same script on several GPUs or nodes
(``accelerate launch -m emotransfer.cli finetune ...``). Variations override the named hooks
(``on_fit_start``, ``transform``, ``compute_forward``, ``compute_loss``, ``on_epoch_end``) or
choose a batch sampler (:mod:`emotransfer.training.samplers`) instead of copying the loop, as
SpeechBrain's ``Brain`` does; linear probing first (LP-FT) is such an override
(:class:`~emotransfer.training.lpft.LPFTTrainer`).

Resuming is exact: each epoch's shuffling, cropping and dropout draw from seeds derived from
``(seed, epoch)`` (torch's generator seeded inside the epoch and restored after it), and a
checkpoint (trainable weights, best weights, optimizer, counters) is written atomically
after every epoch; a killed run restarts the unfinished epoch and ends with the same weights
as an uninterrupted one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from emotransfer.define import is_audio_view
from emotransfer.evaluation.metrics import uar
from emotransfer.models.batched import Items, count, lengths, predict_outputs, predict_proba
from emotransfer.models.emotion_model import ModelOutput, to_device
from emotransfer.models.losses import balanced_class_weights, ccc_loss
from emotransfer.seeding import torch_seed
from emotransfer.training.checkpoint import (
    fresh_state,
    load_checkpoint,
    save_checkpoint,
    trained_state,
)
from emotransfer.training.loader import batches_of
from emotransfer.training.samplers import LengthBatches, SpeakerBatches
from emotransfer.training.tracking import check_tracker, log_epoch, start_tracking


class Trainer:
    """Train an :class:`~emotransfer.models.emotion_model.EmotionModel` on items (waveforms,
    or ``{modality: items}``).

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
        progress: show progress bars.
        log_with: ``tensorboard`` or ``mlflow`` logs every epoch's record through
            Accelerate's tracker (:mod:`emotransfer.training.tracking`); ``None``: no tracker.
        log_folder: the trained model's folder (TensorBoard writes into its ``tracking/``;
            an MLflow run is named after it).
        log_experiment: the MLflow experiment (the run's name).
        log_settings: hyper-parameters recorded with the tracker's run (scalars kept).
        dimension_weight: weight of the dimensional loss (``1 - CCC`` per dimension, averaged)
            beside the classes' cross-entropy, for a model with a dimensional head trained
            with ``values``.
        loader_workers: processes decoding the next batches of streamed audio (``loader``).
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
        progress: bool = False,
        log_with: str | None = None,
        log_folder: str | Path | None = None,
        log_experiment: str = "emotransfer",
        log_settings: dict[str, Any] | None = None,
        dimension_weight: float = 1.0,
        loader_workers: int = 2,
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
        self.progress = progress
        self.log_with = log_with
        self.log_folder = log_folder
        self.log_experiment = log_experiment
        self.log_settings = log_settings
        self.dimension_weight, self.loader_workers = dimension_weight, loader_workers

    # ---- hooks -------------------------------------------------------------------------
    def on_fit_start(self, state: dict[str, Any], items: Items, labels: np.ndarray) -> None:
        """Called once before the epochs, after a resume; may train and update ``state``
        (then call :meth:`close_epoch` to record and checkpoint it)."""

    def transform(self, items: Items, rng: np.random.Generator) -> Items:
        """Training-time change of a batch's items: a random crop of ``max_seconds`` and the
        augmentation, on the audio, drawn from the epoch's ``rng``."""
        items = self.crop_items(items, rng)
        audio = items.get("audio") if isinstance(items, dict) else items
        if audio is None or self.augment is None:
            return items
        if isinstance(items, dict) and any(is_audio_view(name) for name in items):
            raise ValueError("augment changes waveforms: an audio view's items of their own "
                             "(cached states) cannot follow it")  # fmt: skip
        clips = [self.augment(clip, self.sample_rate, rng) for clip in audio]
        return {**items, "audio": clips} if isinstance(items, dict) else clips

    def crop_items(self, items: Items, rng: np.random.Generator) -> Items:
        """A random ``max_seconds`` window of each longer clip: of the audio, and the same
        window of each audio view given items of its own (cached states at their own rate)."""
        single = not isinstance(items, dict)
        named = {"audio": items} if single else items
        audio = named.get("audio")
        if audio is None:
            return items
        names = ["audio", *(name for name in named if is_audio_view(name))]
        rates = {name: self._item_rate(name) for name in names}
        cropped: dict[str, list] = {name: [] for name in names}
        for row, wave in enumerate(audio):
            start = self.crop_start(len(wave), rates["audio"], rng)
            for name in names:
                item = named[name][row]
                if start is not None:
                    first = round(start / rates["audio"] * rates[name])
                    item = item[first : first + int(self.max_seconds * rates[name])]
                cropped[name].append(item)
        return cropped["audio"] if single else {**items, **cropped}

    def compute_forward(self, batch: dict[str, Any]) -> ModelOutput:
        return self.model(batch)

    def compute_loss(self, output: ModelOutput, labels: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(output.logits, labels,
                                                 weight=self.class_weights_)  # fmt: skip

    def compute_values_loss(self, output: ModelOutput, values: torch.Tensor) -> torch.Tensor:
        """The dimensional loss of a batch: the mean over the ``K`` dimensions of ``1 - CCC``
        between the model's values ``(B, K)`` and ``values`` (NaN: unknown, left out)."""
        if output.dimensions is None:
            raise ValueError("values given to train, but the model has no dimensional head")
        predicted = output.dimensions.float()
        return torch.stack([ccc_loss(predicted[:, k], values[:, k])
                            for k in range(values.shape[1])]).mean()  # fmt: skip

    def batch_loss(self, output: ModelOutput, labels: torch.Tensor,
                   values: torch.Tensor | None) -> torch.Tensor:  # fmt: skip
        """:meth:`compute_loss`, plus ``dimension_weight`` times :meth:`compute_values_loss`
        when the training clips have dimensional ``values``."""
        loss = self.compute_loss(output, labels)
        if values is None:
            return loss
        return loss + self.dimension_weight * self.compute_values_loss(output, values)

    def batch_values(self, rows: np.ndarray | list[int]) -> torch.Tensor | None:
        """The training clips' dimensional values at ``rows`` ``(B, K)`` on the device, or
        ``None`` (trained without values)."""
        if self.values_ is None:
            return None
        return torch.as_tensor(self.values_[rows], device=self.accelerator_.device)

    def on_epoch_end(self, epoch: int, record: dict[str, float]) -> None:
        """Called after validation with the epoch's record (loss, valid_uar, seconds)."""

    def sampler(self) -> LengthBatches | SpeakerBatches:
        """Length-sorted batches, or one speaker per batch for a speaker-normalised model."""
        if self.groups_ is None:
            return LengthBatches(batch_size=self.batch_size)
        return SpeakerBatches(batch_size=self.batch_size, groups=self.groups_)

    # ---- loop --------------------------------------------------------------------------
    @property
    def tracked(self) -> bool:
        """Whether an experiment tracker logs the epochs (``log_with``)."""
        return self.log_with not in (None, "none")

    @property
    def sample_rate(self) -> int:
        return int(getattr(self.model, "sample_rate", None) or 16000)

    def fit(
        self,
        items: Items,
        labels: np.ndarray,
        *,
        valid_items: Items | None = None,
        valid_labels: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        valid_groups: np.ndarray | None = None,
        values: np.ndarray | None = None,
    ) -> list[dict[str, float]]:
        """Train; keep the weights of the best validation epoch (last epoch without one).

        ``groups`` / ``valid_groups``: speaker ids of the clips, needed by a model with
        ``speaker_norm`` (its training batches then hold one speaker each). ``values``: the
        clips' dimensional targets ``(N, K)`` (NaN: unknown) for a model with a dimensional
        head, learnt with the classes (:meth:`batch_loss`).
        """
        self.groups_ = self._speaker_ids(groups, count(items))
        self.values_ = None
        if values is not None:
            self.values_ = np.asarray(values, dtype=np.float32).reshape(count(items), -1)
        from accelerate import Accelerator

        tracked = self.tracked
        if tracked:
            check_tracker(str(self.log_with))
        self.accelerator_ = Accelerator(
            mixed_precision=self.mixed_precision,
            gradient_accumulation_steps=self.accumulation,
            cpu=not torch.cuda.is_available(),
            log_with=self.log_with if tracked else None,
            project_dir=self.log_folder if tracked else None,
        )
        # The model's outputs, not the labels seen: a training split may lack a class.
        classes = int(getattr(self.model, "num_classes", int(labels.max()) + 1))
        self.class_weights_ = balanced_class_weights(torch.as_tensor(labels), classes)
        optimizer = torch.optim.AdamW(
            [{"params": g["params"], "lr": self.learning_rate * g["lr_scale"]}
             for g in self.param_groups],
            weight_decay=self.weight_decay,
        )  # fmt: skip
        model, self.optimizer_ = self.accelerator_.prepare(self.model, optimizer)
        self.class_weights_ = self.class_weights_.to(self.accelerator_.device)
        state = self._resume(self.optimizer_)
        self.valid_ = (valid_items, valid_labels, valid_groups, classes)
        if tracked:
            start_tracking(self.accelerator_, str(self.log_with), Path(self.log_folder or "."),
                           experiment=self.log_experiment,
                           settings=self.log_settings or {})  # fmt: skip
        try:
            self.on_fit_start(state, items, labels)
            for epoch in range(state["epoch"] + 1, self.epochs + 1):
                if state["bad_epochs"] > self.patience:
                    break
                began = time.perf_counter()
                with torch_seed(self.seed * 100003 + epoch):
                    loss = self._train_epoch(model, items, labels, epoch)
                record = {"epoch": epoch, "loss": loss, "seconds": time.perf_counter() - began}
                self.close_epoch(state, record, epoch=epoch)
                if state["bad_epochs"] >= self.patience:
                    break
        finally:
            if tracked:
                self.accelerator_.end_training()
        if state["best"] is not None:
            self._load_trainable(state["best"])
        self.history_ = state["history"]
        return self.history_

    def close_epoch(self, state: dict[str, Any], record: dict[str, float], **updates: Any) -> None:
        """Score the validation clips (if any), track the best weights, call the hook, apply
        ``updates`` to the state and write the checkpoint."""
        valid_items, valid_labels, valid_groups, classes = self.valid_
        if valid_items is not None and valid_labels is not None and len(valid_labels):
            guess = self.predict_proba(valid_items, groups=valid_groups).argmax(axis=1)
            record["valid_uar"] = uar(valid_labels, guess, classes)
        self._track(state, record)
        if self.tracked:
            log_epoch(self.accelerator_, record)
        self.on_epoch_end(record["epoch"], record)
        state.update(updates)
        if self.checkpoint_dir is not None:
            save_checkpoint(Path(self.checkpoint_dir), self._trainable_state(), self.optimizer_,
                            state)  # fmt: skip

    def _train_epoch(
        self, model: torch.nn.Module, items: Items, labels: np.ndarray, epoch: int
    ) -> float:
        rng = np.random.default_rng([self.seed, epoch])
        model.train()
        total, seen = 0.0, 0
        batches = self.sampler().batches(rng, lengths(items))
        loaded = batches_of(items, batches, self.loader_workers)
        for indices, taken in tqdm(loaded, desc=f"epoch {epoch}", total=len(batches),
                                   disable=not self.progress):  # fmt: skip
            prepared = self.model.prepare(self.transform(taken, rng))
            if self.groups_ is not None:
                prepared["speaker"] = torch.as_tensor(self.groups_[indices])
            batch = to_device(prepared, self.accelerator_.device)
            targets = torch.as_tensor(labels[indices], device=self.accelerator_.device)
            values = self.batch_values(indices)
            with self.accelerator_.accumulate(model):
                with self.accelerator_.autocast():
                    loss = self.batch_loss(self.compute_forward(batch), targets, values)
                self.accelerator_.backward(loss)
                self.optimizer_.step()
                self.optimizer_.zero_grad()
            total += float(loss.detach()) * len(indices)
            seen += len(indices)
        return total / max(seen, 1)

    @torch.no_grad()
    def predict_proba(
        self, items: Items, batch_size: int | None = None, groups: np.ndarray | None = None
    ) -> np.ndarray:
        """Class probabilities ``(N, C)``; batches are length-sorted for speed. A
        speaker-normalised model takes each speaker's mean over all its clips in ``items``."""
        return predict_proba(self.model, items, batch_size or self.batch_size,
                             self._speaker_ids(groups, count(items)))  # fmt: skip

    def predict_logits(
        self, items: Items, batch_size: int | None = None, groups: np.ndarray | None = None
    ) -> np.ndarray:
        """Class logits ``(N, C)``, as :meth:`predict_proba` computes them before its softmax."""
        return self.predict_outputs(items, batch_size, groups)[0]

    def predict_outputs(
        self, items: Items, batch_size: int | None = None, groups: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Class logits ``(N, C)`` and dimensional values ``(N, K)`` (``None``: the model has
        no dimensional head) from one pass over the items."""
        return predict_outputs(self.model, items, batch_size or self.batch_size,
                               self._speaker_ids(groups, count(items)))  # fmt: skip

    def _speaker_ids(self, groups: np.ndarray | None, rows: int) -> np.ndarray | None:
        if not getattr(self.model, "speaker_norm", False):
            return None
        if groups is None or len(groups) != rows:
            raise ValueError("a speaker-normalised model needs the speaker of every clip")
        return np.unique(np.asarray(groups).astype(str), return_inverse=True)[1]

    def crop_start(self, length: int, rate: float, rng: np.random.Generator) -> int | None:
        """The first item of a random ``max_seconds`` window of an item of ``length`` units at
        ``rate`` per second; ``None``: keep it whole (shorter, or no cropping)."""
        if self.max_seconds is None:
            return None
        limit = int(self.max_seconds * rate)
        if length <= limit:
            return None
        return int(rng.integers(0, length - limit + 1))

    def _item_rate(self, name: str) -> float:
        """Items per second of input ``name``: samples of a waveform, frames of cached states."""
        encoders = getattr(self.model, "encoders", None)
        if name != "audio" and encoders is not None and name in encoders:
            rate = getattr(encoders[name], "item_rate", None)
        else:
            rate = getattr(self.model, "item_rate", None)
        return rate or self.sample_rate

    def _track(self, state: dict[str, Any], record: dict[str, float]) -> None:
        state["history"].append(record)
        score = record.get("valid_uar")
        if score is None or state["best_uar"] is None or score > state["best_uar"]:
            state.update(best_uar=score, best=self._trainable_state(), best_epoch=record["epoch"],
                         bad_epochs=0)  # fmt: skip
        else:
            state["bad_epochs"] += 1

    # ---- state ---------------------------------------------------------------------------
    def _trainable_state(self) -> dict[str, torch.Tensor]:
        return trained_state(self.model, [p for g in self.param_groups for p in g["params"]])

    def _load_trainable(self, tensors: dict[str, torch.Tensor]) -> None:
        parameters = {**dict(self.model.named_buffers()), **dict(self.model.named_parameters())}
        with torch.no_grad():
            for name, value in tensors.items():
                parameters[name].copy_(value)

    def _resume(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        saved = None if self.checkpoint_dir is None else load_checkpoint(Path(self.checkpoint_dir))
        if saved is None:
            return fresh_state()
        state, trainable, optimizer_state = saved
        self._load_trainable(trainable)
        optimizer.load_state_dict(optimizer_state)
        return state
