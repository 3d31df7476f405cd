"""Make the files in this folder: copies of scikit-image's bundled images and the
synthetic anisotropic stack and burst, each written as OME-TIFF with its pixel size.

Run from the repository root::

    python sample_data/generate.py

The synthetic data are deterministic (fixed seeds); ``tests/test_samples.py`` checks that
the shipped files are what this script makes.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

HERE = Path(__file__).resolve().parent

# Synthetic microscope: 0.2 µm pixels in xy; z sampled 4x coarser in the observed stack.
XY_UM = 0.2
Z_FACTOR = 4
SIGMA_XY_UM = 0.12  # lateral PSF, Gaussian sigma (widefield NA ~0.9 at 520 nm, Zhang 2007)
SIGMA_Z_UM = 0.45  # axial PSF, Gaussian sigma: ~3.75x the lateral one
PEAK_PHOTONS = 200.0
BACKGROUND_PHOTONS = 5.0


def _filaments_and_blobs(
    shape: tuple[int, ...], rng: np.random.Generator, n_filaments: int, n_blobs: int
) -> np.ndarray:
    """An object of thin filaments (smooth random curves) and round blobs, values >= 0."""
    ndim = len(shape)
    obj = np.zeros(shape, np.float64)
    size = np.array(shape, float)
    for _ in range(n_filaments):
        # a curve: a random line bent by two random sinusoids, sampled densely
        start, end = rng.uniform(0, 1, (2, ndim)) * size
        bend = rng.normal(0, 0.08, (2, ndim)) * size
        t = np.linspace(0, 1, int(4 * np.linalg.norm(end - start)) + 2)[:, None]
        points = (
            start
            + (end - start) * t
            + bend[0] * np.sin(np.pi * t)
            + bend[1] * np.sin(2 * np.pi * t)
        )
        brightness = rng.uniform(0.4, 1.0)
        _splat(obj, points, brightness * 0.25)  # 4 points per pixel of length
    for _ in range(n_blobs):
        centre = rng.uniform(0, 1, ndim) * size
        radius = rng.uniform(1.5, 4.0)
        grids = np.ogrid[tuple(slice(0, n) for n in shape)]
        dist2 = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=False))
        obj += rng.uniform(0.3, 0.8) * (dist2 <= radius**2)
    return obj


def _splat(array: np.ndarray, points: np.ndarray, value: float) -> None:
    """Add ``value`` at each point, spread linearly over the neighbouring pixels."""
    shape = np.array(array.shape)
    points = points[np.all((points >= 0) & (points <= shape - 1), axis=1)]
    base = np.floor(points).astype(int)
    frac = points - base
    for corner in np.ndindex(*(2,) * array.ndim):
        corner = np.array(corner)
        idx = np.minimum(base + corner, shape - 1)
        w = np.prod(np.where(corner, frac, 1 - frac), axis=1)
        np.add.at(array, tuple(idx.T), value * w)


def _photons(signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale a noise-free signal to photons and draw Poisson counts (uint16)."""
    return rng.poisson(signal * PEAK_PHOTONS + BACKGROUND_PHOTONS).astype(np.uint16)


