import pytest

from napari_sr.axes import default_axes, is_rgb, resolve_axes, validate_axes


@pytest.mark.parametrize(
    ("shape", "axes"),
    [
        ((64, 48), "YX"),
        ((5, 64, 48), "ZYX"),
        ((64, 48, 3), "YXC"),
        ((64, 48, 4), "YXC"),
        ((7, 64, 48, 3), "ZYXC"),
        ((2, 7, 64, 48), "TZYX"),
        ((2, 7, 3, 64, 48), "TZCYX"),
        ((2, 7, 64, 48, 3), "TZYXC"),
    ],
)
def test_default_axes(shape, axes):
    assert default_axes(shape) == axes


@pytest.mark.parametrize("shape", [(10,), (1, 2, 3, 4, 5, 6)])
def test_default_axes_refuses_to_guess(shape):
    with pytest.raises(ValueError, match="pass axes explicitly"):
        default_axes(shape)


def test_validate_upper_cases():
    assert validate_axes("zyx", (2, 3, 4)) == "ZYX"


@pytest.mark.parametrize(
    ("axes", "shape", "match"),
    [
        ("ZYX", (3, 4), "has 3 letters but the array has 2 dimensions"),
        ("QYX", (2, 3, 4), "unknown letter"),
        ("YYX", (2, 3, 4), "repeats 'Y'"),
        ("TZX", (2, 3, 4), "lacks the image axes Y and X"),
    ],
)
def test_validate_errors(axes, shape, match):
    with pytest.raises(ValueError, match=match):
        validate_axes(axes, shape)


def test_validate_type_error():
    with pytest.raises(TypeError, match="axes must be a string"):
        validate_axes(3, (2, 3))


def test_resolve_and_rgb():
    assert resolve_axes(None, (4, 5)) == "YX"
    assert resolve_axes("cyx", (2, 4, 5)) == "CYX"
    assert is_rgb("YXC", (4, 5, 3))
    assert not is_rgb("CYX", (3, 4, 5))
    assert not is_rgb("YXC", (4, 5, 2))


@pytest.mark.parametrize(
    ("shape", "rgb", "axes"),
    [
        ((64, 48, 3), False, "ZYX"),  # a napari layer that is not RGB: 3 planes
        ((7, 64, 48, 4), False, "TZYX"),
        ((64, 48, 3), True, "YXC"),
        ((64, 48, 3), None, "YXC"),
    ],
)
def test_default_axes_of_a_layer_that_says_whether_it_is_rgb(shape, rgb, axes):
    assert default_axes(shape, rgb=rgb) == axes


def test_the_axes_of_one_frame_of_a_burst():
    from napari_sr.axes import frame_axes

    assert [frame_axes(n) for n in (1, 2, 3, 4, 5)] == [None, "YX", "ZYX", "ZCYX", None]
