"""The commands of ``napari-sr`` that show what there is and write nothing: ``info`` (what
napari-sr reads from a file), ``samples`` (the bundled sample images) and ``models`` (the
bundled weights and the architectures)."""

from __future__ import annotations

import argparse
import json
import math
import textwrap


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add the ``info``, ``samples`` and ``models`` subcommands."""
    info = commands.add_parser(
        "info",
        help="show shape, dtype, axes and pixel sizes of an image file",
        description="Show what napari-sr reads from FILE: shape, dtype, axes, pixel sizes.",
    )
    info.add_argument("file", metavar="FILE")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=run_info)

    samples = commands.add_parser(
        "samples",
        help="list the bundled sample images and where they are",
        description="List the sample images bundled with napari-sr, with their paths.",
    )
    samples.set_defaults(run=run_samples)

    models = commands.add_parser(
        "models",
        help="list the bundled pretrained weights and the architectures",
        description="List the pretrained weights bundled with napari-sr (usable as "
        "--method NAME; 'quality' and 'fast' pick the defaults for the scale) and the "
        "registered architectures (train them with 'napari-sr train').",
    )
    models.add_argument("--card", metavar="NAME", help="print the model card of NAME")
    models.set_defaults(run=run_models)


def run_info(args: argparse.Namespace) -> int:
    from ..io import read

    image = read(args.file)
    record = {
        "file": args.file,
        "format": image.metadata.get("format"),
        "shape": list(image.shape),
        "dtype": image.dtype.name,
        "axes": image.axes,
        "pixel_size": image.pixel_size,
        "unit": image.unit,
        "min": _json_number(image.data.min().item()),
        "max": _json_number(image.data.max().item()),
    }
    if "provenance" in image.metadata:
        record["provenance"] = image.metadata["provenance"]
    if "note" in image.metadata:
        record["note"] = image.metadata["note"]
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
        return 0
    rows = [
        ("file", args.file),
        ("format", record["format"]),
        ("shape", " x ".join(map(str, image.shape))),
        ("dtype", record["dtype"]),
        ("axes", image.axes),
        ("pixel size", image.describe_pixel_size()),
        ("range", f"{record['min']} .. {record['max']}"),
    ]
    if "provenance" in record:
        rows.append(("provenance", json.dumps(record["provenance"], ensure_ascii=False)))
    if "note" in record:
        rows.append(("note", record["note"]))
    for key, value in rows:
        print(f"{key:<11} {value}")
    return 0


def run_samples(args: argparse.Namespace) -> int:
    from ..samples import SAMPLES, sample_path

    for sample in SAMPLES:
        print(f"{sample.name:<22} {sample_path(sample.name)}")
        print(f"{'':<22} {sample.description}")
        if sample.ground_truth:
            print(f"{'':<22} ground truth: {sample_path(sample.name, ground_truth=True)}")
    return 0


def run_models(args: argparse.Namespace) -> int:
    from ..engine.method_table import list_methods, single_image_weights
    from ..models.bundled import bundled_models, model_card
    from ..models.registry import list_models

    if args.card is not None:
        print(model_card(args.card.strip().lower()), end="")
        return 0

    def show(names: list[str]) -> None:
        for name in names:
            title = model_card(name).splitlines()[0]
            print(f"  {name:<28} {title.partition(' — ')[2]}")

    single = single_image_weights()
    print("bundled single-image weights (upscale --method NAME; --card NAME: how each was "
          "made and scored):")  # fmt: skip
    show(single)
    for default in (m for m in list_methods() if m.kind == "default"):
        print(f"  --method {default.description}")
    print("bundled fusion networks (misr --method learned):")
    show([name for name in bundled_models() if name not in single])
    print("architectures (napari-sr train ARCH ...):")
    print(textwrap.fill(", ".join(list_models()), initial_indent="  ", subsequent_indent="  "))
    return 0


def _json_number(value: float) -> float | str:
    """Numbers as JSON allows them: NaN and infinities become strings."""
    return value if math.isfinite(value) else str(value)
