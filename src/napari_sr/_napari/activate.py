"""What napari runs when it first uses napari-sr in a session (the manifest's
``on_activate``): make napari-sr's reader the preferred one for TIFF files, politely.

napari offers a choice of readers for a ``.tif`` (its own and napari-sr's) on File › Open;
its own loses the physical pixel sizes. napari keeps the user's choices in
``settings.plugins.extension2reader`` (Preferences › Plugins). A pattern there is never
touched; a pattern without a choice gets napari-sr, once: a marker file next to napari's
settings records the patterns set, so that a preference the user removed stays removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..io.formats import FORMATS, napari_reader_patterns

PLUGIN = "napari-sr"
READER_PATTERNS = napari_reader_patterns()
"""The reader's ``filename_patterns`` in napari.yaml (a test checks they agree), from the
table of formats (TIFF, OME-Zarr, NIfTI, DICOM, in lower and upper case)."""

PREFERRED_PATTERNS = tuple(
    p for p in READER_PATTERNS
    if not any(p.lower().endswith(e) for f in FORMATS if f.folder for e in f.extensions)
)  # fmt: skip
"""The patterns napari-sr offers itself as preferred reader for: TIFF, which napari's own
reader opens without pixel sizes, and NIfTI and DICOM, which it does not place in the
world. OME-Zarr folders are left to the user's choice (napari asks, and napari-ome-zarr may
be the one they use)."""

MARKER_NAME = "napari-sr-reader-preference.json"
"""Beside napari's settings file: the patterns napari-sr has made its own preference."""


def activate(context: Any = None) -> None:
    """npe2's ``on_activate`` hook. Never raises: a failure here would disable the plugin,
    and a reader preference is not worth that."""
    try:
        prefer_our_reader()
    except Exception:  # settings unreadable or read-only, an older napari…
        pass


def prefer_our_reader(
    settings: Any = None, patterns: Iterable[str] = PREFERRED_PATTERNS
) -> list[str]:
    """Make napari-sr the preferred reader of each of ``patterns`` that has no preferred
    reader yet and was never set by napari-sr before; return the patterns set.

    Parameters
    ----------
    settings : napari.settings.NapariSettings, optional
        napari's settings (default: :func:`napari.settings.get_settings`).
    patterns : iterable of str
        File-name patterns, as napari's ``extension2reader`` keys them.
    """
    if settings is None:
        from napari.settings import get_settings

        settings = get_settings()
    chosen = dict(settings.plugins.extension2reader)
    marker = _marker_path(settings)
    offered = _read_marker(marker)
    new = [p for p in patterns if p not in chosen and p not in offered]
    if not new:
        return []
    settings.plugins.extension2reader = {**chosen, **dict.fromkeys(new, PLUGIN)}
    if marker is not None:
        _write_marker(marker, sorted({*offered, *new}))
    return new


def _marker_path(settings: Any) -> Path | None:
    config = getattr(settings, "config_path", None)
    return None if not config else Path(config).with_name(MARKER_NAME)


def _read_marker(marker: Path | None) -> set[str]:
    if marker is None:
        return set()
    try:
        value = json.loads(marker.read_text(encoding="utf-8")).get("patterns", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {p for p in value if isinstance(p, str)} if isinstance(value, list) else set()


def _write_marker(marker: Path, patterns: list[str]) -> None:
    from ..utils.atomic import atomic_write

    text = json.dumps({"patterns": patterns}, indent=1)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(marker, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"),
                     overwrite=True)  # fmt: skip
    except OSError:
        pass  # not remembered: at worst the preference is offered again next session
