"""The Train widget's scores come from the model record's typed metrics: keys that exist."""

from __future__ import annotations

import pytest

pytest.importorskip("napari")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.gui


def test_the_scores_shown_are_the_ones_training_records():
    from napari_sr import create_model
    from napari_sr._napari.train_widget import validation_scores

    model = create_model("fsrcnn", scale=2, d=4, s=2, m=1)
    assert validation_scores(model) == (None, None)  # not trained: nothing to show
    # the metrics the training loop writes (training.loop._Run.metrics)
    written = {"steps_done": 20, "stopped": None, "final_loss": 0.01, "psnr": 27.25,
               "ssim": 0.8, "bicubic_psnr": 28.0, "bicubic_ssim": 0.85, "gain_db": -0.75,
               "validation": {"psnr": 27.25, "ssim": 0.8, "step": 10},
               "bicubic": {"psnr": 28.0, "ssim": 0.85}}  # fmt: skip
    model.info = model.info.updated(metrics=written)
    assert validation_scores(model) == (27.25, -0.75)
    # an older file with the scores but no validation record: the gain is computed
    model.info = model.info.updated(metrics={"psnr": 30.0, "bicubic_psnr": 28.5})
    assert validation_scores(model) == (30.0, 1.5)
