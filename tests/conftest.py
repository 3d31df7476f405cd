"""Shared fixtures: small seeded arrays and the path to the developers' data, if present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("NAPARI_SR_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def shared_data() -> Path:
    """The developers' data folder (../shared/data); tests using it skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"developer data not found at {SHARED_DATA}")
    return SHARED_DATA


TINY_DEFAULTS = {
    "edsr_light": {"n_resblocks": 1, "n_feats": 4},
    "fsrcnn": {"d": 4, "s": 2, "m": 1},
}


@pytest.fixture
def fake_weights(tmp_path, monkeypatch):
    """Stand-in bundled weights: EDSR-light x2 and FSRCNN x2, x3 (tiny, random, luma,
    0-255) in a temporary weights folder used in place of the package's; name -> file."""
    torch = pytest.importorskip("torch")
    import napari_sr
    from napari_sr.models import bundled
    from napari_sr.normalization import IMAGE_RANGE, NATURAL_8BIT

    torch.manual_seed(0)
    made = {}
    for architecture, scale in (("edsr_light", 2), ("fsrcnn", 2), ("fsrcnn", 3)):
        model = napari_sr.create_model(architecture, scale=scale, **TINY_DEFAULTS[architecture])
        name = f"{architecture}_x{scale}.sr291"
        path = napari_sr.save_model(
            model, tmp_path / f"{name}.safetensors", normalization=NATURAL_8BIT,
            data={"color": "luma", "other_dtypes": IMAGE_RANGE.to_dict()},
        )  # fmt: skip
        (tmp_path / f"{name}.md").write_text(f"# {name} — stand-in\n", encoding="utf-8")
        made[name] = path
    monkeypatch.setattr(bundled, "WEIGHTS_DIR", tmp_path)
    return made


@pytest.fixture(scope="session")
def _private_napari_config(tmp_path_factory):
    """napari's settings (and napari-sr's reader-preference marker beside them) in a
    temporary folder, never in the user's napari configuration."""
    settings_module = pytest.importorskip("napari.settings")
    settings = settings_module.get_settings()
    original = settings.config_path
    settings.config_path = tmp_path_factory.mktemp("napari-config") / "settings.yaml"
    yield
    settings.config_path = original


@pytest.fixture(autouse=True)
def _private_napari_settings(request):
    """The GUI tests (tests/_napari) run with private napari settings."""
    if "_napari" in request.node.path.parts:
        request.getfixturevalue("_private_napari_config")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """napari-sr's cache (networks exported for ONNX Runtime) in a temporary folder, never
    in the user's ~/.cache; and PyTorch as the backend, so that no result depends on which
    backend this machine's timing picks (tests/engine/test_onnx_backend.py tests the ONNX
    Runtime backend, equal to PyTorch to 1e-4, with the setting removed)."""
    folder = tmp_path_factory.mktemp("napari-sr-cache")
    settings = {"NAPARI_SR_CACHE": str(folder), "NAPARI_SR_BACKEND": "torch"}
    original = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    yield folder
    for name, value in original.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