def make_anisotropic_stack(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Observed (32, 128, 128) stack at 0.8 x 0.2 x 0.2 µm and its ground truth.

    The ground truth is the object seen through the lateral PSF in all three directions,
    sampled isotropically at 0.2 µm, noise-free, on the observed stack's photon scale
    (128 planes). The observed stack is the object through the anisotropic PSF, every 4th
    plane kept (planes 0, 4, 8, ...), with Poisson noise.
    """
    rng = np.random.default_rng(seed)
    shape = (128, 128, 128)
    obj = _filaments_and_blobs(shape, rng, n_filaments=80, n_blobs=40)
    sxy = SIGMA_XY_UM / XY_UM
    sz = SIGMA_Z_UM / XY_UM
    blurred_iso = ndimage.gaussian_filter(obj, (sxy, sxy, sxy), mode="constant")
    blurred = ndimage.gaussian_filter(obj, (sz, sxy, sxy), mode="constant")
    norm = np.percentile(blurred, 99.9)
    observed = _photons(np.clip(blurred[::Z_FACTOR] / norm, 0, None), rng)
    truth = np.rint(blurred_iso / norm * PEAK_PHOTONS + BACKGROUND_PHOTONS)
    return observed, np.clip(truth, 0, 65535).astype(np.uint16)


def make_burst(seed: int = 5, n_frames: int = 8, factor: int = 2):
    """Eight (128, 128) low-resolution frames of one scene, their shifts, and the scene.

    The scene (256 x 256 at 0.1 µm, noise-free) is the ground truth. Frame k shows it moved
    by ``shifts[k]`` = (dy, dx) low-resolution pixels (content at (y, x) in the scene
    appears at (y + dy, x + dx)), band-limited shift in Fourier space, blurred by the
    optics, integrated over 2 x 2 scene pixels, decimated, with Poisson-Gaussian noise
    (read noise sigma 2 counts). Frame 0 is unshifted.
    """
    rng = np.random.default_rng(seed)
    hr = 128 * factor
    obj = _filaments_and_blobs((hr, hr), rng, n_filaments=30, n_blobs=20)
    sigma_hr = SIGMA_XY_UM / (XY_UM / factor)
    scene = ndimage.gaussian_filter(obj, sigma_hr, mode="wrap")
    scene /= np.percentile(scene, 99.9)
    shifts = rng.uniform(-1, 1, (n_frames, 2))
    shifts[0] = 0
    frames = []
    for dy, dx in shifts:
        moved = np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(scene), (dy * factor, dx * factor)))
        binned = np.clip(moved.real, 0, None).reshape(128, factor, 128, factor).mean(axis=(1, 3))
        counts = rng.poisson(binned * PEAK_PHOTONS + BACKGROUND_PHOTONS) + rng.normal(
            0, 2, binned.shape
        )
        frames.append(np.clip(np.rint(counts), 0, 65535))
    truth = np.clip(np.rint(scene * PEAK_PHOTONS + BACKGROUND_PHOTONS), 0, 65535)
    return np.stack(frames).astype(np.uint16), shifts, truth.astype(np.uint16)


def _skimage_images() -> dict[str, tuple[np.ndarray, float | None]]:
    from skimage import data

    return {
        "cell": (data.cell(), 0.107),  # pixel spacing given in skimage.data.cell's docstring
        "microaneurysms": (data.microaneurysms(), None),
        "immunohistochemistry": (data.immunohistochemistry(), None),
        "retina": (data.retina(), None),
    }


def main(folder: Path = HERE) -> None:
    sys.path.insert(0, str(HERE.parent / "src"))
    from napari_sr.io import write

    note = {"source": "scikit-image bundled data (skimage.data)", "licence": "CC0 / see README"}
    for name, (image, pixel) in _skimage_images().items():
        write(
            folder / f"{name}.ome.tif",
            image,
            pixel_size=pixel,
            provenance=note,
            overwrite=True,
            compression="zlib",
        )

    observed, truth = make_anisotropic_stack()
    common = {"generator": "sample_data/generate.py", "licence": "CC0"}
    write(
        folder / "anisotropic_stack.ome.tif",
        observed,
        axes="ZYX",
        pixel_size={"Z": XY_UM * Z_FACTOR, "Y": XY_UM, "X": XY_UM},
        provenance={
            **common,
            "what": "observed stack",
            "sigma_xy_um": SIGMA_XY_UM,
            "sigma_z_um": SIGMA_Z_UM,
            "z_decimation": Z_FACTOR,
        },
        overwrite=True,
        compression="zlib",
    )
    write(
        folder / "anisotropic_stack_ground_truth.ome.tif",
        truth,
        axes="ZYX",
        pixel_size={"Z": XY_UM, "Y": XY_UM, "X": XY_UM},
        provenance={**common, "what": "ground truth: isotropic PSF and sampling, no noise"},
        overwrite=True,
        compression="zlib",
    )

    frames, shifts, scene = make_burst()
    write(
        folder / "burst.ome.tif",
        frames,
        axes="TYX",
        pixel_size=XY_UM,
        provenance={
            **common,
            "what": "burst of shifted frames",
            "decimation": 2,
            "shifts_yx_lowres_pixels": shifts.round(6).tolist(),
        },
        overwrite=True,
        compression="zlib",
    )
    write(
        folder / "burst_ground_truth.ome.tif",
        scene,
        axes="YX",
        pixel_size=XY_UM / 2,
        provenance={**common, "what": "ground truth scene (optics blur, no noise)"},
        overwrite=True,
        compression="zlib",
    )
    with open(folder / "burst_shifts.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["frame", "dy_pixels", "dx_pixels"])
        for k, (dy, dx) in enumerate(shifts):
            out.writerow([k, f"{dy:.6f}", f"{dx:.6f}"])


if __name__ == "__main__":
    main()
