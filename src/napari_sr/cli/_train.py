"""The ``train`` command of ``napari-sr``: train a model on high-resolution images, with
low-resolution inputs synthesised by the degradation model, and write a model file."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from . import _parsers as shared
from ._output import print_over, without_prefix
from ._parsers import given, parse_hparams, parse_noise
from ._running import interrupted_status, running


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand; the defaults its help shows are :class:`TrainConfig`'s."""
    from ..training.config import LOSS_NAMES, SCHEDULES, TrainConfig

    default = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
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
    tr.inherit(shared.scale("upscaling factor, >= 2", int))
    tr.add_argument("--steps", type=int, required=True, help="optimiser updates")
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
        "--validation-fraction",
        type=float,
        default=None,
        help="without --validation: fraction of rows held out at the bottom of every image",
    )
    tr.add_argument(
        "--batch-size", type=int, default=None, help=f"default {default['batch_size']}"
    )
    tr.add_argument(
        "--patch-size", type=int, default=None, help="HR patch side, pixels (default 48 x scale)"
    )
    tr.add_argument("--lr", type=float, default=None, help=f"Adam learning rate ({default['lr']})")
    tr.add_argument(
        "--loss",
        default=None,
        help=f"one of {', '.join(LOSS_NAMES)}, or weights such as l1=1,ssim=0.2 (default "
        f"{default['loss']})",
    )
    tr.add_argument("--schedule", choices=SCHEDULES, default=None, help="default cosine")
    tr.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps")
    tr.add_argument(
        "--validate-every",
        type=int,
        default=None,
        help=f"steps between validations (default {default['validate_every']})",
    )
    tr.add_argument(
        "--patience", type=int, default=None, help="stop after N validations without gain"
    )
    tr.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help=f"steps between checkpoints (default {default['checkpoint_every']})",
    )
    tr.add_argument(
        "--kernel", default=None, help="downscaling kernel of the degradation (bicubic)"
    )
    tr.inherit(shared.blur(), shared.noise())
    tr.add_argument(
        "--in-channels", type=int, default=None, help="3 for RGB images (default: guessed)"
    )
    tr.inherit(
        shared.hparams("d=32,s=5,m=1"),
        shared.seed(),
        shared.device("auto (default), cpu, cuda, cuda:N, mps"),
    )
    tr.add_argument(
        "--init",
        default=None,
        metavar="bundled|scratch|NAME",
        help="how MODEL starts: 'bundled', its bundled weights at SCALE (an error where "
        "there are none); 'scratch', random weights; or bundled weights by NAME (default: "
        "the bundled weights where they exist and fit, else scratch; the log says which)",
    )
    tr.add_argument(
        "--resume", action="store_true", help="continue the run saved at OUT (same options)"
    )
    tr.inherit(shared.overwrite(), shared.progress())
    tr.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    from ..training.log import format_record
    from ..utils.progress import Cancelled

    degradation = given(args, "kernel", "blur", noise=parse_noise(args.noise))
    options = given(
        args,
        "validation_fraction",
        "batch_size",
        "patch_size",
        "lr",
        "loss",
        "schedule",
        "warmup_steps",
        "validate_every",
        "patience",
        "checkpoint_every",
        "in_channels",
        "seed",
        "init",
        hparams=parse_hparams(args.hparams),
    )  # train() owns the defaults
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
                scale=args.scale,
                steps=args.steps,
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
        summary += (
            f"; validation PSNR {validation['psnr']:.2f} dB, SSIM {validation['ssim']:.4f} "
            f"(step {validation['step']})"
        )
        if bicubic:
            summary += f"; bicubic {bicubic['psnr']:.2f} dB, {bicubic['ssim']:.4f}"
    elif report.get("final_loss") is not None:
        summary += f"; final loss {report['final_loss']:.5f}"
    print(summary)
    return 0
