"""Multi-image SR fusion: the table of fusion methods, and the classical ones, which fuse
registered frames on a grid ``scale`` times finer.

:func:`fusion_methods` is the one table of the methods :func:`napari_sr.misr` takes by
name, asked by its checks, the CLI's ``misr --method`` and the Multi-frame SR widget: the
classical methods of :data:`CLASSICAL` below, ``learned`` (the bundled fusion network for
the scale) and each bundled fusion network by its name, with the scales it is available at.

The observation model is the one of :mod:`napari_sr.degradation` and the sample burst:
frame ``k`` is the scene moved by ``shifts[k]`` low-resolution pixels, blurred by the
optics (a Gaussian of σ = ``psf`` high-resolution pixels, if given), integrated over the
``scale × scale`` high-resolution pixels of each camera pixel, and noisy:
``Y_k = D B S_k X + n``. Three estimates of ``X``:

- ``shift-add``: every low-resolution sample placed where it was taken on the fine grid,
  by normalised convolution (Knutsson & Westin 1993: splatted values and weights, both
  smoothed, divided), then deblurred by a Wiener filter of the whole system (pixel box,
  optics, the splat).
- ``ibp``: iterative back-projection (Irani & Peleg 1991) from the shift-and-add estimate:
  the errors ``Y_k - D B S_k X`` of all frames are back-projected and added.
- ``robust``: after Farsiu, Robinson, Elad & Milanfar (IEEE TIP 13:1327, 2004): a robust
  data term (pseudo-Huber: quadratic for ordinary errors, L1 beyond a few noise standard
  deviations, so outlier pixels and frames weigh little) plus bilateral total variation,
  which removes noise without blurring edges as plain back-projection does not; both
  smoothed (the L1 ``sign`` of the paper makes steepest descent noisy), minimised by
  back-projection steps.

The operators work on the fine grid through FFTs of a mirror-padded canvas (one transfer
function per frame: the sub-pixel shift and the optics), and the pixel box by block means.

References
----------
.. [1] H. Knutsson, C.-F. Westin, "Normalized and differential convolution," CVPR 1993,
   515-523. doi:10.1109/CVPR.1993.341081
.. [2] M. Irani, S. Peleg, "Improving resolution by image registration," CVGIP: Graphical
   Models and Image Processing 53(3), 231-239 (1991). doi:10.1016/1049-9652(91)90045-L
.. [3] S. Farsiu, M. D. Robinson, M. Elad, P. Milanfar, "Fast and robust multiframe super
   resolution," IEEE Trans. Image Process. 13(10), 1327-1344 (2004).
   doi:10.1109/TIP.2004.834669
.. [4] S. C. Park, M. K. Park, M. G. Kang, "Super-resolution image reconstruction: a
   technical overview," IEEE Signal Processing Magazine 20(3), 21-36 (2003).
   doi:10.1109/MSP.2003.1203207
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from ..utils.progress import (
    CancelToken,
    ProgressCallback,
    is_cancelled,
    raise_if_cancelled,
    report,
)
from ..utils.validate import check_callback, check_integer, check_real, real_array

IBP_SMOOTHING = 1.0
"""σ of IBP's Gaussian back-projection kernel, in low-resolution pixels."""
WIENER_REGULARIZATION = 0.01
"""Noise-to-signal ratio of the shift-and-add deblurring (relative to the signal's power)."""
ROBUST_OUTLIER = 3.0
"""Errors beyond this many noise standard deviations count as outliers (robust method)."""
MAX_PSF_PER_SCALE = 10.0
"""Largest ``psf`` σ in low-resolution pixels (``psf / scale``): a blur of ten camera pixels
cannot be undone, and its canvas padding would grow without bound."""
MAX_ITERATIONS = 10_000
MAX_SCALE = 16
"""Largest multi-frame SR factor: each output pixel needs about scale² frames."""
BTV_RADIUS, BTV_DECAY, BTV_WEIGHT = 2, 0.7, 0.001
"""Bilateral TV of the robust method: shifts up to ``BTV_RADIUS`` pixels, weights
``BTV_DECAY ** (|l| + |m|)``, and its weight against the data term (Farsiu et al.'s P, α, λ)."""
DEFAULT_FUSION = "robust"
"""The fusion :func:`napari_sr.misr` runs unless told otherwise."""
LEARNED_ARCHITECTURE, LEARNED_WEIGHTS = "highresnet", "microscope"
"""The bundled fusion networks ``method="learned"`` picks from:
``models/weights/highresnet_x<s>.microscope`` (trained over a range of optics and photon
counts; the first weights, for one PSF, stay by name as ``highresnet_x<s>.bursts291``)."""

