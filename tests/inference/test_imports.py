"""Inference is something to serve: importing it loads neither the training loop nor the run
driver, and ``emotransfer``'s own names still import on first use."""

import subprocess
import sys

PROBE = """
import sys
import emotransfer.inference
loaded = sorted(m for m in sys.modules if m.startswith(("emotransfer.training",
                "emotransfer.experiment", "emotransfer.prepare", "emotransfer.analysis")))
print(",".join(loaded))
"""


def test_importing_inference_loads_no_training_code():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == ""


def test_package_names_import_on_first_use():
    import emotransfer

    assert emotransfer.run.__module__ == "emotransfer.experiment"
    assert emotransfer.load_config(None).seed == 0
    assert "run" in emotransfer.__all__
