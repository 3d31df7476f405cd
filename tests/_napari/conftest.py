"""The GUI tests keep napari's settings (and napari-sr's reader-preference marker beside
them) in a temporary folder, never in the user's napari configuration."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_napari_settings(tmp_path_factory):
    settings_module = pytest.importorskip("napari.settings")
    settings = settings_module.get_settings()
    original = settings.config_path
    settings.config_path = tmp_path_factory.mktemp("napari-config") / "settings.yaml"
    yield
    settings.config_path = original
