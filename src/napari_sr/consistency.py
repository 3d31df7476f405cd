"""Data consistency: does a super-resolved image agree with the image it was made from?

In the spirit of NanoJ-SQUIRREL (Culley et al. 2018): the output is degraded again by the
imaging model that made the input from the scene — the SR protocol's bicubic downscaling
by default, or a PSF blur and another kernel — and compared with the input pixel by pixel.
Structure the output invents that the input does not support shows up as error: a
convincing hallucination can pass a visual check but not this one. After a least-squares
intensity fit ``α · re-degraded + β`` (optional: a network's output may differ from the
input by an offset or gain that is no inconsistency), the map is the absolute difference;
its root mean square (the resolution-scaled error, RSE) and the Pearson correlation of
input and re-degraded output (RSP) summarise it.

References
----------
.. [1] S. Culley, D. Albrecht, C. Jacobs, P. M. Pereira, C. Leterrier, J. Mercer,
   R. Henriques, "Quantitative mapping and minimization of super-resolution optical imaging
   artifacts," Nature Methods 15, 263-266 (2018). doi:10.1038/nmeth.4605
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .image import Image
from .utils.memory import check_finite


@dataclasses.dataclass(frozen=True)
class Consistency:
    """The comparison of an input with its super-resolved output, degraded again.

    Attributes
    ----------
    error : numpy.ndarray
        ``|input − (α · re-degraded + β)|`` on the input's grid (float64, the input's
        intensity units): where the output disagrees with the measured data.
    rse : float
        Root mean square of ``error`` (resolution-scaled error), intensity units.
    rsp : float
        Pearson correlation of the input and the re-degraded output (resolution-scaled
        Pearson), 1 for perfect agreement up to gain and offset.
    alpha, beta : float
        The intensity fit (1 and 0 without fitting).
    """

    error: np.ndarray
    rse: float
    rsp: float
    alpha: float
    beta: float


def data_consistency(
    output: np.ndarray | Image,
    observed: np.ndarray | Image,
    scale: float,
    *,
    kernel: str = "bicubic",
    blur: float | Sequence[float] | Mapping[str, float] | None = None,
    psf: Any = None,
    fit_intensity: bool = True,
    axes: str | None = None,
) -> Consistency:
    """How well ``output`` (super-resolved ×``scale``) agrees with the ``observed`` input.

    Parameters
    ----------
    output : numpy.ndarray or Image
        The super-resolved image or stack (axes as :func:`napari_sr.degrade` reads them:
        ``axes``, the Image's, or guessed from the shape, RGB as Y, X, C).
    observed : numpy.ndarray or Image
        The input it was made from: ``output``'s shape with Y and X ``scale`` times smaller.
    scale : float
        The upscaling factor.
    kernel, blur, psf
        The imaging model, as :func:`napari_sr.degrade` takes it (no noise): by default the
        SR protocol's MATLAB-bicubic downscaling; for microscopy, the PSF (``blur`` σ in
        output pixels, or ``psf``) and ``kernel="area"`` or ``"decimate"``.
    fit_intensity : bool
        Fit a gain and offset from the re-degraded output to the input before comparing.
    axes : str, optional
        Axes of ``output`` and ``observed``.

    Returns
    -------
    Consistency
        The error map and its summaries.

    Raises
    ------
    ValueError
        When ``observed`` is not ``output`` degraded by ``scale`` in shape, or either holds
        non-finite values.
    """
    from .degradation import degrade

    if axes is None and isinstance(output, Image):
        axes = output.axes
    high = np.asarray(output.data if isinstance(output, Image) else output, dtype=np.float64)
    low = np.asarray(observed.data if isinstance(observed, Image) else observed, dtype=np.float64)
    if high.ndim < 2:
        raise ValueError(f"output must have Y and X axes; got shape {high.shape}")
    check_finite(high, "output")
    check_finite(low, "observed")
    redone = np.asarray(
        degrade(high, scale, kernel=kernel, blur=blur, psf=psf, axes=axes), dtype=np.float64
    )
    if redone.shape != low.shape:
        raise ValueError(
            f"observed has shape {low.shape}, but the output degraded by {scale} has "
            f"{redone.shape}: pass the input the output was made from, and its scale"
        )
    alpha, beta = _fit(redone, low) if fit_intensity else (1.0, 0.0)
    error = np.abs(low - (alpha * redone + beta))
    rse = float(np.sqrt(np.mean(error**2)))
    spread = float(np.std(low) * np.std(redone))
    rsp = float(np.mean((low - low.mean()) * (redone - redone.mean())) / spread) if spread else 1.0
    return Consistency(error, rse, rsp, alpha, beta)


def _fit(redone: np.ndarray, low: np.ndarray) -> tuple[float, float]:
    """Least-squares gain and offset taking ``redone`` to ``low``."""
    x, y = redone.ravel(), low.ravel()
    variance = float(np.var(x))
    if variance == 0:  # a flat output: only an offset can be fitted
        return 1.0, float(y.mean() - x.mean())
    alpha = float(np.mean((x - x.mean()) * (y - y.mean())) / variance)
    return alpha, float(y.mean() - alpha * x.mean())
