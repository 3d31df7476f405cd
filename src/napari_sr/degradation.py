"""The observation model y = (x ⊗ k)↓s + n: how a low-resolution image arises from a
high-resolution one. It makes training pairs and the inputs of benchmark comparisons.

Physics
-------
An optical system blurs the object by its point-spread function (PSF) ``k``; the camera
integrates light over pixels ``s`` times larger than the high-resolution grid (↓s); photons
arrive as a Poisson process and the read-out adds Gaussian noise ``n``. Each part is
optional:

* **Blur.** A Gaussian of standard deviation ``blur`` (high-resolution pixels), isotropic
  or per axis, and/or the Gaussian approximation of a widefield or confocal microscope's
  PSF (:class:`GaussianPSF`, Zhang et al. 2007). Standard deviations add in quadrature.
* **Downscaling** by ``scale`` along the axes that super-resolution restores (Y and X by
  default, any axes by a dict such as ``{"Z": 4}``). ``kernel="bicubic"`` is MATLAB's
  antialiased bicubic ``imresize``, the standard degradation of SR benchmarks; any other
  :func:`~napari_sr.resize` method works (``"area"`` integrates over pixel footprints, as
  a camera does), and ``"decimate"`` keeps every ``s``-th sample starting at the first
  (integer ``s``; the "BD" degradation of SR papers, shifted by (s - 1)/2 pixels).
* **Noise.** ``{"poisson": peak}`` draws photon counts with ``peak`` photons at the
  image's maximum (shot noise; lower peak, noisier); ``{"gaussian": sigma}`` adds read
  noise of standard deviation ``sigma`` in the image's intensity units; both together give
  Poisson–Gaussian noise. Seeded by ``seed``: the same seed gives the same noise.

References
----------
.. [1] S. C. Park, M. K. Park, M. G. Kang, "Super-resolution image reconstruction: a
   technical overview," IEEE Signal Processing Magazine 20(3), 21-36 (2003).
   doi:10.1109/MSP.2003.1203207
.. [2] B. Zhang, J. Zerubia, J.-C. Olivo-Marin, "Gaussian approximations of fluorescence
   microscope point-spread function models," Applied Optics 46(10), 1819-1829 (2007).
   doi:10.1364/AO.46.001819
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .axes import SPATIAL_AXES, resolve_axes
from .geometry import check_scale
from .image import Image, to_micrometres
from .resample import INTERPOLATION_METHODS, resize
from .utils.intensity import cast, check_dtype, working_dtype

__all__ = ["GaussianPSF", "degrade"]

DEGRADED_AXES = "YX"
"""Axes a plain number for ``scale`` or ``blur`` applies to: those upscale restores."""


@dataclass(frozen=True)
class GaussianPSF:
    """Gaussian approximation of a fluorescence microscope's PSF (paraxial model).

    Parameters
    ----------
    na : float
        Numerical aperture of the objective.
    wavelength : float
        Emission wavelength, µm.
    pixel_size : float or dict of str to float
        Pixel size of the image being blurred, µm: one number for Y and X, or per axis
        (``{"Z": 0.3, "Y": 0.1, "X": 0.1}``; Z is blurred only when its size is given).
    kind : {'widefield', 'confocal'}
        Widefield, or laser-scanning confocal with a small pinhole.
    refractive_index : float
        Of the immersion medium (1.518 for oil).
    excitation : float, optional
        Excitation wavelength for confocal, µm (default: ``wavelength``).

    Notes
    -----
    From Zhang, Zerubia & Olivo-Marin (2007), Table 2 (paraxial, non-aberrated):
    widefield σ_xy = 0.21 λ_em / NA and σ_z = 0.66 n λ_em / NA²; confocal the same with
    λ_em replaced by λ_ex λ_em / sqrt(λ_ex² + λ_em²).

    References
    ----------
    .. [1] B. Zhang, J. Zerubia, J.-C. Olivo-Marin, "Gaussian approximations of fluorescence
       microscope point-spread function models," Applied Optics 46(10), 1819-1829 (2007).
       doi:10.1364/AO.46.001819
    """

    na: float
    wavelength: float
    pixel_size: float | Mapping[str, float]
    kind: str = "widefield"
    refractive_index: float = 1.518
    excitation: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("widefield", "confocal"):
            raise ValueError(f"PSF kind must be 'widefield' or 'confocal', not {self.kind!r}")
        if not 0 < self.na < self.refractive_index:
            raise ValueError(
                f"numerical aperture {self.na} must be positive and below the refractive "
                f"index {self.refractive_index}"
            )
        check_scale(self.wavelength, "wavelength (µm)")
        if self.excitation is not None:
            check_scale(self.excitation, "excitation wavelength (µm)")
        if self.wavelength > 100:
            raise ValueError(
                f"wavelength {self.wavelength} looks like nanometres; give it in µm, e.g. 0.52"
            )

    def sigma_um(self) -> tuple[float, float]:
        """(lateral, axial) standard deviations in µm."""
        lam = self.wavelength
        if self.kind == "confocal":
            ex = self.excitation or self.wavelength
            lam = ex * lam / math.hypot(ex, lam)
        return 0.21 * lam / self.na, 0.66 * self.refractive_index * lam / self.na**2

    def sigma_pixels(self, axes: str) -> dict[str, float]:
        """Standard deviation per spatial axis of ``axes``, in pixels."""
        lateral, axial = self.sigma_um()
        sizes = (
            {str(k).upper(): float(v) for k, v in self.pixel_size.items()}
            if isinstance(self.pixel_size, Mapping)
            else {"Y": float(self.pixel_size), "X": float(self.pixel_size)}
        )
        out = {}
        for axis in axes:
            if axis in sizes and axis in SPATIAL_AXES:
                out[axis] = (axial if axis == "Z" else lateral) / check_scale(sizes[axis])
        return out


def degrade(
    image: np.ndarray | Image,
    scale: float | Mapping[str, float],
    *,
    kernel: str = "bicubic",
    blur: float | Sequence[float] | Mapping[str, float] | None = None,
    psf: GaussianPSF | Mapping[str, Any] | None = None,
    noise: Mapping[str, float] | None = None,
    axes: str | None = None,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray | Image:
    """Simulate the low-resolution observation of a high-resolution image.

    Parameters
    ----------
    image : numpy.ndarray or Image
        High-resolution input. An :class:`Image` comes back as an Image whose pixel sizes
        are multiplied by the factors.
    scale : float or dict of str to float
        Downscaling factor (≥ 1 shrinks). A number applies to Y and X, the axes upscale
        restores, so ``upscale(degrade(x, s), s)`` has ``x``'s shape; a dict such as
        ``{"Z": 4}`` picks the axes (any of Z, Y, X).
    kernel : str
        ``"bicubic"`` (MATLAB ``imresize``), another :func:`~napari_sr.resize` method,
        or ``"decimate"`` (blur, then every s-th sample).
    blur : float, sequence or dict, optional
        Gaussian σ in high-resolution pixels: one number for the downscaled axes, one
        per spatial axis (Z, Y, X order among ``axes``), or a dict per axis.
    psf : GaussianPSF or dict, optional
        Microscope PSF (dict keys as the :class:`GaussianPSF` parameters).
    noise : dict, optional
        ``{"poisson": peak_photons}``, ``{"gaussian": sigma}`` or both.
    axes : str, optional
        Axes of ``image`` (default from the Image or guessed from the shape).
    seed : int or numpy.random.Generator, optional
        Seed of the noise.

    Returns
    -------
    numpy.ndarray or Image
        The observation, in the input's dtype (integers rounded and clipped).

    Examples
    --------
    >>> import numpy as np
    >>> hr = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    >>> degrade(hr, 4, noise={"gaussian": 0.01}, seed=1).shape
    (16, 16)
    """
    source = image if isinstance(image, Image) else None
    data = source.data if source is not None else np.asarray(image)
    if source is not None and axes is None:
        axes = source.axes
    dtype = check_dtype(data.dtype)
    if data.size == 0:
        raise ValueError(f"image is empty (shape {data.shape}); give an image with pixels")
    axes = resolve_axes(axes, data.shape)
    factors = _factors(scale, axes)
    if kernel != "decimate" and kernel not in INTERPOLATION_METHODS:
        raise ValueError(
            f"unknown kernel {kernel!r}; choose 'decimate' or one of "
            f"{', '.join(INTERPOLATION_METHODS)}"
        )
    if isinstance(psf, Mapping) and "pixel_size" not in psf:
        if source is None or not source.pixel_size:
            raise ValueError(
                "psf needs the pixel size: give psf={..., 'pixel_size': 0.1} (µm) or pass an "
                "Image (or a file) that records its pixel size"
            )
        psf = {
            **psf,
            "pixel_size": {
                a: to_micrometres(v, source.unit.get(a)) for a, v in source.pixel_size.items()
            },
        }
    sigmas = _sigmas(blur, psf, axes, factors)
    rng = np.random.default_rng(seed)

    from .utils.memory import check_finite, check_fits, count_nonfinite

    out_shape = [
        max(1, math.ceil(n / factors.get(a, 1.0) - 1e-9))
        for a, n in zip(axes, data.shape, strict=True)
    ]
    check_fits(out_shape, dtype, extra_bytes=_working_bytes(data, out_shape, sigmas, noise),
               what="degraded image")  # fmt: skip
    check_finite(data)  # after the memory check: it reads the input in small blocks
    work = data.astype(working_dtype(dtype), copy=False)
    if any(sigmas.values()):
        from scipy import ndimage

        per_axis = [sigmas.get(a, 0.0) for a in axes]
        work = ndimage.gaussian_filter(work, per_axis, mode="reflect", truncate=4.0)
    if kernel == "decimate":
        index = []
        for a in axes:
            f = factors.get(a, 1.0)
            if f != int(f):
                raise ValueError(f"kernel='decimate' needs integer factors, not {f} for {a}")
            index.append(slice(None, None, int(f)))
        work = work[tuple(index)]
    elif factors:
        work = resize(work, {a: 1 / f for a, f in factors.items()}, method=kernel, axes=axes)
    work = _add_noise(work, noise, rng, dtype)
    if count_nonfinite(work):
        raise ValueError("the degraded image overflowed (non-finite values); use smaller noise")
    out = cast(work, dtype)
    if source is None:
        return out
    provenance = {"operation": "degrade", "factors": factors, "kernel": kernel}
    if sigmas:
        provenance["blur_sigma_pixels"] = sigmas
    if noise:
        provenance["noise"] = dict(noise)
        provenance["seed"] = seed if isinstance(seed, int) else None
    enlarge = {a: 1 / f for a, f in factors.items()}
    return source.with_axes(axes).resampled(
        out, enlarge, provenance, keep_origin=kernel == "decimate"
    )


def _working_bytes(data: np.ndarray, out_shape: list[int], sigmas, noise) -> int:
    """Bytes ``degrade`` holds beside its output: the input in the working dtype and its
    blurred copy; the resized image in the working dtype (the resize's own buffers are
    checked by :func:`~napari_sr.resize`); the noise's float64 draws and their sum; the
    cast's rounding and clipping temporaries."""
    work = working_dtype(data.dtype).itemsize
    in_items, out_items = data.size, math.prod(out_shape)
    extra = in_items * work * int(data.dtype != working_dtype(data.dtype))
    if any(sigmas.values()):
        extra += in_items * work
    extra += out_items * work * 3  # the resized image, rounding and clipping
    if noise:
        extra += out_items * (8 + 8 + work)  # float64 draws (and Poisson counts), the sum
    return extra


