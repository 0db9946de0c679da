"""ClickSession: clicks accumulate, feed the previous logits back, and undo restores."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_hf.image.interactive import ClickSession


def test_clicks_accumulate_and_feed_the_previous_logits(predictor, image_hw):
    predictor.set_image(image_hw)
    session = ClickSession(predictor)
    assert session.mask is None and session.points.shape == (0, 2)

    first = session.click(20, 15)
    expected_first = predictor.predict(point_coords=[(20, 15)])
    np.testing.assert_array_equal(first, expected_first.best)

    second = session.click(50, 40, positive=False)
    expected_second = predictor.predict(
        point_coords=[(20, 15), (50, 40)],
        point_labels=[1, 0],
        mask_input=expected_first.best_logits,
        multimask_output=False,
    )
    np.testing.assert_array_equal(second, expected_second.best)
    np.testing.assert_array_equal(session.points, [[20, 15], [50, 40]])
    np.testing.assert_array_equal(session.labels, [1, 0])
    assert second.shape == (48, 64)

    np.testing.assert_array_equal(session.undo(), first)
    np.testing.assert_array_equal(session.labels, [1])
    session.reset()
    assert session.mask is None and session.result is None
    with pytest.raises(RuntimeError, match="undo"):
        session.undo()


def test_click_session_needs_an_image(video_checkpoint):
    from sam2_hf import Sam2Predictor

    fresh = Sam2Predictor.from_pretrained(video_checkpoint, device="cpu")
    with pytest.raises(RuntimeError, match="set_image"):
        ClickSession(fresh)
