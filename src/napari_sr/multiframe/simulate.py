"""Synthetic bursts: several shifted, blurred, decimated, noisy views of one image.

The observation model of :mod:`napari_sr.multiframe.fusion`: frame ``k`` is the image moved
by ``shifts[k]`` low-resolution pixels (a band-limited Fourier shift of the mirror-padded
image, so nothing wraps around), blurred by a Gaussian PSF, integrated over ``scale × scale``
pixels and recorded with Poisson noise (and optional Gaussian read noise). Used to test and
benchmark multi-image SR and to train its learned fusion.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..utils.validate import check_integer, check_real, real_array

MAX_PEAK = 1e9
"""Poisson sampling fails for means near 1e18; a billion photons is noise-free anyway."""


def make_burst(
    image: np.ndarray,
    scale: int,
    frames: int,
    *,
    psf: float = 0.0,
    peak: float | None = 200.0,
    read_noise: float = 0.0,
    max_shift: float = 1.0,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A burst of ``frames`` low-resolution views of a 2D ``image``.

    Parameters
    ----------
    image : numpy.ndarray
        (Y, X) high-resolution scene, any real dtype; Y and X are cropped to multiples of
        ``scale``.
    scale : int
        Decimation (≥ 2).
    frames : int
        Number of frames (≥ 1); frame 0 is not shifted.
    psf : float
        Gaussian σ of the optics, high-resolution pixels.
    peak : float or None
        Photons at the scene's 99.9th percentile (Poisson noise); None for no noise.
    read_noise : float
        Gaussian read noise σ, in photons.
    max_shift : float
        Shifts are uniform in ``[-max_shift, max_shift]`` low-resolution pixels.
    seed : int or numpy.random.Generator, optional
        Seeds the shifts and the noise.

    Returns
    -------
    (frames, shifts, truth)
        float32 (N, Y/s, X/s) frames in photons; (N, 2) ``(dy, dx)`` shifts (content at
        ``(y, x)`` of the truth's grid appears at ``(y + dy, x + dx)`` in the frame); and
        the float32 truth in the same photon scale, on frame 0's grid.
    """
    from .fusion import MAX_PSF_PER_SCALE, check_sr_scale

    scale = check_sr_scale(scale)
    data = real_array(image, "image").astype(np.float64)
    if data.ndim != 2:
        raise ValueError(f"make_burst takes a 2D image, not shape {data.shape}; pick one plane")
    if min(data.shape) < 2 * scale:
        raise ValueError(
            f"the {data.shape} image is too small for x{scale}: give at least "
            f"{2 * scale} x {2 * scale} pixels"
        )
    frames = check_integer(frames, "frames", minimum=1, maximum=10_000)
    psf = check_real(psf, "psf", minimum=0.0, maximum=MAX_PSF_PER_SCALE * scale,
                     hint="the optics' Gaussian sigma in high-resolution pixels")  # fmt: skip
    if peak is not None:
        peak = check_real(peak, "peak", above=0.0, maximum=MAX_PEAK,
                          hint="photons at the brightest; None for no noise")  # fmt: skip
    read_noise = check_real(read_noise, "read_noise", minimum=0.0, hint="sigma in photons")
    max_shift = check_real(max_shift, "max_shift", minimum=0.0,
                           maximum=min(data.shape) / scale / 4,
                           hint="low-resolution pixels; a burst moves by a few")  # fmt: skip
    rng = np.random.default_rng(seed)
    h, w = (data.shape[0] // scale) * scale, (data.shape[1] // scale) * scale
    data = data[:h, :w]
    low, high = np.percentile(data, (0.1, 99.9))
    normalised = np.clip((data - low) / ((high - low) or 1.0), 0, None)
    photons = normalised * (peak if peak is not None else 1.0)
    shifts = rng.uniform(-max_shift, max_shift, (frames, 2))
    shifts[0] = 0
    pad = 8 * scale
    padded = np.pad(photons, pad, mode="reflect")
    spectrum = np.fft.fft2(padded)
    out = []
    for dy, dx in shifts:
        moved = np.fft.ifft2(ndimage.fourier_shift(spectrum, (dy * scale, dx * scale))).real
        if psf > 0:
            moved = ndimage.gaussian_filter(moved, psf, mode="reflect")
        moved = np.clip(moved[pad : pad + h, pad : pad + w], 0, None)
        binned = moved.reshape(h // scale, scale, w // scale, scale).mean(axis=(1, 3))
        if peak is not None:
            binned = rng.poisson(binned).astype(np.float64)
        if read_noise:
            binned = binned + rng.normal(0, read_noise, binned.shape)
        out.append(binned)
    return np.stack(out).astype(np.float32), shifts, photons.astype(np.float32)
