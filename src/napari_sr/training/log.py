"""One line of text per training log record (what the CLI prints on stderr), and the
warning a disappointing training run gives."""

from __future__ import annotations

from typing import Any


class BelowInterpolationWarning(UserWarning):
    """The trained model scores below bicubic interpolation on the validation images.

    Given by :func:`~napari_sr.train` when training ends; the message has both PSNRs
    and what to do. Filter it like any warning, e.g.
    ``warnings.simplefilter("error", BelowInterpolationWarning)`` to make it an error.
    """


def format_record(record: dict[str, Any]) -> str:
    """Text for a record that :func:`~napari_sr.training.loop.train` passes to ``log``.

    Examples
    --------
    >>> format_record({"event": "step", "step": 10, "steps": 100, "loss": 0.05,
    ...                "lr": 2e-4, "eta_s": 12.3})
    'step 10/100  loss 0.05000  lr 2.00e-04  eta 12 s'
    """
    event = record.get("event")
    step = f"{record.get('step')}/{record.get('steps')}"
    if event == "start":
        text = (
            f"training {record['architecture']} ({record['parameters']:,} parameters) on "
            f"{record['device']}: {record['training_planes']} training plane(s), "
            f"{record['validation_planes']} validation plane(s)"
        )
        if record.get("init_note"):
            text += f"; {record['init_note']}"
        if record.get("step"):
            text += f", resuming at step {record['step']}"
        bicubic = record.get("bicubic")
        if bicubic:
            text += f"; bicubic PSNR {bicubic['psnr']:.2f} dB, SSIM {bicubic['ssim']:.4f}"
        return text
    if event == "step":
        terms = record.get("losses") or {}
        duel = ""
        if "d_accuracy" in terms:  # adversarial: how well the discriminator tells them apart
            duel = f"  adv {terms['adversarial']:.4f}  D acc {terms['d_accuracy']:.2f}"
        return (
            f"step {step}  loss {record['loss']:.5f}{duel}  lr {record['lr']:.2e}  "
            f"eta {_duration(record['eta_s'])}"
        )
    if event == "validation":
        text = (
            f"validation at step {step}: PSNR {record['psnr']:.2f} dB, SSIM {record['ssim']:.4f}"
        )
        if record.get("bicubic_psnr") is not None:
            text += f" (bicubic {record['bicubic_psnr']:.2f} dB)"
        if record.get("niqe") is not None:
            text += f", NIQE {record['niqe']:.2f}"
        if record.get("spectral_error_db") is not None:
            text += f", spectrum ±{record['spectral_error_db']:.2f} dB"
        if record.get("consistency_rms") is not None:
            text += f", consistency RMS {record['consistency_rms']:.3g}"
        if record.get("kept") == "latest":
            return text
        return text + (" best" if record.get("improved") else "")
    if event == "checkpoint":
        return f"checkpoint at step {record['step']}: {record['path']}"
    if event == "early_stop":
        return (
            f"stopping early at step {record['step']}: no better validation PSNR since step "
            f"{record['best_step']}"
        )
    if event == "done":
        return f"finished after {record['step']} steps ({record.get('stopped')})"
    return str(record)


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
