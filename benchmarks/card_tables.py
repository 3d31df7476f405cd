"""Model-card tables from ``benchmarks/real_inputs.py --json``: for one default role at one
scale, per photon peak, each image's bicubic PSNR and the gains over bicubic of Lanczos-3,
the role's protocol weights, its microscope weights and the role as users run it (routed
by the input's noise and dtype), with the mean over the held-out images (the samples are
listed, not averaged).

    python benchmarks/real_inputs.py --scales 3 --json rows.json
    python benchmarks/card_tables.py rows.json --scale 3 --role fast
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from napari_sr.models.bundled import DEFAULT_ARCHITECTURES, DEFAULT_WEIGHTS, NOISY_WEIGHTS


def peak_title(peak: float | None) -> str:
    return "Clean" if peak is None else f"Peak {peak:g} photons"


def tables(rows: list[dict], scale: int, role: str) -> str:
    """The Markdown tables of ``role`` at ``scale`` (one per photon peak in ``rows``)."""
    arch = DEFAULT_ARCHITECTURES[role]
    protocol, microscope = (f"{arch}_x{scale}.{w}" for w in (DEFAULT_WEIGHTS, NOISY_WEIGHTS))
    columns = ["lanczos3", protocol, microscope, role]
    heads = ["Lanczos-3", protocol, f"**{microscope}**", f"`{role}` (routed)"]
    mine = [r for r in rows if r["scale"] == scale]
    blocks = []
    for peak in dict.fromkeys(r["peak"] for r in mine):
        at = [r for r in mine if r["peak"] == peak]
        score = {(r["image"], r["method"]): r for r in at}
        images = list(dict.fromkeys(r["image"] for r in at))
        lines = [
            f"{peak_title(peak)} (gain over bicubic, dB):",
            "",
            "| image | bicubic (dB) | " + " | ".join(heads) + " |",
            "|---" * (len(heads) + 2) + "|",
        ]
        for image in images:
            gains = [f"{score[image, c]['dpsnr_bicubic']:+.2f}" for c in columns]
            bicubic = score[image, "bicubic"]["psnr"]
            label = image.replace("sample:", "sample ")
            lines.append(f"| {label} | {bicubic:.2f} | " + " | ".join(gains) + " |")
        held = [i for i in images if not i.startswith("sample:")]
        means = [sum(score[i, c]["dpsnr_bicubic"] for i in held) / len(held) for c in columns]
        lines.append(
            "| **mean, held-out** | | " + " | ".join(f"**{m:+.2f}**" for m in means) + " |"
        )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", type=Path, help="rows written by real_inputs.py --json")
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--role", choices=tuple(DEFAULT_ARCHITECTURES), default="quality")
    args = parser.parse_args()
    rows = json.loads(args.json.read_text(encoding="utf-8"))
    print(tables(rows, args.scale, args.role))


if __name__ == "__main__":
    main()
