"""The steps of :func:`napari_sr.degrade` that the in-memory and the block-by-block paths
share: the blur, the noise of one plane, the camera and the final cast."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .geometry import check_scale
from .utils.intensity import cast

__all__ = [
    "BLUR_TRUNCATE",
    "NOISE_KEYS",
    "blur",
    "camera",
    "check_noise",
    "finish",
    "noisy_plane",
    "noisy_planes",
    "plane_rng",
    "plane_seeds",
    "poisson_top",
]


def blur(work: np.ndarray, sigmas: list[float]) -> np.ndarray:
    """``work`` blurred by a Gaussian of σ ``sigmas`` (pixels, one per axis; mirrored
    edges), in its dtype."""
    if not any(sigmas):
        return work
    from scipy import ndimage

    return ndimage.gaussian_filter(work, sigmas, mode="reflect", truncate=BLUR_TRUNCATE)


BLUR_TRUNCATE = 4.0
"""The blur's kernel reaches ``int(4 σ + 0.5)`` pixels to either side."""


def finish(work: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The noisy working image cast to ``dtype``; a ValueError where it overflowed."""
    from .utils.memory import count_nonfinite

    if count_nonfinite(work):
        raise ValueError("the degraded image overflowed (non-finite values); use smaller noise")
    return cast(work, dtype)


NOISE_KEYS = ("poisson", "gaussian", "gain", "offset", "bits")
"""Keys of ``degrade``'s ``noise`` dict: shot noise, read noise, then the camera."""


def check_noise(noise: Mapping[str, float]) -> None:
    """Raise a ValueError for unknown keys or values out of range in ``noise``."""
    unknown = sorted(set(noise) - set(NOISE_KEYS))
    if unknown:
        raise ValueError(
            f"unknown noise type(s) {unknown}; use {{'poisson': peak_photons}}, "
            "{'gaussian': sigma} or both, optionally with 'gain', 'offset' and 'bits'"
        )
    if "poisson" in noise:
        check_scale(noise["poisson"], "poisson peak (photons)")
    if "gaussian" in noise:
        sigma = float(noise["gaussian"])
        if not np.isfinite(sigma) or sigma < 0:
            raise ValueError(f"gaussian noise sigma must be ≥ 0, not {sigma}")
    camera(np.zeros(1, np.float32), noise)  # checks gain, offset and bits


def poisson_top(low: float, top: float) -> float:
    """The intensity that Poisson noise maps to its peak photon count: the maximum
    ``top`` of the whole blurred and downscaled image, checked with the minimum ``low`` of
    the input (not negative: intensities are photon rates)."""
    if top <= 0:
        raise ValueError("Poisson noise needs a positive image (its maximum is ≤ 0)")
    if low < 0:
        raise ValueError("Poisson noise needs non-negative intensities; offset the image first")
    return top


def plane_seeds(rng: np.random.Generator, n_planes: int) -> list | None:
    """One seed sequence per plane (the last two axes) of a stack, so that a plane's noise
    does not depend on which planes are computed with it (a stack degraded block by block
    equals the stack degraded at once); None for a single plane, which draws from
    ``rng`` itself."""
    if n_planes == 1:
        return None
    return rng.bit_generator.seed_seq.spawn(n_planes)


def plane_rng(rng: np.random.Generator, seeds: list | None, k: int) -> np.random.Generator:
    """The generator of plane ``k`` (see :func:`plane_seeds`)."""
    if seeds is None:
        return rng
    return np.random.Generator(type(rng.bit_generator)(seeds[k]))


def noisy_planes(
    values: np.ndarray, noise, rng: np.random.Generator, seeds: list | None, indices, top
) -> np.ndarray:
    """``values`` (whole planes in its last two axes: the stack, or a block of it) with
    shot and read noise, each plane ``indices[k]`` of the stack drawing from its own
    stream (:func:`plane_seeds`), then the camera."""
    planes = values.reshape(-1, *values.shape[-2:])
    out = np.empty_like(planes)
    for k, plane in enumerate(planes):
        out[k] = noisy_plane(plane, noise, plane_rng(rng, seeds, int(indices[k])), top)
    return camera(out.reshape(values.shape), noise)


def noisy_plane(
    plane: np.ndarray, noise, rng: np.random.Generator, top: float | None
) -> np.ndarray:
    """One plane with shot and read noise (before the camera), in its dtype."""
    out = plane
    if "poisson" in noise:
        peak = float(noise["poisson"])
        # the resampling kernel's overshoot below 0 at dark edges is no negative rate
        rate = np.maximum(plane.astype(np.float64), 0.0) * (peak / top)
        photons = rng.poisson(rate)
        out = (photons * (top / peak)).astype(plane.dtype)
    if "gaussian" in noise:
        sigma = float(noise["gaussian"])
        with np.errstate(over="ignore"):  # overflow is reported as one clear error
            out = out + rng.normal(0.0, sigma, out.shape).astype(plane.dtype)
    return out


def camera(out: np.ndarray, noise) -> np.ndarray:
    """``gain · out + offset``, then rounded and clipped to ``bits`` when given."""
    gain = float(noise.get("gain", 1.0))
    if not np.isfinite(gain) or gain <= 0:
        raise ValueError(f"noise gain (ADU per intensity unit) must be > 0, not {gain}")
    offset = float(noise.get("offset", 0.0))
    if not np.isfinite(offset):
        raise ValueError(f"noise offset (ADU) must be a finite number, not {offset}")
    bits = noise.get("bits")
    if bits is not None and (
        isinstance(bits, bool) or not float(bits).is_integer() or not 1 <= bits <= 32
    ):
        raise ValueError(f"noise bits must be a whole number from 1 to 32 (8, 16), not {bits}")
    if gain != 1 or offset:
        with np.errstate(over="ignore"):
            out = (out * gain + offset).astype(out.dtype)
    if bits is not None:
        # computed in float64: 2**32 - 1 is not exact in float32
        levels = np.clip(np.round(out.astype(np.float64)), 0, 2 ** int(bits) - 1)
        out = levels.astype(out.dtype)
    return out
