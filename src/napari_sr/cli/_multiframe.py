"""The multi-frame command of ``napari-sr``: ``misr`` (fuse the frames of a stack)."""

from __future__ import annotations

import argparse

from . import _parsers as shared
from ._running import check_output, read_input, running, write_result


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add the ``misr`` subcommand."""
    from ..multiframe.fusion import DEFAULT_FUSION, DEFAULT_ITERATIONS, fusion_help, fusion_names

    mi = commands.add_parser(
        "misr",
        help="fuse the frames of a stack (T) into one image SCALE times finer",
        description="Multi-image SR: the frames of IN (its T axis) are registered to sub-pixel "
        "precision, frames that do not match are left out, and the rest are fused on a grid "
        "SCALE times finer. OUT lies on the reference frame's grid.",
    )
    mi.add_argument("input", metavar="IN", help="frames of one scene: TYX, TZYX, ...")
    mi.inherit(shared.output())
    mi.inherit(shared.scale("whole SR factor, >= 2", int))
    mi.add_argument(
        "--method", "-m", choices=fusion_names(), default=DEFAULT_FUSION, metavar="METHOD",
        help=f"fusion ({fusion_help()})",
    )  # fmt: skip
    mi.add_argument(
        "--psf", type=float, default=0.0, metavar="SIGMA",
        help="Gaussian sigma of the optics, output pixels, to deblur (default 0)",
    )  # fmt: skip
    mi.add_argument(
        "--reference", default="0",
        help="frame index whose grid OUT lies on (default 0), or 'median'",
    )  # fmt: skip
    mi.add_argument(
        "--iterations", type=int, default=None, help=f"for {' and '.join(DEFAULT_ITERATIONS)}"
    )
    mi.add_argument(
        "--keep-outliers", action="store_true", help="fuse frames flagged as not matching too"
    )
    mi.add_argument(
        "--no-guard", dest="guard", action="store_false",
        help="a fusion network's correction as it is, not checked against held-out frames",
    )  # fmt: skip
    mi.inherit(
        shared.axes("axes of IN with T for the frames"),
        shared.overwrite(),
        shared.progress(),
        shared.compression(),
    )
    mi.set_defaults(run=run_misr)


def run_misr(args: argparse.Namespace) -> int:
    from ..multiframe.misr import misr

    check_output(args)
    reference = args.reference if args.reference == "median" else _frame_index(args.reference)
    image = read_input(args)
    with running(args, None) as (bar, stop):  # registration, then fusion: mixed units
        result = misr(
            image, args.scale, method=args.method, reference=reference, psf=args.psf,
            iterations=args.iterations, keep_outliers=args.keep_outliers, guard=args.guard,
            progress=bar, cancel=stop,
        )  # fmt: skip
    record = result.metadata["provenance"]
    left_out = record["left_out"]
    note = f"; left out frames {left_out} (do not match)" if left_out else ""
    print(f"fused {record['frames']} frames with {args.method}{note}")
    return write_result(args, result)


def _frame_index(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"--reference takes a frame index or 'median', not {text!r}") from None
