"""Upscaling a stack larger than memory: OME-Zarr in, OME-Zarr out, block by block.

A synthetic uint16 stack of SIZE GB on disk (default 8; uncompressed, so that the disk
holds every byte) is upscaled x2 into OME-Zarr by bicubic interpolation and by the fast
default, on a dask LocalCluster of 1 and of 2 worker processes. For each run: wall time,
throughput (input megapixels per second) and the peak resident memory of every process
(this one, which holds the scheduler, and each worker; VmHWM, Linux). Then the lazy path's
overhead: on a SUBSET GB part of the stack, the in-memory path (read whole, upscale, write
OME-Zarr) against the lazy path (upscale(..., out=)) on this process's threads.

    python benchmarks/large.py [--size-gb 8] [--subset-gb 1] [--methods bicubic,fast]
                               [--workers 1,2] [--folder DIR] [--json FILE]

Targets (issue 20): peak RSS of every process <= 2 GB whatever the size; lazy-path overhead
<= 10 % against in-memory; output identical to the in-memory path (checked on the subset).
The stores are written under --folder (default: a temporary folder, removed at the end);
the input needs SIZE GB and each output 4 x SIZE GB, removed after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import napari_sr
from napari_sr.io.omezarr import OmeZarrOutput

EDGE = 2048
"""Plane edge of the synthetic stack (a common camera / light-sheet plane)."""


def peak_rss() -> int:
    """This process's peak resident memory in bytes (VmHWM)."""
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def make_stack(path: Path, planes: int, edge: int = EDGE) -> None:
    """A fluorescence-like uint16 stack: smooth structures drifting through z, Poisson
    noise, written plane by plane (never whole) without compression."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:edge, 0:edge].astype(np.float32) / edge
    base = np.zeros((edge, edge), np.float32)
    for _ in range(24):  # blobs of a few pixels to a tenth of the field
        cy, cx, r = rng.random(3)
        base += np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * (0.005 + 0.05 * r) ** 2))
    base = 100 + 3000 * base / base.max()
    out = OmeZarrOutput.create(path, shape=(planes, edge, edge), dtype=np.uint16, axes="ZYX",
                               block=(1, edge, edge), compression=None,
                               pixel_size={"Z": 1.0, "Y": 0.2, "X": 0.2})  # fmt: skip
    for z in range(planes):
        plane = np.roll(base, (z * 3) % edge, axis=1)
        out.write_block((z, 0, 0), rng.poisson(plane).astype(np.uint16)[None])
    out.finish()


def worker_peaks(client) -> list[int]:
    return sorted(client.run(peak_rss).values())


def run_on_cluster(image, method: str, workers: int, out: Path) -> dict:
    """One out-of-core run on a LocalCluster of ``workers`` processes."""
    from distributed import Client, LocalCluster

    threads = max(1, (os.cpu_count() or 1) // workers)
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "NUMBA_NUM_THREADS": str(threads)}  # fmt: skip
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                     dashboard_address=":0", env=env) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        started = time.perf_counter()
        napari_sr.upscale(image, 2, method=method, out=out, client=client,
                          progress=progress_printer(f"{method}, {workers} worker(s)"))  # fmt: skip
        seconds = time.perf_counter() - started
        peaks = worker_peaks(client)
    megapixels = image.data.size / 1e6
    return {"method": method, "workers": workers, "seconds": round(seconds, 1),
            "input_mp_per_s": round(megapixels / seconds, 2),
            "peak_rss_workers_gb": [round(p / 1e9, 3) for p in peaks],
            "peak_rss_main_gb": round(peak_rss() / 1e9, 3)}  # fmt: skip


def progress_printer(label: str):
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last[0] > 10:
            last[0] = now
            print(f"  {label}: {done}/{total} blocks", file=sys.stderr, flush=True)

    return show


def overhead(image, method: str, folder: Path) -> dict:
    """The in-memory path against the lazy path on the same data, on this process."""
    subset = folder / "subset.ome.zarr"
    napari_sr.io.write(subset, image, compression=None, overwrite=True)
    started = time.perf_counter()
    whole = napari_sr.io.read(subset, lazy=False)
    result = napari_sr.upscale(whole, 2, method=method)
    napari_sr.io.write(folder / "memory.ome.zarr", result, compression="zstd", overwrite=True)
    in_memory = time.perf_counter() - started
    del whole
    started = time.perf_counter()
    napari_sr.upscale(napari_sr.io.read(subset, lazy=True), 2, method=method,
                      out=folder / "lazy.ome.zarr", overwrite=True)  # fmt: skip
    lazy = time.perf_counter() - started
    written = napari_sr.io.read(folder / "lazy.ome.zarr", lazy=True).data
    identical = bool(np.array_equal(np.asarray(written), result.data))
    for name in ("memory.ome.zarr", "lazy.ome.zarr", "subset.ome.zarr"):
        shutil.rmtree(folder / name, ignore_errors=True)
    return {"method": method, "in_memory_s": round(in_memory, 1), "lazy_s": round(lazy, 1),
            "overhead": round(lazy / in_memory - 1, 3), "identical": identical}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=8.0)
    parser.add_argument("--subset-gb", type=float, default=1.0)
    parser.add_argument("--methods", default="bicubic,fast")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--folder", default=None)
    parser.add_argument("--json", default=None, help="also write the results as JSON")
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    folder = Path(args.folder or tempfile.mkdtemp(prefix="napari-sr-large-"))
    folder.mkdir(parents=True, exist_ok=True)
    plane_bytes = EDGE * EDGE * 2
    planes = max(1, round(args.size_gb * 1e9 / plane_bytes))
    source = folder / "stack.ome.zarr"
    results: dict = {"planes": planes, "edge": EDGE, "runs": [], "overhead": []}
    try:
        if not source.exists():
            started = time.perf_counter()
            make_stack(source, planes)
            print(f"made {source}: {planes} x {EDGE} x {EDGE} uint16, "
                  f"{planes * plane_bytes / 1e9:.1f} GB in {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)  # fmt: skip
        image = napari_sr.io.read(source, lazy=True)
        for method in methods:
            for workers in counts:
                out = folder / f"up-{method}-{workers}.ome.zarr"
                run = run_on_cluster(image, method, workers, out)
                shutil.rmtree(out, ignore_errors=True)
                results["runs"].append(run)
                print(json.dumps(run), flush=True)
        subset_planes = max(1, round(args.subset_gb * 1e9 / plane_bytes))
        part = image.replace(data=image.data[:subset_planes])
        for method in methods:
            row = overhead(part, method, folder)
            results["overhead"].append(row)
            print(json.dumps(row), flush=True)
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
