import json

from emotransfer.reporting.curves import fold_histories, training_curves_figure


def test_histories_are_read_as_numbers_and_the_refit_named_refit(tmp_path):
    for folder, records in [("models/speaker=03", [{"epoch": 1, "loss": 0.9, "valid_uar": 0.6,
                                                    "seconds": 3.0, "note": "x"}]),
                            ("refit", [{"epoch": 1, "loss": 0.8}, {"epoch": 2, "loss": 0.4}]),
                            ("models/flag", [{"epoch": 1, "loss": True}])]:  # fmt: skip
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "history.json").write_text(json.dumps(records))
    found = fold_histories(tmp_path)
    refit = [{"epoch": 1.0, "loss": 0.8}, {"epoch": 2.0, "loss": 0.4}]
    assert found == {"speaker=03": [{"epoch": 1.0, "loss": 0.9, "valid_uar": 0.6}], "refit": refit}
    figure = training_curves_figure(found)
    assert len(figure.axes) == 2  # a fold with validation adds the UAR axes
    assert figure.axes[1].lines[0].get_ydata().tolist() == [0.6]
