"""Training data: high-resolution images in, pairs of normalised patches out.

Low-resolution inputs are synthesised by :func:`napari_sr.degrade` (MATLAB-bicubic
downscaling by default; blur, PSF and noise as the ``degradation`` options say). Blur and
downscaling are applied once to each *whole* image, so patches see the same borders as the
input of inference will; noise is drawn afresh for every patch. A ``{"random": {...}}``
degradation (:class:`napari_sr.degradation.DegradationRange`) instead draws blur, photon
peak, read noise and camera for every patch and degrades the patch's high-resolution
region (with a margin of context, so borders are those of the whole image) afresh. Patch positions,
augmentations and noise come from a generator seeded by ``(seed, step)``, so the batch of
any step can be made again without replaying the ones before: a resumed run sees exactly
the batches an uninterrupted one would.

Layout: every image becomes a stack of planes ``(N, C, Y, X)``. Axes other than Y, X (and
C when the model takes several channels) are looped over as planes; a single-channel model
sees each channel of a multi-channel image as a plane of its own.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..axes import is_rgb
from ..degradation import DegradationRange, degrade
from ..image import Image
from ..io.formats import read_suffixes
from ..normalization import Normalization, normalize
from ..photo_degradation import PhotoDegradationRange
from ..utils.intensity import cast, check_dtype, check_finite
from ..utils.planes import fold_planes, unfold_planes

IMAGE_SUFFIXES = read_suffixes()
"""Files of a folder that are read as images (others, such as README files, are skipped):
the endings of the formats napari-sr reads (:func:`napari_sr.io.formats.read_suffixes`)."""

NOISY_LIMIT_SAMPLE = 2**16
"""Pixels of a plane that a randomly degraded patch's normalisation limits are taken from
(the top 0.01 % of 65,536 pixels is 7 of them: percentiles close to the whole plane's)."""


@dataclass(frozen=True)
class TrainingImage:
    """One high-resolution image and its synthesised observation, as planes.

    Attributes
    ----------
    name : str
        File name, or ``"array 0"`` and so on for arrays.
    high : numpy.ndarray
        (N, C, Y, X) reference, the image's dtype; Y and X cropped to multiples of the scale.
    low : numpy.ndarray
        (N, C, Y/s, X/s) observation. For training images the noise-free observation as
        float32 (noise is added per patch); for validation images the noisy observation
        in the image's dtype, exactly as a camera would record it.
    dtype : numpy.dtype
        The image's dtype.
    limits : tuple of float
        Intensities mapped to 0 and 1, from the (noisy, quantised) observation of the whole
        image, as inference computes them from its input.
    peak : float
        Maximum of the noise-free observation: Poisson noise of a patch is scaled to it,
        so that a patch gets the noise the whole image would.
    axes, shape : str, tuple
        Axes and shape of the image as given.
    random : DegradationRange, PhotoDegradationRange or None
        For training images of a random degradation: the ranges each patch draws from
        (``low`` is then the unblurred, noise-free observation, for shapes and ``peak``).
    limit_rule : (Normalization, bool) or None
        For those images: how inference finds the limits (the normalisation and whether
        1-channel limits are widened to luma's), so that each patch is normalised by the
        limits of the whole image *under that patch's noise*, as inference computes them
        from a noisy input (noise widens percentile limits by several σ).
    top : float
        White of a photo degradation's 0-255 scale in the image's units: 255 for uint8
        images, else the maximum of the clean observation.
    """

    name: str
    high: np.ndarray
    low: np.ndarray
    dtype: np.dtype
    limits: tuple[float, float]
    peak: float
    axes: str
    shape: tuple[int, ...]
    random: DegradationRange | PhotoDegradationRange | None = None
    limit_rule: tuple[Normalization, bool] | None = None
    top: float = 255.0

    @property
    def rgb(self) -> bool:
        return self.high.shape[1] == 3


def collect(images: Any, what: str = "images") -> list[tuple[str, Image]]:
    """Read the images of a training or validation set.

    Parameters
    ----------
    images : array, Image, path, folder, or a sequence of these
        Arrays (axes guessed from the shape), :class:`~napari_sr.image.Image` objects,
        image files, or folders (every file ending in one of :data:`IMAGE_SUFFIXES`,
        sorted by name, not recursive).
    what : str
        Name of the argument, for error messages.

    Returns
    -------
    list of (str, Image)
    """
    from ..io import read

    items = [images] if _is_single(images) else _as_sequence(images, what)
    out: list[tuple[str, Image]] = []
    for index, item in enumerate(items):
        if isinstance(item, Image):
            name = str(item.metadata.get("path", f"image {index}"))
            out.append((Path(name).name, item))
        elif isinstance(item, np.ndarray):
            out.append((f"array {index}", Image(item)))
        elif isinstance(item, (str, os.PathLike)):
            path = Path(item)
            if path.is_dir():
                files = sorted(
                    p
                    for p in path.iterdir()
                    if p.is_file()
                    and not p.name.startswith(".")
                    and p.name.lower().endswith(IMAGE_SUFFIXES)
                )
                if not files:
                    raise ValueError(
                        f"{what}: folder {str(path)!r} has no image files "
                        f"({', '.join(IMAGE_SUFFIXES)})"
                    )
                out.extend((p.name, read(p)) for p in files)
            else:
                out.append((path.name, read(path)))
        else:
            raise TypeError(
                f"{what} must be arrays, napari_sr.Image objects, file paths or folders, "
                f"not {type(item).__name__}"
            )
    if not out:
        raise ValueError(f"{what} is empty; give at least one high-resolution image")
    return out


def default_channels(named: Sequence[tuple[str, Image]]) -> int:
    """3 when every image is RGB (a last axis of 3 colours), else 1."""
    return 3 if all(is_rgb(im.axes, im.shape) and im.shape[-1] == 3 for _, im in named) else 1


def default_normalization(named: Sequence[tuple[str, Image]]) -> Normalization:
    """The normalisation for the images' dtype (fixed range for uint8, else percentiles);
    an error when their dtypes call for different ones."""
    from ..normalization import default_normalization as for_dtype

    choices = {for_dtype(im.dtype) for _, im in named}
    if len(choices) > 1:
        dtypes = sorted({im.dtype.name for _, im in named})
        raise ValueError(
            f"the images mix dtypes ({', '.join(dtypes)}) that normalise differently; pass "
            "normalization= explicitly, e.g. {'kind': 'percentile', 'low': 1, 'high': 99.8}"
        )
    return choices.pop()


def split_rows(
    named: Sequence[tuple[str, Image]], fraction: float, scale: int
) -> tuple[list[tuple[str, Image]], list[tuple[str, Image]]]:
    """Hold out the bottom ``fraction`` of the rows (Y) of every image for validation.

    The cut is at a multiple of ``scale``; both parts keep the image's pixel sizes.
    Returns ``(training, validation)``.
    """
    train, held_out = [], []
    for name, image in named:
        y = image.axes.index("Y")
        rows = image.shape[y]
        cut = rows - max(scale, round(fraction * rows / scale) * scale)
        if cut < scale:
            raise ValueError(
                f"{name} has only {rows} rows, too few to hold out {fraction:g} of them for "
                "validation; give validation images instead"
            )
        top = np.take(image.data, np.arange(cut), axis=y)
        bottom = np.take(image.data, np.arange(cut, rows), axis=y)
        train.append((name, image.replace(data=top)))
        held_out.append((f"{name} (bottom {rows - cut} rows)", image.replace(data=bottom)))
    return train, held_out


def prepare(
    named: Sequence[tuple[str, Image]],
    *,
    scale: int,
    in_channels: int,
    degradation: Mapping[str, Any],
    normalization: Normalization,
    seed: int,
    validation: bool,
    other_dtypes: Normalization | None = None,
    luma: bool = False,
) -> list[TrainingImage]:
    """Crop, degrade and normalise a set of images (see :class:`TrainingImage`).

    ``validation`` keeps the noisy observation (seeded by ``seed``) instead of the
    noise-free one. ``other_dtypes`` and ``luma`` repeat what inference does with a
    model that records them (the bundled weights, and models fine-tuned from them; see
    :meth:`napari_sr.engine.learned.ModelMethod.normalization`): ``other_dtypes`` replaces
    a fixed 0-255 ``normalization`` for images that are not uint8, and ``luma`` widens the
    limits of 1-channel planes to where a network trained on luma learnt, Y 16-235
    (:func:`napari_sr.color.luma_limits`), so that the network sees in training exactly
    what it will see in use.
    """
    from ..color import luma_limits
    from ..normalization import NATURAL_8BIT

    noise = degradation.get("noise")
    shaping = {k: v for k, v in degradation.items() if k != "noise"}
    spec = None
    if "random" in degradation:
        spec = DegradationRange.from_dict(degradation["random"])
        shaping = {"kernel": spec.kernel}
    elif "photo" in degradation:
        spec = PhotoDegradationRange.from_dict(degradation["photo"])
        shaping = {}  # the clean observation only gives shapes and the peak
    out = []
    for index, (name, image) in enumerate(named):
        check_dtype(image.dtype, name)
        check_finite(image.data, name)
        cropped = _crop_to_multiple(image, scale)
        if cropped.data.size == 0:
            raise ValueError(
                f"{name} ({' x '.join(map(str, image.shape))}) is smaller than one "
                f"low-resolution pixel at scale {scale}"
            )
        work = cropped.replace(data=cropped.data.astype(np.float32))
        try:
            clean = np.asarray(degrade(work, scale, **shaping).data, dtype=np.float32)
            white = _photo_top(image.dtype, clean)
            noisy = clean
            if isinstance(spec, PhotoDegradationRange) and validation:
                rng = np.random.default_rng([seed, 1, index])  # one fixed draw, as below
                noisy = _photo_observe(work, spec, scale, rng, white)
            elif spec is not None and validation:
                # one fixed draw per validation image, so every validation scores the same
                rng = np.random.default_rng([seed, 1, index])
                top = float(clean.max()) or 1.0  # a black image: any scale will do
                draw = spec.sample(rng, top)
                blurred = degrade(work, scale, kernel=spec.kernel, blur=draw["blur"])
                clean = np.asarray(blurred.data, dtype=np.float32)
                noisy = observe(clean, draw["noise"], top, rng, cropped.axes)
            elif noise:
                rng = np.random.default_rng([seed, int(validation), index])
                noisy = degrade(clean, 1, noise=noise, axes=cropped.axes, seed=rng)
        except (TypeError, ValueError) as err:
            raise type(err)(f"degradation of {name}: {err}") from None
        observed = cast(noisy, image.dtype)
        norm = normalization
        if other_dtypes is not None and norm == NATURAL_8BIT and image.dtype != np.uint8:
            norm = other_dtypes
        limits = norm.limits(observed)
        widen = luma and in_channels == 1
        if widen:
            limits = luma_limits(limits)
        high = to_planes(cropped.data, cropped.axes, in_channels, name)
        low_source = observed if validation else clean
        out.append(
            TrainingImage(
                name=name,
                high=high,
                low=to_planes(low_source, cropped.axes, in_channels, name),
                dtype=np.dtype(image.dtype),
                limits=limits,
                peak=float(clean.max()),
                axes=image.axes,
                shape=tuple(image.shape),
                random=None if validation else spec,
                limit_rule=None if validation or spec is None else (norm, widen),
                top=white,
            )
        )
    return out


def observe(
    low: np.ndarray,
    noise: Mapping[str, Any] | None,
    top: float,
    seed: int | np.random.Generator,
    axes: str,
) -> np.ndarray:
    """Noise of :func:`napari_sr.degrade` on a (part of a) noise-free observation.

    ``noise["poisson"]`` photons are reached at intensity ``top`` (the whole image's
    maximum), so a patch gets the shot noise the whole image would. Camera counts
    (``gain``, ``offset``) are mapped back to intensity units: what remains of the camera
    is its clipping at 0 and its quantisation, while the target keeps its scale.
    """
    noise = dict(noise or {})
    if "poisson" in noise:
        patch_top = float(low.max())
        if patch_top <= 0 or top <= 0:
            del noise["poisson"]  # a black patch has no photons, hence no shot noise
        else:
            # degrade scales photons to the maximum of what it is given; scale the peak
            # so that this patch gets the photon count of the whole image
            noise["poisson"] = noise["poisson"] * patch_top / top
    if not noise:
        return low
    out = degrade(low, 1, noise=noise, axes=axes, seed=seed)
    gain, offset = float(noise.get("gain", 1.0)), float(noise.get("offset", 0.0))
    if gain != 1 or offset:
        out = ((out - offset) / gain).astype(out.dtype)
    return out


def to_planes(data: np.ndarray, axes: str, in_channels: int, name: str) -> np.ndarray:
    """``(N, C, Y, X)`` view of ``data``: C is the model's channels, N all other axes."""
    if in_channels > 1:
        if "C" not in axes or data.shape[axes.index("C")] != in_channels:
            found = data.shape[axes.index("C")] if "C" in axes else 1
            raise ValueError(
                f"{name} has {found} channel(s) (axes {axes}) but the model takes "
                f"{in_channels}; give {in_channels}-channel images or use in_channels=1"
            )
        keep = "CYX"
    else:
        keep = "YX"
    planes = fold_planes(data, axes, keep)
    return planes if in_channels > 1 else planes[:, None]


def check_sizes(images: Sequence[TrainingImage], minimum: int, purpose: str) -> None:
    """Raise if an image plane is smaller than ``minimum`` pixels along Y or X."""
    for image in images:
        h, w = image.high.shape[-2:]
        if min(h, w) < minimum:
            raise ValueError(
                f"{image.name} is {h} x {w} pixels (after cropping to a multiple of the "
                f"scale), smaller than {purpose} ({minimum}); {_size_fix(purpose)}"
            )


def describe(images: Sequence[TrainingImage]) -> dict[str, Any]:
    """JSON-ready summary of a data set, recorded in checkpoints."""
    return {
        "count": len(images),
        "planes": int(sum(im.high.shape[0] for im in images)),
        "images": [
            {
                "name": im.name,
                "shape": list(im.shape),
                "axes": im.axes,
                "dtype": im.dtype.name,
                "limits": [float(v) for v in im.limits],
            }
            for im in images
        ],
    }


def fingerprint(images: Sequence[TrainingImage]) -> str:
    """SHA-256 of the pixels, shapes and dtypes of a data set (names not included), so
    that a run can only be resumed on the same data."""
    digest = hashlib.sha256()
    for image in images:
        digest.update(f"{image.high.shape}{image.dtype.str}".encode())
        digest.update(np.ascontiguousarray(image.high).data)
    return digest.hexdigest()


class PatchSampler:
    """Batches of random patch pairs, a pure function of ``(seed, step)``.

    Parameters
    ----------
    images : sequence of TrainingImage
        Training images (noise-free observations).
    scale, patch_size, batch_size : int
        ``patch_size`` is the high-resolution side, a multiple of ``scale``.
    augment : sequence of str
        Any of ``'hflip'``, ``'vflip'``, ``'rot90'``.
    noise : dict, optional
        Noise of :func:`napari_sr.degrade`, added to each low-resolution patch.
    seed : int
        Seed of the whole run.

    Notes
    -----
    A plane is picked with probability proportional to the number of patch positions it
    has, so every position of every image is equally likely. Positions sit on the
    low-resolution grid, so each low-resolution pixel of the patch covers exactly the
    ``scale × scale`` high-resolution pixels it was made from.
    """

    def __init__(
        self,
        images: Sequence[TrainingImage],
        *,
        scale: int,
        patch_size: int,
        batch_size: int,
        augment: Sequence[str] = (),
        noise: Mapping[str, float] | None = None,
        seed: int = 0,
    ) -> None:
        self.images = list(images)
        self.scale, self.patch_size, self.batch_size = scale, patch_size, batch_size
        self.augment = frozenset(augment)
        self.noise = dict(noise or {})
        self.seed = seed
        lr_patch = patch_size // scale
        self._planes: list[tuple[int, int, int, int]] = []  # image, plane, rows, cols
        counts = []
        for i, image in enumerate(self.images):
            h, w = image.low.shape[-2:]
            rows, cols = h - lr_patch + 1, w - lr_patch + 1
            if rows < 1 or cols < 1:
                continue
            for n in range(image.low.shape[0]):
                self._planes.append((i, n, rows, cols))
                counts.append(rows * cols)
        if not self._planes:
            raise ValueError(
                f"no training image is at least patch_size ({patch_size}) pixels wide and "
                "high; use a smaller patch_size or larger images"
            )
        self._cumulative = np.cumsum(np.asarray(counts, dtype=np.float64))
        self._cumulative /= self._cumulative[-1]

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """The batch of update ``step``: low-resolution ``(B, C, p, p)`` and high-resolution
        ``(B, C, p·s, p·s)`` float32 patches, normalised."""
        rng = np.random.default_rng([self.seed, step])
        pairs = [self._patch(rng) for _ in range(self.batch_size)]
        low = np.stack([p[0] for p in pairs])
        high = np.stack([p[1] for p in pairs])
        return low, high

    def _patch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        s, p = self.scale, self.patch_size // self.scale
        # every draw happens in the same order whatever the options, so that changing
        # one option does not reshuffle the others
        which = int(np.searchsorted(self._cumulative, rng.random(), side="right"))
        i, n, rows, cols = self._planes[min(which, len(self._planes) - 1)]
        y, x = int(rng.integers(rows)), int(rng.integers(cols))
        turns, flips = int(rng.integers(4)), rng.random(2) < 0.5
        noise_seed = int(rng.integers(2**63))
        image = self.images[i]
        low = image.low[n, :, y : y + p, x : x + p]
        high = image.high[n, :, y * s : (y + p) * s, x * s : (x + p) * s]
        limits = image.limits
        if image.random is not None:
            low, limits = self._random(image, n, y, x, noise_seed)
        elif self.noise:
            low = observe(low, self.noise, image.peak, noise_seed, "CYX")
        low = normalize(cast(low, image.dtype), limits)
        high = normalize(high, limits)
        if "rot90" in self.augment and turns:
            low, high = np.rot90(low, turns, (-2, -1)), np.rot90(high, turns, (-2, -1))
        if "vflip" in self.augment and flips[0]:
            low, high = low[..., ::-1, :], high[..., ::-1, :]
        if "hflip" in self.augment and flips[1]:
            low, high = low[..., ::-1], high[..., ::-1]
        return np.ascontiguousarray(low), np.ascontiguousarray(high)

    def _random(
        self, image: TrainingImage, n: int, y: int, x: int, seed: int
    ) -> tuple[np.ndarray, tuple[float, float]]:
        """A low-resolution patch of a fresh random degradation, from the high-resolution
        region around the patch (context enough for the blur and the resize kernel), and
        the normalisation limits inference would find for the whole plane so degraded."""
        s, p, spec = self.scale, self.patch_size // self.scale, image.random
        # a generator of its own, so the draws of the batch stay those of other options
        rng = np.random.default_rng(seed)
        margin = spec.margin(s)  # LR pixels
        h, w = image.low.shape[-2:]
        y0, x0 = max(0, y - margin), max(0, x - margin)
        y1, x1 = min(h, y + p + margin), min(w, x + p + margin)
        region = image.high[n, :, y0 * s : y1 * s, x0 * s : x1 * s].astype(np.float32)
        if isinstance(spec, PhotoDegradationRange):
            # 8-bit photographs: a range normalisation, whose limits no noise moves
            low = spec.apply(region, s, rng, image.top)
            return low[:, y - y0 : y - y0 + p, x - x0 : x - x0 + p], image.limits
        draw = spec.sample(rng, image.peak if image.peak > 0 else 1.0)
        low = degrade(region, s, kernel=draw["kernel"], blur=draw["blur"], axes="CYX")
        low = low[:, y - y0 : y - y0 + p, x - x0 : x - x0 + p]
        low = observe(low, draw["noise"], image.peak, rng, "CYX")
        return low, self._noisy_limits(image, n, draw["noise"], rng)

    @staticmethod
    def _noisy_limits(
        image: TrainingImage, n: int, noise: Mapping[str, Any] | None, rng: np.random.Generator
    ) -> tuple[float, float]:
        """Limits of the whole plane ``n`` under ``noise``, from the pixels inference's
        percentiles sample (the unblurred observation: blur moves them far less than noise),
        at most :data:`NOISY_LIMIT_SAMPLE` of them, evenly strided, to keep a batch cheap."""
        if image.limit_rule is None:
            return image.limits
        norm, widen = image.limit_rule
        if norm.kind == "range" or not noise:
            return image.limits
        plane = image.low[n].reshape(-1)
        plane = plane[:: max(1, plane.size // NOISY_LIMIT_SAMPLE)]
        noisy = observe(plane[None, None], noise, image.peak, rng, "CYX")
        limits = norm.limits(cast(noisy, image.dtype))
        if widen:
            from ..color import luma_limits

            limits = luma_limits(limits)
        return limits


# ----------------------------------------------------------------------------- helpers


def _is_single(images: Any) -> bool:
    return isinstance(images, (np.ndarray, Image, str, os.PathLike))


def _as_sequence(images: Any, what: str) -> list:
    if isinstance(images, (list, tuple)):
        return list(images)
    raise TypeError(
        f"{what} must be an array, a napari_sr.Image, a file or folder path, or a list of "
        f"these, not {type(images).__name__}"
    )


def _photo_top(dtype: np.dtype, clean: np.ndarray) -> float:
    """White of the photo degradation's 0-255 scale for an image of ``dtype``."""
    if np.dtype(dtype) == np.uint8:
        return 255.0
    return float(clean.max()) or 1.0


def _photo_observe(
    image: Image, spec: PhotoDegradationRange, scale: int, rng: np.random.Generator, top: float
) -> np.ndarray:
    """Every (C, Y, X) plane of ``image`` through one photo degradation each, in the
    image's own axes order."""
    keep = "CYX" if "C" in image.axes else "YX"
    planes = fold_planes(image.data, image.axes, keep)
    planes = planes if "C" in keep else planes[:, None]
    low = np.stack([spec.apply(plane, scale, rng, top) for plane in planes])
    low = low if "C" in keep else low[:, 0]
    return unfold_planes(low, image.axes, image.shape, keep)


def _crop_to_multiple(image: Image, scale: int) -> Image:
    index = tuple(
        slice(0, n - n % scale) if a in "YX" else slice(None)
        for a, n in zip(image.axes, image.shape, strict=True)
    )
    return image.replace(data=image.data[index])


def _size_fix(purpose: str) -> str:
    if purpose.startswith("patch"):
        return "use a smaller patch_size or larger images"
    return "use larger validation images"
