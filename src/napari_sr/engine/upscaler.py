"""``upscale``: the one entry point for single-image super-resolution of n-D stacks.

This module handles what every method shares (axes, dtypes, the output array, geometry and
provenance) and the interpolation loop; learned models run in :mod:`.learned`.
"""

from __future__ import annotations

import math
import time
from typing import overload

import numpy as np

from ..image import Image
from ..utils.lazy import is_lazy
from ..utils.memory import check_finite, check_fits
from ..utils.progress import CancelToken, ProgressCallback, raise_if_cancelled
from .job import PLANE_AXES, plan_upscale, upscale_planes
from .job import working_bytes as _working_bytes


@overload
def upscale(image: Image, scale: float, **kwargs) -> Image: ...
@overload
def upscale(image: np.ndarray, scale: float, **kwargs) -> np.ndarray: ...


def upscale(
    image,
    scale,
    *,
    method=None,
    axes=None,
    dtype=None,
    device: str = "auto",
    tile: int | None = None,
    precision: str | None = None,
    self_ensemble: bool = False,
    out=None,
    chunks=None,
    levels: int = 1,
    overwrite: bool = False,
    resume: bool = False,
    client=None,
    scheduler: str | None = None,
    workers: int | None = None,
    samples: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    estimate: str = "mean",
    uncertainty: bool = False,
    keep_samples: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
):
    """Super-resolve the image plane (Y, X) of every plane of an n-D stack.

    Parameters
    ----------
    image : numpy.ndarray, dask array, zarr array or Image
        Input of any supported dtype (uint8, uint16, int16, float32, float64). An
        :class:`~napari_sr.image.Image` brings its axes and pixel sizes and gets back an
        ``Image`` whose Y and X pixel sizes are divided by ``scale``. A dask or zarr array
        (or an Image holding one, as :func:`napari_sr.io.read` gives for large files) is
        upscaled lazily, block by block (:mod:`napari_sr.engine.blockwise`): the result is
        a dask array equal to the in-memory result, computed when asked, or written to
        ``out``.
    scale : float
        Upscaling factor for Y and X, > 0. Output planes are ``ceil(n * scale)`` long. A
        learned model needs its own (integer) scale.
    method : str, path or torch.nn.Module, optional
        An interpolation method of :func:`~napari_sr.resize` (``'nearest'``,
        ``'bilinear'``, ``'bicubic'``, ``'bicubic-opencv'``, ``'lanczos3'``, ``'area'``);
        a model file (``.safetensors`` from :func:`~napari_sr.models.checkpoint.save_model`,
        or third-party ``.pth``/``.pt`` weights that
        :func:`~napari_sr.models.checkpoint.load_model` reads alone); or a model object
        (from :func:`~napari_sr.create_model` after training, ``load_model`` or
        ``napari_sr.train``); ``'quality'`` or ``'fast'``, the bundled single-image
        defaults for ``scale`` (EDSR-light and FSRCNN: the bicubic-protocol ``*.sr291``
        weights on clean 8-bit inputs, the ``*.microscope`` weights where bundled on noisy
        inputs and on those of other dtypes; see
        :func:`~napari_sr.engine.method_table.choose_default`);
        bundled weights by name (``'edsr_light_x2.sr291'``, see
        ``napari_sr.list_models(pretrained=True)``); or a registered architecture name,
        meaning its bundled weights for ``scale``. None (default) is ``'quality'`` where it
        is bundled for ``scale`` (×2, ×3, ×4) and bicubic otherwise; the provenance says
        which ran.
    axes : str, optional
        Axes of ``image``, e.g. ``'TZCYX'``; default from the Image, else guessed from the
        shape (2-D ``YX``, 3-D ``ZYX``, trailing 3 or 4 → RGB; see :mod:`napari_sr.axes`).
        Every axis other than Y and X is looped over, except that a 3-channel (RGB) model
        sees the C axis (of length 3) together; a 1-channel model runs per channel.
    dtype : dtype, optional
        Output dtype; default the input's (integers rounded and clipped to range).
    device : str or torch.device
        Models only (ignored for interpolation): ``'auto'`` (CUDA, then Apple MPS, then
        CPU), ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'mps'``. The model is moved there for
        the call and moved back (with its train/eval mode) afterwards.
    tile : int, optional
        Models only. Longest edge, in input pixels, of the tiles a plane is cut into (they
        are evened out, so slightly shorter ones may be used and recorded); each tile also
        reads the model's halo (``model.spec.halo`` input pixels) on every side, and
        neighbouring tiles are blended over 16 input pixels around each seam. None
        (default) tiles only when a whole plane would not fit the memory budget (1 GiB on
        the CPU, 80 % of the free GPU memory on CUDA), with the largest tile that fits,
        and on the CPU cuts planes of tiling-safe models with a small halo (FSRCNN) into
        tiles of at most 384 pixels (faster: their feature maps stay in the processor's
        caches); 0 never tiles.
        Tiling-safe models give the same result tiled and untiled; others warn that values
        near the seams may differ slightly.
    precision : {None, 'fp32', 'bf16', 'fp16'}, optional
        Models only. None picks bf16 (or fp16 on GPUs without bf16) on CUDA when the model
        is half-precision-safe, else fp32; CPU and MPS use fp32. Half precision runs under
        :func:`torch.autocast` (weights stay fp32). 'fp16' is refused on the CPU.
    self_ensemble : bool
        Models only. Average the model over the 8 flips and 90° rotations of the input
        (the ×8 geometric self-ensemble; about 8 times slower, a little more accurate).
    out : path-like, optional
        Write the result to this OME-Zarr store (a name ending in ``.ome.zarr``) block by
        block, and return it read lazily from there: for data larger than memory, of any
        input kind. The store is written under ``NAME.partial`` and renamed into place when
        complete; an interrupted run leaves ``NAME.partial`` for ``resume``.
    chunks : int, dict or sequence of int, optional
        With ``out``: the store's chunks (one edge for Y and X, a dict per axis, or one
        size per axis; default one plane per chunk in 1024 × 1024 tiles).
    levels : int
        With ``out``: resolution levels of the store (1, the default: no pyramid).
    overwrite : bool
        With ``out``: replace an existing store and discard an interrupted run.
    resume : bool
        With ``out``: finish the interrupted run of the same call, computing only the
        blocks not yet written (a finished store of the same run is returned as it is).
    client : distributed.Client, optional
        With ``out``: run the blocks on this dask cluster.
    scheduler : str, optional
        With ``out``: the address of a running dask scheduler (``tcp://host:8786``) or its
        scheduler file.
    workers : int, optional
        With ``out``: run on a LocalCluster of this many worker processes, started for the
        call. Without ``client``, ``scheduler`` and ``workers``, the active
        ``distributed`` client if there is one, else this process's threads.
    samples : int, optional
        Diffusion models only (``method='diffusion'``, a ``diffusion_unet`` model or file):
        samples drawn per plane, 1 to 256; default 8 with ``uncertainty``, else 1.
    steps : int, optional
        Diffusion models only: denoiser evaluations per sample, from 1 to the levels of
        the model's schedule; default: the steps its uncertainty was calibrated with
        (``metrics["calibration"]``), else all its levels.
    seed : int
        Diffusion models only: the seed of the noise (plane ``p``, sample ``i`` draw from
        the stream ``(seed, p, i)``): the same seed gives the same result on any device
        and with any tiling.
    estimate : {'mean', 'sample'}
        Diffusion models only: the image returned is the per-pixel mean of the samples
        (closest to the truth on average) or the first sample (a realistic picture, with
        the texture the mean averages away).
    uncertainty : bool
        Diffusion models only: return a :class:`~napari_sr.engine.sampling.Sampled` with
        the per-pixel standard deviation over the samples beside the image (at least 2
        samples) and the model's calibrated interval scale (when sampled with the steps
        it was calibrated with).
    keep_samples : bool
        Diffusion models only: return a ``Sampled`` that holds every sample too.
    progress : callable, optional
        ``progress(done, total)`` after each batch of planes (interpolation, or whole
        planes through a model) or each tile (tiled planes), counting planes × tiles;
        with ``out``, after each block written. A lazy result without ``out`` is computed
        by its caller, and reports nothing here.
    cancel : threading.Event or callable, optional
        Checked between batches of planes and between tiles (for a diffusion model before
        every tile of every step; with ``out``: before each block, and every 0.2 s on a
        cluster); when set,
        :class:`~napari_sr.utils.progress.Cancelled` is raised and nothing is returned
        (with ``out``, the blocks written so far stay in ``NAME.partial``).

    Returns
    -------
    numpy.ndarray, dask array, Image or Sampled
        Same type as ``image`` (a dask array for dask and zarr input): the axes in the same
        order, Y and X scaled. An Image's provenance records the method, scale and, for
        models, the device, precision, tile, self-ensemble and normalisation limits. With
        ``out``, the written store read lazily (an Image for an Image input, else its dask
        array), its axes in the order OME-NGFF requires (``TCZYX``). A diffusion model
        with ``uncertainty`` or ``keep_samples`` gives a
        :class:`~napari_sr.engine.sampling.Sampled` (``image``, ``std``, ``samples``).

    Raises
    ------
    ValueError
        Empty input, NaN/Inf, scale ≤ 0, unknown method, axes that do not fit, an output
        that would not fit in memory (checked before allocating), a scale other than the
        model's, channels the model cannot take, an unavailable device, or model options
        (``tile``, ``precision``, ``self_ensemble``) with an interpolation method.
    RuntimeError
        A GPU ran out of memory even with the smallest tiles.
    FileExistsError
        ``out`` exists (without ``overwrite``), or an interrupted run of it exists and
        neither ``resume`` nor ``overwrite`` was given.

    Notes
    -----
    Learned models see normalised intensities: the model's recorded normalisation
    (``model.info.normalization``), else a fixed 0-255 range for uint8 and percentiles 1 and
    99.8 of the whole stack otherwise; the bundled defaults, trained on 8-bit images in
    0-255, take other dtypes by their percentiles 0.1 and 99.99 (nearly their whole
    range, as an 8-bit image fills 0-255). The limits are computed once per call
    and the inverse is applied to the output before casting.

    Examples
    --------
    >>> import numpy as np, napari_sr
    >>> napari_sr.upscale(np.zeros((3, 8, 8), np.uint16), 2).shape
    (3, 16, 16)
    """
    source = image if isinstance(image, Image) else None
    data = source.data if source is not None else image
    if source is not None and axes is None:
        axes = source.axes
    options = {"method": method, "axes": axes, "dtype": dtype, "device": device, "tile": tile,
               "precision": precision, "self_ensemble": self_ensemble}  # fmt: skip
    sampling = {"samples": samples, "steps": steps, "seed": seed, "estimate": estimate,
                "uncertainty": uncertainty, "keep_samples": keep_samples}  # fmt: skip
    asked = [f"{k}={v!r}" for k, v in sampling.items() if v != _SAMPLING_DEFAULTS[k]]
    if is_lazy(data) or out is not None:
        if asked:
            raise ValueError(
                f"{', '.join(asked)}: diffusion sampling runs on images in memory, not on "
                "lazy arrays or into out=; read the image (numpy.asarray) or upscale it in "
                "parts"
            )
        from .blockwise import upscale_blockwise

        return upscale_blockwise(
            image, scale, **options, out=out, chunks=chunks, levels=levels,
            overwrite=overwrite, resume=resume, client=client, scheduler=scheduler,
            workers=workers, progress=progress, cancel=cancel,
        )  # fmt: skip
    if source is None:
        data = np.asarray(data)
    job = plan_upscale(data, scale, **options)
    if getattr(job.plan, "sampled", False):
        return _upscale_sampled(job, data, source, sampling, progress, cancel)
    if asked:
        raise ValueError(
            f"{', '.join(asked)} only apply to diffusion models (method='diffusion' or a "
            f"diffusion_unet model), not to {job.plan.name!r}; leave them out"
        )
    extra = _working_bytes(data, list(job.out_shape), job.plane_axes, job.luma)
    check_fits(job.out_shape, job.out_dtype, extra_bytes=extra)
    # only once the work is known to fit; blockwise, so it allocates nothing input-sized
    check_finite(data)

    started = time.perf_counter()
    out = np.empty(job.out_shape, dtype=job.out_dtype)
    record = upscale_planes(job, data, out, progress=progress, cancel=cancel)
    # a cancel that came during the last batch (or its progress report) still cancels:
    # the caller was told the work stops, so no result may appear after it
    raise_if_cancelled(cancel)
    if source is None:
        return out
    provenance = {**job.record(), **record, "seconds": round(time.perf_counter() - started, 3)}
    return source.with_axes(job.axes).resampled(
        out, dict.fromkeys(PLANE_AXES, job.scale), provenance
    )


