"""Make ``docs/compare_view.png``, the README's picture of the Compare widget.

Trains FSRCNN ×2 from random weights (``init="scratch"``) for 500 steps on the burst ground
truth (synthetic filaments and blobs; the settings of ``tests/training/test_training_gain.py``),
then compares it with three
interpolations on a plane of another ground truth of the same synthetic microscope that it
never saw, in a real napari window driven through the Compare widget.

Run from the repository root (needs napari and a display; ``xvfb-run -a`` gives one)::

    QT_QPA_PLATFORM=xcb xvfb-run -a python docs/compare_view.py
"""

from __future__ import annotations

import time
from pathlib import Path

import napari
from imageio.v3 import imwrite
from napari._qt.dialogs.qt_notification import NapariQtNotification

import napari_sr

OUT = Path(__file__).with_name("compare_view.png")
PLANE = 64  # of the 128 planes of the anisotropic stack's ground truth


def main() -> None:
    train_on = napari_sr.load_sample("burst", ground_truth=True)
    # from random weights, as before fine-tuning the bundled weights became the default
    model = napari_sr.train(
        "fsrcnn", train_on, scale=2, steps=500, patch_size=32, batch_size=32, lr=5e-3,
        warmup_steps=50, seed=0, device="cpu", init="scratch",
    )  # fmt: skip
    stack = napari_sr.load_sample("anisotropic_stack", ground_truth=True)
    plane = stack.data[PLANE]
    size = stack.pixel_size["Y"]

    viewer = napari.Viewer(title="napari-sr: Compare")
    viewer.window.resize(1700, 1050)
    viewer.add_image(plane, name="filaments", scale=(size, size),
                     colormap="gray", contrast_limits=(0, 0.6 * float(plane.max())))  # fmt: skip
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    napari_sr_session(viewer, model)
    widget.set_checked(["nearest", "bicubic", "lanczos3", "fsrcnn ×2 (trained)"])
    widget.scale.setValue(2)
    widget.run_button.click()
    while widget.busy:
        napari.qt.get_qapp().processEvents()
        time.sleep(0.05)
    # the widget sorts the table best PSNR first and fits the grid by itself
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera  # napari 0.9
    camera.zoom *= 1.9  # a close look at the filaments in every panel
    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()  # notifications would cover the canvas
    napari.qt.get_qapp().processEvents()
    imwrite(OUT, viewer.screenshot(canvas_only=False, flash=False))
    print(widget.result.table())
    print(f"wrote {OUT}")
    viewer.close()


def napari_sr_session(viewer, model) -> None:
    """Offer the trained model in the viewer's widgets, as the Train widget does."""
    from napari_sr._napari import session

    session.add_model(viewer, "fsrcnn ×2 (trained)", model)


if __name__ == "__main__":
    main()
