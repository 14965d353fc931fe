"""The per-epoch checkpoint of the training loop: trainable and best weights (safetensors),
optimizer state (plain tensors, read with ``weights_only``) and counters (JSON), written as
a staging folder renamed into place, so a killed run finds the last whole checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from emotransfer.io import RunFolderError, load_tensors, whole_folder, write_folder_atomic


def trained_state(
    model: torch.nn.Module, trained: list[torch.nn.Parameter]
) -> dict[str, torch.Tensor]:  # fmt: skip
    """By name, copies of the ``trained`` parameters and of the buffers of the modules that
    own them (a normalisation's running statistics), which a saved model needs too; also the
    persistent buffers of a module without parameters beside trained ones (statistics kept
    by a parameterless part, e.g. a layer mix's state norm)."""
    ids = {id(p) for p in trained}
    state = {name: p.detach().cpu().clone() for name, p in model.named_parameters()
             if id(p) in ids}  # fmt: skip
    modules = dict(model.named_modules())
    for prefix, module in modules.items():
        buffers = dict(module.named_buffers(recurse=False))
        if not buffers:  # (most modules: nothing to look up)
            continue
        own = list(module.parameters(recurse=False))
        if any(id(p) in ids for p in own):
            kept = list(buffers)
        elif (
            not own
            and prefix
            and any(id(p) in ids for p in modules[prefix.rpartition(".")[0]].parameters())
        ):
            kept = [name for name in buffers if name not in module._non_persistent_buffers_set]
        else:
            continue
        for name in kept:
            state[f"{prefix}.{name}" if prefix else name] = buffers[name].detach().cpu().clone()
    return state


def fresh_state() -> dict[str, Any]:
    return {"epoch": 0, "best_uar": None, "best": None, "best_epoch": 0, "bad_epochs": 0,
            "history": []}  # fmt: skip


def save_checkpoint(
    folder: Path, trainable: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
) -> None:  # fmt: skip

    def write(staging: Path) -> None:
        save_file(trainable, str(staging / "trainable.safetensors"))
        if state["best"] is not None:
            save_file(state["best"], str(staging / "best.safetensors"))
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        counters = {k: v for k, v in state.items() if k != "best"}
        (staging / "state.json").write_text(json.dumps(counters, indent=1))

    write_folder_atomic(folder, write)


def load_checkpoint(
    folder: Path,
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]] | None:
    """``(state, trainable weights, optimizer state)`` of the last checkpoint, or ``None``."""
    folder = whole_folder(folder)  # killed between the two renames: the last whole one
    if not (folder / "state.json").is_file():
        return None
    state = fresh_state()
    try:
        state.update(json.loads((folder / "state.json").read_text()))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFolderError(
            f"{folder / 'state.json'}: unreadable checkpoint state ({error}); delete "
            f"{folder} to train this fold afresh"
        ) from error
    trainable = load_tensors(folder / "trainable.safetensors")
    if (folder / "best.safetensors").is_file():
        state["best"] = load_tensors(folder / "best.safetensors")
    return state, trainable, optimizer_state(folder / "optimizer.pt")


def optimizer_state(path: Path) -> dict[str, Any]:
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
