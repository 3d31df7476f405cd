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
* **Camera.** ``gain`` (ADU per intensity unit) and ``offset`` (ADU) in the noise dict
  turn the noisy signal into camera counts, ``gain · signal + offset``; ``bits`` rounds
  to whole counts and clips to ``[0, 2**bits − 1]`` (8- or 16-bit quantisation).
* **Random ranges for training.** :class:`DegradationRange` draws all of the above afresh
  for each training patch (σ, photon peak, read noise, gain, offset, bit depth).

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

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ._degrade_steps import blur, check_noise, finish, noisy_planes, plane_seeds, poisson_top
from .axes import SPATIAL_AXES, resolve_axes
from .geometry import check_scale
from .image import Image, to_micrometres
from .resample import INTERPOLATION_METHODS, resize
from .utils.intensity import check_dtype, working_dtype
from .utils.lazy import is_lazy

__all__ = ["DegradationRange", "GaussianPSF", "degrade"]

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


Range = tuple[float, float]


class RangeFields:
    """Dict round trips of a frozen dataclass of random-degradation ranges (its fields as
    JSON-ready lists and numbers, as training configurations store them)."""

    KIND: ClassVar[str] = "random degradation"
    """How error messages name the fields' owner."""

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]):
        """From a dict of the fields (lists for ranges, a number for a fixed value)."""
        fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise ValueError(
                f"unknown {cls.KIND} option(s) {', '.join(map(str, unknown))}; "
                f"valid: {', '.join(fields)}"
            )
        return cls(**value)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready lists and numbers (the inverse of :meth:`from_dict`)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }


PSF_KINDS = ("widefield", "confocal")
REFRACTIVE_INDEX = 1.518
"""Of the immersion medium of :class:`DegradationRange`'s physical PSF (oil)."""


