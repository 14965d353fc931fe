"""`emotransfer extract` sharded over two processes (the variables torchrun and accelerate
launch set) writes the same cache as one process: the same entries, each with the same
tensors and metadata. (Not byte for byte: safetensors writes its metadata map in an order that
varies from process to process, so two single-process runs differ in those bytes too.)"""

import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile
from safetensors import safe_open

from emotransfer.extraction import process_share


def corpus(root):
    (root / "audio").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for number in range(7):
        soundfile.write(root / "audio" / f"{number}.wav", 0.1 * rng.normal(size=4000), 16000)
        rows.append({"file": f"audio/{number}.wav", "speaker": f"s{number % 3}",
                     "emotion": ["anger", "sadness"][number % 2]})  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)
    return root


def command(root, cache):
    return [sys.executable, "-m", "emotransfer.cli", "extract", "/dev/null", "--quiet",
            "-o", f"data.corpora=[{{name: csv, root: {root}}}]", "-o", f"cache_dir={cache}",
            "-o", "features.upstream=logmel", "-o", "features.workers=1"]  # fmt: skip


def entries(folder):
    """Each cache file by its path: a safetensors entry as (metadata, tensors), else bytes."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".safetensors":
            with safe_open(str(path), "np") as handle:
                found[str(path.relative_to(folder))] = (
                    handle.metadata(), {k: handle.get_tensor(k).tobytes() for k in handle.keys()}  # noqa: SIM118
                )  # fmt: skip
        else:
            found[str(path.relative_to(folder))] = path.read_bytes()
    return found


def test_two_processes_write_the_cache_one_process_writes(tmp_path):
    root = corpus(tmp_path / "corpus")
    alone = subprocess.run(command(root, tmp_path / "alone"), capture_output=True, text=True,
                           check=True)  # fmt: skip
    assert "7 clips in the cache" in alone.stdout and "1 process(es)" in alone.stdout
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ranks = []
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}  # fmt: skip
        ranks.append(subprocess.Popen(command(root, tmp_path / "sharded"), env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))  # fmt: skip
    outputs = [process.communicate(timeout=240) for process in ranks]
    assert [process.returncode for process in ranks] == [0, 0], outputs
    assert "7 clips in the cache" in outputs[0][0] and "2 process(es)" in outputs[0][0]
    assert outputs[1][0] == ""  # rank 1 extracts its share and reports nothing
    alone_entries = entries(tmp_path / "alone")
    assert len(alone_entries) >= 7 and entries(tmp_path / "sharded") == alone_entries


@pytest.mark.parametrize("rank, world, message", [
    ("2", "2", "RANK 2 of WORLD_SIZE 2"), ("x", "2", "must be integers"),
])  # fmt: skip
def test_a_bad_share_is_refused(monkeypatch, rank, world, message):
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("WORLD_SIZE", world)
    with pytest.raises(ValueError, match=message):
        process_share()
