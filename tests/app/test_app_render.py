"""Drawing the frame: display scaling, object colours, the selected object's prompts."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_hf import object_color
from sam2_hf.app import AnnotatedObject, Click, StoredMask
from sam2_hf.app.render import OBJECT_ALPHA, Renderer, View, display_shape


def square(shape, y0, y1, x0, x1) -> StoredMask:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return StoredMask.from_array(mask)


def test_large_images_are_drawn_smaller_and_clicks_map_back():
    assert display_shape((2000, 1000), 1280) == ((1280, 640), 0.64)
    assert display_shape((700, 900), 1280) == ((700, 900), 1.0)
    assert display_shape((48, 64), 1280) == ((480, 640), 10.0)  # small: enlarged
    view = View(np.zeros((1280, 640, 3), np.uint8), 0.64)
    x, y = view.to_image(319.5, 639.5)  # the display's centre is the image's centre
    assert (x, y) == pytest.approx((499.5, 999.5))


def test_objects_get_their_colours_and_the_selected_one_its_clicks():
    rgb = np.full((40, 60, 3), 100, np.uint8)
    first = AnnotatedObject("a", "cat", mask=square((40, 60), 2, 12, 2, 12))
    second = AnnotatedObject(
        "b", "dog", prompts=(Click(45, 30),), mask=square((40, 60), 20, 38, 30, 58)
    )
    renderer = Renderer()
    view = renderer.render(rgb, [first, second], selected="b", image_key="k")
    assert view.pixels.shape == (400, 600, 3) and view.scale == 10.0
    # The click (45, 30), drawn green at its display position.
    assert tuple(view.pixels[round(30.5 * 10 - 0.5), round(45.5 * 10 - 0.5)]) == (0, 255, 0)
    view = View(view.pixels[::10, ::10], 1.0)  # one pixel per image pixel, to index below
    inside_first = view.pixels[7, 7].astype(float)
    expected = (1 - OBJECT_ALPHA) * 100 + OBJECT_ALPHA * np.array(object_color(0))
    np.testing.assert_allclose(inside_first, expected, atol=1)
    assert tuple(view.pixels[0, 0]) == (100, 100, 100)  # outside every mask: untouched
    interior = view.pixels[25, 35].astype(float)  # the dog, in colour 1
    assert np.argmax(interior - 100) == np.argmax(np.array(object_color(1)) - 100)
    # The same frame again (cached composite) and a frame without selection agree outside b.
    again = renderer.render(rgb, [first, second], selected="b", image_key="k")
    np.testing.assert_array_equal(again.pixels[::10, ::10], view.pixels)
    plain = renderer.render(rgb, [first, second], image_key="k")
    np.testing.assert_array_equal(plain.pixels[:150:10, :150:10], view.pixels[:15, :15])


def test_a_proposal_and_a_box_corner_are_drawn():
    rgb = np.zeros((40, 60, 3), np.uint8)
    proposal = square((40, 60), 10, 20, 10, 20)
    view = Renderer(max_side=60).render(rgb, [], proposal=proposal, corner=(50.0, 30.0))
    assert view.pixels[15, 15].any() and not view.pixels[5, 5].any()
    assert tuple(view.pixels[30, 50]) == (0, 255, 0)


def test_large_frames_are_scaled():
    rgb = np.zeros((100, 300, 3), np.uint8)
    obj = AnnotatedObject("a", "cat", mask=square((100, 300), 0, 50, 0, 150))
    view = Renderer(max_side=150).render(rgb, [obj])
    assert view.pixels.shape == (50, 150, 3) and view.scale == 0.5
    assert view.pixels[10, 10].any() and not view.pixels[40, 100].any()
    with pytest.raises(ValueError, match="max_side"):
        Renderer(max_side=4)
