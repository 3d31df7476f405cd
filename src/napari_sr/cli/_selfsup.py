"""The self-supervised commands of ``napari-sr``: ``isotropic`` and ``zssr``.

Both train a network on the input itself, so they run for minutes: a progress bar is drawn
on stderr, the first Ctrl-C stops at the next step (nothing is written), and the output is
written atomically at the end.
"""

from __future__ import annotations

import argparse
from functools import cache

import numpy as np

from . import _parsers as shared
from ._recipe import add_recipe_options, recipe_values
from ._running import (
    blockwise_options,
    check_output,
    check_result_fits,
    read_input,
    resume_hint,
    running,
    write_result,
)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add the ``isotropic`` and ``zssr`` subcommands; their options that set a field of
    the method's recipe (:mod:`napari_sr.selfsup.config`) are made from those fields
    (:mod:`._recipe`)."""
    from ..selfsup.config import DEFAULT_MODEL, IsotropicConfig, ZSSRConfig

    iso = commands.add_parser(
        "isotropic",
        help="restore z of an anisotropic stack, trained on its own lateral planes",
        description="Isotropic reconstruction (CARE; Weigert et al. 2018): a network learns "
        "from the lateral planes of IN how z was blurred and sampled, then restores the xz "
        "and yz planes of IN interpolated to the lateral sampling. OUT (OME-TIFF, or "
        "OME-Zarr written block by block for stacks larger than memory) has isotropic "
        "voxels; plane k of IN is plane k x FACTOR of OUT.",
    )
    iso.add_argument("input", metavar="IN", help="a stack with z, e.g. ZYX, CZYX, TZYX")
    iso.inherit(shared.output("output file, .ome.tif, or an .ome.zarr store"))
    iso.add_argument(
        "--factor",
        type=float,
        default=None,
        help="z step / lateral pixel size (default: from the file's pixel sizes)",
    )
    iso.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="architecture to train (care_unet, zssr_net), or a model file from "
        "--save-model to reuse on a stack of the same microscope",
    )
    iso.add_argument(
        "--save-model",
        default=None,
        metavar="FILE",
        help="also write the trained model (.safetensors; single-channel stacks)",
    )
    iso.set_defaults(recipe=add_recipe_options(iso, IsotropicConfig), recipe_class=IsotropicConfig)
    iso.inherit(_run_options_parent(), shared.large())
    iso.set_defaults(run=run_isotropic)

    zs = commands.add_parser(
        "zssr",
        help="zero-shot SR: upscale an image with a network trained on it alone",
        description="ZSSR (Shocher et al. 2018): the image and its downscaled copies teach "
        "a network how it would look SCALE times finer; factors above 2 go in x2 steps. "
        "Give the blur that made IN (--blur, --kernel) when it is not MATLAB bicubic; "
        "--kernel also takes a 2D blur kernel file (.npy, .tif; odd sides, fine pixels).",
    )
    zs.add_argument("input", metavar="IN", help="2D image (gray or RGB) or a stack of planes")
    zs.inherit(shared.output())
    zs.inherit(shared.scale("SR factor, > 1"))
    zs.set_defaults(recipe=add_recipe_options(zs, ZSSRConfig), recipe_class=ZSSRConfig)
    zs.inherit(_run_options_parent())
    zs.set_defaults(run=run_zssr)


@cache
def _run_options_parent() -> shared.Parser:
    """The options ``isotropic`` and ``zssr`` share besides their recipes: where the
    network runs, the prediction's tiles, and the input and output."""
    parent = shared.parent_parser()
    parent.inherit(shared.device())
    parent.add_argument("--tile", type=int, default=None, help="tile edge for prediction")
    parent.inherit(shared.axes(), shared.overwrite(), shared.progress(), shared.compression())
    return parent


def _training_options(args: argparse.Namespace) -> dict:
    """The recipe's fields given (the API owns the defaults)."""
    return recipe_values(args, args.recipe_class, args.recipe)


def run_isotropic(args: argparse.Namespace) -> int:
    from ..selfsup.isotropic import reconstruct
    from ..utils.progress import Cancelled

    blockwise = blockwise_options(args)
    check_output(args, args.save_model)
    image = read_input(args)
    if args.save_model:
        _check_one_network_to_save(args, image)
    # psf, fuse and the training options are the recipe's (IsotropicConfig)
    options = {"device": args.device, "tile": args.tile, **_training_options(args),
               **(blockwise or {})}  # fmt: skip
    if blockwise is None and not isinstance(image.data, np.ndarray):  # read lazily
        check_result_fits(args, _isotropic_shape(image, args.factor), image.dtype)
    with running(args, None) as (bar, stop):  # steps, then tiles: mixed units
        try:
            done = reconstruct(image, args.factor, model=args.model, progress=bar, cancel=stop,
                               **options)  # fmt: skip
        except (KeyboardInterrupt, Cancelled) as exc:
            if blockwise is None:
                raise
            raise resume_hint(exc, args.output) from None
    if args.save_model:  # the network trained on IN, kept to reuse
        from ..models.checkpoint import save_model

        if not done.models:
            raise ValueError(
                f"{args.output} was finished by an earlier run, whose network was not kept; "
                "drop --save-model, or run again with --overwrite"
            )
        save_model(done.models[0], args.save_model, overwrite=args.overwrite)
    result = done.image
    if blockwise is not None:  # written already, block by block
        print(
            f"wrote {args.output}: shape {result.shape}, {result.dtype}, axes {result.axes}, "
            f"pixel size {result.describe_pixel_size()}"
        )
        return 0
    return write_result(args, result)


def _isotropic_shape(image, factor: float | None) -> list[int]:
    """The shape of IN's isotropic reconstruction (for the memory check of a result
    written whole)."""
    from ..resample import point_grid
    from ..selfsup.isotropic import anisotropy

    z = image.axes.index("Z") if "Z" in image.axes else None
    if z is None:
        return list(image.shape)
    factor = factor if factor is not None else anisotropy(image)
    shape = list(image.shape)
    shape[z] = len(point_grid(shape[z], factor))
    return shape


def _check_one_network_to_save(args: argparse.Namespace, image) -> None:
    """Before any work: ``--save-model`` saves the one network trained on IN."""
    from ..models.checkpoint import PICKLE_SUFFIXES, SAFETENSORS_SUFFIXES

    if args.model.lower().endswith(SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES):
        raise ValueError(
            f"--save-model saves the network trained on {args.input}, but --model "
            f"{args.model} is trained already and restores without training; drop one"
        )
    channels = image.shape[image.axes.index("C")] if "C" in image.axes else 1
    if channels > 1:
        raise ValueError(
            f"--save-model saves one network, but {args.input} has {channels} "
            "channels (one network each); pick a channel first"
        )


def run_zssr(args: argparse.Namespace) -> int:
    from ..selfsup.zssr import zssr

    check_output(args)
    options = _training_options(args)
    if args.blur is not None and args.kernel is not None:
        raise ValueError("give --blur or --kernel, not both")
    if args.kernel is not None and args.kernel.lower().endswith((".npy", ".tif", ".tiff")):
        options["kernel"] = _read_kernel(args.kernel)
    image = read_input(args)
    with running(args, None) as (bar, stop):  # steps, then tiles: mixed units
        result = zssr(
            image, args.scale, device=args.device, tile=args.tile, progress=bar, cancel=stop,
            **options,
        )  # fmt: skip
    return write_result(args, result)


def _read_kernel(path: str):
    import numpy as np

    if path.lower().endswith(".npy"):
        return np.load(path, allow_pickle=False)
    from ..io import read

    return read(path).data
