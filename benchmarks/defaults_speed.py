"""Speed of the bundled single-image defaults through ``napari_sr.upscale``, next to the same
networks run the plain PyTorch way, on one machine in one run.

For the fast (FSRCNN) and quality (EDSR-light) defaults at ×2, ×3 and ×4: megapixels of
output per second when upscaling a uint8 image of EDGE × EDGE pixels (default 1024) with
``napari_sr.upscale`` (normalisation, channels-last, the CPU cache tiling of tiling-safe
models, FSRCNN's deconvolution as a sub-pixel convolution, casting back to uint8), against
the peer baseline: the same weights called as a plain module on the whole float32 image in
NCHW layout, FSRCNN with ``ConvTranspose2d`` as its paper and public re-implementations run
it; and against ONNX Runtime, the same network exported (``napari_sr.export_model``) and run
by a plain ``InferenceSession`` on the whole image with the same threads (issue 21: napari-sr
must be at least as fast; where ONNX Runtime is installed napari-sr runs a network there
itself when it is faster, ``napari_sr.engine.onnx_backend``). Bicubic interpolation
(``napari_sr.resize``, MATLAB's kernel) is the floor. "by role"
is ``upscale(image, s, method="fast"/"quality")`` as users call it: the weights looked up by
name and chosen by the input's noise estimate (this input's noise picks the noise-trained
weights where they are bundled).

    python benchmarks/defaults_speed.py [--edge 1024] [--repeats 2] [--threads N]

The fast default's target (issue 8): at least 5 megapixels of output per second on the
developers' 2-core CPU at every scale. Speed does not depend on the weights' values; a
default that is not bundled is timed with fresh weights and marked so.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import napari_sr
from napari_sr.models.bundled import DEFAULT_ARCHITECTURES, default_model, load_bundled


def timed(run, repeats: int) -> float:
    """Best of ``repeats`` wall-clock seconds, after one warm-up call."""
    run()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def how_it_ran(result: napari_sr.Image) -> str:
    """The backend and tiling napari-sr chose, from the result's provenance."""
    record = result.metadata["provenance"]
    backend = record.get("backend", "?").split()[0]
    tile = record.get("tile")
    return f"{backend}, {'whole planes' if tile is None else f'{tile}² tiles'}"


