"""Hostile and damaged model files, and hostile hyperparameters: every one is a ValueError
that names the problem and the fix, raised before a network is allocated, with no
library warning on the way."""

from __future__ import annotations

import copy
import json
import warnings
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

from napari_sr.models import create_model  # noqa: E402
from napari_sr.models import hyperparameters as hp  # noqa: E402
from napari_sr.models.checkpoint import (  # noqa: E402
    CheckpointError,
    load_model,
    read_metadata,
    save_model,
)
from napari_sr.models.registry import REGISTRY, list_models  # noqa: E402

DAMAGED = "the file is damaged or not a napari-sr model file"


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A small valid FSRCNN model file: (its description, its state dict)."""
    torch.manual_seed(0)
    model = create_model("fsrcnn", scale=2, d=8, s=4, m=1)
    path = save_model(
        model,
        tmp_path_factory.mktemp("good") / "good.safetensors",
        data={"color": "luma", "isotropic": {"factor": 2.0, "axial_profile": [0.5, 0.5]}},
        metrics={"psnr": 30.0},
    )
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return read_metadata(path), state


def _craft(path, document=None, state=None, *, text=None):
    """A model file as save_model writes it, with any description text and tensors."""
    if text is None:
        text = json.dumps(document)
    save_file(state, str(path), metadata={"format": "napari-sr-model", "napari_sr": text})
    return path


@pytest.fixture
def no_build(monkeypatch):
    """Fail the test if a network is built for real (planning on the meta device is free)."""

    def refuse(planned):
        raise AssertionError(f"{planned.name} was built before it was checked")

    monkeypatch.setattr(hp, "build", refuse)


def _set(path: str, value):
    """A mutation setting ``document[a][b]... = value`` (``value`` DELETE removes it)."""

    def mutate(document):
        *parents, last = path.split(".")
        node = document
        for key in parents:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node
        if value is DELETE:
            node.pop(last)
        else:
            node[last] = value

    return mutate


DELETE = object()

# (mutation, what the message must say): every field napari-sr reads, of every wrong kind
CORRUPTIONS = [
    (_set("hparams", "abc"), "'hparams' must be a JSON object of hyperparameters, got a string"),
    (_set("hparams", [1, 2]), "field 'hparams' must be a JSON object"),
    (_set("hparams", 3), "field 'hparams' must be a JSON object"),
    (_set("hparams.d", {"x": 1}), "field 'hparams.d' must be a number, true/false"),
    (_set("hparams.d", [[8]]), "field 'hparams.d' must be a number"),
    (_set("hparams.d", -1), "hyperparameter d of fsrcnn must be between 1 and 65536, got -1"),
    (_set("hparams.d", 0), "hyperparameter d of fsrcnn must be between 1"),
    (_set("hparams.d", 100000), "hyperparameter d of fsrcnn must be between 1 and 65536"),
    (_set("hparams.d", 8.0), r"d of fsrcnn must be a whole number, got a number \(8.0\)"),
    (_set("hparams.m", 1.5), "hyperparameter m of fsrcnn must be a whole number"),
    (_set("hparams.d", True), r"must be a whole number, got true/false"),
    (_set("hparams.d", "8"), "must be a whole number, got a string"),
    (_set("hparams.depth", 3), r"fsrcnn has no hyperparameter\(s\) depth; it takes d, s, m"),
    (_set("architecture", 5), "field 'architecture' must be a string, got a whole number"),
    (_set("architecture", None), "field 'architecture' must be a string, got null"),
    (_set("architecture", "nope"), "architecture 'nope', which this napari-sr does not have"),
    (_set("architecture", DELETE), "lacks field 'architecture'"),
    (_set("data", "x"), "field 'data' must be a JSON object describing the training data"),
    (_set("data", [1]), "field 'data' must be a JSON object"),
    (_set("in_channels", "1"), "'in_channels' must be a whole number of at least 1, got a string"),
    (_set("in_channels", 1.0), r"'in_channels' must be a whole number .* got a number \(1.0\)"),
    (_set("in_channels", 0), "field 'in_channels' must be a whole number of at least 1"),
    (_set("in_channels", True), "field 'in_channels' must be a whole number"),
    (_set("in_channels", DELETE), "lacks field 'in_channels'"),
    (_set("scale", "2"), "field 'scale' must be a whole number"),
    (_set("scale", 2.0), "field 'scale' must be a whole number"),
    (_set("scale", 2.5), "field 'scale' must be a whole number"),
    (_set("scale", -2), "field 'scale' must be a whole number of at least 1"),
    (_set("scale", 5), "fsrcnn supports scales 2, 3, 4, not 5"),
    (_set("scale", DELETE), "lacks field 'scale'"),
    (_set("format_version", "1"), "field 'format_version' must be a whole number"),
    (_set("format_version", 1.0), "field 'format_version' must be a whole number"),
    (_set("format_version", 0), "field 'format_version' must be a whole number of at least 1"),
    (_set("format_version", DELETE), "lacks field 'format_version'"),
    (_set("format", "other"), "not a napari-sr model record"),
    (_set("parameters", 1.5), "field 'parameters' must be a whole number of at least 0"),
    (_set("parameters", "12"), "field 'parameters' must be a whole number"),
    (_set("created", 5), "field 'created' must be a string"),
    (_set("napari_sr_version", [1]), "field 'napari_sr_version' must be a string"),
    (_set("normalization", "range"), "field 'normalization' must be a JSON object such as"),
    (_set("normalization", {"kind": "range"}), "field 'normalization' must be a JSON object"),
    (_set("normalization", {"kind": 1, "low": 0, "high": 1}), "field 'normalization' must be"),
    (_set("normalization", {"kind": "range", "low": "0", "high": 1}), "field 'normalization'"),
    (_set("normalization", {"kind": "range", "low": 5, "high": 1}), "finite low < high"),
    (_set("normalization", {"kind": "odd", "low": 0, "high": 1}), "kind must be one of"),
    (_set("normalization", {"kind": "percentile", "low": 0, "high": 300}), "percentiles"),
    (_set("training", "steps"), "field 'training' must be a JSON object"),
    (_set("metrics", [30.0]), "field 'metrics' must be a JSON object of measured metrics"),
    (_set("extra", 1), r"unknown field\(s\) 'extra'"),
    (_set("metrics.gain_db", "1.2"), "field 'metrics.gain_db' must be a number or null"),
    (_set("metrics.steps_done", 2.5), "field 'metrics.steps_done' must be a whole number"),
    (_set("metrics.validation", 30), "field 'metrics.validation' must be a JSON object"),
    (_set("metrics.bicubic.psnr", [1]), "field 'metrics.bicubic.psnr' must be a number"),
    (_set("data.color", 3), "field 'data.color' must be a string"),
    (_set("data.other_dtypes", "percentile"), "field 'data.other_dtypes' must be a JSON object"),
    (_set("data.training", "images"), "field 'data.training' must be a JSON object"),
    (_set("data.bursts", "x"), "field 'data.bursts' must be a JSON object"),
    (_set("data.bursts.psf_sigma_hr_px", "1"), "'data.bursts.psf_sigma_hr_px' must be a positive"),
    (_set("data.bursts", {"psf_sigma_hr_px": -1}), "psf_sigma_hr_px' must be a positive number"),
    (_set("data.isotropic", [2]), "field 'data.isotropic' must be a JSON object"),
    (_set("data.isotropic.factor", "2"), "'data.isotropic.factor' must be a positive number"),
    (_set("data.isotropic.factor", 0), "field 'data.isotropic.factor' must be a positive number"),
    (_set("data.isotropic.factor", DELETE), "field 'data.isotropic.factor' must be a positive"),
    (_set("data.isotropic.axial_profile", "abc"), "axial_profile' must be a list of 1 to 4096"),
    (_set("data.isotropic.axial_profile", ["a"]), "axial_profile' must be a list"),
    (_set("metrics", {"a": {"b": json.loads("[" * 40 + "]" * 40)}}), "nested more than 32 levels"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "match"), CORRUPTIONS, ids=[m for _, m in CORRUPTIONS])
def test_every_corrupt_description_is_a_clear_error(good, tmp_path, no_build, mutate, match):
    document, state = copy.deepcopy(good[0]), good[1]
    mutate(document)
    path = _craft(tmp_path / "bad.safetensors", document, state)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no library warning on the way
        with pytest.raises(CheckpointError, match=match) as caught:
            load_model(path)
    message = str(caught.value)
    assert "bad.safetensors" in message and "\n" not in message
    # every message says what to do: re-save, upgrade, or another value
    assert DAMAGED in message or "upgrade" in message


def test_read_metadata_checks_the_description_too(good, tmp_path):
    document = copy.deepcopy(good[0])
    document["hparams"] = "abc"
    path = _craft(tmp_path / "m.safetensors", document, good[1])
    with pytest.raises(CheckpointError, match=f"field 'hparams' must be .*; {DAMAGED}"):
        read_metadata(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "its description is not valid JSON"),
        ('{"format": "napari-sr-model", "scale": NaN}', "NaN is not a JSON number"),
        ('{"format": "napari-sr-model", "scale": Infinity}', "Infinity is not a JSON number"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("[]", "not a napari-sr model record"),
        ('"napari-sr-model"', "not a napari-sr model record"),
        ("", "not valid JSON"),
    ],
    ids=["truncated", "nan", "infinity", "deep", "list", "string", "empty"],
)
def test_a_description_that_is_not_json_is_a_clear_error(good, tmp_path, text, match):
    path = _craft(tmp_path / "m.safetensors", state=good[1], text=text)
    with pytest.raises(CheckpointError, match=f"{match}.*{DAMAGED}"):
        load_model(path)


def test_a_small_file_claiming_a_huge_network_fails_before_allocating(tmp_path, request):
    """The issue's case: an 89 KB EDSR file whose description says n_feats=600 used to
    build a 1 GB network before its weights were found not to fit."""
    model = create_model("edsr", scale=2, n_resblocks=2, n_feats=16)
    path = save_model(model, tmp_path / "m.safetensors")
    request.getfixturevalue("no_build")
    document = read_metadata(path)
    document["hparams"] = {"n_resblocks": 32, "n_feats": 600}
    _craft(path, document, model.state_dict())
    expected = (
        r"its weights do not fit its description \(edsr x2 with 1 channel\(s\), "
        r"n_resblocks=32, n_feats=600\) - missing: .*wrong shape \(file vs model\): "
        r"head.weight \(16, 1, 3, 3\) vs \(600, 1, 3, 3\)"
    )
    with pytest.raises(CheckpointError, match=expected):
        load_model(path)


def test_a_network_too_deep_to_plan_is_refused_while_planning(tmp_path, monkeypatch, no_build):
    monkeypatch.setattr(hp, "MAX_TORCH_CALLS", 500)
    for name, deep in (("fsrcnn", {"m": 1000}), ("lapsrn", {"depth": 1000})):
        with pytest.raises(ValueError, match=f"{name} with .*=1000 has too many layers"):
            create_model(name, scale=2, **deep)
        # stopped half-way through a constructor, the build leaves no global state behind
        assert torch.is_grad_enabled()


@pytest.mark.parametrize(
    ("hparams", "match"),
    [
        ({"n_feats": -1}, "hyperparameter n_feats of edsr must be between 1 and 65536, got -1"),
        ({"n_feats": 0}, "must be between 1 and 65536, got 0"),
        ({"n_feats": 100000}, "must be between 1 and 65536, got 100000"),
        ({"n_feats": 64.0}, "n_feats of edsr must be a whole number, got a number"),
        ({"n_feats": True}, "must be a whole number, got true/false"),
        ({"n_feats": "64"}, "must be a whole number, got a string"),
        ({"n_feats": None}, "must be a whole number, got null"),
        ({"res_scale": float("nan")}, "res_scale of edsr must be between"),
        ({"res_scale": "0.1"}, "res_scale of edsr must be a number, got a string"),
        ({"res_scale": 1e30}, "res_scale of edsr must be between"),
        ({"n_feats": 4096}, r"edsr with n_feats=4096 would have [\d,]+ parameters .*at most "),
        ({"n_resblocks": 2000}, r"n_resblocks=2000 would have [\d,]+ parameters"),
        ({"nfeats": 64}, r"edsr has no hyperparameter\(s\) nfeats; it takes n_resblocks"),
    ],
)
def test_create_model_bounds_hyperparameters_before_building(no_build, hparams, match):
    with pytest.raises(ValueError, match=match):
        create_model("edsr", scale=2, **hparams)


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("espcn", {"features": (64,)}, "features of espcn must list 2 values"),
        ("espcn", {"features": 64}, "features of espcn must be a list"),
        ("espcn", {"features": (64, 2.5)}, r"features\[1\] of espcn must be a whole number"),
        ("swinir_light", {"depths": ()}, "depths of swinir_light must list 1 to 64 values"),
        ("swinir_light", {"mlp_ratio": 0}, "mlp_ratio of swinir_light must be positive"),
        ("swinir_light", {"drop_path_rate": 1.5}, r"drop_path_rate .* must be in \[0, 1\)"),
        ("swinir_light", {"upsampler": 3}, "upsampler of swinir_light must be a short string"),
        ("highresnet", {"prior": 1}, "prior of highresnet must be true or false"),
    ],
)
def test_every_kind_of_hyperparameter_is_typed(no_build, name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_model(name, scale=2, **kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        # odd but typed values a constructor refuses: its reason, in a ValueError
        ("swinir_light", {"embed_dim": 61}, r"swinir_light cannot be built with embed_dim=61 "
         r"\(embed_dim 61 is not divisible by 6 heads\)"),
        ("swinir_light", {"upsampler": "nearest"}, "cannot be built with upsampler='nearest'"),
        ("rcan", {"reduction": 1000}, "rcan with reduction=1000 has layers without weights"),
    ],
)  # fmt: skip
def test_constructor_failures_are_value_errors_naming_the_hyperparameters(
    no_build, name, kwargs, match
):
    with pytest.raises(ValueError, match=match):
        create_model(name, scale=2, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scale": "2"}, "fsrcnn supports scales 2, 3, 4, not '2'"),
        ({"scale": 2.5}, "supports scales 2, 3, 4, not 2.5"),
        ({"scale": True}, "supports scales 2, 3, 4, not True"),
        ({"scale": 2, "in_channels": 0}, "in_channels of fsrcnn must be between 1 and 65536"),
        ({"scale": 2, "in_channels": 1.0}, "in_channels of fsrcnn must be a whole number"),
        ({"scale": 2, "in_channels": "3"}, "in_channels of fsrcnn must be a whole number"),
    ],
)
def test_scale_and_channels_are_checked(no_build, kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_model("fsrcnn", **kwargs)


@pytest.mark.parametrize(
    ("hparams", "match"),
    [
        ({"d": 100000}, "hyperparameter d of fsrcnn must be between 1 and 65536"),
        ({"d": 4.0}, "hyperparameter d of fsrcnn must be a whole number"),
        ({"d": 4096, "s": 4096}, "fsrcnn with d=4096, s=4096 would have"),
    ],
)
def test_training_bounds_hyperparameters_before_building(no_build, hparams, match):
    from napari_sr import train

    image = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    with pytest.raises(ValueError, match=match):
        train("fsrcnn", [image], scale=2, steps=1, patch_size=32, hparams=hparams)


def test_an_unknown_device_is_a_value_error(good, tmp_path):
    path = _craft(tmp_path / "m.safetensors", *good)
    with pytest.raises(ValueError, match="gpu"):
        load_model(path, device="gpu")


def test_a_whole_float_scale_is_taken_and_numpy_integers_are_ints():
    model = create_model("fsrcnn", scale=2.0, d=np.int64(8), s=4, m=1)
    assert model.scale == 2 and type(model.scale) is int
    assert model.hparams == {"d": 8, "s": 4, "m": 1} and type(model.hparams["d"]) is int


def test_a_network_larger_than_the_memory_available_is_refused(monkeypatch, no_build):
    import napari_sr.utils.memory as memory

    monkeypatch.setattr(memory, "available_memory", lambda: 2**20)
    with pytest.raises(ValueError, match=r"edsr_baseline with in_channels=1 would have .*"
                       r"only 0.0 GiB of memory is available"):  # fmt: skip
        create_model("edsr_baseline", scale=2)


def test_names_that_are_not_strings_are_unknown_models():
    from napari_sr.models.registry import UnknownModelError

    with pytest.raises(UnknownModelError, match="named by a string such as 'edsr', not int 5"):
        create_model(5, scale=2)


@pytest.mark.parametrize("name", sorted(set(list_models())))
def test_the_plan_matches_the_network_it_describes(name):
    """The meta-device estimate is exact: same tensors, shapes and parameter count."""
    scale = REGISTRY.spec(name).scales[0]
    small = {"swinir": {"depths": (2,), "num_heads": (6,)}}.get(name, {})
    planned = hp.plan(name, scale=scale, in_channels=1, hparams=small)
    model = create_model(name, scale=scale, **small)
    state = model.state_dict()
    assert planned.shapes == {
        k: (tuple(v.shape), hp.number_kind(v.dtype)) for k, v in state.items()
    }
    tensors = {id(t): t for t in (*model.parameters(), *model.buffers())}
    assert planned.parameters == sum(t.numel() for t in tensors.values())


# ------------------------------------------------------------------------------- weights


@pytest.mark.parametrize(
    ("value", "count"), [(float("nan"), 200), (float("inf"), 200), (-float("inf"), 1)]
)
def test_non_finite_weights_are_refused(good, tmp_path, value, count):
    document, state = good
    state = dict(state)
    weight = state["body.0.weight"].clone()
    if count == 1:
        weight[0, 0, 0, 0] = value
    else:
        weight[:] = value
    state["body.0.weight"] = weight
    path = _craft(tmp_path / "m.safetensors", document, state)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            CheckpointError,
            match=rf"'m.safetensors' has {count} non-finite weights \(NaN or infinity\) in "
            r"body.0.weight; it is damaged or its training diverged - retrain",
        ):
            load_model(path)


def test_non_finite_bare_weights_are_refused_too(good, tmp_path):
    state = dict(good[1])
    state["deconv.bias"] = torch.full_like(state["deconv.bias"], float("nan"))
    state["body.0.bias"] = torch.full_like(state["body.0.bias"], float("nan"))
    torch.save(state, tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match="in body.0.bias and 1 more tensors"):
        load_model(tmp_path / "w.pth", architecture="fsrcnn", scale=2, d=8, s=4, m=1)


@pytest.mark.parametrize(
    ("dtype", "match"),
    [
        (
            torch.int32,
            r"wrong kind of number: body.0.weight \(integer in the file, "
            r"floating point in the model\)",
        ),
        (torch.bool, r"wrong kind of number: body.0.weight \(true/false in the file"),
        (torch.complex64, r"wrong kind of number: body.0.weight \(complex in the file"),
    ],
)
def test_weights_that_are_not_real_floats_are_refused(good, tmp_path, dtype, match):
    state = {**good[1], "body.0.weight": good[1]["body.0.weight"].to(dtype)}
    torch.save(state, tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match=match):
        load_model(tmp_path / "w.pth", architecture="fsrcnn", scale=2, d=8, s=4, m=1)


def test_half_precision_weights_are_loaded(good, tmp_path):
    document, state = good
    half = {k: v.half() for k, v in state.items()}
    loaded = load_model(_craft(tmp_path / "m.safetensors", document, half))
    assert loaded.body[0].weight.dtype == torch.float32
    assert torch.equal(loaded.body[0].weight, state["body.0.weight"].half().float())


def test_weights_of_the_wrong_shape_name_the_tensor(good, tmp_path, no_build):
    document, state = good
    state = {**state, "body.0.weight": state["body.0.weight"][:1]}
    path = _craft(tmp_path / "m.safetensors", document, state)
    with pytest.raises(
        CheckpointError,
        match=r"weights do not fit its description .* wrong shape \(file vs model\): "
        rf"body.0.weight \(1, 1, 5, 5\) vs \(8, 1, 5, 5\); {DAMAGED}",
    ):
        load_model(path)


# --------------------------------------------------------------------- third-party files


def _quiet_load(path, capfd, **kwargs):
    """load_model, asserting that nothing is warned or printed on the way."""
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            load_model(path, **kwargs)
        finally:
            assert [str(w.message) for w in seen] == []
            out, err = capfd.readouterr()
            assert out == err == ""


def test_a_torchscript_archive_is_refused_without_warnings(tmp_path, capfd):
    with warnings.catch_warnings():  # torch.jit.script is deprecated; its files still exist
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(torch.nn.Conv2d(1, 1, 3))
    scripted.save(str(tmp_path / "net.pt"))
    with pytest.raises(CheckpointError, match=r"net.pt is a TorchScript archive .*"
                       r"torch.jit.load\(path\).state_dict\(\)"):  # fmt: skip
        _quiet_load(tmp_path / "net.pt", capfd, architecture="fsrcnn", scale=2)


def test_a_zip_bomb_is_refused_before_unpacking(tmp_path):
    path = tmp_path / "bomb.pth"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\0" * (8 << 20))
    assert path.stat().st_size < 100_000
    with pytest.raises(CheckpointError, match="unpacks to 8,388,608 bytes .* a zip bomb"):
        load_model(path, architecture="fsrcnn", scale=2)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ([torch.zeros(1)], r"holds list, not a state dict .*torch.save\(model.state_dict\(\)"),
        (torch.zeros(3), "holds Tensor, not a state dict"),
        ({"w": torch.zeros(1), "epoch": 5}, "its entry 'epoch' is int, not a tensor"),
        ({"state_dict": {"w": torch.zeros(1), "meta": {"a": 1}}}, "entry 'meta' is dict"),
        ({1: torch.zeros(1)}, "has a key 1 that is not a name"),
        ({"w": torch.zeros(2).to_sparse()}, "'w' is not a plain dense tensor"),
    ],
    ids=["list", "tensor", "int-entry", "nested-dict", "int-key", "sparse"],
)
def test_pth_payloads_that_are_not_state_dicts(tmp_path, capfd, payload, match):
    torch.save(payload, tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match=match):
        _quiet_load(tmp_path / "w.pth", capfd, architecture="fsrcnn", scale=2)


@pytest.mark.parametrize(
    "blob", [b"", b"not a pickle at all", b"PK\x03\x04garbage"], ids=["empty", "text", "zip"]
)
def test_a_pth_that_is_not_pytorch_is_a_clear_error(tmp_path, capfd, blob):
    (tmp_path / "w.pth").write_bytes(blob)
    with pytest.raises(CheckpointError, match=r"w.pth (is not a PyTorch weights file|cannot "
                       r"be read as PyTorch weights|is a damaged zip)"):  # fmt: skip
        _quiet_load(tmp_path / "w.pth", capfd, architecture="fsrcnn", scale=2)


def test_a_truncated_safetensors_header_is_a_clear_error(good, tmp_path):
    path = _craft(tmp_path / "m.safetensors", *good)
    blob = path.read_bytes()
    path.write_bytes(blob[:8] + blob[8:40])
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_model(path)


# ---------------------------------------------------------------------------- save side


def test_save_model_refuses_a_description_load_model_would_refuse(tmp_path):
    model = create_model("fsrcnn", scale=2, d=8, s=4, m=1)
    for data, field in (
        ({"color": 3}, "data.color"),
        ({"isotropic": {"factor": -1}}, "data.isotropic.factor"),
    ):
        with pytest.raises(ValueError, match=f"field '{field}' must be .*pass save_model"):
            save_model(model, tmp_path / "m.safetensors", data=data)
    assert not list(tmp_path.iterdir())
