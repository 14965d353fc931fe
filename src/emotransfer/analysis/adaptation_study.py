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
from emotransfer.model_spec import read_model_spec
from emotransfer.models.audio_model import AudioBackbone, build_model
from emotransfer.run_files import verify_model_files
from emotransfer.training.audio_fold import assemble
from emotransfer.transfer.merge import merged_state_dict


class BackboneEncoder:
    """``extract_batch`` over a (possibly fine-tuned) :class:`AudioBackbone`."""

    def __init__(self, backbone: AudioBackbone) -> None:
        self.backbone = backbone

    @torch.no_grad()
    def extract_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        self.backbone.eval()
        result = []
        for wave in waves:  # one at a time: no padding effects in the comparison
            states, _ = self.backbone(self.backbone.prepare([wave]))
            result.append(states[0].float().numpy())
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
    folds = sorted(p.parent.name for p in (folder / "models").glob("*/trainable.safetensors"))
    if not folds:
        raise FileNotFoundError(f"{folder}: no trained fold models")
    name = fold or folds[0]
    if name not in folds:
        raise ValueError(f"fold {name!r} not in {folder}; have {folds}")
    predictions = pd.read_csv(folder / "predictions.csv")
    files = predictions.loc[predictions["fold"].map(_safe) == name, "file"].tolist()[:max_files]
    waves = [load_audio(f, sample_rate=spec["sample_rate"]) for f in files]
    if reference not in ("pretrained", "source"):
        raise ValueError(f"reference {reference!r}: pretrained or source")
    if reference == "source" and not spec.get("source"):
        raise ValueError(f"{folder}: reference=source needs a two-stage run (finetune.source)")
    before = build_model(model=spec["model"], num_classes=len(spec["classes"]),
                         layer=spec["layer"], whisper_input=spec["whisper_input"],
                         random_init=spec.get("random_init", False))  # fmt: skip
    source = folder / "source" / "encoder.safetensors"
    source_state = load_file(str(source)) if spec.get("source") else None
    if reference == "source":
        before.backbone.load_state_dict(source_state, strict=False)
    after, _ = assemble(spec, source_state)
    state = load_file(str(folder / "models" / name / "trainable.safetensors"))
    parameters = dict(after.named_parameters())
    with torch.no_grad():
        for key, value in state.items():
            parameters[key].copy_(value)
    config = before.backbone.module.config
    report = adaptation_report(
        BackboneEncoder(before.backbone), BackboneEncoder(after.backbone), waves,
        state_before=before.backbone.module.state_dict(),
        state_after=merged_state_dict(after.backbone.module),
        num_layers=before.backbone.num_layers, layer_of=layer_index_for(config),
        pooling=pooling,  # type: ignore[arg-type]
    )  # fmt: skip
    report.update({"fold": name, "files": len(waves), "model": spec["model"],
                   "strategy": spec["strategy"], "reference": reference})  # fmt: skip
    out = folder / "adaptation"
    write_json(out / "adaptation.json", report)
    figure = adaptation_figure(report["layers"], title=f"{folder.name} ({name}): layer adaptation")
    save_figure(figure, out / "adaptation.png")
    return out, report


def _safe(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)