def plain_pytorch(model: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    """The peer way: the whole image through the module, NCHW float32, the paper's layers."""
    x = torch.from_numpy(image.astype(np.float32) / 255)[None, None]
    with torch.inference_mode():
        if hasattr(model, "deconv"):  # FSRCNN as published: the transposed convolution
            y = model.deconv(model.body(x))
        else:
            y = model(x)
    return np.clip(np.rint(y[0, 0].numpy() * 255), 0, 255).astype(np.uint8)


def onnx_session(model: torch.nn.Module, threads: int, frames: int | None = None):
    """The network exported as it is (``napari_sr.models.export``; a fusion network for
    ``frames`` frames) in a plain ONNX Runtime session with ``threads`` intra-op threads;
    None without onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return None
    from napari_sr.models.export import example_input, exportable, onnx_bytes

    network, record = exportable(model, frames=frames)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    data = onnx_bytes(network, record, example_input(record, frames, 24, 24))
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def onnx_runtime(model: torch.nn.Module, threads: int):
    """The peer ONNX Runtime way: the exported network in a plain session, whole image,
    ``threads`` intra-op threads; None without onnxruntime."""
    session = onnx_session(model, threads)
    if session is None:
        return None

    def run(image: np.ndarray) -> np.ndarray:
        x = (image.astype(np.float32) / 255)[None, None]
        y = session.run(None, {"input": x})[0]
        return np.clip(np.rint(y[0, 0] * 255), 0, 255).astype(np.uint8)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edge", type=int, default=1024, help="input edge, pixels")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    # a natural-looking input: smooth structure plus texture, uint8
    base = rng.random((args.edge // 16, args.edge // 16))
    smooth = napari_sr.resize(base, 16, method="bicubic")
    image = np.clip(smooth * 200 + rng.normal(0, 12, smooth.shape) + 20, 0, 255)
    image = image.astype(np.uint8)
    picture = napari_sr.Image(image, axes="YX")  # the same, with provenance in the result
    print(f"input {args.edge}x{args.edge} uint8, {torch.get_num_threads()} torch threads, "
          f"best of {args.repeats}; MP/s = megapixels of output per second")  # fmt: skip
    print(f"{'model':<28}{'napari-sr':>11}{'plain torch':>13}{'ratio':>8}{'ONNX RT':>9}"
          f"{'ratio':>8}{'bicubic':>10}{'by role':>10}  napari-sr ran")  # fmt: skip
    for scale in (2, 3, 4):
        out_mp = (args.edge * scale) ** 2 / 1e6
        bicubic = timed(lambda s=scale: napari_sr.resize(image, s, method="bicubic"), 1)
        for kind, architecture in DEFAULT_ARCHITECTURES.items():
            name = default_model(scale, kind)
            if name is None:
                model = napari_sr.create_model(architecture, scale=scale).eval()
                label = f"{architecture}_x{scale} (untrained)"
            else:
                model, label = load_bundled(name).eval(), name
            ours = timed(lambda m=model, s=scale: napari_sr.upscale(picture, s, method=m),
                         args.repeats)  # fmt: skip
            ran = how_it_ran(napari_sr.upscale(picture, scale, method=model))
            peer = timed(lambda m=model: plain_pytorch(m, image), args.repeats)
            ort_run = onnx_runtime(model, torch.get_num_threads())
            ort = f"{'-':>9}{'-':>8}"
            if ort_run is not None:
                seconds = timed(lambda r=ort_run: r(image), args.repeats)
                ort = f"{out_mp / seconds:>9.2f}{seconds / ours:>7.2f}x"
            # as users call it: the role's name, its weights chosen by the noise estimate
            role = f"{'-':>10}"
            if name is not None:
                seconds = timed(lambda k=kind, s=scale: napari_sr.upscale(image, s, method=k),
                                args.repeats)  # fmt: skip
                role = f"{out_mp / seconds:>10.2f}"
            line = f"{label:<28}{out_mp / ours:>11.2f}{out_mp / peer:>13.2f}{peer / ours:>7.2f}x"
            print(f"{line}{ort}{out_mp / bicubic:>10.1f}{role}  {ran}", flush=True)
    fusion_table(args, image)


def fusion_table(args, image: np.ndarray) -> None:
    """The bundled fusion networks (``misr(method="learned")``): one network pass over a
    burst as ``misr`` runs it (:func:`napari_sr.multiframe.learned.network_pass`: ONNX
    Runtime where faster, else PyTorch channels-last; the classical prior computed before,
    not timed) against the same network as a plain module (NCHW) and in a plain ONNX
    Runtime session (exported for the burst's frame count)."""
    from napari_sr.models.bundled import bundled_models, is_multiframe
    from napari_sr.multiframe.learned import (
        MICROSCOPY,
        classical_prior,
        network_pass,
        prior_psf,
        unshuffle,
    )
    from napari_sr.multiframe.simulate import make_burst
    from napari_sr.normalization import normalize

    print(f"\nfusion networks: bursts of {args.edge}² output, MP/s of output")
    print(f"{'model':<28}{'frames':>7}{'napari-sr':>11}{'plain torch':>13}{'ratio':>8}"
          f"{'ONNX RT':>9}{'ratio':>8}")  # fmt: skip
    for name in sorted(n for n in bundled_models() if is_multiframe(n)):
        model = load_bundled(name).eval()
        scale = model.scale
        count = 8 if scale == 2 else 16  # the bursts the networks were trained on
        frames, _, _ = make_burst(image.astype(np.float32), scale, count, seed=0)
        prior = classical_prior(frames, scale, prior_psf(model, None)) if model.prior else None
        out_mp = (frames.shape[-1] * scale) ** 2 / 1e6
        ours = timed(lambda m=model, f=frames, p=prior: network_pass(m, f, p, "cpu"), args.repeats)
        limits = (model.normalization or MICROSCOPY).limits(frames)  # as misr normalises
        x = frames if prior is None else np.concatenate([frames, unshuffle(prior, scale)])
        x = np.ascontiguousarray(normalize(x, limits)[None], dtype=np.float32)
        tensor = torch.from_numpy(x)
        with torch.inference_mode():
            peer = timed(lambda m=model, t=tensor: m(t), args.repeats)
        ort = f"{'-':>9}{'-':>8}"
        session = onnx_session(model, torch.get_num_threads(), count)
        if session is not None:
            seconds = timed(lambda r=session, a=x: r.run(None, {"input": a}), args.repeats)
            ort = f"{out_mp / seconds:>9.2f}{seconds / ours:>7.2f}x"
        line = f"{name:<28}{count:>7}{out_mp / ours:>11.2f}{out_mp / peer:>13.2f}"
        line += f"{peer / ours:>7.2f}x"
        print(f"{line}{ort}", flush=True)


if __name__ == "__main__":
    main()
