"""The model record (``model.info``): one typed, versioned record per model, written to and
read from the model file, checked field by field, with the old layout converted on read."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from napari_sr.models.info import (
    COLOR_ROUTES,
    FORMAT_VERSION,
    InputContract,
    Metrics,
    ModelInfo,
    Provenance,
    info_of,
)
from napari_sr.normalization import IMAGE_RANGE, MICROSCOPY, NATURAL_8BIT, Normalization

RECORD = "model record: field"


def _document(**changes):
    """A format-1 document as napari-sr 0.x wrote it (every field, in the file's layout)."""
    document = {
        "format": "napari-sr-model",
        "format_version": 1,
        "napari_sr_version": "0.1.0",
        "created": "2024-05-01T12:00:00+00:00",
        "architecture": "fsrcnn",
        "hparams": {"d": 8, "s": 4, "m": 1},
        "scale": 2,
        "in_channels": 1,
        "parameters": 1234,
        "normalization": {"kind": "range", "low": 0.0, "high": 255.0},
        "training": {"steps": 10, "loss": {"l1": 1.0}},
        "data": {
            "training": {"count": 1},
            "color": "luma",
            "other_dtypes": {"kind": "percentile", "low": 0.1, "high": 99.99},
        },
        "metrics": {"psnr": 31.5, "gain_db": 1.25, "validation": {"psnr": 31.5, "step": 9}},
    }
    document.update(changes)
    return document


# ------------------------------------------------------------------ the file layout


def test_a_format_1_document_becomes_typed_fields_and_round_trips():
    document = _document()
    info = ModelInfo.from_dict(copy.deepcopy(document), source="m.safetensors")
    assert (info.architecture, info.scale, info.in_channels, info.out_channels) == (
        "fsrcnn", 2, 1, 1,
    )  # fmt: skip
    assert info.hparams == {"d": 8, "s": 4, "m": 1}
    # data.color and data.other_dtypes (where format 1 keeps them) are typed fields
    assert info.color == "luma" and info.luma
    assert info.input == InputContract(other_dtypes=IMAGE_RANGE)
    assert info.input.dtypes == ("uint8", "uint16", "int16", "float32", "float64")
    assert info.input.spatial_dims == 2
    assert info.data == {"training": {"count": 1}}
    assert info.normalization == NATURAL_8BIT
    assert info.provenance == Provenance("0.1.0", "2024-05-01T12:00:00+00:00", "m.safetensors")
    assert info.parameters == 1234 and info.training == {"steps": 10, "loss": {"l1": 1.0}}
    assert info.metrics.psnr == 31.5 and info.metrics["gain_db"] == 1.25
    assert info.format_version == FORMAT_VERSION == 1
    # written back in the same layout, field for field
    assert info.to_dict() == document
    assert ModelInfo.from_json(json.dumps(document)) == info.replace(provenance=Provenance(
        "0.1.0", "2024-05-01T12:00:00+00:00"))  # fmt: skip


def test_a_minimal_old_document_loads_with_defaults():
    minimal = {"format": "napari-sr-model", "format_version": 1, "architecture": "espcn",
               "scale": 3, "in_channels": 3}  # fmt: skip
    info = ModelInfo.from_dict(minimal)
    assert info.color == "joint" and info.hparams == {} and info.normalization is None
    assert info.training is info.data is info.metrics is info.parameters is None
    assert info.to_dict()["data"] is None and info.to_dict()["hparams"] == {}


@pytest.mark.parametrize("channels", [3, 2])
def test_a_luma_note_of_a_multi_channel_model_stays_data(channels):
    info = ModelInfo.from_dict(_document(in_channels=channels, data={"color": "luma"}))
    assert info.color == "joint" and info.data == {"color": "luma"}
    assert info.to_dict()["data"] == {"color": "luma"}


def test_newer_layouts_and_unknown_architectures_are_refused():
    with pytest.raises(ValueError, match="newer napari-sr .*model format 2.*upgrade"):
        ModelInfo.from_dict(_document(format_version=2), source="m.safetensors")
    with pytest.raises(ValueError, match="'nope', which this napari-sr does not have"):
        ModelInfo.from_dict(_document(architecture="nope"), source="m.safetensors")
    with pytest.raises(ValueError, match=r"unknown field\(s\) 'extra'"):
        ModelInfo.from_dict(_document(extra=1))
    with pytest.raises(ValueError, match="NaN is not a JSON number"):
        ModelInfo.from_json('{"format": "napari-sr-model", "scale": NaN}')


# ------------------------------------------------------------------- the constructor


def test_the_constructor_derives_colour_and_output_channels():
    assert ModelInfo("fsrcnn", 2).color == "per_channel"
    assert ModelInfo("espcn", 2, in_channels=3).color == "joint"
    assert ModelInfo("espcn", 2, in_channels=3).out_channels == 3
    assert set(COLOR_ROUTES) == {"per_channel", "joint", "luma"}
    # the file's place for the route is read in code too, so there is one meaning
    lifted = ModelInfo("fsrcnn", 2, data={"color": "luma", "other_dtypes": IMAGE_RANGE.to_dict()})
    assert lifted.color == "luma" and lifted.input.other_dtypes == IMAGE_RANGE
    assert lifted.data == {}
    # NaN is not JSON: recorded as null, as the file would hold it
    assert ModelInfo("fsrcnn", 2, metrics={"ssim": float("nan")}).metrics == {"ssim": None}


BAD = [
    ({"architecture": 5}, "field 'architecture' must be a string, got a whole number"),
    ({"architecture": ""}, "field 'architecture' must be a name such as 'edsr'"),
    ({"scale": 0}, "field 'scale' must be a whole number of at least 1, got a whole number"),
    ({"scale": 2.5}, r"field 'scale' must be a whole number .*got a number \(2.5\)"),
    ({"scale": True}, "field 'scale' must be a whole number .*got true/false"),
    ({"in_channels": 0}, "field 'in_channels' must be a whole number of at least 1"),
    ({"in_channels": "1"}, "field 'in_channels' must be a whole number .*got a string"),
    ({"hparams": "x"}, "field 'hparams' must be a JSON object of hyperparameters"),
    ({"hparams": {"d": {"x": 1}}}, "field 'hparams.d' must be a number, true/false, a string"),
    ({"color": "rgb"}, "field 'color' must be one of 'per_channel', 'joint', 'luma'"),
    ({"color": "joint"}, r"field 'color' must be 'per_channel' or 'luma' for a 1-channel"),
    ({"color": "luma", "in_channels": 3}, "field 'color' must be 'joint' for a 3-channel"),
    ({"out_channels": 3}, r"field 'out_channels' must be 1, as many as it takes"),
    ({"normalization": "range"}, "field 'normalization' must be a Normalization or None"),
    ({"normalization": {"kind": "odd", "low": 0, "high": 1}}, "kind must be one of"),
    ({"normalization": {"kind": "range"}}, "field 'normalization' must be a JSON object"),
    ({"input": "x"}, "field 'input' must be a InputContract"),
    ({"input": InputContract(dtypes=("int64",))}, "field 'input.dtypes' must be a tuple of"),
    ({"input": InputContract(dtypes=())}, "field 'input.dtypes' must be a tuple of"),
    ({"input": InputContract(spatial_dims=3)}, "field 'input.spatial_dims' must be 2"),
    ({"input": InputContract(other_dtypes="x")}, "'input.other_dtypes' must be a Normalizat"),
    ({"parameters": -1}, "field 'parameters' must be a whole number of at least 0"),
    ({"training": "steps"}, "field 'training' must be a JSON object"),
    ({"data": [1]}, "field 'data' must be a JSON object describing the training data"),
    ({"data": {"color": 3}}, "field 'data.color' must be a string"),
    ({"data": {"other_dtypes": "x"}}, "field 'data.other_dtypes' must be a JSON object"),
    ({"data": {"isotropic": {"factor": 0}}}, "field 'data.isotropic.factor' must be a posit"),
    ({"data": {"bursts": {"psf_sigma_hr_px": -1}}}, "psf_sigma_hr_px' must be a positive"),
    ({"data": {"bursts": {"psf_range_hr_px": [2, 1]}}}, "psf_range_hr_px' must be two numbers"),
    ({"data": {"bursts": {"psf_range_hr_px": [-1, 1]}}}, "psf_range_hr_px' must be two numbe"),
    ({"data": {"color": "luma"}, "color": "per_channel"}, "'data.color' must be left out"),
    ({"metrics": [1]}, "field 'metrics' must be a JSON object of measured metrics"),
    ({"metrics": {"psnr": "30"}}, "field 'metrics.psnr' must be a number or null"),
    ({"metrics": {"steps_done": 1.5}}, "field 'metrics.steps_done' must be a whole number"),
    ({"provenance": "x"}, "field 'provenance' must be a Provenance"),
    ({"provenance": Provenance(created=5)}, "field 'provenance.created' must be a string"),
    ({"provenance": Provenance(source=1)}, "field 'provenance.source' must be a string"),
]


@pytest.mark.parametrize(("changes", "match"), BAD, ids=[m for _, m in BAD])
def test_every_field_is_checked_with_a_message_that_names_it(changes, match):
    arguments = {"architecture": "fsrcnn", "scale": 2, **changes}
    with pytest.raises(ValueError, match=match) as caught:
        ModelInfo(**arguments)
    assert str(caught.value).startswith("model record") and "\n" not in str(caught.value)


def test_values_a_file_cannot_hold_are_a_type_error():
    with pytest.raises(TypeError, match=r"model's data\['x'\] is a object"):
        ModelInfo("fsrcnn", 2, data={"x": object()})


def test_updated_replaces_file_fields_and_checks_them():
    info = ModelInfo("fsrcnn", 2, hparams={"depths": (2,)}, provenance=Provenance(source="a"))
    new = info.updated(data={"color": "luma", "images": 2}, metrics={"psnr": 30.0},
                       normalization=MICROSCOPY.to_dict())  # fmt: skip
    assert new.color == "luma" and new.data == {"images": 2} and new.metrics.psnr == 30.0
    assert new.normalization == MICROSCOPY
    assert new.hparams == {"depths": (2,)} and new.provenance.source == "a"  # kept as given
    with pytest.raises(ValueError, match="field 'data.isotropic' must be a JSON object"):
        info.updated(data={"isotropic": [2]})
    with pytest.raises(ValueError, match=r"has no field\(s\) colour"):
        info.updated(colour="luma")


@pytest.mark.parametrize(
    ("recorded", "other", "dtype", "expected"),
    [
        (None, None, np.uint8, NATURAL_8BIT),
        (None, None, np.uint16, MICROSCOPY),
        (NATURAL_8BIT, IMAGE_RANGE, np.uint8, NATURAL_8BIT),
        (NATURAL_8BIT, IMAGE_RANGE, np.uint16, IMAGE_RANGE),
        (NATURAL_8BIT, IMAGE_RANGE, np.float32, IMAGE_RANGE),
        (NATURAL_8BIT, None, np.float32, NATURAL_8BIT),
        (MICROSCOPY, IMAGE_RANGE, np.float32, MICROSCOPY),  # other_dtypes is for 0-255 models
    ],
)
def test_the_normalisation_for_each_dtype(recorded, other, dtype, expected):
    info = ModelInfo("fsrcnn", 2, normalization=recorded, input=InputContract(other_dtypes=other))
    assert info.normalization_for(dtype) == expected


# ---------------------------------------------------------------------- metrics


def test_metrics_are_typed_and_a_misspelt_score_is_an_error():
    """The Train widget once read a ``best_psnr`` key that no file ever had: a typed record
    makes that an AttributeError instead of a silent None."""
    written = {"steps_done": 20, "stopped": None, "final_loss": 0.01, "psnr": 27.0,
               "ssim": 0.8, "bicubic_psnr": 28.0, "bicubic_ssim": 0.85, "gain_db": -1.0,
               "validation": {"psnr": 27.0, "ssim": 0.8, "step": 10},
               "bicubic": {"psnr": 28.0, "ssim": 0.85}}  # fmt: skip
    metrics = Metrics(written)
    assert (metrics.validation_psnr, metrics.gain_over_bicubic) == (27.0, -1.0)
    assert metrics.steps_done == 20 and metrics.bicubic == {"psnr": 28.0, "ssim": 0.85}
    assert dict(metrics) == written and metrics == written
    with pytest.raises(AttributeError):
        metrics.best_psnr  # noqa: B018
    # older files: scores without the validation record, gain computed from the two
    assert Metrics({"psnr": 30.0, "bicubic_psnr": 28.5}).gain_over_bicubic == 1.5
    scores = {"validation": {"psnr": 30.0}, "bicubic": {"psnr": 29.0}}
    assert Metrics(scores).gain_over_bicubic == 1.0
    assert Metrics({}).validation_psnr is None and Metrics({}).gain_over_bicubic is None


# ------------------------------------------------------------- models carry the record


def test_create_model_records_the_model_without_a_training_record():
    torch = pytest.importorskip("torch")
    from napari_sr import create_model

    model = create_model("care_unet", scale=1, depth=2, n_first=8)
    info = model.info
    assert (info.architecture, info.scale, info.in_channels) == ("care_unet", 1, 1)
    assert info.hparams == {"depth": 2, "n_first": 8} and model.hparams is info.hparams
    assert info.training is info.data is info.metrics is info.normalization is None
    assert info.parameters == sum(p.numel() for p in model.parameters())
    # views of the one record, and of the registry with the model's own receptive field
    assert model.spec.size_multiple == 4 and model.spec.name == "care_unet"
    assert model.checkpoint == info.to_dict()
    model.normalization = {"kind": "range", "low": 0, "high": 1}
    assert model.info.normalization == Normalization("range", 0.0, 1.0)
    assert model.info.hparams == info.hparams
    # only ``info`` is stored on the module; the rest are views
    stored = set(vars(model)) - set(vars(torch.nn.Module()))
    assert "info" in stored and not stored & {"spec", "hparams", "normalization", "checkpoint"}


def test_every_registered_architecture_carries_a_record():
    pytest.importorskip("torch")
    from napari_sr.models.network import SRModel
    from napari_sr.models.registry import REGISTRY, list_models

    for name in list_models():
        assert issubclass(REGISTRY.builder(name), SRModel), name
    # built from its class directly, a network has no record, and says so
    direct = REGISTRY.builder("fsrcnn")(scale=2)
    assert direct.info is None and getattr(direct, "spec", None) is None
    with pytest.raises(AttributeError, match="no spec: it was constructed directly"):
        SRModel.spec.fget(direct)


def test_a_saved_record_is_loaded_as_it_was(tmp_path):
    pytest.importorskip("torch")
    from napari_sr import create_model, load_model, save_model
    from napari_sr.models.checkpoint import read_metadata

    model = create_model("fsrcnn", scale=3, d=8, s=4, m=1)
    model.info = model.info.replace(color="luma", input=InputContract(other_dtypes=IMAGE_RANGE))
    path = save_model(model, tmp_path / "m.safetensors", normalization=NATURAL_8BIT,
                      metrics={"psnr": 30.0})  # fmt: skip
    loaded = load_model(path).info
    assert loaded.color == "luma" and loaded.input.other_dtypes == IMAGE_RANGE
    assert loaded.normalization == NATURAL_8BIT and loaded.metrics == {"psnr": 30.0}
    assert loaded.hparams == {"d": 8, "s": 4, "m": 1} and loaded.scale == 3
    assert loaded.provenance.source == "m.safetensors" and loaded.provenance.created
    # the file holds the record in format 1's layout, readable by older napari-sr
    meta = read_metadata(path)
    assert meta["data"] == {"color": "luma", "other_dtypes": IMAGE_RANGE.to_dict()}
    assert meta["format_version"] == 1 and loaded.to_dict() == meta


def test_bundled_weights_are_read_without_rewriting_them():
    pytest.importorskip("torch")
    from napari_sr.models.bundled import bundled_models
    from napari_sr.models.checkpoint import load_model, read_metadata

    for name, path in bundled_models().items():
        document = read_metadata(path)
        info = ModelInfo.from_dict(copy.deepcopy(document), source=path.name)
        assert info.to_dict() == document, name  # converted on read, written back the same
        if name.endswith(".sr291"):  # the single-image defaults: luma, 0-255
            assert info.luma and info.input.other_dtypes == IMAGE_RANGE, name
            assert info.normalization == NATURAL_8BIT, name
    loaded = load_model(bundled_models()["fsrcnn_x2.sr291"])
    assert loaded.info.provenance.source == "fsrcnn_x2.sr291.safetensors"


def test_third_party_weights_get_a_record_of_what_was_said(tmp_path):
    torch = pytest.importorskip("torch")
    from napari_sr import create_model, load_model

    torch.save(create_model("espcn", scale=2).state_dict(), tmp_path / "w.pth")
    info = load_model(tmp_path / "w.pth", architecture="espcn", scale=2).info
    assert (info.architecture, info.scale, info.in_channels, info.color) == (
        "espcn", 2, 1, "per_channel",
    )  # fmt: skip
    assert info.provenance == Provenance(source="w.pth") and info.training is None


def test_info_of_describes_a_module_napari_sr_did_not_build():
    torch = pytest.importorskip("torch")

    plain = torch.nn.Conv2d(3, 12, 3)
    plain.scale, plain.in_channels = 2, 3
    plain.normalization = {"kind": "range", "low": 0, "high": 4095}
    info = info_of(plain)
    assert (info.architecture, info.scale, info.in_channels, info.color) == (
        "conv2d", 2, 3, "joint",
    )  # fmt: skip
    assert info.normalization == Normalization("range", 0.0, 4095.0)
