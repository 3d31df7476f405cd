"""The ``train`` command of ``napari-sr``: train a model on high-resolution images, with
low-resolution inputs synthesised by the degradation model, and write a model file."""

from __future__ import annotations

import argparse
import sys

from . import _parsers as shared
from ._output import print_over, without_prefix
from ._parsers import given, parse_noise
from ._recipe import add_recipe_options, recipe_values
from ._running import interrupted_status, running


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand; its options that set a field of the training recipe
    (:class:`~napari_sr.training.config.TrainConfig`) are made from those fields
    (:mod:`._recipe`)."""
    from ..training.config import TrainConfig

    tr = commands.add_parser(
        "train",
        help="train an SR model on high-resolution images",
        description="Train MODEL on the high-resolution IMAGES: low-resolution inputs are "
        "synthesised from them (MATLAB-bicubic downscaling by SCALE, plus --blur and "
        "--noise). OUT (.safetensors) is written every --checkpoint-every steps and at the "
        "end, with the best validation weights; OUT's .resume.safetensors sibling lets "
        "--resume continue an interrupted run exactly. Ctrl-C saves a checkpoint and stops.",
    )
    tr.add_argument(
        "model",
        metavar="MODEL",
        help="architecture name (e.g. fsrcnn, edsr_baseline), or a .safetensors model file "
        "to fine-tune",
    )
    tr.add_argument(
        "images", metavar="IMAGES", nargs="+", help="high-resolution image files or folders"
    )
    # architecture: MODEL; degradation: --kernel, --blur and --noise below
    recipe = add_recipe_options(tr, TrainConfig, skip=("degradation",), aliases={"scale": ["-s"]})
    tr.set_defaults(recipe=recipe)
    tr.add_argument("--out", "-o", required=True, help="model file to write, .safetensors")
    tr.add_argument(
        "--validation",
        nargs="+",
        action="extend",
        default=None,
        metavar="IMAGE",
        help="held-out high-resolution images or folders for validation PSNR/SSIM",
    )
    tr.add_argument(
        "--kernel", default=None, help="downscaling kernel of the degradation (bicubic)"
    )
    tr.inherit(shared.blur(), shared.noise())
    tr.add_argument(
        "--random-degradation",
        default=None,
        metavar="JSON",
        help="draw a microscope degradation afresh for every patch, from ranges given as a "
        "JSON object of DegradationRange fields, e.g. "
        '\'{"blur": [0.5, 2], "peak": [20, 1000], "clean": 0.2}\' '
        "(instead of --kernel, --blur and --noise)",
    )
    tr.add_argument(
        "--photo-degradation",
        default=None,
        metavar="JSON",
        help="draw Real-ESRGAN's second-order degradation of photographs (blur, resize, "
        "noise, JPEG, twice) for every patch: '{}' for its published ranges, or a JSON "
        "object of PhotoDegradationRange fields to change, e.g. '{\"jpeg\": [60, 95]}' "
        "(instead of --kernel, --blur, --noise and --random-degradation)",
    )
    tr.inherit(shared.device("auto (default), cpu, cuda, cuda:N, mps"))
    tr.add_argument(
        "--resume", action="store_true", help="continue the run saved at OUT (same options)"
    )
    tr.inherit(shared.overwrite(), shared.progress())
    tr.set_defaults(run=run_train)


def parse_json_object(text: str, option: str) -> dict:
    """``text`` as a JSON object, or a ValueError naming ``option`` and the form it takes."""
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{option} takes a JSON object such as '{{\"blur\": [0.5, 2]}}', not {text!r} "
            f"({err.msg})"
        ) from None
    if not isinstance(value, dict):
        raise ValueError(
            f"{option} takes a JSON object such as '{{\"blur\": [0.5, 2]}}', not {text!r}"
        )
    return value


def run_train(args: argparse.Namespace) -> int:
    from ..training.config import TrainConfig
    from ..training.log import format_record
    from ..utils.progress import Cancelled

    degradation = given(args, "kernel", "blur", noise=parse_noise(args.noise))
    for kind, text in (("random", args.random_degradation), ("photo", args.photo_degradation)):
        if text is None:
            continue
        option = f"--{kind}-degradation"
        if degradation:
            others = ("--kernel, --blur and --noise" if kind == "random"
                      else "--kernel, --blur, --noise and --random-degradation")  # fmt: skip
            raise ValueError(
                f"{option} draws the blur, noise and kernel itself; drop {others}, or give "
                "their ranges inside the JSON"
            )
        degradation = {kind: parse_json_object(text, option)}
    options = recipe_values(args, TrainConfig, args.recipe)  # train() owns the defaults
    if degradation:
        options["degradation"] = degradation
    from ..engine.method_table import is_model_file
    from ..models.checkpoint import load_model
    from ..training.loop import train

    model = args.model  # an architecture's name, or a model file to fine-tune
    if is_model_file(model):
        model = load_model(model)

    try:
        with running(args, "steps") as (bar, stop):

            def log(record: dict) -> None:
                print_over(bar, format_record(record))

            result = train(
                model,
                args.images,
                validation=args.validation,
                checkpoint=args.out,
                resume=args.resume,
                overwrite=args.overwrite,
                device=args.device,
                progress=bar,
                log=log,
                cancel=stop,
                **options,
            )
    except Cancelled as exc:  # the checkpoint was saved: say where, exit 130 (143: SIGTERM)
        print(f"napari-sr: {without_prefix(exc)}", file=sys.stderr)
        return interrupted_status()
    report = result.training_report
    summary = (
        f"wrote {args.out}: {result.spec.name} x{result.scale}, {report['steps_done']} steps "
        f"({report['stopped']}) in {report['seconds']:.1f} s"
    )
    validation, bicubic = report.get("validation"), report.get("bicubic")
    if validation:
        latest = ", the latest" if validation.get("kept") == "latest" else ""
        summary += (
            f"; validation PSNR {validation['psnr']:.2f} dB, SSIM {validation['ssim']:.4f} "
            f"(step {validation['step']}{latest})"
        )
        if validation.get("niqe") is not None:
            summary += f", NIQE {validation['niqe']:.2f}"
        if bicubic:
            summary += f"; bicubic {bicubic['psnr']:.2f} dB, {bicubic['ssim']:.4f}"
            if bicubic.get("niqe") is not None:
                summary += f", NIQE {bicubic['niqe']:.2f}"
    elif report.get("final_loss") is not None:
        summary += f"; final loss {report['final_loss']:.5f}"
    print(summary)
    return 0