# ------------------------------------------------------------------------- the table

Refine = Callable[[np.ndarray, "_System", np.ndarray], Callable[[np.ndarray], np.ndarray]]
"""``refine(frames, system, start) -> step``: an iterative method's update, made once from
the frames (on a unit intensity scale), the imaging system and the shift-and-add estimate;
``step(estimate)`` returns the next estimate."""


def _ibp(data: np.ndarray, system: _System, start: np.ndarray) -> Callable:
    """Iterative back-projection (Irani & Peleg 1991): the errors of all frames,
    back-projected through a Gaussian of ``IBP_SMOOTHING`` low-resolution pixels, added."""
    smoothing = IBP_SMOOTHING * system.scale

    def step(estimate: np.ndarray) -> np.ndarray:
        errors = data - system.observe(estimate)
        return estimate + system.back_project(errors, smoothing)

    return step


def _robust(data: np.ndarray, system: _System, start: np.ndarray) -> Callable:
    """Farsiu et al. (2004): a pseudo-Huber data term and bilateral total variation."""
    smoothing = IBP_SMOOTHING * system.scale
    # the size of an ordinary error: beyond a few, errors are outliers
    delta = ROBUST_OUTLIER * _noise_level(data - system.observe(start))

    def step(estimate: np.ndarray) -> np.ndarray:
        errors = data - system.observe(estimate)
        # pseudo-Huber influence: linear (as IBP) for small errors, bounded (as L1) for
        # outliers; bilateral TV against the noise, both smooth so that steps are stable
        influence = errors / np.sqrt(1 + (errors / delta) ** 2)
        update = system.back_project(influence, smoothing)
        return estimate + update - BTV_WEIGHT * delta * _btv_gradient(estimate, delta)

    return step


@dataclass(frozen=True)
class FusionMethod:
    """One entry of the table of fusion methods (:func:`fusion_methods`).

    Attributes
    ----------
    name : str
        What :func:`napari_sr.misr` takes as ``method``.
    learned : bool
        A fusion network (bundled weights) rather than a classical estimate.
    summary : str
        One line for help texts and tooltips.
    iterations : int or None
        Default number of iterations of an iterative classical method (None: one pass, or
        a network).
    refine : callable or None
        An iterative classical method's update (see :data:`Refine`); None for one pass
        (``shift-add``) and networks.
    networks : tuple of (int, str)
        A learned method's bundled model for each scale it is available at.
    """

    name: str
    learned: bool
    summary: str
    iterations: int | None = None
    refine: Refine | None = None
    networks: tuple[tuple[int, str], ...] = ()

    @property
    def scales(self) -> tuple[int, ...] | None:
        """The scales a learned method is available at; None: every whole scale from 2 to
        :data:`MAX_SCALE` (classical methods)."""
        return tuple(s for s, _ in self.networks) if self.learned else None

    def network(self, scale: int) -> str | None:
        """The bundled model a learned method runs at ``scale`` (None: none, or classical)."""
        return dict(self.networks).get(scale)

    def unavailable(self, scale: int) -> str | None:
        """Why this method cannot run at ``scale``; None if it can."""
        if not self.learned or self.network(scale) is not None:
            return None
        have = ", ".join(f"x{s}" for s in self.scales) or "none"
        train = (
            "use a classical method, or train one with napari_sr.multiframe.learned."
            "train_fusion and pass it (or its file) as method"
        )
        if self.name == "learned":
            return f"no fusion network is bundled for x{scale} (bundled: {have}); {train}"
        return f"the fusion network {self.name} works at {have}, not x{scale}; {train}"