def _factors(scale: float | Mapping[str, float], axes: str) -> dict[str, float]:
    if isinstance(scale, Mapping):
        factors = {str(k).upper(): check_scale(v) for k, v in scale.items()}
    else:
        factors = dict.fromkeys(DEGRADED_AXES, check_scale(scale))
    wrong = sorted(a for a in factors if a not in SPATIAL_AXES or a not in axes)
    if wrong:
        raise ValueError(
            f"scale names axis {''.join(wrong)!r}, which is not a spatial axis of this image "
            f"(axes {axes!r})"
        )
    return {a: f for a, f in factors.items() if f != 1}


def _sigmas(blur, psf, axes: str, factors: dict[str, float]) -> dict[str, float]:
    variances: dict[str, float] = {}
    if blur is not None:
        spatial = [a for a in axes if a in SPATIAL_AXES]
        if isinstance(blur, Mapping):
            given = {str(k).upper(): float(v) for k, v in blur.items()}
        elif np.ndim(blur) == 0:
            given = dict.fromkeys(factors or DEGRADED_AXES, float(blur))
        else:
            values = [float(v) for v in blur]
            if len(values) != len(spatial):
                raise ValueError(
                    f"blur gives {len(values)} values but the image has {len(spatial)} "
                    f"spatial axes {''.join(spatial)!r}"
                )
            given = dict(zip(spatial, values, strict=True))
        for axis, sigma in given.items():
            if axis not in spatial:
                raise ValueError(f"blur names axis {axis!r}, not a spatial axis of {axes!r}")
            if not np.isfinite(sigma) or not 0 <= sigma <= 1e4:
                raise ValueError(f"blur sigma must be between 0 and 10000 pixels, not {sigma}")
            variances[axis] = variances.get(axis, 0.0) + sigma**2
    if psf is not None:
        if isinstance(psf, Mapping):
            missing = [k for k in ("na", "wavelength") if k not in psf]
            if missing:
                raise ValueError(
                    f"psf needs {' and '.join(missing)}: e.g. na=1.4 and wavelength=0.52 "
                    "(emission, µm)"
                )
            psf = GaussianPSF(**psf)
        for axis, sigma in psf.sigma_pixels(axes).items():
            variances[axis] = variances.get(axis, 0.0) + sigma**2
    return {a: math.sqrt(v) for a, v in variances.items()}


def _add_noise(work: np.ndarray, noise, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    if not noise:
        return work
    unknown = sorted(set(noise) - {"poisson", "gaussian"})
    if unknown:
        raise ValueError(
            f"unknown noise type(s) {unknown}; use {{'poisson': peak_photons}}, "
            "{'gaussian': sigma} or both"
        )
    out = work
    if "poisson" in noise:
        peak = check_scale(noise["poisson"], "poisson peak (photons)")
        top = float(work.max())
        if top <= 0:
            raise ValueError("Poisson noise needs a positive image (its maximum is ≤ 0)")
        if work.min() < 0:
            raise ValueError(
                "Poisson noise needs non-negative intensities; offset the image first"
            )
        photons = rng.poisson(work.astype(np.float64) * (peak / top))
        out = (photons * (top / peak)).astype(work.dtype)
    if "gaussian" in noise:
        sigma = float(noise["gaussian"])
        if not np.isfinite(sigma) or sigma < 0:
            raise ValueError(f"gaussian noise sigma must be ≥ 0, not {sigma}")
        with np.errstate(over="ignore"):  # overflow is reported below as one clear error
            out = out + rng.normal(0.0, sigma, out.shape).astype(work.dtype)
    return out
