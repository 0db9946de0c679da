"""Tests for sam2_hf.formats.draw: small synthetic images and masks, no torch."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sam2_hf.formats.draw import (
    BACKGROUND_POINT_COLOR,
    BOX_COLOR,
    FOREGROUND_POINT_COLOR,
    PALETTE,
    cutout,
    object_color,
    overlay,
    remove_background,
)


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)


@pytest.fixture
def mask() -> np.ndarray:
    mask = np.zeros((20, 30), dtype=bool)
    mask[4:12, 6:18] = True  # rows 4..11, columns 6..17
    return mask


def _blend(pixels: np.ndarray, color: tuple[int, int, int], alpha: float) -> np.ndarray:
    return np.rint((1 - alpha) * pixels.astype(np.float32) + alpha * np.float32(color))


# --- cutout / remove_background ------------------------------------------------------------


def test_cutout_alpha_follows_mask(image: np.ndarray, mask: np.ndarray) -> None:
    rgba = cutout(image, mask)
    assert rgba.shape == (20, 30, 4) and rgba.dtype == np.uint8
    np.testing.assert_array_equal(rgba[..., 3], np.where(mask, 255, 0))
    np.testing.assert_array_equal(rgba[..., :3], image)


def test_cutout_crop_is_inclusive_box(image: np.ndarray, mask: np.ndarray) -> None:
    rgba = cutout(image, mask, crop=True)
    assert rgba.shape == (8, 12, 4)
    np.testing.assert_array_equal(rgba[..., :3], image[4:12, 6:18])
    assert (rgba[..., 3] == 255).all()
    single = np.zeros((20, 30), bool)
    single[19, 29] = True
    assert cutout(image, single, crop=True).shape == (1, 1, 4)


def test_cutout_returns_pil_for_pil(image: np.ndarray, mask: np.ndarray) -> None:
    result = cutout(Image.fromarray(image), mask, crop=True)
    assert isinstance(result, Image.Image)
    assert result.mode == "RGBA" and result.size == (12, 8)


def test_remove_background(image: np.ndarray, mask: np.ndarray) -> None:
    result = remove_background(image, mask, background=(0, 10, 20))
    assert result.shape == (20, 30, 3) and result.dtype == np.uint8
    np.testing.assert_array_equal(result[mask], image[mask])
    assert (result[~mask] == [0, 10, 20]).all()
    np.testing.assert_array_equal(
        remove_background(image, mask, background=None), cutout(image, mask)
    )
    white = remove_background(Image.fromarray(image), mask)
    assert isinstance(white, Image.Image) and white.mode == "RGB"
    assert np.asarray(white)[0, 0].tolist() == [255, 255, 255]


@pytest.mark.parametrize("background", [(0, 0), (0, 0, 256), (0.5, 0, 0), "red"])
def test_remove_background_rejects_bad_colour(
    image: np.ndarray, mask: np.ndarray, background: object
) -> None:
    with pytest.raises(
        ValueError, match=r"background must be three ints \(r, g, b\) in \[0, 255\]"
    ):
        remove_background(image, mask, background=background)  # type: ignore[arg-type]


# --- accepted image forms ------------------------------------------------------------------


def test_grayscale_float_and_rgba_images(image: np.ndarray, mask: np.ndarray) -> None:
    gray = image[..., 0]
    np.testing.assert_array_equal(cutout(gray, mask)[..., :3], np.repeat(gray[..., None], 3, 2))
    floats = image / 255.0
    np.testing.assert_array_equal(cutout(floats, mask)[..., :3], image)
    rgba = np.dstack([image, np.zeros((20, 30), np.uint8)])
    np.testing.assert_array_equal(cutout(rgba, mask)[..., 3], np.where(mask, 255, 0))
    np.testing.assert_array_equal(overlay(image.astype(np.int64), mask), overlay(image, mask))
    pil_gray = overlay(Image.fromarray(gray), mask)
    assert isinstance(pil_gray, Image.Image) and pil_gray.mode == "RGB"


@pytest.mark.parametrize("function", [cutout, remove_background, overlay])
def test_inputs_are_not_modified(function, image: np.ndarray, mask: np.ndarray) -> None:
    image_before, mask_before = image.copy(), mask.copy()
    result = function(image, mask)
    np.testing.assert_array_equal(image, image_before)
    np.testing.assert_array_equal(mask, mask_before)
    assert not np.shares_memory(result, image)
    floats = image / 255.0
    floats_before = floats.copy()
    function(floats, mask)
    np.testing.assert_array_equal(floats, floats_before)


@pytest.mark.parametrize("function", [cutout, remove_background, overlay])
def test_image_and_mask_errors(function, image: np.ndarray, mask: np.ndarray) -> None:
    with pytest.raises(
        ValueError, match=r"with \(H, W\) = \(20, 30\) as the image, got \(30, 20\)"
    ):
        function(image, mask.T)
    with pytest.raises(TypeError, match="image must be a numpy array or PIL.Image, got list"):
        function(image.tolist(), mask)
    with pytest.raises(ValueError, match=r"image must have shape .*, got \(20, 30, 2\)"):
        function(image[..., :2], mask)
    with pytest.raises(ValueError, match=r"a float image must have values in \[0, 1\]"):
        function(image.astype(np.float32), mask)
    with pytest.raises(ValueError, match=r"an integer image must have values in \[0, 255\]"):
        function(image.astype(np.int16) - 1, mask)
    with pytest.raises(
        TypeError, match="image must be a uint8, integer or float array, got dtype bool"
    ):
        function(image > 0, mask)
    with pytest.raises(TypeError, match="must be a bool or integer array, got dtype float64"):
        function(image, mask.astype(float))


def test_cutout_errors(image: np.ndarray, mask: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"mask must have shape \(H, W\), got \(1, 20, 30\)"):
        cutout(image, mask[None])
    with pytest.raises(ValueError, match="mask is empty, so crop=True has nothing to crop to"):
        cutout(image, np.zeros_like(mask), crop=True)


# --- overlay -------------------------------------------------------------------------------


def test_overlay_blends_only_where_mask_is(image: np.ndarray, mask: np.ndarray) -> None:
    result = overlay(image, mask, alpha=0.25, contours=False)
    assert result.shape == (20, 30, 3) and result.dtype == np.uint8
    np.testing.assert_array_equal(result[~mask], image[~mask])
    np.testing.assert_array_equal(result[mask], _blend(image[mask], object_color(0), 0.25))
    np.testing.assert_array_equal(overlay(image, mask, alpha=0.0, contours=False), image)


def test_overlay_contour_is_opaque_inner_edge(image: np.ndarray, mask: np.ndarray) -> None:
    result = overlay(image, mask, alpha=0.5, obj_ids=[7])
    color = object_color(7)
    edge = mask.copy()
    edge[5:11, 7:17] = False  # one pixel wide for a 20x30 image
    assert (result[edge] == color).all()
    np.testing.assert_array_equal(result[5:11, 7:17], _blend(image[5:11, 7:17], color, 0.5))
    np.testing.assert_array_equal(result[~mask], image[~mask])


def test_overlay_colours_are_deterministic_per_id(image: np.ndarray) -> None:
    masks = np.zeros((2, 20, 30), dtype=bool)
    masks[0, :5] = True
    masks[1, 10:] = True
    both = overlay(image, masks, obj_ids=[3, 11], contours=False, alpha=1.0)
    assert (both[:5] == object_color(3)).all() and (both[10:] == object_color(11)).all()
    alone = overlay(image, masks[1], obj_ids=[11], contours=False, alpha=1.0)
    np.testing.assert_array_equal(alone[10:], both[10:])
    assert object_color(3) != object_color(11)
    assert object_color(len(PALETTE) + 3) == object_color(3) == PALETTE[3]
    default = overlay(image, masks, contours=False, alpha=1.0)
    assert (default[:5] == object_color(0)).all() and (default[10:] == object_color(1)).all()


def test_overlay_later_masks_on_top(image: np.ndarray) -> None:
    masks = np.ones((2, 20, 30), dtype=bool)
    result = overlay(image, masks, alpha=1.0, contours=False)
    assert (result == object_color(1)).all()


def test_overlay_points_and_boxes(image: np.ndarray, mask: np.ndarray) -> None:
    result = overlay(
        image,
        np.zeros((0, 20, 30), bool),
        points=np.array([[3.0, 3.0], [25.0, 15.0]]),
        point_labels=[1, 0],
        boxes=[6, 4, 17, 11],
    )
    assert result[3, 3].tolist() == list(FOREGROUND_POINT_COLOR)
    assert result[15, 25].tolist() == list(BACKGROUND_POINT_COLOR)
    assert result[4, 10].tolist() == list(BOX_COLOR)  # top edge of the box
    assert result[11, 17].tolist() == list(BOX_COLOR)  # bottom-right corner, inclusive
    np.testing.assert_array_equal(result[7, 10], image[7, 10])  # inside the box: untouched
    assert overlay(image, mask, points=[[3, 3]])[3, 3].tolist() == list(FOREGROUND_POINT_COLOR)


def test_overlay_of_an_empty_list_is_the_image_with_its_prompts(image: np.ndarray) -> None:
    # A detector that found nothing gives [] (no shape, no dtype): nothing is painted.
    np.testing.assert_array_equal(overlay(image, []), image)
    assert overlay(image, (), points=[[3, 3]])[3, 3].tolist() == list(FOREGROUND_POINT_COLOR)


def test_overlay_pil_in_pil_out(image: np.ndarray, mask: np.ndarray) -> None:
    result = overlay(Image.fromarray(image), mask)
    assert isinstance(result, Image.Image) and result.mode == "RGB" and result.size == (30, 20)
    np.testing.assert_array_equal(np.asarray(result), overlay(image, mask))


def test_overlay_errors(image: np.ndarray, mask: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got 1.5"):
        overlay(image, mask, alpha=1.5)
    with pytest.raises(ValueError, match=r"obj_ids must have shape \(1,\), got \(2,\)"):
        overlay(image, mask, obj_ids=[1, 2])
    with pytest.raises(TypeError, match="obj_ids must be integers, got dtype float64"):
        overlay(image, mask, obj_ids=[1.0])
    with pytest.raises(ValueError, match=r"points must have shape \(P, 2\), got \(3,\)"):
        overlay(image, mask, points=[1, 2, 3])
    with pytest.raises(ValueError, match=r"point_labels must have shape \(1,\), got \(2,\)"):
        overlay(image, mask, points=[[1, 2]], point_labels=[1, 0])
    with pytest.raises(ValueError, match="point_labels must be 1 .* or 0"):
        overlay(image, mask, points=[[1, 2]], point_labels=[2])
    with pytest.raises(ValueError, match="point_labels were given without points"):
        overlay(image, mask, point_labels=[1])
    with pytest.raises(ValueError, match=r"boxes must have shape \(4,\) or \(B, 4\), got \(3,\)"):
        overlay(image, mask, boxes=[1, 2, 3])
    with pytest.raises(ValueError, match="x0 <= x1 and y0 <= y1"):
        overlay(image, mask, boxes=[5, 5, 1, 9])