_SAMPLING_DEFAULTS = {"samples": None, "steps": None, "seed": 0, "estimate": "mean",
                      "uncertainty": False, "keep_samples": False}  # fmt: skip


def _upscale_sampled(job, data, source, sampling: dict, progress, cancel):
    """``upscale`` with a diffusion model (:mod:`.sampling`)."""
    from .sampling import Sampled, SamplingOptions, run_sampled

    if job.self_ensemble:
        raise ValueError(
            "self_ensemble=True does not apply to a diffusion model: average its samples "
            "instead (samples=8)"
        )
    for name in ("uncertainty", "keep_samples"):
        if not isinstance(sampling[name], (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, not {sampling[name]!r}")
    samples = sampling["samples"]
    if samples is None:
        samples = 8 if sampling["uncertainty"] else 1
    # the steps the model was calibrated with, unless others are asked for: its interval
    # holds for those only
    calibration = (job.plan.info.metrics or {}).get("calibration") or {}
    steps = sampling["steps"] if sampling["steps"] is not None else calibration.get("steps")
    options = SamplingOptions(samples=samples, steps=steps, seed=sampling["seed"],
                              estimate=sampling["estimate"])  # fmt: skip
    if sampling["uncertainty"] and options.samples < 2:
        raise ValueError("uncertainty=True needs at least 2 samples (samples=8, say)")
    schedule = job.plan.model.schedule
    levels = schedule.sampling_levels(options.steps)  # a bad steps fails here
    # the mean and spread (and samples) of every plane, and one plane's working arrays:
    # the samples' states, predictions, noise and update, float32
    kept = 2 + (options.samples if sampling["keep_samples"] else 0)
    plane = job.out_shape[job.plane_axes[0]] * job.out_shape[job.plane_axes[1]]
    extra = 4 * (math.prod(job.out_shape) * kept + 4 * options.samples * plane)
    check_fits(job.out_shape, job.out_dtype, extra_bytes=extra)
    check_finite(data)
    started = time.perf_counter()
    out, spread, kept, std_axes, record = run_sampled(
        job, data, options, keep_samples=sampling["keep_samples"], progress=progress,
        cancel=cancel,
    )  # fmt: skip
    raise_if_cancelled(cancel)
    if source is not None:
        provenance = {**job.record(), **record,
                      "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
        factors = dict.fromkeys(PLANE_AXES, job.scale)
        out = source.with_axes(job.axes).resampled(out, factors, provenance)
        if sampling["uncertainty"] or sampling["keep_samples"]:
            spread = out.replace(
                data=spread, axes=std_axes,
                pixel_size={a: v for a, v in out.pixel_size.items() if a in std_axes},
                unit={a: v for a, v in out.unit.items() if a in std_axes},
                origin={a: v for a, v in out.origin.items() if a in std_axes},
                metadata={**out.metadata, "provenance": {
                    **out.metadata["provenance"], "output": "standard deviation over the samples",
                }},
            )  # fmt: skip
    if not (sampling["uncertainty"] or sampling["keep_samples"]):
        return out
    k, coverage = calibration.get("interval_scale"), calibration.get("coverage")
    if k is not None and schedule.sampling_levels(calibration.get("steps")) != levels:
        k = coverage = None  # calibrated for other steps: no interval is known for these
    return Sampled(out, spread, kept, k, coverage)