@dataclass(frozen=True)
class DegradationRange(RangeFields):
    """Random microscope degradations for training: every patch draws its own.

    Each field is a ``(low, high)`` range drawn uniformly (the photon peak log-uniformly);
    ``(v, v)`` fixes a value. :meth:`sample` turns one draw into the keyword arguments of
    :func:`degrade`. The camera model: the blurred, pixel-integrated image holds ``peak``
    photo-electrons at its maximum; shot noise (Poisson), read noise (Gaussian, σ in
    electrons), then ``ADU = gain · electrons + offset``, rounded and clipped to ``bits``.

    Parameters
    ----------
    blur : (float, float)
        Gaussian PSF σ, high-resolution pixels (≥ 0).
    anisotropic : bool
        Draw σ_y and σ_x independently from ``blur`` (else one σ for both).
    kernel : str
        Downscaling of :func:`degrade`; ``"area"`` (the default) is pixel integration:
        at an integer scale the mean over each s × s block, as a camera pixel collects.
    peak : (float, float) or None
        Photon peak, photo-electrons at the image's maximum (> 0); None for no noise.
    clean : float
        Probability, in [0, 1], that a draw is noise-free (no shot, read or camera noise).
    read_noise : (float, float)
        Read-noise σ, electrons (≥ 0).
    gain : (float, float)
        Camera gain, ADU per electron (> 0).
    offset : (float, float)
        Background offset of the camera, ADU (≥ 0); lifts read noise above the clip at 0.
    bits : tuple of int
        Bit depths to draw from with equal probability (such as ``(8, 16)``; 1-32); empty
        for no quantisation.
    na : (float, float) or None
        Numerical aperture of a physical PSF (:class:`GaussianPSF`), drawn with
        ``wavelength``, ``pixel_size`` and one of ``psf_kinds``; its lateral σ is added in
        quadrature to the ``blur`` draw (which then stands for defocus and aberrations).
        None (the default) for the Gaussian ``blur`` alone.
    wavelength : (float, float)
        Emission wavelength of the physical PSF, µm.
    pixel_size : (float, float)
        High-resolution pixel size the physical PSF is sampled at, µm.
    psf_kinds : tuple of str
        Microscope kinds to draw from with equal probability: ``'widefield'``,
        ``'confocal'``.
    protocol : float
        Probability, in [0, 1], that a draw is the SR benchmark protocol instead: MATLAB
        bicubic downscaling, no blur, no noise. A network trained with a share of these
        still restores bicubic-downscaled images, so that an input that only looks noisy
        (fine texture) loses little when it is sent to it.

    Examples
    --------
    >>> import numpy as np
    >>> spec = DegradationRange(blur=(0.5, 2.0), peak=(20, 1000), clean=0.2, bits=(16,))
    >>> sorted(spec.sample(np.random.default_rng(0)))
    ['blur', 'kernel', 'noise']
    """

    blur: Range = (0.0, 0.0)
    anisotropic: bool = False
    kernel: str = "area"
    peak: Range | None = None
    clean: float = 0.0
    read_noise: Range = (0.0, 0.0)
    gain: Range = (1.0, 1.0)
    offset: Range = (0.0, 0.0)
    bits: tuple[int, ...] = ()
    na: Range | None = None
    wavelength: Range = (0.45, 0.65)
    pixel_size: Range = (0.05, 0.15)
    psf_kinds: tuple[str, ...] = ("widefield",)
    protocol: float = 0.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.na is not None:
            set_(self, "na", check_range(self.na, "na (numerical aperture)", low=0, open_=True))
            if self.na[1] >= REFRACTIVE_INDEX:
                raise ValueError(
                    f"na up to {self.na[1]:g} is at or above the refractive index of oil "
                    f"({REFRACTIVE_INDEX}); give numerical apertures below it, e.g. [0.8, 1.4]"
                )
        set_(
            self, "wavelength", check_range(self.wavelength, "wavelength (µm)", low=0, open_=True)
        )
        if self.wavelength[1] > 100:
            raise ValueError(
                f"wavelength {self.wavelength[1]:g} looks like nanometres; give µm, e.g. "
                "[0.45, 0.65]"
            )
        set_(
            self, "pixel_size", check_range(self.pixel_size, "pixel_size (µm)", low=0, open_=True)
        )
        kinds = (self.psf_kinds,) if isinstance(self.psf_kinds, str) else tuple(self.psf_kinds)
        if not kinds or any(k not in PSF_KINDS for k in kinds):
            raise ValueError(
                f"psf_kinds must name one or more of {', '.join(PSF_KINDS)}, "
                f"not {self.psf_kinds!r}"
            )
        set_(self, "psf_kinds", kinds)
        set_(self, "blur", check_range(self.blur, "blur sigma (HR pixels)", low=0))
        set_(
            self, "read_noise", check_range(self.read_noise, "read_noise sigma (electrons)", low=0)
        )
        set_(self, "gain", check_range(self.gain, "gain (ADU per electron)", low=0, open_=True))
        set_(self, "offset", check_range(self.offset, "offset (ADU)", low=0))
        if self.peak is not None:
            set_(self, "peak", check_range(self.peak, "peak (photons)", low=0, open_=True))
        if self.kernel != "decimate" and self.kernel not in INTERPOLATION_METHODS:
            raise ValueError(
                f"unknown kernel {self.kernel!r}; choose 'area' (pixel integration), "
                f"'decimate' or one of {', '.join(INTERPOLATION_METHODS)}"
            )
        for name in ("clean", "protocol"):
            set_(self, name, check_probability(getattr(self, name), name))
        bits = (self.bits,) if np.ndim(self.bits) == 0 else tuple(self.bits)
        for b in bits:
            if isinstance(b, bool) or not float(b).is_integer() or not 1 <= b <= 32:
                raise ValueError(f"bits must be whole numbers from 1 to 32 (8, 16), not {b}")
        set_(self, "bits", tuple(int(b) for b in bits))
        set_(self, "anisotropic", bool(self.anisotropic))

    @property
    def max_blur(self) -> float:
        """Largest σ a draw can give, high-resolution pixels."""
        if self.na is None:
            return self.blur[1]
        widest = max(self._physical_sigma(k, self.na[0], self.wavelength[1], self.pixel_size[0])
                     for k in self.psf_kinds)  # fmt: skip
        return math.hypot(self.blur[1], widest)

    def margin(self, scale: int) -> int:
        """Low-resolution pixels of context a training patch is degraded with, on each
        side: 4σ of the widest blur and the downscaling kernel's reach."""
        return math.ceil(4 * self.max_blur / scale) + 3

    @staticmethod
    def _physical_sigma(kind: str, na: float, wavelength: float, pixel_size: float) -> float:
        """Lateral σ of a :class:`GaussianPSF`, pixels."""
        psf = GaussianPSF(na, wavelength, pixel_size, kind, refractive_index=REFRACTIVE_INDEX)
        return psf.sigma_pixels("X")["X"]

    def sample(self, rng: np.random.Generator, top: float = 1.0) -> dict[str, Any]:
        """Draw one degradation: keyword arguments of :func:`degrade` (but ``scale``).

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of the draw; every draw takes the same number of values from it, so
            changing one range does not reshuffle the others.
        top : float
            Intensity of the image's maximum after blur and downscaling, in the image's
            units: ``peak`` photons are reached there, read noise and gain are converted
            to intensity units with it.

        Returns
        -------
        dict
            ``kernel``; ``blur`` as ``{"Y": σ_y, "X": σ_x}`` (HR pixels); ``noise`` as for
            :func:`degrade` (``poisson`` peak, ``gaussian`` σ in intensity units, ``gain``
            in ADU per intensity unit, ``offset``, ``bits``), or None for a clean draw.
        """
        u = rng.random(8)
        lo, hi = self.blur
        sy = lo + (hi - lo) * u[0]
        sx = lo + (hi - lo) * u[1] if self.anisotropic else sy
        if self.na is not None:  # four more values, only for a physical PSF
            v = rng.random(4)
            kind = self.psf_kinds[min(int(v[0] * len(self.psf_kinds)), len(self.psf_kinds) - 1)]
            ranges = (self.na, self.wavelength, self.pixel_size)
            draw = [a + (b - a) * t for (a, b), t in zip(ranges, v[1:], strict=True)]
            optics = self._physical_sigma(kind, *draw)
            sy, sx = math.hypot(sy, optics), math.hypot(sx, optics)
        if self.protocol > 0 and rng.random() < self.protocol:  # one more, only then
            return {"kernel": "bicubic", "blur": {"Y": 0.0, "X": 0.0}, "noise": None}
        out: dict[str, Any] = {
            "kernel": self.kernel,
            "blur": {"Y": float(sy), "X": float(sx)},
            "noise": None,
        }
        if self.peak is None or u[2] < self.clean:
            return out
        peak = math.exp(math.log(self.peak[0]) + math.log(self.peak[1] / self.peak[0]) * u[3])
        per_electron = check_scale(top, "top (intensity of the image maximum)") / peak
        read = self.read_noise[0] + (self.read_noise[1] - self.read_noise[0]) * u[4]
        gain = self.gain[0] + (self.gain[1] - self.gain[0]) * u[5]
        noise: dict[str, Any] = {
            "poisson": peak,
            "gaussian": read * per_electron,
            "gain": gain / per_electron,
            "offset": self.offset[0] + (self.offset[1] - self.offset[0]) * u[6],
        }
        if self.bits:
            noise["bits"] = self.bits[min(int(u[7] * len(self.bits)), len(self.bits) - 1)]
        out["noise"] = noise
        return out


