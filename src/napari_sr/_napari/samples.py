"""The napari sample-data contributions: every file in ``sample_data/``, with its scale.

Each sample and each ground truth is its own entry under File → Open Sample → napari-sr;
the manifest names the functions below (one per file, so that each has a menu entry).
"""

from __future__ import annotations

from ..samples import sample_path
from .layers import image_to_layers


def open_sample(name: str, *, ground_truth: bool = False) -> list[tuple]:
    """Layer data of the bundled sample ``name`` (or its ground truth)."""
    from ..io import read

    label = f"{name} (ground truth)" if ground_truth else name
    return image_to_layers(read(sample_path(name, ground_truth=ground_truth)), label)


def cell():
    return open_sample("cell")


def microaneurysms():
    return open_sample("microaneurysms")


def immunohistochemistry():
    return open_sample("immunohistochemistry")


def retina():
    return open_sample("retina")


def anisotropic_stack():
    return open_sample("anisotropic_stack")


def anisotropic_stack_ground_truth():
    return open_sample("anisotropic_stack", ground_truth=True)


def burst():
    return open_sample("burst")


def burst_ground_truth():
    return open_sample("burst", ground_truth=True)
