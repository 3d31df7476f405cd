"""The sample images bundled with napari-sr (folder ``sample_data/`` of the package).

Provenance and licence of every file are in ``sample_data/README.md``; the synthetic ones
are made by ``sample_data/generate.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .image import Image


@dataclass(frozen=True)
class Sample:
    """One bundled sample: its file, a title, and the file of its ground truth if any."""

    name: str
    file: str
    title: str
    description: str
    ground_truth: str | None = None


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "cell",
        "cell.ome.tif",
        "Cell (quantitative phase, 0.107 µm)",
        "A cell floating in saline, quantitative phase image, 660×550 uint8 (scikit-image, CC0).",
    ),
    Sample(
        "microaneurysms",
        "microaneurysms.ome.tif",
        "Retinal microaneurysms (fundus detail)",
        "Green channel of a fundus photograph with lesions, 102×102 uint8 (scikit-image, CC0).",
    ),
    Sample(
        "immunohistochemistry",
        "immunohistochemistry.ome.tif",
        "Immunohistochemistry (RGB)",
        "Colonic glands, DAB and hematoxylin, 512×512 RGB uint8 (scikit-image, no known "
        "copyright restrictions).",
    ),
    Sample(
        "retina",
        "retina.ome.tif",
        "Human retina (RGB fundus)",
        "Fundus photograph of a normal left eye, 1411×1411 RGB uint8 (scikit-image, CC0).",
    ),
    Sample(
        "anisotropic_stack",
        "anisotropic_stack.ome.tif",
        "Synthetic anisotropic 3D stack (z 4× coarser)",
        "Filaments and blobs blurred by an anisotropic Gaussian PSF with Poisson noise, "
        "32×128×128 uint16 ZYX, 0.8 µm z, 0.2 µm xy (synthetic).",
        ground_truth="anisotropic_stack_ground_truth.ome.tif",
    ),
    Sample(
        "burst",
        "burst.ome.tif",
        "Synthetic burst of 8 shifted low-resolution frames",
        "8 frames of one scene with known sub-pixel shifts, blurred, decimated 2× and noisy, "
        "8×128×128 uint16 TYX, 0.2 µm (synthetic; shifts in the provenance).",
        ground_truth="burst_ground_truth.ome.tif",
    ),
)
_BY_NAME = {s.name: s for s in SAMPLES}


def list_samples() -> list[str]:
    """Names of the bundled samples."""
    return [s.name for s in SAMPLES]


def sample_info(name: str) -> Sample:
    """The :class:`Sample` record of ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown sample {name!r}; bundled samples are {', '.join(_BY_NAME)}"
        ) from None


def sample_folder() -> Path:
    """The folder holding the sample files (inside the installed package)."""
    return Path(str(resources.files("napari_sr") / "sample_data"))


def sample_path(name: str, *, ground_truth: bool = False) -> Path:
    """Path of a sample's file, or of its ground truth with ``ground_truth=True``."""
    sample = sample_info(name)
    if ground_truth:
        if sample.ground_truth is None:
            raise ValueError(f"sample {name!r} has no ground truth")
        return sample_folder() / sample.ground_truth
    return sample_folder() / sample.file


def load_sample(name: str, *, ground_truth: bool = False) -> Image:
    """Read a bundled sample (or its ground truth) as an :class:`~napari_sr.image.Image`.

    Examples
    --------
    >>> img = napari_sr.load_sample("anisotropic_stack")  # doctest: +SKIP
    >>> img.axes, img.pixel_size  # doctest: +SKIP
    ('ZYX', {'Z': 0.8, 'Y': 0.2, 'X': 0.2})
    """
    from .io import read

    return read(sample_path(name, ground_truth=ground_truth))
