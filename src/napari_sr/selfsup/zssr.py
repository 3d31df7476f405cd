"""Zero-shot SR: a network trained on the image it upscales (ZSSR).

Shocher, Cohen & Irani, "Zero-Shot Super-Resolution using Deep Internal Learning",
CVPR 2018, arXiv:1712.06087. Small patches recur across scales within one image, so the
image itself teaches how it would look finer:

1. **HR fathers**: the image and copies of it downscaled by factors between 1 and
   :data:`SMALLEST_FATHER` (with the 8 rotations and flips as augmentation).
2. **LR sons**: each father degraded by the SR factor with the downscaling kernel
   (MATLAB bicubic, or a given blur kernel then decimation) and interpolated back to the
   father's size; a same-size network (:class:`~napari_sr.models.zssrnet.ZSSRNet`, 8
   layers, residual) learns son → father through :func:`napari_sr.training.loop.fit`.
3. **Gradual SR**: a factor above 2 is reached in steps (×2, ×4, …, then the rest); each
   step's output joins the fathers of the next, and the network carries over. A given blur
   kernel describes the whole factor, so it is used in one step.
4. **Prediction**: bicubic upscaling, then the network (with the geometric self-ensemble
   of :func:`napari_sr.upscale`), then back-projection (Irani & Peleg 1991), which makes
   the result consistent with the input under the kernel.

References
----------
.. [1] A. Shocher, N. Cohen, M. Irani, "'Zero-Shot' super-resolution using deep internal
   learning," CVPR 2018, 3118-3126. doi:10.1109/CVPR.2018.00329 (arXiv:1712.06087)
.. [2] M. Irani, S. Peleg, "Improving resolution by image registration," CVGIP: Graphical
   Models and Image Processing 53(3), 231-239 (1991). doi:10.1016/1049-9652(91)90045-L
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..axes import is_rgb
from ..geometry import check_scale
from ..image import Image
from ..normalization import Normalization, default_normalization
from ..resample import resize
from ..utils.intensity import cast, check_dtype, check_finite
from ..utils.progress import CancelToken, ProgressCallback, Stages, raise_if_cancelled
from ._progress import share
from .config import DEFAULT_STEPS, ZSSRConfig, _kernel

SMALLEST_FATHER = 0.5
"""The smallest downscaled copy of the image used as an HR father (fraction of its size)."""
FATHER_SCALES = 6
"""How many HR fathers per base image (downscaling factors from 1 to SMALLEST_FATHER)."""
BACK_PROJECTION_ITERATIONS = 2
"""Back-projection iterations (the paper's code runs 10). Measured on the blurred samples
of ``benchmarks/zssr.py`` at x2, 2 iterations are within 0.6 dB of the best count on every
image, while 10 amplify the LR images' quantisation noise (-2 dB against 2 on a smooth
image): each iteration sharpens towards the noisy input."""

__all__ = ["DEFAULT_STEPS", "ZSSRConfig", "gaussian_kernel", "stage_factors", "zssr"]


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 2D Gaussian blur kernel of ``sigma`` pixels, radius ``ceil(4 sigma)``
    (odd sides), for ``zssr(kernel=...)``."""
    sigma = float(sigma)
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"the blur sigma must be a positive number of pixels, not {sigma}")
    radius = max(1, math.ceil(4 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    kernel = np.outer(g, g)
    return kernel / kernel.sum()


def stage_factors(scale: float, gradual: bool = True) -> list[float]:
    """The SR factors of the gradual steps: ×2, ×4, … below ``scale``, then ``scale``.

    >>> stage_factors(4), stage_factors(3), stage_factors(1.5), stage_factors(4, False)
    ([2.0, 4.0], [2.0, 3.0], [1.5], [4.0])
    """
    scale = float(scale)
    if not gradual:
        return [scale]
    out, step = [], 2.0
    while step < scale - 1e-9:
        out.append(step)
        step *= 2
    return [*out, scale]


def zssr(
    image: np.ndarray | Image,
    scale: float,
    config: ZSSRConfig | Mapping[str, Any] | None = None,
    *,
    axes: str | None = None,
    device: str = "auto",
    tile: int | None = None,
    progress: ProgressCallback | None = None,
    log: Callable[[dict], None] | None = None,
    cancel: CancelToken | None = None,
    **overrides: Any,
) -> np.ndarray | Image:
    """Upscale an image with a network trained on that image alone.

    Parameters
    ----------
    image : numpy.ndarray or Image
        2D grayscale (``YX``), RGB (``YXC``) or a stack of planes (``ZYX``, ``TYX``…: the
        planes together teach one network per gradual step, and every plane is upscaled).
    scale : float
        SR factor (> 1).
    config : ZSSRConfig or dict, optional
        The recipe (:class:`~napari_sr.selfsup.config.ZSSRConfig`): how the image was made
        (``kernel`` or ``blur``), the stages and prediction (``gradual``,
        ``self_ensemble``, ``back_projection``) and the training options (``steps`` per
        stage, ``patch_size``, ``batch_size``, ``lr``, ``loss``, ``hparams``, ``seed``, …).
    axes : str, optional
        Axes of ``image``; default from the Image, else guessed.
    device, tile : optional
        Where and in which tiles the network runs (:func:`napari_sr.upscale`).
    progress : callable, optional
        ``progress(done, total)`` in work units of two kinds: the training steps of every
        gradual stage, then one unit per plane of the final upscaling (a tiled plane
        advances in fractions of its unit). A front end should label them "steps and
        planes", or show a percentage.
    log : callable, optional
        Training records, one stream for all gradual steps.
    cancel : threading.Event or callable, optional
        Checked during training and prediction.
    **overrides
        Fields of :class:`~napari_sr.selfsup.config.ZSSRConfig`, e.g. ``kernel=k,
        steps=500``; they replace the config's.

    Returns
    -------
    numpy.ndarray or Image
        Same type, axes and dtype as ``image``; Y and X ``ceil(n * scale)`` long. An Image
        gets the pixel sizes and origins of :func:`napari_sr.upscale` and a provenance
        record (method, kernel, stages, each stage's training report).

    Examples
    --------
    >>> x4 = napari_sr.zssr(image, 4, steps=100)  # doctest: +SKIP
    >>> x2 = napari_sr.zssr(image, 2, blur=1.0)  # blurred by sigma 1, decimated  # doctest: +SKIP
    """
    config = ZSSRConfig.build(config, overrides, where="zssr")
    source = image if isinstance(image, Image) else Image(np.asarray(image), axes=axes)
    if axes is not None and isinstance(image, Image):
        source = source.with_axes(axes)
    dtype = check_dtype(source.dtype)
    check_finite(source.data)
    scale = check_scale(scale)
    if scale <= 1:
        raise ValueError(f"zssr needs a scale above 1 (the SR factor), not {scale:g}")
    kernel = config.kernel if config.blur is None else gaussian_kernel(config.blur)
    blur_kernel = _check_kernel(kernel, scale)
    planes, restore_axes = _planes(source)  # (N, C, Y, X)
    # a blur kernel is defined for the whole factor: it cannot be split into x2 stages
    stages = stage_factors(scale, config.gradual and blur_kernel is None)
    steps = config.steps
    counter = Stages(progress, len(stages) * steps + len(planes))
    norm = Normalization.from_dict(config.normalization or default_normalization(dtype))

    base = planes.astype(np.float32)  # the image the next stage upscales
    fathers = [base]
    model, reports, previous = None, [], 1.0
    for target in stages:
        raise_if_cancelled(cancel)
        ratio = target / previous
        model = _train_stage(
            model, fathers, ratio, blur_kernel, kernel, dtype, norm, config,
            device=device, progress=share(counter, steps), log=log, cancel=cancel,
        )  # fmt: skip
        counter.advance(steps)
        reports.append({"scale": target, **(model.training_report or {})})
        last = target == stages[-1]
        base = _upscale_stage(
            model, base, ratio, blur_kernel, kernel, self_ensemble=config.self_ensemble,
            back_projection=config.back_projection, device=device, tile=tile, cancel=cancel,
            progress=share(counter, len(planes)) if last else None, dtype=dtype,
        )  # fmt: skip
        fathers.append(base)
        previous = target
    # a cancel that came during the last upscaling (or back-projection) is not ignored
    raise_if_cancelled(cancel)
    counter.advance(len(planes))
    out_shape = [math.ceil(n * scale - 1e-9) for n in planes.shape[-2:]]
    result = restore_axes(cast(_fit_shape(base, out_shape), dtype))
    if not isinstance(image, Image):
        return result
    if config.blur is not None:
        described = f"Gaussian blur sigma {config.blur:g} + decimation"
    else:
        described = kernel if isinstance(kernel, str) else "given blur kernel + decimation"
    provenance = {
        "method": "zssr",
        "scale": scale,
        "kernel": described,
        "stages": stages,
        "self_ensemble": config.self_ensemble,
        "back_projection": config.back_projection,
        "training": reports,
    }
    return source.resampled(result, {"Y": scale, "X": scale}, provenance)


# ------------------------------------------------------------------------ a stage


def _train_stage(model, fathers, ratio, blur_kernel, kernel, dtype, norm, config, *, device,
                 progress, log, cancel):  # fmt: skip
    """Train (or go on training) the network on son → father pairs at ``ratio``."""
    from ..training import data as training_data
    from ..training.data import TrainingImage
    from ..training.loop import fit

    channels = fathers[0].shape[1]
    limits = norm.limits(fathers[0])
    images = []
    for index, base in enumerate(fathers):
        for factor in np.linspace(1.0, SMALLEST_FATHER, FATHER_SCALES):
            father = base if factor == 1 else resize(base, factor, axes="TCYX")
            father = _crop_to_multiple(father, ratio)
            h, w = father.shape[-2:]
            if min(h, w) < 16:
                continue
            son = _degrade(father, ratio, blur_kernel, kernel)
            interpolated = resize(son, shape=(h, w), axes="TCYX")
            images.append(
                TrainingImage(
                    name=f"father {index} at {factor:.2f}",
                    high=cast(father, dtype),
                    low=interpolated.astype(np.float32),
                    dtype=np.dtype(dtype),
                    limits=limits,
                    peak=float(interpolated.max()),
                    axes="TCYX",
                    shape=tuple(father.shape),
                )
            )
    if not images:
        raise ValueError(
            "the image is too small for zero-shot SR: its fathers (the image and its "
            "downscaled copies) need at least 16 pixels per side after cropping"
        )
    smallest = min(min(im.high.shape[-2:]) for im in images)
    patch = config.patch_size if config.patch_size is not None else min(48, smallest)
    images = [im for im in images if min(im.high.shape[-2:]) >= patch]
    training_data.check_sizes(images, patch, "patch_size")
    config = config.replace(patch_size=patch, normalization=norm.to_dict())
    record = {"task": "zssr", "ratio": ratio, "kernel": kernel if isinstance(kernel, str)
              else [list(map(float, row)) for row in blur_kernel]}  # fmt: skip
    return fit(
        model if model is not None else config.architecture,
        images,
        [],
        config,
        normalization=norm,
        in_channels=channels,
        hparams=config.hparams if model is None else None,
        data_extra={"zssr": record},
        device=device,
        progress=progress,
        log=log,
        cancel=cancel,
    )


def _upscale_stage(model, base, ratio, blur_kernel, kernel, *, self_ensemble,
                   back_projection, device, tile, cancel, progress, dtype):  # fmt: skip
    """Interpolate ``base`` by ``ratio``, restore it with the network, back-project."""
    from ..engine.upscaler import upscale

    h, w = base.shape[-2:]
    shape = (math.ceil(h * ratio - 1e-9), math.ceil(w * ratio - 1e-9))
    interpolated = resize(base, shape=shape, axes="TCYX")
    restored = upscale(
        interpolated, 1, method=model, axes="TCYX", dtype=np.float32, device=device,
        tile=tile, self_ensemble=self_ensemble, progress=progress, cancel=cancel,
    )  # fmt: skip
    if back_projection:
        for _ in range(BACK_PROJECTION_ITERATIONS):
            raise_if_cancelled(cancel)
            error = base - _fit_shape(_degrade(restored, ratio, blur_kernel, kernel), (h, w))
            restored = restored + resize(error, shape=shape, axes="TCYX")
    if np.dtype(dtype).kind in "ui":  # stay within what the dtype can hold
        info = np.iinfo(dtype)
        restored = np.clip(restored, info.min, info.max)
    return restored.astype(np.float32)


# ------------------------------------------------------------------------- helpers


def _check_kernel(kernel: str | Any, scale: float) -> np.ndarray | None:
    """None for an interpolation name; a blur kernel (checked by
    :class:`~napari_sr.selfsup.config.ZSSRConfig`) normalised to sum 1, for an integer
    scale."""
    if isinstance(kernel, str):
        return None
    blur = np.asarray(_kernel(kernel), dtype=np.float64)
    if not float(scale).is_integer():
        raise ValueError(
            f"a kernel array is followed by taking every scale-th pixel, which needs an "
            f"integer scale, not {scale:g}"
        )
    return blur / blur.sum()


def _degrade(father: np.ndarray, ratio: float, blur: np.ndarray | None, kernel) -> np.ndarray:
    """(N, C, Y, X) father → son: the kernel's downscaling by ``ratio``."""
    if blur is None:
        return resize(father, 1 / ratio, method=kernel, axes="TCYX")
    from scipy.ndimage import convolve

    step = round(ratio)
    blurred = convolve(father, blur[None, None], mode="reflect")
    return blurred[..., ::step, ::step]


def _crop_to_multiple(father: np.ndarray, ratio: float) -> np.ndarray:
    """Crop Y and X to a multiple of an integer ratio, so son and father align exactly."""
    if not float(ratio).is_integer():
        return father
    step = round(ratio)
    h, w = father.shape[-2:]
    return father[..., : h - h % step, : w - w % step]


def _fit_shape(array: np.ndarray, shape) -> np.ndarray:
    """Crop (or edge-pad) Y and X to ``shape``."""
    h, w = shape
    out = array[..., :h, :w]
    pad = [(0, 0)] * (out.ndim - 2) + [(0, h - out.shape[-2]), (0, w - out.shape[-1])]
    return np.pad(out, pad, mode="edge") if any(p[1] for p in pad) else out


def _planes(image: Image):
    """(N, C, Y, X) float planes of ``image`` and the function that puts an upscaled
    (N, C, Y', X') result back into the image's axes."""
    axes, data = image.axes, image.data
    rgb = is_rgb(axes, data.shape)
    keep = "CYX" if rgb else "YX"
    loop = [a for a in axes if a not in keep]
    order = [axes.index(a) for a in loop] + [axes.index(a) for a in keep]
    moved = np.transpose(data, order)
    lead = moved.shape[: len(loop)]
    planes = moved.reshape(-1, *moved.shape[len(loop) :])
    if not rgb:
        planes = planes[:, None]

    def restore(out: np.ndarray) -> np.ndarray:
        spatial = out.shape[-2:]
        body = out if rgb else out[:, 0]
        shaped = body.reshape(*lead, *body.shape[1:]) if rgb else body.reshape(*lead, *spatial)
        return np.transpose(shaped, np.argsort(order))

    return planes, restore
