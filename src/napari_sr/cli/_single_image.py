"""The single-image commands of ``napari-sr``: ``upscale`` (super-resolve an image and
write it), ``degrade`` (simulate a low-resolution observation) and ``compare`` (a PSNR/SSIM
table of methods)."""

from __future__ import annotations

import argparse
import math

import numpy as np

from ..utils.progress import Cancelled
from . import _parsers as shared
from ._parsers import parse_key_values, parse_noise
from ._running import (
    blockwise_options,
    check_output,
    check_result_fits,
    read_input,
    resume_hint,
    running,
    showing_progress,
    write_result,
)

PSF_KEYS = {
    "na": float,
    "wavelength": float,
    "kind": str,
    "refractive_index": float,
    "excitation": float,
    "pixel_size": float,
}
"""``--psf`` keys (the keywords of the PSF of :func:`napari_sr.degrade`; lengths in µm)."""


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add the ``upscale``, ``degrade`` and ``compare`` subcommands."""
    from ..io.formats import readable_text
    from ..metrics import metric_labels

    up = commands.add_parser(
        "upscale",
        help="super-resolve an image or stack and save it",
        description="Super-resolve the Y and X axes of every plane of IN by SCALE and write "
        "OUT, with pixel sizes divided by SCALE. Without --method, the bundled quality "
        "model runs where one exists for SCALE, else bicubic (with a warning); the 'wrote' "
        "line names the method that ran. An OUT ending in .ome.zarr is written block by "
        "block (data larger than memory), on this machine or a dask cluster, and an "
        "interrupted run resumes with --resume.",
    )
    up.add_argument("input", metavar="IN", help=f"{readable_text('or')} file")
    up.inherit(shared.output())
    up.inherit(shared.scale("upscaling factor, > 0"))
    up.add_argument(
        "--method",
        "-m",
        default=None,
        help="'quality' or 'fast' (the bundled defaults; 'napari-sr models' lists them and "
        "their scales), bundled weights by name, an interpolation (bicubic, lanczos3, ...) or "
        "a model file (.safetensors, .pth) (default: quality where bundled for the scale, "
        "else bicubic)",
    )
    up.inherit(shared.device("for models: auto (CUDA, MPS, CPU), cpu, cuda, cuda:1, mps"))
    up.add_argument(
        "--tile",
        type=int,
        default=None,
        help="for models: tile edge in input pixels, 0 for none (default: automatic, bounded "
        "by memory)",
    )
    up.add_argument(
        "--precision",
        choices=["fp32", "bf16", "fp16"],
        default=None,
        help="for models (default: bf16/fp16 on a GPU where the model allows, else fp32)",
    )
    up.add_argument(
        "--self-ensemble",
        action="store_true",
        help="for models: average the 8 flips and rotations (8x slower, often +0.1 dB)",
    )
    diffusion = up.add_argument_group(
        "diffusion SR (--method diffusion, or a diffusion_unet model file)"
    )
    diffusion.add_argument(
        "--samples", type=int, default=None,
        help="samples drawn per plane (default 8 with --uncertainty, else 1)",
    )  # fmt: skip
    diffusion.add_argument(
        "--steps", type=int, default=None,
        help="denoiser evaluations per sample (default: every level of the model)",
    )  # fmt: skip
    diffusion.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    diffusion.add_argument(
        "--estimate", choices=["mean", "sample"], default="mean",
        help="write the mean of the samples (default) or the first sample",
    )  # fmt: skip
    diffusion.add_argument(
        "--uncertainty", action="store_true",
        help="also write the per-pixel standard deviation over the samples as OUT's "
        "sibling NAME.std.EXT (float32)",
    )  # fmt: skip
    up.inherit(shared.axes("axes of IN, e.g. ZYX (default: from the file)"))
    up.add_argument(
        "--dtype",
        default=None,
        choices=["uint8", "uint16", "int16", "float32", "float64"],
        help="output dtype (default: the input's)",
    )
    up.inherit(shared.overwrite(), shared.progress(), shared.compression(), shared.large())
    up.set_defaults(run=run_upscale)

    deg = commands.add_parser(
        "degrade",
        help="simulate a low-resolution observation of an image (blur, downscale, noise)",
        description="Apply the observation model y = (x * k) downscaled by SCALE + noise to "
        "IN and write OUT with pixel sizes multiplied by SCALE.",
    )
    deg.add_argument("input", metavar="IN")
    deg.inherit(shared.output())
    deg.inherit(shared.scale("downscaling factor"))
    deg.add_argument(
        "--along",
        default="YX",
        help="axes to downscale (default YX; e.g. Z for anisotropic stacks)",
    )
    deg.add_argument(
        "--kernel",
        default="bicubic",
        help="bicubic (MATLAB, default), another interpolation method, or decimate",
    )
    deg.inherit(shared.blur())
    deg.add_argument(
        "--psf",
        default=None,
        metavar="KEY=VALUE,...",
        help="microscope PSF, e.g. na=1.4,wavelength=0.52,kind=confocal (µm; pixel size from "
        "IN, or pixel_size=0.1)",
    )
    deg.inherit(
        shared.noise(),
        shared.seed("noise seed"),
        shared.axes(),
        shared.overwrite(),
        shared.compression(),
    )
    deg.set_defaults(run=run_degrade)

    cmp_ = commands.add_parser(
        "compare",
        help=f"benchmark SR methods on a high-resolution image ({metric_labels()} table)",
        description="Degrade IMAGE by the SR protocol (MATLAB bicubic), restore it with each "
        f"method, and print {metric_labels(', ')} and seconds per method, as in a paper's "
        "table. With "
        "--low-res or --reference, IMAGE is restored as it is (a real low-resolution "
        "acquisition) and scored against the reference, if given.",
    )
    cmp_.add_argument(
        "input", metavar="IMAGE", help="high-resolution reference (or, with --low-res, the input)"
    )
    cmp_.inherit(shared.scale("SR factor, > 1"))
    cmp_.add_argument(
        "--methods",
        default=None,
        help="comma-separated methods (default: every interpolation method, then the "
        "bundled fast and quality defaults where they exist for the scale)",
    )
    cmp_.add_argument(
        "--low-res",
        action="store_true",
        help="IMAGE is already low-resolution: restore it without degrading it",
    )
    cmp_.add_argument(
        "--reference",
        default=None,
        metavar="HR",
        help="high-resolution image of the same field to score against (implies --low-res)",
    )
    cmp_.add_argument("--csv", default=None, metavar="FILE", help="also write the table as CSV")
    cmp_.inherit(shared.overwrite("the CSV"), shared.axes("axes of HR (default: from the file)"))
    cmp_.add_argument(
        "--data-range",
        type=float,
        default=None,
        help=f"L of {metric_labels()} (default: 255 for 8-bit images, else the reference's "
        "max - min)",
    )
    cmp_.add_argument(
        "--no-y-channel",
        dest="y_channel",
        action="store_false",
        help="score RGB on all channels rather than luma",
    )
    cmp_.add_argument(
        "--perceptual",
        action="store_true",
        help="score beyond PSNR too: NIQE (no reference needed), the radial power spectrum's "
        "error against the reference (dB) and the data consistency of each output with the "
        "input (RMS of input minus output downscaled again, intensity units)",
    )
    cmp_.set_defaults(run=run_compare)


def run_upscale(args: argparse.Namespace) -> int:
    from ..engine.method_table import (
        default_method,
        default_roles,
        noise_note,
        requested_role,
    )
    from ..engine.methods import resolve_method
    from ..engine.upscaler import upscale
    from ..geometry import check_scale

    # cheap checks first, so that mistakes are reported before minutes of work
    scale = check_scale(args.scale)
    method = resolve_method(args.method, scale)  # a model file is read here, once
    options = {}
    if method.learned:
        options = {"device": args.device, "tile": args.tile, "precision": args.precision,
                   "self_ensemble": args.self_ensemble}  # fmt: skip
    elif args.tile is not None or args.precision is not None or args.self_ensemble:
        raise ValueError(
            "--tile, --precision and --self-ensemble apply to learned models; "
            f"{method.name} is an interpolation - drop them or give a model file"
        )
    sampling = _sampling_options(args, method)
    blockwise = blockwise_options(args)
    if blockwise is not None and sampling:
        raise ValueError(
            "diffusion sampling runs on images in memory: write OUT as a TIFF (or another "
            "single file), not an OME-Zarr store"
        )
    spread_path = sibling(args.output, "std") if args.uncertainty else None
    check_output(args, spread_path)
    image = read_input(args)
    # a default role is passed as such: upscale picks its weights by the image's noise and dtype
    run = args.method if requested_role(args.method) else method
    if blockwise is not None:
        with running(args, "blocks") as (bar, stop):
            try:
                result = upscale(image, scale, method=run, dtype=args.dtype, progress=bar,
                                 cancel=stop, **options, **blockwise)  # fmt: skip
            except (KeyboardInterrupt, Cancelled) as exc:
                raise resume_hint(exc, args.output) from None
    else:
        if not isinstance(image.data, np.ndarray):  # read lazily: the result is held whole
            sizes = zip(image.axes, image.shape, strict=True)
            shape = [math.ceil(n * scale) if a in "YX" else n for a, n in sizes]
            check_result_fits(args, shape, args.dtype or image.dtype)
        with showing_progress(args, "tiles" if method.learned else "planes") as bar:
            result = upscale(image, scale, method=run, dtype=args.dtype, progress=bar,
                             **options, **sampling)  # fmt: skip
    spread = None
    if args.uncertainty:
        result, spread = result.image, result.std
    kind = None if args.method is None else args.method.strip().lower()
    if kind is None:
        default = default_method(scale)
        note = f"the default at x{scale:g}" if default.fallback else default.note
    elif kind in default_roles():
        note = f"{kind} default"
    else:
        note = None
    chosen = result.metadata["provenance"].get("default")
    if chosen is not None:
        note += f", {noise_note(chosen)}"
    ran = result.metadata["provenance"]["method"]  # what ran, as recorded in the file
    said = f" with {ran}" + (f" ({note})" if note else "")
    if blockwise is not None:  # written already, block by block
        print(
            f"wrote {args.output}{said}: shape {result.shape}, {result.dtype}, axes "
            f"{result.axes}, pixel size {result.describe_pixel_size()}"
        )
        return 0
    if spread is None:
        return write_result(args, result, said)
    return _write_with_spread(args, result, spread, spread_path, said)


def sibling(path: str, tag: str) -> str:
    """The file beside ``path`` named ``STEM.TAG.EXT`` (``out.ome.tif`` → ``out.std.ome.tif``)."""
    from pathlib import Path

    where = Path(path)
    name = where.name
    for ending in (".ome.tiff", ".ome.tif", ".ome.zarr", *where.suffixes[-1:]):
        if name.lower().endswith(ending):
            return str(where.with_name(f"{name[: -len(ending)]}.{tag}{name[-len(ending) :]}"))
    return str(where.with_name(f"{name}.{tag}"))


def _sampling_options(args: argparse.Namespace, method) -> dict:
    """The diffusion keywords of ``upscale``; an error where they are given for another
    method."""
    given = [flag for flag, on in (
        ("--samples", args.samples is not None), ("--steps", args.steps is not None),
        ("--seed", args.seed != 0), ("--estimate", args.estimate != "mean"),
        ("--uncertainty", args.uncertainty),
    ) if on]  # fmt: skip
    if not getattr(method, "sampled", False):
        if given:
            raise ValueError(
                f"{', '.join(given)} apply to diffusion models; {method.name} is not one - "
                "drop them or give --method diffusion"
            )
        return {}
    return {"samples": args.samples, "steps": args.steps, "seed": args.seed,
            "estimate": args.estimate, "uncertainty": args.uncertainty}  # fmt: skip


def _write_with_spread(args, result, spread, spread_path: str, said: str) -> int:
    """Write OUT and its standard deviation beside it: both, or (on a failure) neither."""
    from pathlib import Path

    from ..io import write
    from ._running import compression_option

    compression = compression_option(args)
    written = write(spread_path, spread, overwrite=args.overwrite, **compression)
    try:
        write_result(args, result, said)
    except BaseException:
        Path(written).unlink(missing_ok=True)
        raise
    print(f"wrote {written}: the standard deviation over the samples, {spread.dtype}")
    return 0


def run_degrade(args: argparse.Namespace) -> int:
    from ..degradation import degrade
    from ..geometry import check_scale

    scale = check_scale(args.scale)
    along = args.along.upper()
    psf = parse_key_values(args.psf, "--psf", PSF_KEYS)
    noise = parse_noise(args.noise)
    check_output(args)
    image = read_input(args)
    spatial = [a for a in image.axes if a in "ZYX"]
    if not along or any(a not in spatial for a in along) or len(set(along)) < len(along):
        raise ValueError(
            f"--along {args.along} must name spatial axes of {args.input}, whose axes are "
            f"{image.axes}; use letters of {''.join(spatial)}, e.g. --along YX"
        )
    if psf is not None and "pixel_size" not in psf and not image.pixel_size:
        raise ValueError(
            f"--psf needs the pixel size, and {args.input} does not record one; add it to "
            "--psf, e.g. --psf na=1.4,wavelength=0.52,pixel_size=0.1 (µm)"
        )
    result = degrade(
        image,
        dict.fromkeys(along, scale),
        kernel=args.kernel,
        blur=args.blur,
        psf=psf,
        noise=noise,
        seed=args.seed,
    )
    if not isinstance(result.data, np.ndarray):  # read lazily: OME-Zarr is written by blocks
        from ..io import output_format

        if output_format(args.output) != "OME-Zarr":
            check_result_fits(args, result.shape, result.dtype)
    return write_result(args, result)


def run_compare(args: argparse.Namespace) -> int:
    from ..evaluation import compare_low_resolution, compare_methods
    from ..metrics import describe_range, metric_labels, scoring_range
    from ..resample import INTERPOLATION_METHODS

    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    else:  # every interpolation, then the bundled defaults that work at this scale
        from ..engine.method_table import default_for, default_roles

        learned = [r for r in reversed(default_roles()) if default_for(r, args.scale)]
        methods = [*INTERPOLATION_METHODS, *learned]
    check_output(args, args.csv)
    image = read_input(args)
    reference = None
    if args.reference:
        reference = read_input(args, args.reference)
        if reference.axes != image.axes:
            raise ValueError(
                f"{args.reference} has axes {reference.axes} but {args.input} has "
                f"{image.axes}; give files with the same axes (or --axes)"
            )
    low_res = bool(args.low_res or args.reference)
    data_range = args.data_range
    if data_range is None:  # 255 for 8-bit, else the reference's span
        data_range = scoring_range(reference.data if low_res and reference else image.data)
    options = {"axes": image.axes, "data_range": data_range, "y_channel": args.y_channel,
               "perceptual": args.perceptual}  # fmt: skip
    scoring = f"with {describe_range(data_range, given=args.data_range is not None)}"
    if image.axes.endswith("C"):
        scoring = ("on Y (BT.601) " if args.y_channel else "on all channels ") + scoring
    if low_res:
        result = compare_low_resolution(
            image.data, args.scale, methods,
            reference=None if reference is None else reference.data, **options,
        )  # fmt: skip
        against = (
            f"{metric_labels()} against {args.reference} {scoring}, {result.crop_border}-pixel "
            "border removed" if reference is not None else "no reference, times only"
        )  # fmt: skip
        print(f"{args.input}: x{result.scale:g} of the image as it is; {against}")
    else:
        result = compare_methods(image.data, args.scale, methods, **options)
        print(
            f"{args.input}: x{result.scale:g}, MATLAB-bicubic degradation; {metric_labels()} "
            f"{scoring}, {result.crop_border}-pixel border removed"
        )
    print(result.table())
    if args.csv:
        result.write_csv(args.csv, overwrite=args.overwrite)
        print(f"wrote {args.csv}")
    return 0
