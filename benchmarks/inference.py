"""Speed of learned-model inference through ``napari_sr.upscale``, against the machine's roofline.

For FSRCNN ×2 and EDSR-baseline ×2 on a 512×512 input and RCAN ×4 on a 128×128 input
(paper hyperparameters, one channel, random weights: speed does not depend on the values),
prints seconds per image, megapixels of output per second, and the achieved GFLOP/s, next to
the GFLOP/s of a bare 3×3 64→64 convolution on a 512×512 feature map measured in the same
run: the practical roofline of this machine for these networks, whose time is almost all in
such convolutions. FLOPs are counted by ``torch.utils.flop_counter`` (2 per multiply-add).
The bare convolution is timed in both memory layouts (NCHW and channels-last) and the faster
one is the roofline.

Then the cost of tiling: the same models on a 2048×2048 input, untiled (``tile=0``) against
tiled with the engine's automatic tile (``tile=None``, bounded by its memory budget) and with
1024-pixel tiles, as a ratio. Tiles carry each model's halo, so the outputs are the same.

With ``--device cuda`` (when a GPU is present) the table is printed in fp32 and bf16.

    python benchmarks/inference.py [--repeats 3] [--skip-tiling] [--device cpu]

Targets of the model-zoo issue: EDSR-baseline and RCAN reach ≥ 70 % of the bare
convolution's GFLOP/s; tiled inference costs ≤ 15 % more than untiled.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import napari_sr

CASES = (("fsrcnn", 2, 512), ("edsr_baseline", 2, 512), ("rcan", 4, 128))
TILING_CASES = (("fsrcnn", 2), ("edsr_baseline", 2))


def _best_of(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up: allocator, oneDNN primitive caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def _flops(model: torch.nn.Module, side: int, device: str) -> int:
    x = torch.rand(1, model.in_channels, side, side, device=device)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops()


def roofline(repeats: int, device: str, dtype: torch.dtype) -> tuple[float, str]:
    """GFLOP/s of a bare 3×3 64→64 convolution on a 512×512 map, best memory layout."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(device, dtype).eval()
    x = torch.rand(1, 64, 512, 512, device=device, dtype=dtype)
    flops = 2 * 64 * 64 * 9 * 512 * 512
    results = {}
    for layout, fmt in (("NCHW", torch.contiguous_format), ("channels-last", torch.channels_last)):
        layer, inp = conv.to(memory_format=fmt), x.contiguous(memory_format=fmt)
        with torch.inference_mode():
            results[layout] = flops / _best_of(lambda: layer(inp), repeats) / 1e9  # noqa: B023
    layout = max(results, key=results.get)
    return results[layout], layout


def model_table(repeats: int, device: str, precision: str, peak: float) -> None:
    print(f"{'model':<16}{'input':>9}{'seconds':>9}{'MP/s':>8}{'GFLOP':>8}{'GFLOP/s':>9}"
          f"{'% roof':>8}")  # fmt: skip
    for name, scale, side in CASES:
        torch.manual_seed(0)
        model = napari_sr.create_model(name, scale=scale).eval()
        image = np.random.default_rng(0).random((side, side), dtype=np.float32)
        flops = _flops(model.to(device), side, device)
        run = functools.partial(
            napari_sr.upscale, image, scale, method=model, device=device, precision=precision,
            tile=0,
        )  # fmt: skip
        seconds = _best_of(run, repeats)
        rate = flops / seconds / 1e9
        print(
            f"{name + f' x{scale}':<16}{f'{side}²':>9}{seconds:>9.3f}"
            f"{(side * scale) ** 2 / seconds / 1e6:>8.2f}{flops / 1e9:>8.1f}{rate:>9.1f}"
            f"{100 * rate / peak:>7.0f}%"
        )


def tiling_table(device: str, precision: str) -> None:
    side = 2048
    image = np.random.default_rng(0).random((side, side), dtype=np.float32)
    print(f"\ntiled vs untiled on {side}×{side} ({device}, {precision})")
    print(
        f"{'model':<16}{'untiled s':>10}{'auto tile s':>12}{'ratio':>7}{'1024 s':>9}{'ratio':>7}"
    )
    for name, scale in TILING_CASES:
        torch.manual_seed(0)
        model = napari_sr.create_model(name, scale=scale).eval()

        def run(tile, model=model, scale=scale):
            start = time.perf_counter()
            out = napari_sr.upscale(
                image, scale, method=model, device=device, precision=precision, tile=tile
            )
            return time.perf_counter() - start, out

        # one interleaved round each: these runs take up to minutes on a laptop CPU
        run(256)  # warm-up
        untiled, reference = run(0)
        auto, auto_out = run(None)
        fixed, fixed_out = run(1024)
        difference = max(
            float(np.abs(auto_out - reference).max()), float(np.abs(fixed_out - reference).max())
        )
        print(
            f"{name + f' x{scale}':<16}{untiled:>10.2f}{auto:>12.2f}{auto / untiled:>7.2f}"
            f"{fixed:>9.2f}{fixed / untiled:>7.2f}   max |tiled - untiled| {difference:.1e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-tiling", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    precisions = ("fp32", "bf16") if args.device.startswith("cuda") else ("fp32",)
    for precision in precisions:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        peak, layout = roofline(args.repeats, args.device, dtype)
        print(f"\n{precision}: bare 3×3 64→64 conv on 512²: {peak:.1f} GFLOP/s ({layout})")
        model_table(args.repeats, args.device, precision, peak)
    if not args.skip_tiling:
        for precision in precisions:
            tiling_table(args.device, precision)


if __name__ == "__main__":
    main()
