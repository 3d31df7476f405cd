"""Train a single-image SR default on the 291-image set, on luma, as the papers did.

The 291 images (T91 + BSD200, ``../shared/data/sr291``) minus the held-out BSD200 images
(:func:`quality.held_out_bsd200`, every 20th: the validation set) are converted to the Y of
YCbCr (MATLAB ``rgb2ycbcr``, rounded to uint8, as VDSR/DRRN/LapSRN prepared them); the
training loop makes each low-resolution patch by MATLAB-bicubic downscaling rounded to
uint8 (the test protocol's input), in the fixed 0–255 range. The model file records
``"color": "luma"``, so that ``upscale`` runs it on the Y of RGB images (chroma bicubic)
and on grayscale images directly.

    python benchmarks/train_defaults.py fsrcnn --scale 2 --steps 20000 \\
        --out fsrcnn_x2.sr291.safetensors [--resume] [--start MODEL] [--device auto]
    python benchmarks/train_defaults.py fsrcnn --scale 4 --steps 8000 \\
        --init-from fsrcnn_x2.sr291.safetensors --out fsrcnn_x4.sr291.safetensors

``--adversarial`` trains against a discriminator (``--discriminator``,
``--discriminator-hparams features=32``, ``--gan-loss``, ``--adversarial-weight``,
``--ema-decay``), from ``--start`` (a PSNR-trained model, ESRGAN's warm start), with any
loss terms of the loop (``--loss l1=1,consistency=1,texture=...``): the perceptual model.

``--degradation '{"photo": {"protocol": 0.5}}'`` draws each training patch's degradation
(the training loop's ``degradation``; here Real-ESRGAN's photo chain on half the patches);
validation stays on the SR protocol's input.

``--teacher MODEL --teacher-weight W`` mixes a trained network's outputs into the targets
(output distillation, used for the fast default). ``--start`` goes on training a model
(same scale); ``--init-from`` starts a model of another
scale from one's tensors below the upsampler (the EDSR paper's ×2 → ×3/×4 warm start; for
FSRCNN the paper's transfer of all layers but the deconvolution); ``--grow-from`` embeds a
trained FSRCNN in a wider and deeper one given by ``--hparams s=..,m=..`` that computes the
same function, to train on from there. ``--loss`` takes the training loop's loss names
(``l1``, the default, or ``mse`` to fine-tune for PSNR).

A run saves a resumable checkpoint every ``--checkpoint-every`` steps (``--resume`` goes
on after an interruption), on the GPU when there is one, else on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from imageio.v3 import imread
from quality import SUFFIXES, held_out_bsd200

import napari_sr
from napari_sr.color import luma
from napari_sr.normalization import IMAGE_RANGE, NATURAL_8BIT
from napari_sr.training.config import TrainConfig, parse_key_values
from napari_sr.training.data import collect, prepare
from napari_sr.training.log import format_record
from napari_sr.training.loop import fit
from napari_sr.training.state import state_path

DATA = Path(os.environ.get("NAPARI_SR_DATA", Path(__file__).parents[2] / "shared" / "data"))


def luma_uint8(path: Path) -> np.ndarray:
    """Y of an 8-bit image, rounded to uint8 (a one-channel image as it is)."""
    image = imread(path)
    if image.ndim == 2:
        return image
    return np.clip(np.rint(luma(image[..., :3], 255)), 0, 255).astype(np.uint8)


def split(data: Path = DATA) -> tuple[list[Path], list[Path]]:
    """(training files, held-out validation files) of the 291 set."""
    held_out = held_out_bsd200(data)
    files = sorted(p for p in (data / "sr291").glob("*/*") if p.suffix.lower() in SUFFIXES)
    return [p for p in files if p not in held_out], held_out


UPSAMPLERS = ("tail.", "deconv.")
"""Tensors that depend on the scale (EDSR's pixel-shuffle upsampler and last conv,
FSRCNN's deconvolution, whose kernel is the same shape at every stride but sums a
different number of taps): a warm start leaves them fresh."""


def warm_start(model, source) -> tuple[int, int]:
    """Copy into ``model`` every tensor of ``source`` with the same name and shape except
    the upsampler's; (copied, tensors of ``model``). A ValueError when nothing matches
    (another architecture or width)."""
    import torch

    own, theirs = model.state_dict(), source.state_dict()
    same = {k: v for k, v in theirs.items()
            if k in own and own[k].shape == v.shape and not k.startswith(UPSAMPLERS)}  # fmt: skip
    body = [k for k in own if not k.startswith(UPSAMPLERS)]
    if len(same) < len(body):
        raise ValueError(
            f"--init-from has {len(same)} of the {len(body)} tensors below the upsampler; "
            "give a model of the same architecture and hyperparameters at another scale"
        )
    with torch.no_grad():
        model.load_state_dict(same, strict=False)
    return len(same), len(own)


def grow_fsrcnn(model, source) -> None:
    """Embed a trained FSRCNN (``source``) in a wider and deeper one (``model``: same scale
    and ``d``, ``s`` and ``m`` at least the source's) so that both compute the same
    function (Net2Net, Chen et al. 2016): the extra shrinking/mapping channels read the
    old ones through small random weights but are read by nothing (zero weights out), and
    the extra mapping layers are identities (a delta kernel, PReLU slope 1). Training then
    puts the new capacity to use from where the small network stopped."""
    import torch

    def parts(net, kind):  # extract, shrink, map × m, expand
        return [layer for layer in net.body if isinstance(layer, kind)]

    small, big = parts(source, torch.nn.Conv2d), parts(model, torch.nn.Conv2d)
    d, s_small, s_big = small[0].out_channels, small[1].out_channels, big[1].out_channels
    m_small, m_big = len(small) - 3, len(big) - 3
    if big[0].out_channels != d or s_big < s_small or m_big < m_small:
        raise ValueError(
            f"--grow-from needs d = {d}, s >= {s_small} and m >= {m_small} (--hparams), not "
            f"d = {big[0].out_channels}, s = {s_big}, m = {m_big}"
        )
    kept = [*range(2 + m_small), -1]  # the layers both networks have, in the same places
    extra = range(2 + m_small, len(big) - 1)  # the added mapping layers
    new_prelu, old_prelu = parts(model, torch.nn.PReLU), parts(source, torch.nn.PReLU)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for i in kept:
            new, old = big[i], small[i]
            out_old, in_old = old.weight.shape[:2]
            fan_in = new.weight[0].numel()
            new.weight.copy_(torch.randn(new.weight.shape, generator=generator))
            new.weight.mul_(0.1 * (2 / fan_in) ** 0.5)
            new.weight[:out_old, in_old:] = 0  # the old channels never read the new ones
            new.weight[:out_old, :in_old] = old.weight
            new.bias.zero_()
            new.bias[:out_old] = old.bias
            new_prelu[i].weight.fill_(0.25)  # PyTorch's initial slope for the new channels
            new_prelu[i].weight[: old_prelu[i].weight.numel()] = old_prelu[i].weight
        for i in extra:  # identities: a delta kernel, slope 1
            big[i].weight.zero_()
            big[i].bias.zero_()
            big[i].weight[torch.arange(s_big), torch.arange(s_big), 1, 1] = 1.0
            new_prelu[i].weight.fill_(1.0)
        model.deconv.load_state_dict(source.deconv.state_dict())


def load_for_y_planes(path: Path):
    """A trained luma model, to run on the Y planes of 8-bit RGB, which already lie in
    16-235: without the file's luma record the engine runs them as its RGB path runs Y,
    instead of widening their range as it does for grayscale images."""
    model = napari_sr.load_model(path)
    model.info = model.info.updated(data={})
    return model


def distilled(images, teacher, weight: float):
    """The training pairs with each target ``(1 - weight) · truth + weight · teacher(input)``:
    a small network learns the mapping of a large one more easily than the truth (output
    distillation); the teacher sees the uint8 input the protocol gives, whole images."""
    import dataclasses

    if not 0 <= weight <= 1:
        raise ValueError(f"--teacher-weight must be in [0, 1], not {weight}")
    out = []
    for image in images:
        low = np.clip(np.rint(image.low), 0, 255).astype(np.uint8)  # (N, 1, y, x)
        taught = napari_sr.upscale(low[:, 0], teacher.scale, method=teacher, axes="ZYX",
                                   dtype=np.float32)[:, None]  # fmt: skip
        high = (1 - weight) * image.high.astype(np.float32) + weight * taught
        out.append(dataclasses.replace(image, high=high.astype(np.float32)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("architecture")
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--patch-size", type=int, default=None, help="high-resolution pixels")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--loss", default="l1", help="e.g. mse, to fine-tune for PSNR")
    parser.add_argument("--hparams", default="", help="e.g. n_resblocks=16,n_feats=64")
    parser.add_argument("--start", type=Path, default=None, help="a model to go on from")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="a model of another scale to take matching tensors from")  # fmt: skip
    parser.add_argument("--grow-from", type=Path, default=None,
                        help="an FSRCNN to embed in a larger one (--hparams)")  # fmt: skip
    parser.add_argument("--teacher", type=Path, default=None,
                        help="a trained model whose output joins the targets")  # fmt: skip
    parser.add_argument("--teacher-weight", type=float, default=0.5,
                        help="the teacher's share of each target, 0-1")  # fmt: skip
    parser.add_argument("--adversarial", action="store_true",
                        help="train against a discriminator (the perceptual model)")  # fmt: skip
    parser.add_argument("--discriminator", default="unet_sn")
    parser.add_argument("--discriminator-hparams", default="", help="e.g. features=32")
    parser.add_argument("--gan-loss", default="ragan")
    parser.add_argument("--adversarial-weight", type=float, default=0.1)
    parser.add_argument("--ema-decay", type=float, default=None)
    parser.add_argument("--warmup-steps", type=int, default=None)
    parser.add_argument(
        "--degradation",
        type=json.loads,
        default=None,
        help="training patches' degradation, JSON, e.g. '{\"photo\": "
        '{"protocol": 0.5}}\'; validation keeps the SR protocol',
    )
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--validate-every", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if sum(x is not None for x in (args.start, args.init_from, args.grow_from)) > 1:
        parser.error("--start, --init-from and --grow-from exclude each other")
    started = time.perf_counter()

    train_files, val_files = split()
    train = [luma_uint8(p) for p in train_files]
    val = [luma_uint8(p) for p in val_files]
    print(f"{len(train)} training and {len(val)} held-out images (Y, uint8)", flush=True)
    hparams = parse_key_values(args.hparams)
    adversarial = {}
    if args.adversarial:
        adversarial = {
            "adversarial": True, "discriminator": args.discriminator,
            "discriminator_hparams": parse_key_values(args.discriminator_hparams) or None,
            "gan_loss": args.gan_loss, "adversarial_weight": args.adversarial_weight,
        }  # fmt: skip
    config = TrainConfig(
        normalization=NATURAL_8BIT.to_dict(),
        scale=args.scale, steps=args.steps, patch_size=args.patch_size or 24 * args.scale,
        batch_size=args.batch_size, lr=args.lr, loss=args.loss,
        warmup_steps=min(500, args.steps // 20) if args.warmup_steps is None
        else args.warmup_steps,
        validate_every=args.validate_every, checkpoint_every=args.checkpoint_every, seed=0,
        ema_decay=args.ema_decay, degradation=args.degradation, **adversarial,
    )  # fmt: skip
    model = load_for_y_planes(args.start) if args.start else args.architecture
    if args.init_from is not None:
        model = napari_sr.create_model(args.architecture, scale=args.scale, in_channels=1,
                                       **hparams)  # fmt: skip
        copied, total = warm_start(model, napari_sr.load_model(args.init_from))
        print(f"started from {args.init_from.name}: {copied} of {total} tensors", flush=True)
    if args.grow_from is not None:
        model = napari_sr.create_model(args.architecture, scale=args.scale, in_channels=1,
                                       **hparams)  # fmt: skip
        grow_fsrcnn(model, load_for_y_planes(args.grow_from))
        print(f"grown from {args.grow_from.name} to {hparams}", flush=True)
    extra = {
        "color": "luma",
        # uint16/float images (microscopy) are not grey levels of 0-255: their own range
        "other_dtypes": IMAGE_RANGE.to_dict(),
        "started_from": getattr(args.start or args.init_from or args.grow_from, "name", None),
        "training_set": "sr291 (T91 + BSD200) minus the held-out BSD200 images",
        "held_out": [p.name for p in val_files],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU threads",
    }
    common = {"scale": args.scale, "in_channels": 1, "normalization": NATURAL_8BIT,
              "seed": config.seed}  # fmt: skip
    if args.degradation is not None:
        extra["degradation"] = config.degradation
    train = prepare(collect(train, "images"), validation=False,
                    degradation=config.degradation, **common)  # fmt: skip
    # validation on the SR protocol's input: the figures the weights are chosen by
    val = prepare(collect(val, "validation"), validation=True, degradation={}, **common)
    if args.teacher is not None:
        teacher = load_for_y_planes(args.teacher)
        train = distilled(train, teacher, args.teacher_weight)
        extra["teacher"] = {"model": args.teacher.name, "weight": args.teacher_weight}
        print(f"targets: {1 - args.teacher_weight:g} x truth + {args.teacher_weight:g} x "
              f"{args.teacher.name}", flush=True)  # fmt: skip
    trained = fit(
        model, train, val, config, normalization=NATURAL_8BIT, in_channels=1,
        hparams=hparams or None if isinstance(model, str) else None, data_extra=extra,
        paths=(args.out, state_path(args.out)), resume=args.resume, device=args.device,
        log_every=100, log=lambda r: print(format_record(r), flush=True),
    )  # fmt: skip
    napari_sr.save_model(trained, args.out, overwrite=True)
    minutes = (time.perf_counter() - started) / 60
    print(f"wrote {args.out} after {minutes:.1f} min (this run, data preparation included)")


if __name__ == "__main__":
    main()
