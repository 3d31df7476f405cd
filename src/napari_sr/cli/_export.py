"""``napari-sr export``: a network as ONNX or TorchScript, for other tools."""

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


def run_export(args: argparse.Namespace) -> int:
    from ..models.export import export_model

    path = export_model(args.model, args.out, frames=args.frames, overwrite=args.overwrite)
    print(f"wrote {path}")
    return 0
