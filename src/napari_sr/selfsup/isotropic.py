"""Isotropic reconstruction of anisotropic 3D stacks, trained on the stack itself.

Confocal and light-sheet stacks and thick-slice MRI are sampled several times coarser in z
than in x and y, and their axial PSF is longer than the lateral one. The lateral (YX)
planes show what the object looks like at full resolution; degrading one of their axes the
way z was acquired gives training pairs for free (CARE isotropic reconstruction, Weigert et
al., Nature Methods 15:1090, 2018, doi:10.1038/s41592-018-0216-7; SMORE, Zhao et al., IEEE
TMI 40:805, 2021, doi:10.1109/TMI.2020.3037187):

1. **Training pairs.** Every lateral plane is blurred along one axis with the axial profile
   (the PSF's extra length along z, a Gaussian or a given profile), sampled every
   ``factor`` pixels along that axis, and interpolated back to the full grid by the same
   cubic interpolation that prediction uses along z. Both lateral axes give pairs, each
   arranged so that the degraded axis runs along the rows. A same-size 2D network
   (default :class:`~napari_sr.models.care.CAREUNet`) learns to undo the degradation,
   through the training loop of :func:`napari_sr.training.loop.fit`; flips that keep the
   degraded axis along the rows augment.
2. **Prediction.** The stack is interpolated along z to the lateral sampling, its xz and
   yz planes (z along the rows) are restored by the network through the inference engine
   (tiling, device, precision, progress, cancellation), and the two predictions are fused.

Geometry: z planes are point samples (optical sections) at ``z0 + k * dz``, so the finer
grid keeps them where they are: plane ``k`` of the input is plane ``k * factor`` of the
output (:func:`napari_sr.resample.point_grid`), the z origin is unchanged and the z pixel
size becomes ``dz / factor``. The output has ``floor((nz - 1) * factor) + 1`` planes.

References
----------
.. [1] M. Weigert, L. Royer, F. Jug, G. Myers, "Isotropic reconstruction of 3D fluorescence
   microscopy images using convolutional neural networks," MICCAI 2017, LNCS 10434.
   doi:10.1007/978-3-319-66185-8_15
.. [2] M. Weigert et al., "Content-aware image restoration: pushing the limits of
   fluorescence microscopy," Nature Methods 15, 1090-1097 (2018).
   doi:10.1038/s41592-018-0216-7
.. [3] C. Zhao et al., "SMORE: A self-supervised anti-aliasing and super-resolution
   algorithm for MRI using deep learning," IEEE Trans. Med. Imaging 40, 805 (2021).
   doi:10.1109/TMI.2020.3037187
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..geometry import check_scale
from ..image import Image, to_micrometres
from ..normalization import Normalization, default_normalization
from ..resample import point_grid, sample_at
from ..utils.intensity import cast, check_dtype, check_finite
from ..utils.lazy import is_lazy
from ..utils.progress import CancelToken, ProgressCallback, Stages, raise_if_cancelled
from ._isotropic_blocks import fuse_views, fusion_limits
from ._progress import share
from .config import (
    DEFAULT_MODEL,
    FUSIONS,
    ISOTROPIC_LR,
    ISOTROPIC_STEPS,
    IsotropicConfig,
    check_psf,
)

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
"""Full width at half maximum of a Gaussian, in units of its σ (≈ 2.3548)."""

DEFAULT_HPARAMS = {"care_unet": {"n_first": 16, "kernel_size": 3}}
"""Architecture settings when none are given: CARE's depth-2 U-Net with 16 first filters
and 3×3 kernels, a seventh of the cost per pixel of CSBDeep's 2D default (32, 5×5), so that
a 256×256×64 stack trains and predicts in minutes on a CPU; ``hparams={}`` asks for
CSBDeep's default."""
MAX_TRAINING_PLANES = 256
"""At most this many lateral planes (evenly spread over T and Z) make training pairs."""

__all__ = [
    "DEFAULT_MODEL",
    "FUSIONS",
    "ISOTROPIC_LR",
    "ISOTROPIC_STEPS",
    "IsotropicConfig",
    "Reconstruction",
    "anisotropy",
    "axial_profile",
    "interpolate_axial",
    "isotropic",
    "reconstruct",
    "simulate_axial",
    "train_isotropic",
]


# ----------------------------------------------------------------- the axial model