CLASSICAL: tuple[FusionMethod, ...] = (
    FusionMethod("shift-add", False, "normalised convolution and Wiener deblurring"),
    FusionMethod("ibp", False, "iterative back-projection", iterations=10, refine=_ibp),
    FusionMethod(
        "robust", False, "L1-like data term and bilateral TV", iterations=40, refine=_robust
    ),
)
"""The classical fusion methods, in the order texts list them."""
METHODS = tuple(m.name for m in CLASSICAL)
"""Names of the classical methods :func:`fuse` runs."""
DEFAULT_ITERATIONS = {m.name: m.iterations for m in CLASSICAL if m.iterations}
"""Iterations of the iterative classical methods unless told otherwise."""


def fusion_methods() -> tuple[FusionMethod, ...]:
    """The table of fusion methods: :data:`CLASSICAL`, then ``learned`` (the bundled fusion
    network of the scale: ``highresnet_x<s>.microscope``), then every bundled fusion network
    by name. The learned entries come from the bundled weights
    (:mod:`napari_sr.models.bundled`); reading them loads no torch."""
    from ..models.bundled import bundled_models, is_multiframe, parse_name

    named = []
    for name in bundled_models():
        parts = parse_name(name)
        if parts is not None and is_multiframe(name):
            named.append((parts, name))
    default = tuple(
        (scale, name)
        for (arch, scale, weights), name in sorted(named)
        if (arch, weights) == (LEARNED_ARCHITECTURE, LEARNED_WEIGHTS)
    )
    learned = FusionMethod(
        "learned", True,
        "the bundled fusion network for the scale, which corrects the robust fusion "
        f"({', '.join(f'x{s}' for s, _ in default) or 'none bundled'})",
        networks=default,
    )  # fmt: skip
    bundled = tuple(
        FusionMethod(
            name, True, f"the bundled fusion network for x{scale}", networks=((scale, name),)
        )
        for (_, scale, _), name in named
    )
    return (*CLASSICAL, learned, *bundled)


def fusion_names() -> tuple[str, ...]:
    """Every name of :func:`fusion_methods`, in order."""
    return tuple(m.name for m in fusion_methods())


def get_fusion_method(name: str) -> FusionMethod:
    """The entry of :func:`fusion_methods` called ``name``.

    Raises
    ------
    ValueError
        If there is none; the message names every method.
    """
    table = fusion_methods()
    for method in table:
        if method.name == name:
            return method
    raise ValueError(
        f"unknown fusion method {name!r}; choose one of {', '.join(m.name for m in table)}"
    )


def fusion_help() -> str:
    """Every fusion method and what it does, for help texts and tooltips."""
    lines = [f"{m.name}: {m.summary}" for m in fusion_methods()]
    return f"default {DEFAULT_FUSION}; " + "; ".join(lines)


def _classical(method: Any) -> FusionMethod:
    for entry in CLASSICAL:
        if isinstance(method, str) and method == entry.name:
            return entry
    raise ValueError(f"unknown fusion method {method!r}; choose one of {', '.join(METHODS)}")


def _quoted(names: list[str], conjunction: str) -> str:
    """``'a', 'b' and 'c'``."""
    quoted = [f"'{n}'" for n in names]
    if len(quoted) < 2:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + f" {conjunction} {quoted[-1]}"


# ------------------------------------------------------------------------- fusion


