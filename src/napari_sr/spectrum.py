"""Radial power spectra, and how faithfully an output reproduces a reference's.

PSNR and SSIM reward a blur; a perceptual loss may pay for sharpness with invented
texture. The power spectrum, averaged over rings of equal spatial frequency, shows both:
a blurred output has too little power at high frequencies, synthesised texture or noise
too much. :func:`spectral_fidelity` compares an output's spectrum with the reference's
ring by ring, in decibels.

Each image is multiplied by a 2D Hann window before the Fourier transform, so that the
jump between opposite edges (the transform's periodic continuation) does not spread power
over every frequency. Rings are one frequency bin wide (1/N cycles per pixel for an N × N
image, the shorter side for rectangles) from the first bin above zero to Nyquist
(0.5 cycles per pixel); the zero frequency (the mean) is left out.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .utils.memory import check_finite


@dataclasses.dataclass(frozen=True)
class SpectralFidelity:
    """An output's radial power spectrum relative to a reference's.

    Attributes
    ----------
    frequency : numpy.ndarray
        Ring centres, cycles per pixel (up to 0.5).
    ratio_db : numpy.ndarray
        ``10 · log10(P_output / P_reference)`` per ring: below 0 where the output lacks
        power (blur), above 0 where it has too much (invented texture, noise).
    error_db : float
        The mean of ``|ratio_db|`` over the rings: 0 for identical spectra.
    high_db : float
        The mean ``ratio_db`` over the upper half of the frequencies (0.25-0.5 cycles per
        pixel): its sign says blur (negative) or excess detail (positive).
    """

    frequency: np.ndarray
    ratio_db: np.ndarray
    error_db: float
    high_db: float


def radial_spectrum(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequency, power): the Hann-windowed power spectrum of a 2D ``image`` averaged over
    rings of equal frequency (cycles per pixel), the zero frequency left out; for a stack,
    the average of its planes' spectra (the last two axes are Y and X)."""
    data = np.asarray(image, dtype=np.float64)
    if data.ndim < 2 or min(data.shape[-2:]) < 8:
        raise ValueError(
            f"a radial spectrum needs an image of at least 8 × 8 pixels; got shape {data.shape}"
        )
    check_finite(data)
    planes = data.reshape(-1, *data.shape[-2:])
    rows, cols = planes.shape[-2:]
    window = np.outer(np.hanning(rows), np.hanning(cols))
    centred = planes - planes.mean(axis=(-2, -1), keepdims=True)
    power = (np.abs(np.fft.fft2(centred * window)) ** 2).mean(axis=0)
    fy, fx = np.meshgrid(np.fft.fftfreq(rows), np.fft.fftfreq(cols), indexing="ij")
    radius = np.hypot(fy, fx)
    step = 1.0 / min(rows, cols)
    ring = np.rint(radius / step).astype(int)
    rings = min(rows, cols) // 2  # up to Nyquist, 0.5 cycles per pixel
    inside = (ring >= 1) & (ring <= rings)
    totals = np.bincount(ring[inside], weights=power[inside], minlength=rings + 1)[1:]
    counts = np.bincount(ring[inside], minlength=rings + 1)[1:]
    keep = counts > 0
    frequency = np.arange(1, rings + 1) * step
    return frequency[keep], totals[keep] / counts[keep]


def spectral_fidelity(reference: np.ndarray, output: np.ndarray) -> SpectralFidelity:
    """How faithfully ``output`` reproduces the radial power spectrum of ``reference``.

    Parameters
    ----------
    reference, output : numpy.ndarray
        Images of the same shape (Y, X), or stacks whose last two axes are Y and X.

    Returns
    -------
    SpectralFidelity
        The ratio per ring and its summaries.
    """
    reference, output = np.asarray(reference), np.asarray(output)
    if reference.shape != output.shape:
        raise ValueError(
            f"reference has shape {reference.shape} and output {output.shape}: compare "
            "images of the same size (crop or upscale first)"
        )
    frequency, wanted = radial_spectrum(reference)
    _, got = radial_spectrum(output)
    tiny = np.finfo(np.float64).tiny  # a flat image has no power: compared as the tiniest
    ratio_db = 10 * np.log10(np.maximum(got, tiny) / np.maximum(wanted, tiny))
    high = frequency >= 0.25
    return SpectralFidelity(
        frequency=frequency,
        ratio_db=ratio_db,
        error_db=float(np.mean(np.abs(ratio_db))),
        high_db=float(np.mean(ratio_db[high])),
    )
