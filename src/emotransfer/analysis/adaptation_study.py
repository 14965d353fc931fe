"""``emotransfer analyze adaptation``: which layers changed when a run fine-tuned its encoder.

For one fold of a fine-tuning run it compares the pretrained encoder with the fold's trained
encoder (LoRA merged into the weights) on that fold's held-out clips: linear CKA between the
hidden states before and after, and the relative weight change, per hidden state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file

from emotransfer.analysis.adaptation import adaptation_report, layer_index_for
from emotransfer.data.audio import load_audio
from emotransfer.encoders.base import Encoder
from emotransfer.inference.loading import fold_model
from emotransfer.io import RunFolderError
from emotransfer.model_spec import SPEC, TrainedSpec, read_model_spec
from emotransfer.run_files import verify_model_files
from emotransfer.transfer.build import build_encoder
from emotransfer.transfer.merge import merged_state_dict


class StatesOf:
    """``extract_batch`` over a (possibly fine-tuned) :class:`Encoder`: ``(L + 1, T, D)``."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    @torch.no_grad()
    def extract_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        self.encoder.eval()
        result = []
        for wave in waves:  # one at a time: no padding effects in the comparison
            output = self.encoder(self.encoder.prepare([wave]))
            result.append(output.states[0].float().numpy())
        return result


def run_adaptation(
    run_dir: str | Path, *, fold: str | None = None, max_files: int = 100,
    pooling: str = "mean", reference: str = "pretrained",
) -> tuple[Path, dict[str, Any]]:  # fmt: skip
    """Write ``<run>/adaptation/adaptation.json`` and ``adaptation.png`` for one fold.

    ``reference``: what "before" is: the ``pretrained`` encoder, or for a two-stage run the
    stage-1 ``source`` encoder (then only stage 2's changes are measured, e.g. clean ->
    corrupted transfer)."""
    from emotransfer.io import write_json
    from emotransfer.reporting.adaptation import adaptation_figure
    from emotransfer.reporting.plots import save_figure

    folder = Path(run_dir)
    # A run folder may come from anyone: checked like the Predictor checks it (registered
    # components only, no remote code, the digests of files.json).
    verify_model_files(folder)
    spec = read_model_spec(folder)
    if not isinstance(spec, TrainedSpec) or spec.encoder != "hf":
        raise RunFolderError(f"{folder / SPEC}: analyze adaptation needs a run that trained a "
                             "transformers encoder (features.upstream: hf)")  # fmt: skip
    folds = sorted(p.parent.name for p in (folder / "models").glob("*/trainable.safetensors"))
    if not folds:
        raise FileNotFoundError(f"{folder}: no trained fold models")
    name = fold or folds[0]
    if name not in folds:
        raise ValueError(f"fold {name!r} not in {folder}; have {folds}")
    predictions = pd.read_csv(folder / "predictions.csv")
    files = predictions.loc[predictions["fold"].map(_safe) == name, "file"].tolist()[:max_files]
    waves = [load_audio(f, sample_rate=spec.sample_rate) for f in files]
    if reference not in ("pretrained", "source"):
        raise ValueError(f"reference {reference!r}: pretrained or source")
    if reference == "source" and not spec.source:
        raise ValueError(f"{folder}: reference=source needs a two-stage run (finetune.source)")
    before = build_encoder(spec)
    source = folder / "source" / "encoder.safetensors"
    source_state = load_file(str(source)) if spec.source else None
    if reference == "source":
        before.load_state_dict(source_state, strict=False)
    weights = folder / "models" / name / "trainable.safetensors"
    after = fold_model(folder / SPEC, spec, source_state, weights, ()).encoders["audio"]
    report = adaptation_report(
        StatesOf(before), StatesOf(after), waves,
        state_before=before.adaptable().state_dict(),
        state_after=merged_state_dict(after.adaptable()),
        num_layers=before.num_layers, layer_of=layer_index_for(before.adaptable().config),
        pooling=pooling,  # type: ignore[arg-type]
    )  # fmt: skip
    report.update({"fold": name, "files": len(waves), "model": spec.encoder_params["model"],
                   "strategy": spec.strategy, "reference": reference})  # fmt: skip
    out = folder / "adaptation"
    write_json(out / "adaptation.json", report)
    figure = adaptation_figure(report["layers"], title=f"{folder.name} ({name}): layer adaptation")
    save_figure(figure, out / "adaptation.png")
    return out, report


def _safe(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)