def axial_profile(psf: float | np.ndarray | None, factor: float) -> np.ndarray:
    """The 1-D blur applied along the degraded axis of the training pairs.

    Parameters
    ----------
    psf : float, array or None
        ``None``: a Gaussian whose FWHM equals ``factor`` lateral pixels (the axial extent
        of a z slice as thick as the z step). A number: the Gaussian σ of the axial
        profile in lateral pixels (0 for none) — the PSF's *extra* axial length, i.e.
        ``sqrt(σz² - σxy²)`` for Gaussian PSFs. An array: the profile itself, sampled at
        the lateral pixel size (odd length, centred, non-negative; normalised here).
    factor : float
        Anisotropy: z step / lateral pixel size.

    Returns
    -------
    numpy.ndarray
        float64 profile of odd length that sums to 1.
    """
    checked = check_psf(psf)
    if isinstance(checked, np.ndarray):
        return checked / checked.sum()
    sigma = factor / FWHM_PER_SIGMA if checked is None else checked
    if sigma == 0:
        return np.ones(1)
    radius = max(1, math.ceil(4 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    profile = np.exp(-0.5 * (x / sigma) ** 2)
    return profile / profile.sum()


def simulate_axial(
    planes: np.ndarray, factor: float, profile: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Training pairs from lateral planes: their rows degraded as z was acquired.

    Parameters
    ----------
    planes : numpy.ndarray
        (N, L, W) lateral planes; axis 1 (length L) is degraded.
    factor : float
        Sampling step along axis 1, in pixels (> 1).
    profile : numpy.ndarray
        Axial blur (:func:`axial_profile`).

    Returns
    -------
    (input, target) : tuple of numpy.ndarray
        float32 (N, M, W) each, ``M = floor((K - 1) * factor) + 1`` for the
        ``K = floor((L - 1) / factor) + 1`` samples taken: the blurred planes sampled at
        rows ``0, factor, 2 factor, …`` and interpolated back to every row (the network's
        input), and the planes' first M rows (its target).
    """
    from scipy.ndimage import convolve1d

    work = np.asarray(planes, dtype=np.float32)
    length = work.shape[1]
    blurred = convolve1d(work, profile.astype(np.float32), axis=1, mode="reflect")
    samples = math.floor((length - 1) / factor + 1e-9) + 1
    if samples < 2:
        raise ValueError(
            f"lateral planes of {length} pixels hold fewer than 2 samples at a z step of "
            f"{factor:g} pixels; isotropic reconstruction needs planes at least "
            f"{math.ceil(factor) + 1} pixels wide"
        )
    low = sample_at(blurred, np.arange(samples) * factor, axis=1)
    grid = point_grid(samples, factor)
    restored = sample_at(low, grid, axis=1)
    return restored.astype(np.float32), work[:, : len(grid)]


# ------------------------------------------------------------------- interpolation


def interpolate_axial(
    volume: np.ndarray | Image, factor: float | None = None, *, axes: str | None = None
) -> np.ndarray | Image:
    """Cubic interpolation of z to the finer grid: the baseline isotropic reconstruction
    is compared with, on the same grid (see the module docstring for the geometry).

    Parameters
    ----------
    volume : numpy.ndarray, dask or zarr array, or Image
        A stack with a Z axis (other axes kept). A dask or zarr stack gives a lazy dask
        array, computed in slabs of whole z columns, equal to the in-memory result.
    factor : float, optional
        z refinement; default from the pixel sizes (Z over Y).
    axes : str, optional
        Axes of ``volume``.

    Returns
    -------
    numpy.ndarray or Image
        Same type and dtype as ``volume``, ``floor((nz - 1) * factor) + 1`` planes.
    """
    image, factor = _image_and_factor(volume, factor, axes)
    z = image.axes.index("Z")
    grid = point_grid(image.shape[z], factor)
    if is_lazy(image.data):
        from ._isotropic_blocks import interpolate_lazy

        out = interpolate_lazy(image.data, image.axes, grid)
    else:
        out = cast(sample_at(image.data, grid, axis=z), image.dtype)
    return _result(volume, image, out, factor, {"method": "cubic z interpolation"})


# ------------------------------------------------------------------------ training


def train_isotropic(
    volume: np.ndarray | Image,
    factor: float | None = None,
    config: IsotropicConfig | Mapping[str, Any] | None = None,
    *,
    model: str | None = None,
    axes: str | None = None,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    log: Callable[[dict], None] | None = None,
    cancel: CancelToken | None = None,
    **overrides: Any,
):
    """Train a network that restores z of ``volume`` from its own lateral planes.

    Parameters
    ----------
    volume : numpy.ndarray or Image
        The anisotropic stack (Z, Y, X; T is pooled; one channel: pick it first).
    factor : float, optional
        Anisotropy, z step / lateral pixel size (> 1); default from the pixel sizes.
    config : IsotropicConfig or dict, optional
        The recipe (:class:`~napari_sr.selfsup.config.IsotropicConfig`): the axial
        profile (``psf``) and the training options (``steps``, ``patch_size``,
        ``batch_size``, ``lr``, ``loss``, ``hparams``, ``validation_fraction``, ``seed``,
        …).
    model : str, optional
        A registered same-size restoration architecture (``care_unet``, ``zssr_net``):
        the config's ``architecture`` (default ``care_unet``).
    axes : str, optional
        Axes of ``volume``; default from the Image, else ``ZYX`` / ``TZYX``.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, …
    progress, log, cancel
        As for :func:`napari_sr.train`.
    **overrides
        Fields of :class:`~napari_sr.selfsup.config.IsotropicConfig`; they replace the
        config's.

    Returns
    -------
    torch.nn.Module
        The trained model; ``model.info.data["isotropic"]`` records the factor
        and the axial profile it was trained for, so that :func:`isotropic` can check a
        reuse on another stack.
    """
    from ..models.registry import REGISTRY, list_models
    from ..training import data as training_data
    from ..training.loop import fit

    config = IsotropicConfig.build(config, _with_model(overrides, model), where="train_isotropic")
    image, factor = _image_and_factor(volume, factor, axes)
    channels = image.shape[image.axes.index("C")] if "C" in image.axes else 1
    if channels > 1:
        raise ValueError(
            f"train_isotropic takes one channel; this stack has {channels} (axes "
            f"{image.axes}): pass one channel, or use isotropic(), which trains one model "
            "per channel"
        )
    architecture = config.architecture
    list_models()
    spec = REGISTRY.spec(architecture)
    if spec.framework != "restoration":
        raise ValueError(
            f"{architecture} is an upsampling network; isotropic reconstruction needs a "
            f"same-size restoration network: {', '.join(_restoration_models())}"
        )
    profile = axial_profile(config.psf, factor)
    planes = _lateral_planes(image)
    norm = Normalization.from_dict(config.normalization or default_normalization(image.dtype))
    limits = norm.limits(planes)
    multiple = int(spec.size_multiple or 1)
    pairs = [simulate_axial(planes, factor, profile),
             simulate_axial(np.swapaxes(planes, 1, 2), factor, profile)]  # fmt: skip
    train_images, val_images = _training_images(
        pairs, image.dtype, limits, config.validation_fraction
    )
    widest = min(min(im.high.shape[-2:]) for im in train_images)
    patch = _patch_size(config.patch_size, widest, multiple)
    training_data.check_sizes(train_images, patch, "patch_size")
    hparams = config.hparams
    if hparams is None:
        hparams = DEFAULT_HPARAMS.get(architecture, {})
    config = config.replace(patch_size=patch, hparams=hparams, normalization=norm.to_dict())
    psf = config.psf
    record = {
        "task": "isotropic",
        "factor": factor,
        "psf_sigma_px": None if psf is None or np.ndim(psf) else float(psf),
        "axial_profile": [float(v) for v in profile],
        "interpolation": "cubic convolution (Keys a=-0.5) of point samples",
        "planes": int(planes.shape[0]),
    }
    return fit(
        architecture,
        train_images,
        val_images,
        config,
        normalization=norm,
        in_channels=1,
        hparams=hparams,
        data_extra={"isotropic": record},
        device=device,
        progress=progress,
        log=log,
        cancel=cancel,
    )


# ---------------------------------------------------------------------- prediction


@dataclass(frozen=True)
class Reconstruction:
    """What :func:`reconstruct` returns.

    Attributes
    ----------
    image : numpy.ndarray or Image
        The isotropic stack, as :func:`isotropic` returns it (same type, axes and dtype
        as the input; an Image with its z pixel size, origin and provenance).
    models : tuple of torch.nn.Module
        The networks trained for it, one per channel in channel order (each a model of
        :func:`train_isotropic`, to save with :func:`napari_sr.save_model` and reuse);
        empty when a trained model was given.
    factor : float
        The z factor used.
    """

    image: Any
    models: tuple
    factor: float


def isotropic(
    volume: np.ndarray | Image,
    factor: float | None = None,
    config: IsotropicConfig | Mapping[str, Any] | None = None,
    *,
    model: Any = None,
    axes: str | None = None,
    device: str = "auto",
    tile: int | None = None,
    out: str | os.PathLike | None = None,
    chunks: Any = None,
    levels: int = 1,
    overwrite: bool = False,
    resume: bool = False,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    log: Callable[[dict], None] | None = None,
    cancel: CancelToken | None = None,
    **overrides: Any,
) -> np.ndarray | Image:
    """Restore z of an anisotropic stack to the lateral resolution.

    Parameters
    ----------
    volume : numpy.ndarray or Image
        A stack with axes including Z, Y, X (T and C allowed: every channel gets its own
        network, trained on the lateral planes of all its time points; every time point
        and channel is reconstructed).
    factor : float, optional
        Anisotropy, z step / lateral pixel size (> 1). Default from the pixel sizes of an
        :class:`~napari_sr.image.Image` (Z over Y, which must equal X).
    config : IsotropicConfig or dict, optional
        The recipe (:class:`~napari_sr.selfsup.config.IsotropicConfig`): the axial
        profile (``psf``: its Gaussian σ in lateral pixels, the profile itself, or None
        for a Gaussian of FWHM ``factor``), the fusion of the xz and yz predictions
        (``fuse``: ``"mean"`` or ``"geometric"``) and the training options (``steps`` per
        channel, ``patch_size``, ``batch_size``, ``lr``, ``loss``, ``hparams``,
        ``validation_fraction``, ``seed``, …; unused when a trained model is given).
    model : str, torch.nn.Module or path, optional
        An architecture name to train (the config's ``architecture``, default
        ``care_unet``), or a model trained by :func:`train_isotropic` (or a model file of
        one) to reuse on a stack of the same microscope: it must have been trained for
        the same factor.
    axes : str, optional
        Axes of ``volume``; default from the Image, else guessed (3D: ``ZYX``).
    device : str
        ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, …
    tile : int, optional
        Tile edge for the prediction (:func:`napari_sr.upscale`); default automatic.
    out : path-like, optional
        Write the result to this OME-Zarr store (``.ome.zarr``) block by block and return
        it read lazily. A dask or zarr ``volume`` (or an Image of one) is reconstructed
        out of core in any case (:mod:`napari_sr.selfsup._isotropic_blocks`): scratch
        stores hold the stack in columns and the xz predictions, memory is set by the
        slabs, never by the stack, and every pixel equals the in-memory result. Without
        ``out`` the result is then a lazy dask array (the yz pass and the fusion run
        when it is computed) whose scratch folder lasts as long as it does.
    chunks, levels, overwrite, resume, client, scheduler, workers
        With ``out``, as for :func:`napari_sr.upscale`: the store's chunks (X is
        rounded to the slab width), its pyramid levels, replacing an existing store,
        finishing an interrupted run (the trained networks, the scratch data and the
        written blocks are kept in ``OUT.partial``), and where the tasks run (a
        dask.distributed client, a scheduler's address, or ``workers`` local processes).
    progress : callable, optional
        ``progress(done, total)`` in work units of two kinds: the training steps of each
        channel's network, then the restored planes (one unit per xz plane and one per
        yz plane, of every time point and channel; a tiled plane advances in fractions of
        its unit). A front end should label them "steps and planes", or show a
        percentage. Out of core, one more unit per input plane (copied to the scratch
        store) comes before the xz planes.
    log : callable, optional
        Training records (as :func:`napari_sr.train` gives them).
    cancel : threading.Event or callable, optional
        Checked during training and prediction;
        :class:`~napari_sr.utils.progress.Cancelled` is raised once it is set.
    **overrides
        Fields of :class:`~napari_sr.selfsup.config.IsotropicConfig`, e.g. ``psf=2.2,
        steps=500``; they replace the config's.

    Returns
    -------
    numpy.ndarray or Image
        Same type, axes and dtype as ``volume``, with ``floor((nz - 1) * factor) + 1``
        planes. An Image gets the z pixel size ``dz / factor`` (the lateral one, made
        isotropic), the same z origin, and a provenance record (method, factor, axial
        profile, model, training report). :func:`reconstruct` returns the trained
        networks with it.

    Examples
    --------
    >>> stack = napari_sr.load_sample("anisotropic_stack")  # doctest: +SKIP
    >>> iso = napari_sr.isotropic(stack, psf=2.17, steps=2000)  # doctest: +SKIP
    >>> iso.describe_pixel_size()  # doctest: +SKIP
    'Z 0.2 µm, Y 0.2 µm, X 0.2 µm'
    """
    return reconstruct(
        volume, factor, config, model=model, axes=axes, device=device, tile=tile, out=out,
        chunks=chunks, levels=levels, overwrite=overwrite, resume=resume, client=client,
        scheduler=scheduler, workers=workers, progress=progress, log=log, cancel=cancel,
        **overrides,
    ).image  # fmt: skip


def reconstruct(
    volume: np.ndarray | Image,
    factor: float | None = None,
    config: IsotropicConfig | Mapping[str, Any] | None = None,
    *,
    model: Any = None,
    axes: str | None = None,
    device: str = "auto",
    tile: int | None = None,
    out: str | os.PathLike | None = None,
    chunks: Any = None,
    levels: int = 1,
    overwrite: bool = False,
    resume: bool = False,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    log: Callable[[dict], None] | None = None,
    cancel: CancelToken | None = None,
    **overrides: Any,
) -> Reconstruction:
    """:func:`isotropic`, returning the networks it trained with the result: train on the
    stack (one network per channel), restore it, and keep the networks to save and
    reuse. What the ``isotropic`` command (``--save-model``) and the Isotropic widget
    run; the arguments are those of :func:`isotropic`.

    Returns
    -------
    Reconstruction
        ``image`` (as :func:`isotropic` returns it), ``models`` (one trained network per
        channel; empty when ``model`` is a trained model) and ``factor``.
    """
    import torch

    from ..models.checkpoint import load_model

    config = IsotropicConfig.build(config, _with_model(overrides, model), where="isotropic")
    image, factor = _image_and_factor(volume, factor, axes)
    check_finite(image.data)
    given = config.architecture if model is None or isinstance(model, str) else model
    if isinstance(model, os.PathLike) or (isinstance(model, str) and _is_file_name(model)):
        given = load_model(model)
    if isinstance(given, torch.nn.Module):
        _check_reusable(given, factor)
    elif not isinstance(given, str):
        raise TypeError(
            "model must be an architecture name such as 'care_unet', a model from "
            f"train_isotropic, or a model file path; not {type(model).__name__}"
        )

    where = {
        "out": out,
        "chunks": chunks,
        "levels": levels,
        "overwrite": overwrite,
        "resume": resume,
        "client": client,
        "scheduler": scheduler,
        "workers": workers,
    }
    if out is None:  # the options of a written result are refused without one
        _check_in_memory_options({k: v for k, v in where.items() if k != "out"})
    if out is not None or is_lazy(image.data):
        return _reconstruct_blockwise(volume, image, factor, config, given, model,
                                      device=device, tile=tile, progress=progress, log=log,
                                      cancel=cancel, **where)  # fmt: skip
    check_finite(image.data)
    data = _as_tczyx(image.data, image.axes)
    n_t, n_c, n_z, n_y, n_x = data.shape
    n_out = len(point_grid(n_z, factor))
    training_share = 0 if not isinstance(given, str) else config.steps
    total = n_c * training_share + n_t * n_c * (n_y + n_x)
    counter = Stages(progress, total)
    out = np.empty((n_t, n_c, n_out, n_y, n_x), dtype=image.dtype)
    reports, trained = [], []
    for c in range(n_c):
        channel_model = given
        if isinstance(given, str):
            channel = Image(data[:, c], "TZYX")  # the factor is known: no sizes needed
            channel_model = train_isotropic(
                channel, factor, config, device=device, progress=share(counter, training_share),
                log=log, cancel=cancel,
            )  # fmt: skip
            counter.advance(training_share)
            trained.append(channel_model)
        reports.append(getattr(channel_model, "training_report", None))
        for t in range(n_t):
            raise_if_cancelled(cancel)
            out[t, c] = _restore(
                data[t, c], factor, channel_model, fuse=config.fuse, device=device,
                tile=tile, counter=counter, cancel=cancel,
            )  # fmt: skip
    # a cancel that came during the last prediction (or the fusion) is not ignored
    raise_if_cancelled(cancel)
    result = _from_tczyx(out, image.axes)
    restored = _result(volume, image, result, factor,
                       _provenance(config, given, model, factor, reports))  # fmt: skip
    return Reconstruction(image=restored, models=tuple(trained), factor=factor)


def _provenance(config, given, model, factor: float, reports: list) -> dict[str, Any]:
    return {
        "method": "isotropic",
        "factor": factor,
        "fuse": config.fuse,
        "model": _describe_model(given, model),
        "axial_profile": _profile_record(given, config.psf, factor),
        "training": reports if any(r is not None for r in reports) else None,
    }


def _check_in_memory_options(where: dict[str, Any]) -> None:
    defaults = {"levels": 1, "overwrite": False, "resume": False}
    given = [k for k, v in where.items() if v is not None and v != defaults.get(k, None)]
    if given:
        raise ValueError(
            f"{', '.join(given)} only apply when writing the result (out='iso.ome.zarr')"
        )


def _reconstruct_blockwise(
    volume, image: Image, factor: float, config, given, model, *, device, tile, progress,
    log, cancel, out, chunks, levels, overwrite, resume, client, scheduler, workers,
) -> Reconstruction:  # fmt: skip
    """:func:`reconstruct` out of core (:mod:`._isotropic_blocks`)."""
    from ..engine.cluster import check_where, cluster_client
    from ..utils.lazy import as_dask, require
    from . import _isotropic_blocks as blocks

    require("dask", "zarr", what="isotropic reconstruction out of core")
    import dask.array as da

    check_where(client, scheduler, workers)
    lazy = as_dask(image.data) if is_lazy(image.data) else da.from_array(image.data)
    data = _as_tczyx(lazy, image.axes)
    n_t, n_c, n_z, n_y, n_x = data.shape
    n_out = len(point_grid(n_z, factor))
    lane = blocks.lane_width(n_out, n_y, n_x)
    result_axes = "".join(a for a in "TCZYX" if a in image.axes)
    geometry = _result(image, image, da.empty(_result_shape(image, n_out), image.dtype),
                       factor, _provenance(config, given, model, factor, []))  # fmt: skip
    writer = None
    if out is not None:
        writer, lane = _result_writer(
            out, geometry, result_axes, lane, chunks, levels, overwrite, resume, config,
            given, model, tile, image)  # fmt: skip
        if writer.complete:  # resumed after it had finished
            return Reconstruction(image=_written(writer.finish(), volume), models=(),
                                  factor=factor)  # fmt: skip
        scratch = blocks.Scratch(writer.scratch)
    else:
        scratch = blocks.Scratch()
    training_share = 0 if not isinstance(given, str) else config.steps
    units = n_c * training_share + n_t * n_c * (n_z + n_y + (n_x if writer else 0))
    counter = Stages(progress, units)
    models, reports, trained = [], [], []
    for c in range(n_c):
        channel_model, report = given, None
        if isinstance(given, str):
            channel_model, report = _channel_model(
                scratch.path, c, lambda c=c: train_isotropic(
                    Image(data[:, c], "TZYX"), factor, config, device=device,
                    progress=share(counter, training_share), log=log, cancel=cancel))  # fmt: skip
            counter.advance(training_share)
            trained.append(channel_model)
        models.append(channel_model)
        reports.append(report or getattr(channel_model, "training_report", None))
    limits = [functools.partial(blocks.fusion_limits, m, image.dtype, config.fuse)
              for m in models]  # fmt: skip
    provenance = {**_provenance(config, given, model, factor, reports), "blockwise": True}
    with cluster_client(client, scheduler, workers) as connected:
        fused = blocks.restore_blockwise(
            data, factor, models, limits, fuse=config.fuse, dtype=image.dtype, device=device,
            tile=tile, lane=lane, scratch=scratch, client=connected, counter=counter,
            cancel=cancel)  # fmt: skip
        squeezed = fused.reshape(_result_shape(image, n_out, order=result_axes))
        if writer is None:
            result = _from_tczyx(fused, image.axes)
            restored = _result(volume, image, result, factor, provenance)
            return Reconstruction(image=restored, models=tuple(trained), factor=factor)
        blocks.write_result(writer, squeezed, lane, connected,
                            share(counter, n_t * n_c * n_x), cancel)  # fmt: skip
    writer.update_provenance({**geometry.metadata.get("provenance", {}), **provenance})
    path = writer.finish(overwrite=overwrite)
    return Reconstruction(image=_written(path, volume), models=tuple(trained), factor=factor)


def _result_shape(image: Image, n_out: int, order: str | None = None) -> tuple[int, ...]:
    """The result's shape in the image's axis order (or ``order``)."""
    sizes = dict(zip(image.axes, image.shape, strict=True))
    sizes["Z"] = n_out
    return tuple(sizes[a] for a in (order or image.axes))


def _result_writer(out, geometry: Image, axes: str, lane: int, chunks, levels, overwrite,
                   resume, config, given, model, tile, image: Image):  # fmt: skip
    """The OME-Zarr writer of the result (axes in NGFF order, X last) and the slab width
    (a multiple of the store's X chunk)."""
    from ..io.omezarr import OmeZarrOutput, check_chunks

    shape = tuple(geometry.shape[geometry.axes.index(a)] for a in axes)
    default = {"Z": min(shape[axes.index("Z")], 16), "Y": min(shape[-2], 1024), "X": lane}
    zarr_chunks = check_chunks(default if chunks is None else chunks, shape, axes)
    lane = max(zarr_chunks[-1], lane // zarr_chunks[-1] * zarr_chunks[-1])
    block = tuple(1 if a in "TC" else n for a, n in zip(axes, shape, strict=True))
    block = (*block[:-1], lane)
    run = {
        "method": "isotropic",
        "config": config.to_dict(),
        "model": _describe_model(given, model),
        "tile": tile,
        "input": image.metadata.get("path")
        or {"shape": list(image.shape), "dtype": np.dtype(image.dtype).str},
        "axes": image.axes,
    }
    writer = OmeZarrOutput.create(
        out, shape=shape, dtype=image.dtype, axes=axes, block=block, chunks=zarr_chunks,
        pixel_size=geometry.pixel_size, unit=geometry.unit, origin=geometry.origin,
        provenance=geometry.metadata.get("provenance", {}), run=run, levels=levels,
        overwrite=overwrite, resume=resume)  # fmt: skip
    return writer, lane


def _channel_model(scratch: Path, channel: int, train: Callable[[], Any]):
    """Channel ``channel``'s network: trained (and kept in the scratch folder), or the one
    an interrupted run kept there."""
    import json

    from ..models.checkpoint import load_model, save_model
    from ..utils.jsonready import json_ready

    folder = scratch / "models"
    weights, record = folder / f"channel-{channel}.safetensors", folder / f"channel-{channel}.json"
    if weights.exists() and record.exists():
        return load_model(weights), json.loads(record.read_text()).get("report")
    trained = train()
    folder.mkdir(parents=True, exist_ok=True)
    report = getattr(trained, "training_report", None)
    save_model(trained, weights, overwrite=True)
    record.write_text(json.dumps({"report": json_ready(report)}))
    return trained, report


def _written(path: Path, volume: Any):
    """The written store read lazily: an Image for an Image input, else its array."""
    from ..engine.blockwise import read_written

    return read_written(path, volume if isinstance(volume, Image) else None)


def _with_model(overrides: dict[str, Any], model: Any) -> dict[str, Any]:
    """The overrides with an architecture name given as ``model`` (a registered name, not
    a model file)."""
    if not isinstance(model, str) or _looks_like_file(model):
        return overrides
    if overrides.get("architecture", model) != model:
        raise ValueError(
            f"model={model!r} and architecture={overrides['architecture']!r}; give the "
            "architecture once"
        )
    return {**overrides, "architecture": model}


def _looks_like_file(value: str) -> bool:
    return bool(os.path.splitext(value)[1]) or os.sep in value


def _restore(
    volume: np.ndarray,
    factor: float,
    model: Any,
    *,
    fuse: str,
    device: str,
    tile: int | None,
    counter: Stages,
    cancel: CancelToken | None,
) -> np.ndarray:
    """One (Z, Y, X) volume: interpolate z, restore xz and yz planes, fuse; in its dtype."""
    from ..engine.upscaler import upscale

    dtype = volume.dtype
    interpolated = sample_at(volume, point_grid(volume.shape[0], factor), axis=0)
    options = {"method": model, "axes": "TYX", "dtype": np.float32, "device": device,
               "tile": tile, "cancel": cancel}  # fmt: skip
    # xz planes: one per y, z along the rows; yz planes: one per x, z along the rows
    # the engine counts tiles: each pass is scaled into its share of planes
    xz_planes = np.ascontiguousarray(interpolated.transpose(1, 0, 2))
    xz = upscale(xz_planes, 1, progress=share(counter, volume.shape[1]), **options)
    counter.advance(volume.shape[1])
    yz = upscale(np.ascontiguousarray(interpolated.transpose(2, 0, 1)), 1,
                 progress=share(counter, volume.shape[2]), **options)  # fmt: skip
    counter.advance(volume.shape[2])
    limits = fusion_limits(model, dtype, fuse, xz_planes)
    return fuse_views(xz.transpose(1, 0, 2), yz.transpose(1, 2, 0), fuse, limits, dtype)


# ------------------------------------------------------------------------- helpers


def _image_and_factor(
    volume: np.ndarray | Image, factor: float | None, axes: str | None
) -> tuple[Image, float]:
    data = volume if isinstance(volume, Image) or is_lazy(volume) else np.asarray(volume)
    image = volume if isinstance(volume, Image) else Image(data, axes=axes)
    if axes is not None and isinstance(volume, Image):
        image = image.with_axes(axes)
    check_dtype(image.dtype)
    if "Z" not in image.axes:
        raise ValueError(
            f"isotropic reconstruction needs a Z axis; the axes are {image.axes!r} - pass "
            "axes='ZYX' (or TZYX, CZYX, …) if the first axis is z"
        )
    if image.shape[image.axes.index("Z")] < 2:
        raise ValueError("the stack has a single z plane; there is nothing to interpolate")
    if factor is None:
        factor = anisotropy(image)
    factor = check_scale(factor, "factor")
    if factor <= 1:
        raise ValueError(
            f"factor must be above 1 (z step / lateral pixel size), not {factor:g}: a stack "
            "sampled as finely in z as in xy is already isotropic"
        )
    return image, float(factor)


def anisotropy(image: Image) -> float:
    """z step / lateral pixel size of ``image``, from its pixel sizes (any units).

    Raises
    ------
    ValueError
        Without Z, Y and X pixel sizes, or for pixels that are not square.
    """
    sizes = image.pixel_size
    if not all(a in sizes for a in "ZYX"):
        raise ValueError(
            "the z/xy anisotropy is unknown: the stack has no Z, Y and X pixel sizes; pass "
            "factor= (z step / lateral pixel size, e.g. 4)"
        )
    z, y, x = (to_micrometres(sizes[a], image.unit.get(a)) for a in "ZYX")
    if not math.isclose(y, x, rel_tol=0.01):
        raise ValueError(
            f"the lateral pixels are not square (Y {y:g}, X {x:g} µm); resample them to "
            "square pixels first, or pass factor= explicitly"
        )
    return z / y


def _lateral_planes(image: Image) -> np.ndarray:
    """(N, Y, X) planes of all T and Z, at most :data:`MAX_TRAINING_PLANES`, evenly; of a
    lazy stack only those planes are read."""
    data = _as_tczyx(image.data, image.axes)
    planes = data.reshape(-1, *data.shape[-2:])
    if len(planes) > MAX_TRAINING_PLANES:
        keep = np.linspace(0, len(planes) - 1, MAX_TRAINING_PLANES).round().astype(int)
        planes = planes[keep]
    planes = np.asarray(planes)
    check_finite(planes)
    return planes


def _training_images(pairs, dtype, limits, validation_fraction: float):
    """TrainingImage lists (training, validation) from (input, target) pairs; validation
    takes the last columns of every plane (the degraded axis runs along the rows)."""
    from ..training.data import TrainingImage

    names = ("lateral planes, y degraded", "lateral planes, x degraded")
    train, val = [], []
    for name, (low, high) in zip(names, pairs, strict=True):
        width = high.shape[-1]
        cut = width - max(13, round(validation_fraction * width)) if validation_fraction else width
        if cut < 16:  # too narrow to spare columns for validation (SSIM needs 13): none
            cut = width
        parts = [(train, slice(0, cut), name)]
        if cut < width:
            parts.append((val, slice(cut, width), f"{name} (last {width - cut} columns)"))
        for target, columns, label in parts:
            h, lo = high[..., columns], low[..., columns]
            target.append(
                TrainingImage(
                    name=label,
                    high=cast(h, dtype)[:, None],
                    low=(lo if target is train else cast(lo, dtype))[:, None],
                    dtype=np.dtype(dtype),
                    limits=limits,
                    peak=float(lo.max()),
                    axes="TYX",
                    shape=tuple(h.shape),
                )
            )
    return train, val


def _patch_size(patch_size: int | None, widest: int, multiple: int) -> int:
    if patch_size is not None:
        return int(patch_size)
    fit = min(64, widest) // multiple * multiple
    if fit < max(8, multiple):
        raise ValueError(
            f"the planes are too small to train on ({widest} pixels after the z sampling); "
            "isotropic reconstruction needs lateral planes of at least 16 pixels"
        )
    return fit


def _as_tczyx(data: np.ndarray, axes: str) -> np.ndarray:
    """View of ``data`` as (T, C, Z, Y, X), length-1 axes added where absent."""
    full = data
    for letter in "TCZYX":
        if letter not in axes:
            full = full[np.newaxis]
            axes = letter + axes
    return np.transpose(full, [axes.index(a) for a in "TCZYX"])


def _from_tczyx(data: np.ndarray, axes: str) -> np.ndarray:
    """Inverse of :func:`_as_tczyx` for an array whose Z length changed."""
    present = "".join(a for a in "TCZYX" if a in axes)
    squeezed = data.reshape([n for a, n in zip("TCZYX", data.shape, strict=True) if a in axes])
    return np.transpose(squeezed, [present.index(a) for a in axes])


def _result(volume, image: Image, data: np.ndarray, factor: float, provenance: dict):
    if not isinstance(volume, Image):
        return data
    return image.resampled(data, {"Z": factor}, {**provenance, "factor": factor},
                           keep_origin=True)  # fmt: skip


def _is_file_name(value: str) -> bool:
    """A model argument that is not a registered name: a model file, which must exist."""
    from ..models.registry import REGISTRY, list_models

    list_models()
    if value in REGISTRY:
        return False
    if not os.path.isfile(value):
        raise ValueError(
            f"model {value!r} is neither a restoration architecture "
            f"({', '.join(_restoration_models())}) nor an existing model file"
        )
    return True


def _restoration_models() -> list[str]:
    from ..models.registry import REGISTRY, list_models

    return [n for n in list_models() if REGISTRY.spec(n).framework == "restoration"]


def _check_reusable(model: Any, factor: float) -> None:
    if int(getattr(model, "scale", 0)) != 1:
        raise ValueError(
            f"the model upscales by {getattr(model, 'scale', '?')}; isotropic reconstruction "
            "needs a same-size restoration model such as one from train_isotropic"
        )
    record = _isotropic_record(model)
    if record and not math.isclose(record["factor"], factor, rel_tol=0.02):
        raise ValueError(
            f"the model was trained for a z factor of {record['factor']:g}, but this stack "
            f"needs {factor:g}; train a new model for it (model='care_unet')"
        )


def _describe_model(given: Any, asked: Any) -> dict[str, Any]:
    if isinstance(given, str):
        return {"architecture": given, "trained_on": "this stack"}
    spec = getattr(given, "spec", None)
    out = {"architecture": getattr(spec, "name", type(given).__name__)}
    if isinstance(asked, str):
        out["file"] = asked
    return out


def _profile_record(given: Any, psf: Any, factor: float) -> list[float] | None:
    if isinstance(given, str):
        return [float(v) for v in axial_profile(psf, factor)]
    record = _isotropic_record(given)
    return record.get("axial_profile") if record else None


def _isotropic_record(model: Any) -> dict[str, Any] | None:
    """What ``train_isotropic`` recorded in the model's record (``info.data['isotropic']``):
    the z factor and axial profile it was trained for; None for other models."""
    info = getattr(model, "info", None)
    data = getattr(info, "data", None) or {}
    record = data.get("isotropic") if isinstance(data, Mapping) else None
    return record if isinstance(record, Mapping) else None
