import numpy as np
import pytest
from safetensors.numpy import save_file

from emotransfer.data.frames import FramesError, load_frames


def test_npy_and_safetensors_frames_are_read_as_float32(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(12, dtype=np.float64).reshape(4, 3))
    save_file({"features": np.ones((2, 3), dtype=np.float16)}, str(tmp_path / "b.safetensors"))
    save_file({"x": np.zeros((5, 3), dtype=np.float32)}, str(tmp_path / "c.safetensors"))
    assert load_frames(tmp_path / "a.npy").dtype == np.float32
    assert load_frames(tmp_path / "b.safetensors").shape == (2, 3)
    assert load_frames(tmp_path / "c.safetensors").shape == (5, 3)


def test_unusable_frame_files_are_named(tmp_path):
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "flat.npy", np.ones(4))
    np.save(tmp_path / "empty.npy", np.ones((0, 3)))
    np.save(tmp_path / "nan.npy", np.full((2, 3), np.nan))
    save_file({"a": np.ones((2, 3)), "b": np.ones((2, 3))}, str(tmp_path / "two.safetensors"))
    (tmp_path / "clip.mp4").write_bytes(b"not features")
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    cases = {"missing.npy": "no such frame-feature file", "pickled.npy": "not a readable",
             "flat.npy": r"\(T, D\) array", "empty.npy": "T >= 1", "nan.npy": "NaN or inf",
             "two.safetensors": "name it 'features'", "clip.mp4": ".npy or .safetensors",
             "broken.npy": "not a readable"}  # fmt: skip
    for name, message in cases.items():
        with pytest.raises(FramesError, match=message) as caught:
            load_frames(tmp_path / name)
        assert name in str(caught.value)
