"""Random second-order degradations of photographs for training, after Real-ESRGAN.

A photograph found in the wild has been blurred, resized, made noisy and JPEG-compressed,
often more than once (a camera, then an upload, then a screenshot). Real-ESRGAN (Wang et
al. 2021) trains on a *second-order* chain of such steps, each drawn at random:

1. blur by a random kernel (isotropic or anisotropic Gaussian, generalised Gaussian,
   plateau, rotated; sometimes a sinc for ringing), resize by a random factor (up, down
   or kept; area, bilinear or bicubic), add Gaussian or Poisson noise (grey or colour),
   JPEG-compress at a random quality;
2. the same again, with narrower ranges (and the blur only sometimes);
3. resize to the low-resolution size and sinc-filter, and JPEG-compress, in random order.

:class:`PhotoDegradationRange` holds the ranges (the defaults are those of Real-ESRGAN's
``train_realesrnet_x4plus.yml``) and :meth:`PhotoDegradationRange.apply` degrades one
image. The training data pipeline (``degradation={"photo": {...}}``) draws one chain per
patch. For microscopy, use :class:`napari_sr.degradation.DegradationRange`.

References
----------
Wang, X., Xie, L., Dong, C., and Shan, Y. (2021). Real-ESRGAN: Training real-world blind
super-resolution with pure synthetic data. ICCV Workshops, 1905-1914.
arXiv:2107.10833.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .degradation import RangeFields, check_probability, check_range

__all__ = ["KERNEL_KINDS", "PhotoDegradationRange"]

Range = tuple[float, float]

KERNEL_KINDS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso",
                "plateau_aniso")  # fmt: skip
"""Blur kernels a stage draws from (with :attr:`PhotoDegradationRange.kernel_probs`)."""

RESIZE_MODES = ("area", "bilinear", "bicubic")


@dataclass(frozen=True)
class PhotoDegradationRange(RangeFields):
    """Ranges of Real-ESRGAN's second-order degradation (see the module docstring).

    Ranges are ``(low, high)``, drawn uniformly; intensities are on the 0-255 scale of an
    8-bit photograph whatever the image's own scale (``top`` of :meth:`apply`).

    Parameters
    ----------
    blur, blur2 : (float, float)
        Kernel σ (along each principal axis), pixels of the image the stage blurs.
    kernel_probs : tuple of float
        Weight of each of :data:`KERNEL_KINDS` (drawn in proportion to them).
    kernel_size : (int, int)
        Odd kernel widths to draw from, pixels.
    beta_generalized, beta_plateau : (float, float)
        Shape exponents of the generalised Gaussian and plateau kernels.
    sinc, sinc2, final_sinc : float
        Probabilities of a sinc (ringing) kernel instead of the blur of stage 1 and 2,
        and of the sinc filter after the final resize.
    second_blur : float
        Probability that stage 2 blurs at all.
    resize_probs, resize_probs2 : (float, float, float)
        Weights of scaling up, down, or keeping the size in stage 1 and 2.
    resize, resize2 : (float, float)
        Factors: stage 1 of the high-resolution size, stage 2 of the low-resolution size;
        the low end is drawn for "down", the high end above 1 for "up".
    gaussian_noise, gaussian_noise2 : float
        Probabilities of Gaussian noise (else Poisson) in stage 1 and 2.
    noise, noise2 : (float, float)
        Gaussian σ on the 0-255 scale.
    poisson, poisson2 : (float, float)
        Poisson scale: the noise of an image of 255 photons at white, times this.
    gray_noise, gray_noise2 : float
        Probability that the noise is the same in every channel (colour images).
    jpeg, jpeg2 : (float, float)
        JPEG quality (1-100); one-channel images are compressed as greyscale JPEG.
    protocol : float
        Probability, in [0, 1], that a draw is the SR benchmark protocol instead: MATLAB
        bicubic downscaling rounded to 8 bits, nothing else. A network trained with a
        share of these still restores clean downscaled images, rather than treating their
        fine texture as noise to remove (Real-ESRGAN's own weights smooth such inputs).
    """

    blur: Range = (0.2, 3.0)
    blur2: Range = (0.2, 1.5)
    kernel_probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    kernel_size: tuple[int, int] = (7, 21)
    beta_generalized: Range = (0.5, 4.0)
    beta_plateau: Range = (1.0, 2.0)
    sinc: float = 0.1
    sinc2: float = 0.1
    final_sinc: float = 0.8
    second_blur: float = 0.8
    resize_probs: tuple[float, float, float] = (0.2, 0.7, 0.1)
    resize_probs2: tuple[float, float, float] = (0.3, 0.4, 0.3)
    resize: Range = (0.15, 1.5)
    resize2: Range = (0.3, 1.2)
    gaussian_noise: float = 0.5
    gaussian_noise2: float = 0.5
    noise: Range = (1.0, 30.0)
    noise2: Range = (1.0, 25.0)
    poisson: Range = (0.05, 3.0)
    poisson2: Range = (0.05, 2.5)
    gray_noise: float = 0.4
    gray_noise2: float = 0.4
    jpeg: Range = (30.0, 95.0)
    jpeg2: Range = (30.0, 95.0)
    protocol: float = 0.0

    KIND: ClassVar[str] = "photo degradation"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        positive = ("blur", "blur2", "beta_generalized", "beta_plateau", "resize", "resize2",
                    "poisson", "poisson2")  # fmt: skip
        for name in positive:
            set_(self, name, check_range(getattr(self, name), name, low=0.0, open_=True))
        for name in ("noise", "noise2"):
            set_(self, name, check_range(getattr(self, name), name, low=0.0))
        for name in ("jpeg", "jpeg2"):
            pair = check_range(getattr(self, name), name, low=1.0)
            if pair[1] > 100:
                raise ValueError(f"{name} quality must be at most 100, not {pair[1]:g}")
            set_(self, name, pair)
        size = check_range(self.kernel_size, "kernel_size", low=3.0)
        if any(not float(v).is_integer() or int(v) % 2 == 0 for v in size):
            raise ValueError(f"kernel_size must be odd whole numbers such as [7, 21], not {size}")
        set_(self, "kernel_size", (int(size[0]), int(size[1])))
        for name, count in (("kernel_probs", len(KERNEL_KINDS)), ("resize_probs", 3),
                            ("resize_probs2", 3)):  # fmt: skip
            set_(self, name, _probabilities(getattr(self, name), name, count))
        for name in ("sinc", "sinc2", "final_sinc", "second_blur", "gaussian_noise",
                     "gaussian_noise2", "gray_noise", "gray_noise2", "protocol"):  # fmt: skip
            set_(self, name, check_probability(getattr(self, name), name))

    def margin(self, scale: int) -> int:
        """Low-resolution pixels of context a training patch is degraded with, on each
        side: the reach of the widest stage-1 Gaussian (3σ) and a few pixels for the
        final resize. The widest kernels reach further at times; beyond the margin the
        edges are mirrored, as they are at the edges of Real-ESRGAN's training crops."""
        return math.ceil(3 * self.blur[1] / scale) + 4

    def apply(
        self, image: np.ndarray, scale: int, rng: np.random.Generator, top: float = 255.0
    ) -> np.ndarray:
        """Degrade one (C, Y, X) high-resolution image to (C, ⌈Y/scale⌉, ⌈X/scale⌉).

        Parameters
        ----------
        image : numpy.ndarray
            (C, Y, X) intensities from 0 to ``top`` (C is 1 or 3).
        scale : int
            Downscaling factor of the result.
        rng : numpy.random.Generator
            Source of every draw.
        top : float
            White of the image's scale (255 for 8-bit photographs).

        Returns
        -------
        numpy.ndarray
            float32 (C, Y/s, X/s), from 0 to ``top``, rounded to 8-bit steps of it.
        """
        out = np.clip(np.asarray(image, np.float32) / np.float32(top), 0, 1)
        if self.protocol > 0 and rng.random() < self.protocol:  # one more draw, only then
            from .degradation import degrade

            return _to_8_bit_steps(degrade(out, scale, kernel="bicubic", axes="CYX"), top)
        h, w = out.shape[-2:]
        target = (math.ceil(h / scale), math.ceil(w / scale))
        # stage 1
        out = _convolve(out, self._kernel(rng, self.blur, self.sinc))
        factor = _factor(rng, self.resize_probs, self.resize)
        out = _resize(out, (max(1, round(h * factor)), max(1, round(w * factor))), rng)
        out = self._noise(out, rng, self.gaussian_noise, self.noise, self.poisson,
                          self.gray_noise)  # fmt: skip
        out = _jpeg(out, rng.uniform(*self.jpeg))
        # stage 2
        if rng.random() < self.second_blur:
            out = _convolve(out, self._kernel(rng, self.blur2, self.sinc2))
        factor = _factor(rng, self.resize_probs2, self.resize2)
        size = (max(1, round(target[0] * factor)), max(1, round(target[1] * factor)))
        out = _resize(out, size, rng)
        out = self._noise(out, rng, self.gaussian_noise2, self.noise2, self.poisson2,
                          self.gray_noise2)  # fmt: skip
        # the last resize with its sinc, and JPEG, in random order
        sinc = _sinc(rng.uniform(math.pi / 3, math.pi), self._size(rng))
        sinc = sinc if rng.random() < self.final_sinc else None
        quality = rng.uniform(*self.jpeg2)
        if rng.random() < 0.5:
            out = _jpeg(_convolve(_resize(out, target, rng), sinc), quality)
        else:
            out = _convolve(_resize(_jpeg(out, quality), target, rng), sinc)
        return _to_8_bit_steps(out, top)

    # --------------------------------------------------------------------- the draws

    def _size(self, rng: np.random.Generator) -> int:
        low, high = self.kernel_size
        return int(low + 2 * rng.integers((high - low) // 2 + 1))

    def _kernel(self, rng: np.random.Generator, sigma: Range, sinc: float) -> np.ndarray:
        """A normalised 2D blur kernel of a random kind, size and σ."""
        size = self._size(rng)
        if rng.random() < sinc:
            cutoff = rng.uniform(math.pi / 3, math.pi) if size < 13 else rng.uniform(
                math.pi / 5, math.pi)  # fmt: skip
            return _sinc(cutoff, size)
        kind = KERNEL_KINDS[rng.choice(len(KERNEL_KINDS), p=_normalised(self.kernel_probs))]
        s1 = rng.uniform(*sigma)
        s2, angle = (rng.uniform(*sigma), rng.uniform(-math.pi, math.pi))
        if kind.endswith("iso") and not kind.endswith("aniso"):
            s2, angle = s1, 0.0
        beta = 1.0
        if kind.startswith("generalized"):
            beta = rng.uniform(*self.beta_generalized)
        elif kind.startswith("plateau"):
            beta = rng.uniform(*self.beta_plateau)
        return _anisotropic_kernel(size, s1, s2, angle, beta,
                                   plateau=kind.startswith("plateau"))  # fmt: skip

    @staticmethod
    def _noise(
        image: np.ndarray,
        rng: np.random.Generator,
        gaussian: float,
        sigma: Range,
        poisson: Range,
        gray: float,
    ) -> np.ndarray:
        """Gaussian (σ on the 0-255 scale) or Poisson noise, grey or per channel."""
        same = image.shape[0] == 1 or rng.random() < gray
        shape = (1, *image.shape[1:]) if same else image.shape
        if rng.random() < gaussian:
            noise = rng.normal(0.0, rng.uniform(*sigma) / 255, shape)
        else:
            amount = rng.uniform(*poisson)
            base = image.mean(axis=0, keepdims=True) if same else image
            noise = (rng.poisson(np.clip(base, 0, 1) * 255) / 255 - base) * amount
        return np.clip(image + noise.astype(np.float32), 0, 1).astype(np.float32)


def _to_8_bit_steps(image: np.ndarray, top: float) -> np.ndarray:
    """``image`` in [0, 1] rounded to 8-bit steps and scaled to 0-``top``, float32."""
    out = np.clip(np.round(image * 255), 0, 255) / 255
    return (out * np.float32(top)).astype(np.float32)


# ----------------------------------------------------------------------------- kernels


def _anisotropic_kernel(
    size: int, s1: float, s2: float, angle: float, beta: float, *, plateau: bool = False
) -> np.ndarray:
    """Rotated (generalised) Gaussian, or plateau, kernel of ``size`` × ``size``:
    exp(-½ (xᵀΣ⁻¹x)^β), or 1 / (1 + (xᵀΣ⁻¹x)^β), with Σ = R diag(s1², s2²) Rᵀ."""
    c, s = math.cos(angle), math.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    inverse = np.linalg.inv(rotation @ np.diag([s1**2, s2**2]) @ rotation.T)
    r = np.arange(size) - size // 2
    grid = np.stack(np.meshgrid(r, r, indexing="xy"), axis=-1).astype(np.float64)
    quad = np.einsum("...i,ij,...j->...", grid, inverse, grid)
    kernel = 1 / (1 + quad**beta) if plateau else np.exp(-0.5 * quad**beta)
    return (kernel / kernel.sum()).astype(np.float32)


def _sinc(cutoff: float, size: int) -> np.ndarray:
    """The circular low-pass kernel of angular cutoff ``cutoff`` (radians per pixel):
    ``cutoff · J1(cutoff · r) / (2π r)``, normalised."""
    from scipy.special import j1

    r = np.arange(size) - size // 2
    radius = np.hypot(*np.meshgrid(r, r, indexing="xy"))
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = cutoff * j1(cutoff * radius) / (2 * math.pi * radius)
    kernel[radius == 0] = cutoff**2 / (4 * math.pi)
    return (kernel / kernel.sum()).astype(np.float32)


def _convolve(image: np.ndarray, kernel: np.ndarray | None) -> np.ndarray:
    """Each channel of (C, Y, X) filtered by ``kernel`` (mirrored edges)."""
    if kernel is None:
        return image
    from scipy import ndimage

    return np.stack([ndimage.convolve(c, kernel, mode="reflect") for c in image])


# ----------------------------------------------------------------------------- resizes, JPEG


def _factor(rng: np.random.Generator, probs: tuple[float, ...], bounds: Range) -> float:
    """Up (1 to the high end), down (the low end to 1) or 1, by ``probs``."""
    kind = rng.choice(3, p=_normalised(probs))
    if kind == 0:
        return float(rng.uniform(1, max(1.0, bounds[1])))
    if kind == 1:
        return float(rng.uniform(bounds[0], min(1.0, bounds[1])))
    return 1.0


def _resize(image: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(C, Y, X) resized to ``shape`` by a random one of :data:`RESIZE_MODES`."""
    from .resample import resize

    method = RESIZE_MODES[rng.integers(len(RESIZE_MODES))]
    if tuple(image.shape[-2:]) == tuple(shape):
        return image
    return resize(image, shape=shape, method=method, axes="CYX").astype(np.float32)


def _jpeg(image: np.ndarray, quality: float) -> np.ndarray:
    """(C, Y, X) in [0, 1] through a JPEG encoder and decoder at ``quality`` (greyscale
    for one channel, else RGB)."""
    from PIL import Image as PILImage

    pixels = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
    grey = pixels.shape[0] == 1
    picture = PILImage.fromarray(pixels[0] if grey else np.moveaxis(pixels, 0, -1))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=round(quality))
    decoded = np.asarray(PILImage.open(io.BytesIO(buffer.getvalue())), dtype=np.float32)
    decoded = decoded[None] if grey else np.moveaxis(decoded, -1, 0)
    return decoded / 255


# ----------------------------------------------------------------------------- checks


def _normalised(weights: tuple[float, ...]) -> np.ndarray:
    values = np.asarray(weights, dtype=np.float64)
    return values / values.sum()


def _probabilities(value: Any, name: str, count: int) -> tuple[float, ...]:
    try:
        probs = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {count} probabilities, not {value!r}") from None
    if len(probs) != count or any(not p >= 0 for p in probs) or sum(probs) <= 0:
        raise ValueError(
            f"{name} must be {count} non-negative numbers with a positive sum, not {value!r}"
        )
    return probs