def check_probability(value: Any, name: str) -> float:
    """``value`` as a float in [0, 1], or a ValueError naming ``name``."""
    number = float(value)
    if not 0 <= number <= 1:
        raise ValueError(f"{name} is a probability in [0, 1], not {value:g}")
    return number


def check_range(value: Any, name: str, *, low: float, open_: bool = False) -> Range:
    """``(low, high)`` from a pair or one number, checked: finite, ordered, above ``low``."""
    pair = [value, value] if np.ndim(value) == 0 else list(value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be a [low, high] pair or one number, not {value!r}")
    try:
        a, b = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numbers, not {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{name} must be finite, not {value!r}")
    if a > b:
        raise ValueError(f"{name} range [{a:g}, {b:g}] has low > high; give [low, high]")
    if a < low or (open_ and a <= low):
        bound = f"{'>' if open_ else '≥'} {low:g}"
        raise ValueError(f"{name} must be {bound}, not {a:g}")
    return (a, b)


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
    image : numpy.ndarray, dask or zarr array, or Image
        High-resolution input. An :class:`Image` comes back as an Image whose pixel sizes
        are multiplied by the factors. A dask or zarr array (or an Image of one) gives a
        lazy dask array, computed block by block and equal to the in-memory result
        (:mod:`napari_sr._degrade_blocks`).
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
        ``{"poisson": peak_photons}``, ``{"gaussian": sigma}`` or both, optionally with
        camera keys: ``"gain"`` (ADU per intensity unit, > 0, default 1), ``"offset"``
        (ADU, default 0) and ``"bits"`` (round and clip to ``[0, 2**bits − 1]``, 1-32).
    axes : str, optional
        Axes of ``image`` (default from the Image or guessed from the shape).
    seed : int or numpy.random.Generator, optional
        Seed of the noise. Each plane (the last two axes) of a stack draws from its own
        stream spawned from it, so a plane's noise does not depend on the rest of the
        stack; a single plane draws from the seed's generator itself.

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
    data = source.data if source is not None else image
    if not is_lazy(data):
        data = np.asarray(data)
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
    if noise:
        check_noise(noise)
    per_axis = [sigmas.get(a, 0.0) for a in axes]
    decimation = _decimation(factors, axes) if kernel == "decimate" else None
    if is_lazy(data):  # block by block, each as the in-memory path computes it
        from ._degrade_blocks import degrade_lazy

        out = degrade_lazy(data, axes, per_axis, decimation, factors, kernel, noise, rng,
                           dtype)  # fmt: skip
    else:
        out = _degrade_in_memory(data, axes, per_axis, decimation, factors, kernel, noise, rng,
                                 dtype)  # fmt: skip
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


def _degrade_in_memory(data, axes, per_axis, decimation, factors, kernel, noise, rng, dtype):
    from .utils.memory import check_finite, check_fits

    out_shape = [
        max(1, math.ceil(n / factors.get(a, 1.0) - 1e-9))
        for a, n in zip(axes, data.shape, strict=True)
    ]
    check_fits(out_shape, dtype, extra_bytes=_working_bytes(data, out_shape, per_axis, noise),
               what="degraded image")  # fmt: skip
    check_finite(data)  # after the memory check: it reads the input in small blocks
    work = blur(data.astype(working_dtype(dtype), copy=False), per_axis)
    if decimation is not None:
        work = work[decimation]
    elif factors:
        work = resize(work, {a: 1 / f for a, f in factors.items()}, method=kernel, axes=axes)
    low = float(data.min()) if noise and "poisson" in noise else 0.0
    return finish(_add_noise(work, noise, rng, dtype, low), dtype)


def _decimation(factors: dict[str, float], axes: str) -> tuple[slice, ...]:
    """The index that keeps every f-th sample along each axis (``kernel='decimate'``)."""
    index = []
    for a in axes:
        f = factors.get(a, 1.0)
        if f != int(f):
            raise ValueError(f"kernel='decimate' needs integer factors, not {f} for {a}")
        index.append(slice(None, None, int(f)))
    return tuple(index)


def _working_bytes(data: np.ndarray, out_shape: list[int], sigmas: list[float], noise) -> int:
    """Bytes ``degrade`` holds beside its output: the input in the working dtype and its
    blurred copy; the resized image in the working dtype (the resize's own buffers are
    checked by :func:`~napari_sr.resize`); the noise's float64 draws and their sum; the
    cast's rounding and clipping temporaries."""
    work = working_dtype(data.dtype).itemsize
    in_items, out_items = data.size, math.prod(out_shape)
    extra = in_items * work * int(data.dtype != working_dtype(data.dtype))
    if any(sigmas):
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


def _add_noise(
    work: np.ndarray, noise, rng: np.random.Generator, dtype: np.dtype, low: float
) -> np.ndarray:
    """Shot and read noise plane by plane, then the camera; ``low`` is the input's minimum
    (Poisson noise needs non-negative intensities)."""
    if not noise:
        return work
    top = poisson_top(low, float(work.max())) if "poisson" in noise else None
    n_planes = math.prod(work.shape[:-2])
    return noisy_planes(work, noise, rng, plane_seeds(rng, n_planes), range(n_planes), top)
