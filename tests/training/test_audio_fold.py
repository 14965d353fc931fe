def test_the_best_epoch_is_the_first_best_validation_score_else_the_last():
    from emotransfer.training.audio_fold import best_epoch

    scored = [{"epoch": 0, "valid_uar": 0.4}, {"epoch": 1, "valid_uar": 0.7},
              {"epoch": 2, "valid_uar": 0.7}, {"epoch": 3, "valid_uar": 0.5}]  # fmt: skip
    assert best_epoch(scored) == 1
    assert best_epoch([{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.5}]) == 2
