"""The self-supervised commands of ``napari-sr``: ``isotropic`` and ``zssr``.

Both train a network on the input itself, so they run for minutes: a progress bar is drawn
on stderr, the first Ctrl-C stops at the next step (nothing is written), and the output is
written atomically at the end.
"""

from __future__ import annotations

import argparse
from functools import cache

from . import _parsers as shared
from ._parsers import given, parse_hparams
from ._running import check_output, read_input, running, write_result


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add the ``isotropic`` and ``zssr`` subcommands."""
    iso = commands.add_parser(
        "isotropic",
        help="restore z of an anisotropic stack, trained on its own lateral planes",
        description="Isotropic reconstruction (CARE; Weigert et al. 2018): a network learns "
        "from the lateral planes of IN how z was blurred and sampled, then restores the xz "
        "and yz planes of IN interpolated to the lateral sampling. OUT (OME-TIFF) has "
        "isotropic voxels; plane k of IN is plane k x FACTOR of OUT.",
    )
    iso.add_argument("input", metavar="IN", help="a stack with z, e.g. ZYX, CZYX, TZYX")
    iso.inherit(shared.output("output file, .ome.tif"))
    iso.add_argument(
        "--factor",
        type=float,
        default=None,
        help="z step / lateral pixel size (default: from the file's pixel sizes)",
    )
    iso.add_argument(
        "--psf",
        type=float,
        default=None,
        metavar="SIGMA",
        help="Gaussian sigma of the extra axial blur, lateral pixels (default: FWHM = factor)",
    )
    iso.add_argument("--steps", type=int, default=None, help="training steps (default 1000)")
    iso.add_argument(
        "--model",
        default="care_unet",
        help="architecture to train (care_unet, zssr_net), or a model file from "
        "--save-model to reuse on a stack of the same microscope",
    )
    iso.add_argument(
        "--save-model",
        default=None,
        metavar="FILE",
        help="also write the trained model (.safetensors; single-channel stacks)",
    )
    iso.add_argument("--fuse", choices=["mean", "geometric"], default="mean", help="xz/yz fusion")
    iso.inherit(_training_options_parent())
    iso.set_defaults(run=run_isotropic)

    zs = commands.add_parser(
        "zssr",
        help="zero-shot SR: upscale an image with a network trained on it alone",
        description="ZSSR (Shocher et al. 2018): the image and its downscaled copies teach "
        "a network how it would look SCALE times finer; factors above 2 go in x2 steps. "
        "Give the blur that made IN (--blur, --kernel) when it is not MATLAB bicubic.",
    )
    zs.add_argument("input", metavar="IN", help="2D image (gray or RGB) or a stack of planes")
    zs.inherit(shared.output())
    zs.inherit(shared.scale("SR factor, > 1"))
    zs.add_argument(
        "--kernel",
        default="bicubic",
        help="downscaling kernel: an interpolation name (default bicubic), or a 2D blur "
        "kernel file (.npy, .tif; odd sides, fine pixels) followed by decimation",
    )
    zs.add_argument(
        "--blur",
        type=float,
        default=None,
        metavar="SIGMA",
        help="instead of --kernel: a Gaussian blur of SIGMA fine pixels, then decimation",
    )
    zs.add_argument("--steps", type=int, default=None, help="training steps per x2 stage")
    zs.add_argument(
        "--no-gradual", dest="gradual", action="store_false", help="one stage, no x2 steps"
    )
    zs.add_argument(
        "--no-self-ensemble", dest="self_ensemble", action="store_false",
        help="skip the 8 flips and rotations (8x faster prediction)",
    )  # fmt: skip
    zs.add_argument(
        "--no-back-projection", dest="back_projection", action="store_false",
        help="skip making the result consistent with IN",
    )  # fmt: skip
    zs.inherit(_training_options_parent())
    zs.set_defaults(run=run_zssr)


@cache
def _training_options_parent() -> shared.Parser:
    """The options ``isotropic`` and ``zssr`` share: training, prediction and output."""
    parent = shared.parent_parser()
    parent.add_argument("--patch-size", type=int, default=None, help="training patch side")
    parent.add_argument("--batch-size", type=int, default=None, help="patches per step")
    parent.add_argument("--lr", type=float, default=None, help="peak learning rate")
    parent.inherit(shared.hparams("n_first=32,kernel_size=5"), shared.seed(), shared.device())
    parent.add_argument("--tile", type=int, default=None, help="tile edge for prediction")
    parent.inherit(shared.axes(), shared.overwrite(), shared.progress(), shared.compression())
    return parent


def _training_options(args: argparse.Namespace) -> dict:
    """The training keywords given (the API owns the defaults)."""
    return given(
        args, "steps", "patch_size", "batch_size", "lr", "seed",
        hparams=parse_hparams(args.hparams),
    )  # fmt: skip


def run_isotropic(args: argparse.Namespace) -> int:
    from ..selfsup.isotropic import isotropic, train_isotropic

    check_output(args, args.save_model)
    image = read_input(args)
    options = _training_options(args)
    common = {"psf": args.psf, "device": args.device}
    with running(args, None) as (bar, stop):  # steps, then tiles: mixed units
        model = args.model
        if args.save_model:
            from ..models.checkpoint import save_model
            from ..utils.progress import Stages

            channels = image.shape[image.axes.index("C")] if "C" in image.axes else 1
            if channels > 1:
                raise ValueError(
                    f"--save-model saves one network, but {args.input} has {channels} "
                    "channels (one network each); pick a channel first"
                )
            steps = options.get("steps", 1000)
            stages = Stages(bar, steps + sum(image.shape[image.axes.index(a)] for a in "YX"))
            model = train_isotropic(
                image, args.factor, model=args.model, progress=stages.part(), cancel=stop,
                **common, **options,
            )  # fmt: skip
            stages.advance(steps)
            save_model(model, args.save_model, overwrite=args.overwrite)
            bar = stages.part()
        result = isotropic(
            image, args.factor, model=model, fuse=args.fuse, tile=args.tile, progress=bar,
            cancel=stop, **common, **({} if args.save_model else options),
        )  # fmt: skip
    return write_result(args, result)


def run_zssr(args: argparse.Namespace) -> int:
    from ..selfsup.zssr import gaussian_kernel, zssr

    check_output(args)
    kernel = args.kernel
    if args.blur is not None:
        if args.kernel != "bicubic":
            raise ValueError("give --blur or --kernel, not both")
        kernel = gaussian_kernel(args.blur)
    elif kernel.lower().endswith((".npy", ".tif", ".tiff")):
        kernel = _read_kernel(kernel)
    image = read_input(args)
    options = _training_options(args)
    with running(args, None) as (bar, stop):  # steps, then tiles: mixed units
        result = zssr(
            image, args.scale, kernel=kernel, gradual=args.gradual,
            self_ensemble=args.self_ensemble, back_projection=args.back_projection,
            device=args.device, tile=args.tile, progress=bar, cancel=stop, **options,
        )  # fmt: skip
    return write_result(args, result)


def _read_kernel(path: str):
    import numpy as np

    if path.lower().endswith(".npy"):
        return np.load(path, allow_pickle=False)
    from ..io import read

    return read(path).data
