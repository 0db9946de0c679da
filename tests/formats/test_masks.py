"""Tests for sam2_hf.formats.masks: small hand-written masks, no torch."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sam2_hf.formats.masks import (
    Polygon,
    clean_mask_logits,
    invert,
    load_mask,
    mask_area,
    mask_to_box,
    mask_to_polygons,
    polygons_to_mask,
    remove_small_regions,
    save_mask,
    save_masks,
)


def _rectangle(height: int, width: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """A mask with rows y0:y1 and columns x0:x1 set (half-open, numpy slicing)."""
    mask = np.zeros((height, width), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _ring() -> np.ndarray:
    """An 8x8 square outline, two pixels thick, with a 2x2 hole."""
    mask = _rectangle(8, 8, 1, 7, 1, 7)
    mask[3:5, 3:5] = False
    return mask


# --- the existing clean-up helpers ---------------------------------------------------------


def test_clean_mask_logits_fills_hole_and_removes_speck() -> None:
    logits = np.full((6, 6), -5.0)
    logits[0:4, 0:4] = 5.0
    logits[1, 1] = -5.0
    logits[5, 5] = 5.0
    original = logits.copy()
    cleaned = clean_mask_logits(logits, max_hole_area=1, max_sprinkle_area=1)
    assert cleaned.dtype == np.float32
    assert cleaned[1, 1] == 10.0 and cleaned[5, 5] == -10.0
    np.testing.assert_array_equal(logits, original)


def test_remove_small_regions_keeps_largest_when_all_small() -> None:
    mask = np.zeros((5, 5), dtype=bool)
    mask[0, 0] = True
    mask[3:5, 3:5] = True
    cleaned, changed = remove_small_regions(mask, 10, "islands")
    assert changed
    np.testing.assert_array_equal(cleaned, _rectangle(5, 5, 3, 5, 3, 5))


# --- save / load -------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    mask = np.random.default_rng(0).random((20, 30)) > 0.5
    path = save_mask(mask, tmp_path / "mask.png")
    assert path == tmp_path / "mask.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.png"]
    with Image.open(path) as image:
        assert image.mode == "L"
        assert set(np.unique(np.asarray(image))) <= {0, 255}
    loaded = load_mask(path)
    assert loaded.dtype == np.bool_
    np.testing.assert_array_equal(loaded, mask)


def test_save_mask_overwrites_and_accepts_integers(tmp_path: Path) -> None:
    path = tmp_path / "mask.png"
    save_mask(np.ones((4, 4), dtype=bool), path)
    save_mask(np.eye(4, dtype=np.uint8) * 7, path)
    np.testing.assert_array_equal(load_mask(path), np.eye(4, dtype=bool))


def test_save_mask_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"mask must have shape \(H, W\), got \(3,\)"):
        save_mask(np.zeros(3, dtype=bool), tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"path must end in \.png, got '.*a\.jpg'"):
        save_mask(np.zeros((2, 2), dtype=bool), tmp_path / "a.jpg")
    with pytest.raises(TypeError, match="mask must be a bool or integer array, got dtype float64"):
        save_mask(np.zeros((2, 2)), tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_mask(np.ones((3, 3), bool), tmp_path / "mask.png")

    def broken_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"partial")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_mask(np.zeros((3, 3), bool), path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["mask.png"]
    assert load_mask(path).all()


def test_load_mask_uses_alpha_then_colour(tmp_path: Path) -> None:
    expected = _rectangle(4, 5, 1, 3, 2, 4)
    rgba = np.zeros((4, 5, 4), dtype=np.uint8)
    rgba[..., :3] = 200  # colour everywhere: only the alpha channel marks the mask
    rgba[..., 3] = expected * 255
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(load_mask(tmp_path / "rgba.png"), expected)

    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[..., 2] = expected * 9  # only the blue channel is nonzero
    Image.fromarray(rgb, mode="RGB").save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(load_mask(tmp_path / "rgb.png"), expected)

    opaque = np.concatenate([rgb, np.full((4, 5, 1), 255, np.uint8)], axis=2)
    Image.fromarray(opaque, mode="RGBA").save(tmp_path / "opaque.png")
    np.testing.assert_array_equal(load_mask(tmp_path / "opaque.png"), expected)


# --- area, box, invert -------------------------------------------------------------------


def test_mask_area() -> None:
    masks = np.stack([_rectangle(8, 8, 1, 3, 2, 6), np.zeros((8, 8), bool), _ring()])
    assert mask_area(masks[0]) == 8 and isinstance(mask_area(masks[0]), int)
    areas = mask_area(masks)
    assert areas.dtype == np.int64
    np.testing.assert_array_equal(areas, [8, 0, 32])


def test_mask_to_box_known_shapes() -> None:
    single = np.zeros((6, 9), dtype=bool)
    single[5, 3] = True
    np.testing.assert_array_equal(mask_to_box(single), [3, 5, 3, 5])
    # rows 1..2, columns 2..5 inclusive
    np.testing.assert_array_equal(mask_to_box(_rectangle(8, 8, 1, 3, 2, 6)), [2, 1, 5, 2])
    np.testing.assert_array_equal(mask_to_box(np.ones((4, 7), bool)), [0, 0, 6, 3])
    two_blobs = _rectangle(10, 10, 0, 2, 7, 9) | _rectangle(10, 10, 8, 10, 1, 2)
    np.testing.assert_array_equal(mask_to_box(two_blobs), [1, 0, 8, 9])


def test_mask_to_box_batched_with_empty_mask() -> None:
    masks = np.stack([_rectangle(5, 6, 1, 4, 0, 2), np.zeros((5, 6), bool)])
    boxes = mask_to_box(masks)
    assert boxes.shape == (2, 4) and boxes.dtype == np.int64
    np.testing.assert_array_equal(boxes, [[0, 1, 1, 3], [0, 0, 0, 0]])
    assert mask_to_box(np.zeros((0, 5, 6), bool)).shape == (0, 4)


def test_mask_to_box_matches_loop_on_random_masks() -> None:
    masks = np.random.default_rng(1).random((10, 20, 30)) > 0.995
    for mask, box in zip(masks, mask_to_box(masks), strict=True):
        ys, xs = np.nonzero(mask)
        expected = [xs.min(), ys.min(), xs.max(), ys.max()] if xs.size else [0, 0, 0, 0]
        np.testing.assert_array_equal(box, expected)


def test_invert_returns_new_array() -> None:
    mask = _rectangle(3, 3, 0, 1, 0, 3)
    original = mask.copy()
    inverted = invert(mask)
    np.testing.assert_array_equal(inverted, ~original)
    np.testing.assert_array_equal(mask, original)
    np.testing.assert_array_equal(invert(np.array([[[0, 2]]])), [[[True, False]]])


@pytest.mark.parametrize("function", [mask_area, mask_to_box, invert])
def test_shape_and_type_errors(function) -> None:
    with pytest.raises(
        ValueError, match=r"mask must have shape \(H, W\) or \(N, H, W\), got \(4,\)"
    ):
        function(np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match=r"nonzero height and width, got shape \(0, 3\)"):
        function(np.zeros((0, 3), dtype=bool))
    with pytest.raises(TypeError, match="bool or integer array, got dtype float32"):
        function(np.zeros((2, 2), dtype=np.float32))


# --- polygons ----------------------------------------------------------------------------


def _round_trip(mask: np.ndarray) -> np.ndarray:
    return polygons_to_mask(mask_to_polygons(mask), *mask.shape)


def test_rectangle_polygon() -> None:
    polygons = mask_to_polygons(_rectangle(4, 5, 1, 3, 1, 4))
    assert len(polygons) == 1 and polygons[0].holes == ()
    assert polygons[0].exterior.dtype == np.int32
    # (x, y) order: the rectangle spans columns 1..3 and rows 1..2
    assert sorted(map(tuple, polygons[0].exterior.tolist())) == [(1, 1), (1, 2), (3, 1), (3, 2)]


@pytest.mark.parametrize(
    "mask",
    [
        _rectangle(8, 8, 1, 7, 2, 5),
        np.ones((4, 6), dtype=bool),  # touches every border
        _ring(),
        _rectangle(8, 8, 0, 3, 0, 3) | _rectangle(8, 8, 5, 8, 4, 7),  # two blobs
        np.eye(6, dtype=bool),  # one pixel wide, diagonal
        _rectangle(5, 5, 2, 3, 2, 3),  # single pixel
    ],
    ids=["rectangle", "full", "ring", "two-blobs", "diagonal", "pixel"],
)
def test_polygon_round_trip_is_exact(mask: np.ndarray) -> None:
    np.testing.assert_array_equal(_round_trip(mask), mask)


def test_ring_has_one_hole() -> None:
    polygons = mask_to_polygons(_ring())
    assert len(polygons) == 1 and len(polygons[0].holes) == 1


def test_island_inside_hole_survives_any_order() -> None:
    mask = _rectangle(11, 11, 0, 11, 0, 11)
    mask[2:9, 2:9] = False
    mask[5, 5] = True
    polygons = mask_to_polygons(mask)
    assert len(polygons) == 2
    np.testing.assert_array_equal(polygons_to_mask(polygons[::-1], 11, 11), mask)


def test_polygon_round_trip_on_random_masks() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        mask = rng.random((20, 30)) < rng.uniform(0.2, 0.8)
        np.testing.assert_array_equal(_round_trip(mask), mask)


def test_empty_mask_has_no_polygons() -> None:
    assert mask_to_polygons(np.zeros((4, 4), bool)) == []
    assert not polygons_to_mask([], 4, 4).any()


def test_tolerance_simplifies() -> None:
    yy, xx = np.mgrid[:40, :40]
    disc = (yy - 20) ** 2 + (xx - 20) ** 2 <= 15**2
    exact = mask_to_polygons(disc)[0].exterior
    simple = mask_to_polygons(disc, tolerance=2.0)[0].exterior
    assert 3 <= len(simple) < len(exact)
    redrawn = polygons_to_mask([Polygon(simple)], 40, 40)
    assert (redrawn != disc).sum() < 0.1 * disc.sum()


def test_polygons_to_mask_accepts_bare_float_rings_and_clips() -> None:
    square = np.array([[-2.0, -2.0], [1.2, -2.0], [1.2, 1.4], [-2.0, 1.4]])
    np.testing.assert_array_equal(polygons_to_mask([square], 3, 3), _rectangle(3, 3, 0, 2, 0, 2))
    outside = np.array([[10, 10], [12, 10], [12, 12]])
    assert not polygons_to_mask([outside], 3, 3).any()


def test_polygon_errors() -> None:
    with pytest.raises(ValueError, match="tolerance must be >= 0, got -1"):
        mask_to_polygons(np.ones((2, 2), bool), tolerance=-1)
    with pytest.raises(ValueError, match=r"mask must have shape \(H, W\), got \(1, 2, 2\)"):
        mask_to_polygons(np.ones((1, 2, 2), bool))
    with pytest.raises(ValueError, match="height must be >= 1, got 0"):
        polygons_to_mask([], 0, 3)
    with pytest.raises(TypeError, match="height must be an int, got float 4.5"):
        polygons_to_mask([], 4.5, 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="width must be an int, got float 5.0"):
        polygons_to_mask([], 4, 5.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tolerance must be a number, got str"):
        mask_to_polygons(np.ones((2, 2), bool), tolerance="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"polygons\[0\]\.exterior must have shape \(K, 2\)"):
        polygons_to_mask([np.zeros((3, 3))], 4, 4)
    with pytest.raises(ValueError, match=r"polygons\[0\]\.holes\[0\] must have shape \(K, 2\)"):
        polygons_to_mask([Polygon(np.zeros((3, 2)), (np.zeros((0, 2)),))], 4, 4)
    with pytest.raises(TypeError, match=r"polygons\[0\]\.exterior must be a numeric array"):
        polygons_to_mask([np.array([["a", "b"]])], 4, 4)


def test_missing_opencv_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(ImportError, match=r'pip install "sam2-hf\[polygons\]"'):
        mask_to_polygons(np.ones((2, 2), bool))
    with pytest.raises(ImportError, match=r'pip install "sam2-hf\[polygons\]"'):
        polygons_to_mask([], 2, 2)


def test_clean_mask_logits_takes_whole_pixel_areas_only() -> None:
    logits = np.full((5, 5), 5.0)
    with pytest.raises(TypeError, match="max_hole_area must be an int, got float 2.7"):
        clean_mask_logits(logits, max_hole_area=2.7)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_sprinkle_area must be an int, got bool True"):
        clean_mask_logits(logits, max_sprinkle_area=True)
    with pytest.raises(ValueError, match="max_sprinkle_area must be >= 0, got -1"):
        clean_mask_logits(logits, max_sprinkle_area=-1)
    with pytest.raises(ValueError, match="mask_threshold must be a finite number, got nan"):
        clean_mask_logits(logits, mask_threshold=float("nan"))
    with pytest.raises(ValueError, match="mode must be one of 'holes', 'islands', got 'hole'"):
        remove_small_regions(np.ones((2, 2), bool), 1, "hole")
    assert clean_mask_logits(logits, max_hole_area=np.int64(1)).shape == (5, 5)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_saved_mask_gets_plain_open_permissions(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        path = save_mask(np.ones((2, 2), bool), tmp_path / "mask.png")
        plain = tmp_path / "plain.png"
        plain.write_bytes(b"")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o644


def test_save_masks_checks_everything_before_writing(tmp_path: Path) -> None:
    stack = np.zeros((2, 3, 4), bool)
    stack[1, 1:, 2:] = True
    written = save_masks(stack, [tmp_path / "a.png", str(tmp_path / "b.png")])
    assert written == [tmp_path / "a.png", tmp_path / "b.png"]
    for path, mask in zip(written, stack, strict=True):
        np.testing.assert_array_equal(load_mask(path), mask)
    with pytest.raises(ValueError, match="one path per mask, got 1 paths for 2 masks"):
        save_masks(stack, [tmp_path / "c.png"])
    with pytest.raises(ValueError, match=r"path must end in \.png, got '.*d\.jpg'"):
        save_masks(stack, [tmp_path / "c.png", tmp_path / "d.jpg"])
    with pytest.raises(ValueError, match=r"mask must have shape \(H, W\)"):
        save_masks([stack[0], stack], [tmp_path / "c.png", tmp_path / "d.png"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]
