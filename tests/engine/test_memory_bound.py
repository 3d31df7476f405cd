"""Working memory stays bounded: the peak RSS growth of ``upscale`` through a model on a
large plane, measured in a fresh process (``resource.getrusage``), stays within input +
output + the engine's budget (1 GiB by default), where running the plane whole would not."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")
resource = pytest.importorskip("resource")  # POSIX only

SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np, torch, napari_sr
    from napari_sr.engine import footprint
    from napari_sr.models import ModelSpec

    # ru_maxrss is KiB on Linux, bytes on macOS
    unit = 1 if sys.platform == "darwin" else 1024

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit

    class Wide(torch.nn.Module):
        \"\"\"Cheap to run, costly to hold: 256 channels per pixel (about 2 KiB of
        activations per input pixel, over 1 GiB untiled on a 768² plane).\"\"\"

        scale, in_channels = 2, 1
        spec = ModelSpec("wide", "x:y", "post", (2,), paper="", halo=0)

        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(
                torch.nn.Conv2d(1, 256, 1), torch.nn.ReLU(), torch.nn.Conv2d(256, 4, 1),
                torch.nn.PixelShuffle(2),
            )

        def forward(self, x):
            return self.body(x)

    def run(model, side, budget):
        footprint.HOST_BUDGET = budget
        image = np.random.default_rng(0).random((side, side), dtype=np.float32)
        base = peak()
        out = napari_sr.upscale(napari_sr.Image(image), 2, method=model)
        return dict(grown=peak() - base, budget=budget, input=image.nbytes,
                    output=out.data.nbytes, tile=out.metadata["provenance"]["tile"])

    torch.manual_seed(0)
    fsrcnn = napari_sr.create_model("fsrcnn", scale=2)  # the paper's FSRCNN(56, 12, 4)
    wide = Wide()
    # warm-up: torch's thread pools and kernels, the models' memory probes
    for model in (fsrcnn, wide):
        napari_sr.upscale(np.ones((40, 40), np.float32), 2, method=model)
    result = {
        # a small budget forces FSRCNN into tiles: the plan must hold
        "fsrcnn": run(fsrcnn, 512, 96 * 2**20),
        # the default budget on a 768² plane that does not fit it untiled
        "wide": run(wide, 768, 2**30),
    }
    print(json.dumps(result))
    """
)


@pytest.mark.slow
def test_peak_memory_stays_within_input_output_and_budget():
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["fsrcnn"]["tile"] is not None and result["wide"]["tile"] is not None
    for case in result.values():
        limit = case["input"] + case["output"] + case["budget"]
        assert case["grown"] < limit, f"{case['grown'] / 2**20:.0f} MiB > {limit / 2**20:.0f}"
