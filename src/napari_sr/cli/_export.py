"""``napari-sr export`` and ``export-bmz``: a network as ONNX or TorchScript, or as a
BioImage Model Zoo package, for other tools."""

from __future__ import annotations

import argparse

from ._parsers import overwrite


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    export = commands.add_parser(
        "export",
        parents=[overwrite()],
        help="write a model as ONNX (.onnx) or TorchScript (.pt)",
        description="Write MODEL (bundled weights by name, or a model file) as ONNX "
        "(OUT.onnx) or TorchScript (OUT.pt): the network alone on normalised float32 "
        "input (N, C, H, W), any height and width, the model's record inside the file. "
        "The file is read back and checked against PyTorch before it is put in place.",
    )
    export.add_argument("model", metavar="MODEL", help="bundled weights name or model file")
    export.add_argument("out", metavar="OUT", help="OUT.onnx or OUT.pt")
    export.add_argument(
        "--frames", type=int, metavar="K", help="fusion networks: the number of frames"
    )
    export.set_defaults(run=run_export)

    bmz = commands.add_parser(
        "export-bmz",
        parents=[overwrite()],
        help="write a model as a BioImage Model Zoo package (.zip)",
        description="Write MODEL (bundled weights by name, or a model file) as a BioImage "
        "Model Zoo package (format 0.5): TorchScript and ONNX weights, test input and "
        "output, cover, the model card, citation, and pre- and post-processing that "
        "normalise as napari-sr does. Needs the bmz extra (pip install 'napari-sr[bmz]').",
    )
    bmz.add_argument("model", metavar="MODEL", help="bundled weights name or model file")
    bmz.add_argument("out", metavar="OUT", help="OUT.zip")
    bmz.add_argument("--license", help="SPDX licence of the weights (bundled: BSD-3-Clause)")
    bmz.add_argument("--author", action="append", metavar="NAME", help="an author (repeat)")
    bmz.add_argument("--name", help="the package's name (default: from MODEL)")
    bmz.add_argument(
        "--image", metavar="FILE", help="2D image whose centre is the test input and cover"
    )
    bmz.set_defaults(run=run_export_bmz)


def run_export(args: argparse.Namespace) -> int:
    from ..models.export import export_model

    path = export_model(args.model, args.out, frames=args.frames, overwrite=args.overwrite)
    print(f"wrote {path}")
    return 0


def run_export_bmz(args: argparse.Namespace) -> int:
    from ..models.bmz import export_bmz

    image = None
    if args.image is not None:
        from ..io import read

        image = read(args.image).data
    path = export_bmz(args.model, args.out, image=image, name=args.name, authors=args.author,
                      license=args.license, overwrite=args.overwrite)  # fmt: skip
    print(f"wrote {path}")
    return 0
