import pytest
import torch

from emotransfer.models.fusion import ConcatFusion, IdentityFusion


def test_identity_takes_one_modality_and_concat_orders_by_name():
    assert IdentityFusion(sizes={"audio": 3}).output_size == 3
    with pytest.raises(ValueError, match="takes one modality"):
        IdentityFusion(sizes={"audio": 3, "text": 2})
    fused = ConcatFusion(sizes={"text": 2, "audio": 1})(
        {"audio": torch.zeros(1, 1), "text": torch.ones(1, 2)}
    )
    assert fused.tolist() == [[0.0, 1.0, 1.0]]