def fuse(
    frames: np.ndarray,
    shifts: np.ndarray,
    scale: int,
    *,
    method: str = "robust",
    psf: float = 0.0,
    iterations: int | None = None,
    weights: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Fuse registered frames into one image ``scale`` times finer.

    Parameters
    ----------
    frames : numpy.ndarray
        (N, Y, X) frames, float.
    shifts : numpy.ndarray
        (N, 2) ``(dy, dx)`` per frame, low-resolution pixels (content at ``(y, x)`` of the
        output's grid appears at ``(y + dy, x + dx)`` in the frame).
    scale : int
        Integer SR factor (≥ 2).
    method : {'shift-add', 'ibp', 'robust'}
        A classical method of :data:`CLASSICAL` (see the module docstring).
    psf : float
        Gaussian σ of the optics in output pixels (0: the pixel box only).
    iterations : int, optional
        For ``ibp`` and ``robust`` (defaults :data:`DEFAULT_ITERATIONS`).
    weights : numpy.ndarray, optional
        (N,) weight per frame (0 leaves a frame out).
    progress, cancel : optional
        ``progress(done, total)`` per iteration; cancellation between iterations.

    Returns
    -------
    numpy.ndarray
        (Y·scale, X·scale) float64 estimate, in the frames' intensities.
    """
    entry = _classical(method)
    from .registration import check_shifts

    data = real_array(frames, "frames").astype(np.float64, copy=False)
    if data.ndim != 3 or data.shape[0] < 1 or min(data.shape[1:]) < 2:
        raise ValueError(
            f"fuse takes a (frames, Y, X) stack of frames of at least 2 x 2 pixels, not "
            f"shape {data.shape}"
        )
    scale = check_sr_scale(scale)
    shifts = check_shifts(shifts, len(data), data.shape[1:])
    psf, iterations = check_fusion_options(psf, iterations, scale, method)
    keep = np.ones(len(data), bool)
    if weights is not None:
        weights = real_array(weights, "weights")
        if weights.shape != (len(data),) or (weights < 0).any() or not (weights > 0).any():
            raise ValueError(
                f"weights must be {len(data)} numbers >= 0 (one per frame, 0 leaves it out), "
                f"at least one above 0; not {np.array2string(weights, threshold=8)}"
            )
        keep = weights > 0
    check_callback(progress)
    is_cancelled(cancel)  # a wrong kind of cancel fails now, not after some work
    data, shifts = data[keep], shifts[keep]
    system = _System(data.shape[1:], scale, shifts, psf)
    estimate = _shift_and_add(data, system)
    if entry.refine is None:  # one pass: shift-and-add
        report(progress, 1, 1)
        raise_if_cancelled(cancel)  # a cancel while the frames were fused is honoured
        return estimate
    steps = entry.iterations if iterations is None else int(iterations)
    # work on a unit intensity scale, so that step sizes and weights do not depend on it
    low, high = np.percentile(data, (0.5, 99.5))
    span = (high - low) or 1.0
    data, estimate = (data - low) / span, (estimate - low) / span
    step_from = entry.refine(data, system, estimate)
    for step in range(steps):
        raise_if_cancelled(cancel)
        estimate = step_from(estimate)
        report(progress, step + 1, steps)
    raise_if_cancelled(cancel)  # a cancel during the last iteration is honoured too
    return estimate * span + low


def check_sr_scale(scale: Any) -> int:
    """The multi-frame SR factor as an int: a whole number from 2 to :data:`MAX_SCALE`."""
    return check_integer(
        scale, "scale", minimum=2, maximum=MAX_SCALE,
        hint="multi-frame SR works at whole factors such as 2, 3 or 4",
    )  # fmt: skip


def check_fusion_options(
    psf: Any, iterations: Any, scale: int, method: Any, network: Any = None
) -> tuple[float, int | None]:
    """``psf`` and ``iterations`` checked for ``method`` at ``scale``: a finite σ from 0 to
    ``MAX_PSF_PER_SCALE * scale`` output pixels, and None or a whole number of iterations
    (from 1) for the iterative methods. A fusion network (``network``) takes no
    iterations, and a σ only when it was trained over a range of optics (within it); one
    trained for a single σ brings its own."""
    learned = isinstance(method, str) and method not in METHODS and method in fusion_names()
    if network is not None or learned:
        return _check_network_psf(psf, iterations, scale, network)
    limit = MAX_PSF_PER_SCALE * scale
    psf = check_real(
        psf, "psf", minimum=0.0, maximum=limit,
        hint="it is the Gaussian sigma of the optics in output pixels (0: none; about "
        f"0.5 x scale = {0.5 * scale:g} for a well-sampled microscope)",
    )  # fmt: skip
    if iterations is None:
        return psf, None
    iterative = list(DEFAULT_ITERATIONS)
    if method not in DEFAULT_ITERATIONS:
        raise ValueError(
            f"iterations apply to the iterative methods {_quoted(iterative, 'and')}, not "
            f"{method!r}; leave iterations out or choose method={_quoted(iterative, 'or')}"
        )
    defaults = [f"{n} for {name}" for name, n in DEFAULT_ITERATIONS.items()]
    iterations = check_integer(
        iterations, "iterations", minimum=1, maximum=MAX_ITERATIONS,
        hint=f"the defaults are {' and '.join(defaults)}; leave it out for those",
    )  # fmt: skip
    return psf, iterations


def _check_network_psf(psf: Any, iterations: Any, scale: int, network: Any) -> tuple[float, None]:
    classical = ", ".join(map(repr, METHODS))
    if iterations is not None:
        raise ValueError(
            "iterations do not apply to a fusion network; leave them out, or use a classical "
            f"method ({classical})"
        )
    trained = training_psf(network) if network is not None else None
    if not isinstance(trained, tuple):
        if not (isinstance(psf, numbers.Real) and psf == 0):
            raise ValueError(
                "psf does not apply to this fusion network: it was trained for one PSF "
                f"(sigma {trained:g} output pixels) and brings it; leave psf out, or use a "
                f"classical method ({classical})"
            )
        return 0.0, None
    low, high = trained
    psf = check_real(psf, "psf", minimum=0.0, maximum=MAX_PSF_PER_SCALE * scale,
                     hint="the Gaussian sigma of the optics in output pixels")  # fmt: skip
    if not low - 1e-9 <= psf <= high + 1e-9:
        raise ValueError(
            f"psf {psf:g} is outside the optics this fusion network was trained for (sigma "
            f"{low:g} to {high:g} output pixels); use a classical method ({classical}), "
            "which takes any psf"
        )
    return psf, None


def training_psf(model: Any) -> float | tuple[float, float]:
    """The PSF σ (high-resolution pixels) a fusion network's bursts were made with, or the
    range ``(low, high)`` they drew it from (a network told the σ of its frames)."""
    from ..models.info import info_of

    record = (info_of(model).data or {}).get("bursts") or {}  # the model record's
    span = record.get("psf_range_hr_px")
    if span is not None:
        return float(span[0]), float(span[1])
    return float(record.get("psf_sigma_hr_px", 0.5 * int(model.scale)))


def fusion_steps(method: str, iterations: int | None) -> int:
    """Progress units of fusing one plane: 1 for shift-add and networks, else iterations."""
    if method not in DEFAULT_ITERATIONS:
        return 1
    return DEFAULT_ITERATIONS[method] if iterations is None else iterations


# --------------------------------------------------------------------- the system


class _System:
    """``A_k = D B S_k`` for every frame and the back-projection ``mean_k A_kᵀ`` (with the
    pixel box's adjoint as replication), on a mirror-padded fine canvas."""

    def __init__(self, low_shape, scale: int, shifts: np.ndarray, psf: float) -> None:
        self.scale = int(scale)
        self.shifts = shifts
        self.low_shape = tuple(low_shape)
        self.high_shape = (low_shape[0] * scale, low_shape[1] * scale)
        self.pad = scale * max(4, math.ceil(3 * psf / scale) + 2)
        padded = (self.high_shape[0] + 2 * self.pad, self.high_shape[1] + 2 * self.pad)
        fy = np.fft.fftfreq(padded[0])[:, None]
        fx = np.fft.rfftfreq(padded[1])[None, :]
        optics = np.exp(-2 * (np.pi * psf) ** 2 * (fy**2 + fx**2)) if psf > 0 else 1.0
        # content moves by +d low-res pixels = +d·s fine pixels in the frame
        self.transfer = [
            optics * np.exp(-2j * np.pi * (fy * dy * scale + fx * dx * scale)) for dy, dx in shifts
        ]
        self.padded = padded
        self.box = np.sinc(fy * scale) * np.sinc(fx * scale)  # the camera pixel, for Wiener
        self.optics = optics

    def _spectrum(self, image: np.ndarray) -> np.ndarray:
        return np.fft.rfft2(np.pad(image, self.pad, mode="reflect"))

    def _image(self, spectrum: np.ndarray) -> np.ndarray:
        full = np.fft.irfft2(spectrum, s=self.padded)
        p = self.pad
        return full[p : p + self.high_shape[0], p : p + self.high_shape[1]]

    def observe(self, estimate: np.ndarray) -> np.ndarray:
        """(N, Y, X): every frame as the system would record ``estimate``."""
        spectrum = self._spectrum(estimate)
        s, (h, w) = self.scale, self.low_shape
        return np.stack(
            [
                self._image(spectrum * t).reshape(h, s, w, s).mean(axis=(1, 3))
                for t in self.transfer
            ]
        )

    def back_project(self, errors: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
        """Mean over the frames of ``B S_kᵀ`` of their errors replicated to the fine grid,
        optionally smoothed by a Gaussian of ``smoothing`` fine pixels (Irani & Peleg's
        back-projection kernel)."""
        s = self.scale
        total = 0.0
        for error, t in zip(errors, self.transfer, strict=True):
            fine = np.repeat(np.repeat(error, s, axis=0), s, axis=1)
            total = total + self._spectrum(fine) * np.conj(t)
        if smoothing:
            total = total * self.gaussian(smoothing)
        return self._image(total / len(errors))

    def gaussian(self, sigma: float) -> np.ndarray:
        """Transfer function of a Gaussian blur of ``sigma`` fine pixels."""
        fy = np.fft.fftfreq(self.padded[0])[:, None]
        fx = np.fft.rfftfreq(self.padded[1])[None, :]
        return np.exp(-2 * (np.pi * sigma) ** 2 * (fy**2 + fx**2))

    def deblur(self, image: np.ndarray, extra: np.ndarray | float) -> np.ndarray:
        """Wiener deconvolution of the pixel box, the optics and ``extra`` (a transfer
        function on the padded canvas)."""
        kernel = self.box * self.optics * extra
        spectrum = self._spectrum(image)
        power = np.abs(kernel) ** 2
        return self._image(spectrum * np.conj(kernel) / (power + WIENER_REGULARIZATION))


def _shift_and_add(frames: np.ndarray, system: _System) -> np.ndarray:
    """Normalised convolution of all samples placed on the fine grid, then Wiener."""
    s = system.scale
    h, w = system.high_shape
    values = np.zeros((h, w))
    weights = np.zeros((h, w))
    rows = (np.arange(system.low_shape[0]) + 0.5) * s - 0.5
    cols = (np.arange(system.low_shape[1]) + 0.5) * s - 0.5
    for frame, (dy, dx) in zip(frames, system.shifts, strict=True):
        y = np.repeat(rows - dy * s, len(cols))
        x = np.tile(cols - dx * s, len(rows))
        _splat(values, weights, y, x, frame.ravel())
    sigma = 0.5 * s  # the applicability: wide enough to fill the grid from a few frames
    values = ndimage.gaussian_filter(values, sigma, mode="reflect")
    weights = ndimage.gaussian_filter(weights, sigma, mode="reflect")
    filled = values / np.maximum(weights, 1e-6)
    fy = np.fft.fftfreq(system.padded[0])[:, None]
    fx = np.fft.rfftfreq(system.padded[1])[None, :]
    applicability = np.exp(-2 * (np.pi * sigma) ** 2 * (fy**2 + fx**2))
    return system.deblur(filled, applicability)


def _splat(values, weights, y, x, samples) -> None:
    """Add ``samples`` at real positions (y, x) with bilinear weights."""
    h, w = values.shape
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - y0, x - x0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy, xx = y0 + dy, x0 + dx
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            weight = (wy * wx)[inside]
            np.add.at(values, (yy[inside], xx[inside]), weight * samples[inside])
            np.add.at(weights, (yy[inside], xx[inside]), weight)


def _btv_gradient(image: np.ndarray, delta: float) -> np.ndarray:
    """Gradient of the bilateral total variation (Farsiu et al. 2004, eq. 22), with the
    sign smoothed below ``delta`` (Charbonnier) so that flat noise is evened out gently."""
    gradient = np.zeros_like(image)
    p = BTV_RADIUS
    for dy in range(-p, p + 1):
        for dx in range(0, p + 1):
            if dx == 0 and dy <= 0:
                continue  # each (l, m) pair once: the other half is the same term
            difference = image - _roll(image, dy, dx)
            sign = difference / np.sqrt(difference**2 + delta**2)
            gradient += BTV_DECAY ** (abs(dy) + abs(dx)) * (sign - _roll(sign, -dy, -dx))
    return gradient


def _noise_level(errors: np.ndarray) -> float:
    """Robust standard deviation (1.4826 × MAD) of the frames' errors; not below 1e-4."""
    return max(1.4826 * float(np.median(np.abs(errors - np.median(errors)))), 1e-4)


def _roll(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` moved by (dy, dx) whole pixels, edges replicated."""
    padded = np.pad(image, ((abs(dy),) * 2, (abs(dx),) * 2), mode="edge")
    h, w = image.shape
    return padded[abs(dy) - dy : abs(dy) - dy + h, abs(dx) - dx : abs(dx) - dx + w]
