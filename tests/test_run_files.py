import json
import logging

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from emotransfer.run_files import (
    RunFolderError,
    file_digest,
    load_arrays,
    load_tensors,
    model_files,
    record_model_files,
    verify_model_files,
)
from emotransfer.training.trainer import Trainer


@pytest.fixture
def folder(tmp_path):
    """A run folder with two fold heads, a fold checkpoint and other files."""
    (tmp_path / "model.json").write_text('{"classes": ["anger", "sadness"]}')
    for fold in ("speaker=03", "speaker=08"):
        (tmp_path / "models" / fold).mkdir(parents=True)
        save_file({"w": np.arange(4.0)}, str(tmp_path / "models" / fold / "head.safetensors"))
    (tmp_path / "models" / "speaker=03" / "checkpoint").mkdir()
    (tmp_path / "models" / "speaker=03" / "checkpoint" / "trainable.safetensors").write_bytes(b"")
    (tmp_path / "metrics.json").write_text("{}")
    return tmp_path


def test_the_record_holds_every_model_file_and_the_fold_count(folder):
    record = record_model_files(folder)
    assert record["folds"] == 2
    assert list(record["files"]) == ["model.json", "models/speaker=03/head.safetensors",
                                     "models/speaker=08/head.safetensors"]  # fmt: skip
    assert json.loads((folder / "files.json").read_text()) == record
    assert verify_model_files(folder) == record
    assert model_files(folder) == list(record["files"])


def test_the_digest_hashes_size_and_content_like_git(tmp_path):
    import hashlib

    path = tmp_path / "blob"
    path.write_bytes(b"hello")
    expected = hashlib.blake2b(b"blob 5\0hello", digest_size=32).hexdigest()
    assert file_digest(path) == expected


def test_each_changed_missing_or_added_file_is_named(folder):
    record_model_files(folder)
    save_file({"w": np.zeros(4)}, str(folder / "models" / "speaker=03" / "head.safetensors"))
    (folder / "model.json").unlink()
    save_file({"w": np.zeros(4)}, str(folder / "models" / "speaker=08" /
                                      "trainable.safetensors"))  # fmt: skip
    with pytest.raises(RunFolderError) as error:
        verify_model_files(folder)
    message = str(error.value)
    assert "models/speaker=03/head.safetensors changed since the run wrote it" in message
    assert "model.json missing" in message
    assert "models/speaker=08/trainable.safetensors added after the run" in message


def test_a_deleted_or_added_fold_folder_is_named(folder):
    import shutil

    record_model_files(folder)
    shutil.rmtree(folder / "models" / "speaker=08")
    with pytest.raises(RunFolderError, match="2 fold models expected, 1 found: models/speaker="
                                             "08 missing$"):  # fmt: skip
        verify_model_files(folder)
    shutil.copytree(folder / "models" / "speaker=03", folder / "models" / "speaker=09")
    with pytest.raises(RunFolderError, match="2 fold models expected, 2 found: models/speaker="
                                             "08 missing, models/speaker=09 added$"):  # fmt: skip
        verify_model_files(folder)


def test_a_folder_of_an_older_version_is_only_warned_about(folder, caplog):
    with caplog.at_level(logging.WARNING):
        assert verify_model_files(folder) is None
    assert "no files.json" in caplog.text


def test_an_unreadable_record_is_refused(folder):
    (folder / "files.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="files.json: unreadable"):
        verify_model_files(folder)
    (folder / "files.json").write_text('{"files": []}')
    with pytest.raises(RunFolderError, match="not a model-file record"):
        verify_model_files(folder)


def test_truncated_or_empty_tensor_files_are_named(folder):
    path = folder / "models" / "speaker=03" / "head.safetensors"
    np.testing.assert_array_equal(load_arrays(path)["w"], np.arange(4.0))
    assert load_tensors(path)["w"].dtype == torch.float64
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(RunFolderError, match="speaker=03/head.safetensors: not a readable"):
        load_arrays(path)
    empty = folder / "models" / "speaker=03" / "checkpoint" / "trainable.safetensors"
    with pytest.raises(RunFolderError, match="checkpoint/trainable.safetensors: not a readable"):
        load_tensors(empty)


class _RunsACommand:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def _checkpoint(folder, model, optimizer_file):
    from safetensors.torch import save_file as save_tensors

    folder.mkdir()
    (folder / "state.json").write_text(json.dumps({"epoch": 1, "history": []}))
    state = {k: v.detach().clone() for k, v in model.named_parameters()}
    save_tensors(state, str(folder / "trainable.safetensors"))
    optimizer_file(folder / "optimizer.pt")


def test_resuming_refuses_a_pickle_checkpoint_that_would_run_code(tmp_path):
    marker = tmp_path / "marker"
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    trainer = Trainer(model=model, param_groups=[], checkpoint_dir=tmp_path / "checkpoint")
    _checkpoint(tmp_path / "checkpoint", model,
                lambda path: torch.save({"state": _RunsACommand(marker)}, path))  # fmt: skip
    with pytest.raises(RunFolderError, match="checkpoint/optimizer.pt: refused, not loaded"):
        trainer._resume(optimizer)
    assert not marker.exists()
    saved = tmp_path / "checkpoint" / "optimizer.pt"
    torch.save(optimizer.state_dict(), saved)
    saved.write_bytes(saved.read_bytes()[:40])  # truncated
    with pytest.raises(RunFolderError, match="optimizer.pt: refused, not loaded"):
        trainer._resume(optimizer)
    # a plain optimizer state still resumes
    torch.save(optimizer.state_dict(), saved)
    assert trainer._resume(optimizer)["epoch"] == 1
