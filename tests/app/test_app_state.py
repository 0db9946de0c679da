"""The annotation session without a browser: clicks -> prompts -> masks, undo, objects,
proposals, save/restore and bad input, on the tiny random-weight checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from app_helpers import EVERYTHING, image_folder, picture

from sam2_hf import ClickSession, Sam2Predictor
from sam2_hf.app import FILE_NAME, Annotator, Box, Click, ImageFolder, Segmenter


@pytest.fixture(scope="module")
def segmenter(image_checkpoint: Path) -> Segmenter:
    return Segmenter(image_checkpoint, device="cpu", everything=EVERYTHING)


@pytest.fixture(scope="module")
def reference(image_checkpoint: Path) -> Sam2Predictor:
    """A separate predictor on the same checkpoint, for the expected masks."""
    return Sam2Predictor.from_pretrained(image_checkpoint, device="cpu")


def annotator(folder: Path, segmenter: Segmenter, **kwargs) -> Annotator:
    return Annotator(ImageFolder(folder), segmenter, **kwargs)


def test_clicks_give_the_masks_of_click_session(tmp_path, segmenter, reference):
    session_app = annotator(image_folder(tmp_path / "images"), segmenter)
    reference.set_image(picture(seed=0))
    clicks = ClickSession(reference)

    session_app.click(30, 15)
    np.testing.assert_array_equal(session_app.objects()[0].mask.array, clicks.click(30, 15))
    session_app.mode = "background"
    session_app.click(5, 40)
    np.testing.assert_array_equal(
        session_app.objects()[0].mask.array, clicks.click(5, 40, positive=False)
    )
    (obj,) = session_app.objects()
    assert obj.prompts == (Click(30, 15, True), Click(5, 40, False))
    assert obj.category == "object" and obj.source == "clicks"
    assert obj.score == pytest.approx(float(clicks.result.best_score))


def test_a_box_then_a_click_refine_from_the_box(tmp_path, segmenter, reference):
    session_app = annotator(image_folder(tmp_path / "images"), segmenter)
    session_app.mode = "box"
    session_app.click(50, 30)  # corners in any order
    assert session_app.objects() == [] and session_app.corner == (50, 30)
    session_app.click(10, 5)
    session_app.mode = "foreground"
    session_app.click(30, 20)

    reference.set_image(picture(seed=0))
    first = reference.predict(box=[10, 5, 50, 30])
    second = reference.predict(
        point_coords=[(30, 20)],
        box=[10, 5, 50, 30],
        mask_input=first.best_logits,
        multimask_output=False,
    )
    (obj,) = session_app.objects()
    assert obj.prompts == (Box(10, 5, 50, 30), Click(30, 20))
    np.testing.assert_array_equal(obj.mask.array, second.best)


def test_the_embedding_is_cached_per_image(tmp_path, image_checkpoint):
    segmenter = Segmenter(image_checkpoint, device="cpu", cache_size=2)
    session_app = annotator(image_folder(tmp_path / "images", count=3), segmenter)
    for x in (10, 20, 30):
        session_app.click(x, 10)
    assert (segmenter.encodes, segmenter.decodes) == (1, 3)  # one encoder run, 3 decodes
    session_app.next()
    session_app.click(10, 10)
    session_app.previous()
    session_app.click(40, 10)
    assert segmenter.encodes == 2  # back to the first image: its embedding was kept
    session_app.go(2)
    session_app.prepare()
    assert segmenter.encodes == 3  # the third image; two kept: the least recent (1) dropped
    session_app.go(0)
    session_app.click(12, 12)
    assert segmenter.encodes == 3
    session_app.go(1)
    session_app.click(12, 12)
    assert segmenter.encodes == 4


def test_undo_restores_without_decoding(tmp_path, segmenter):
    session_app = annotator(image_folder(tmp_path / "images"), segmenter)
    session_app.click(30, 15)
    first = session_app.objects()[0].mask.array.copy()
    session_app.click(40, 25)
    decodes = segmenter.decodes
    session_app.undo()
    assert segmenter.decodes == decodes
    (obj,) = session_app.objects()
    np.testing.assert_array_equal(obj.mask.array, first)
    assert obj.prompts == (Click(30, 15),)
    session_app.undo()  # the first click: the object goes
    assert session_app.objects() == []
    session_app.undo()
    assert "Nothing to undo" in session_app.message


def test_objects_have_categories_and_can_be_renamed_and_deleted(tmp_path, segmenter):
    session_app = annotator(image_folder(tmp_path / "images"), segmenter, category="cat")
    session_app.click(30, 15)
    session_app.new_object("dog")
    session_app.click(10, 40)
    session_app.click(12, 42)  # refines the dog, not the cat
    cat, dog = session_app.objects()
    assert (cat.category, len(cat.prompts)) == ("cat", 1)
    assert (dog.category, len(dog.prompts)) == ("dog", 2)
    assert [label for label, _ in session_app.object_choices()] == [
        "1. cat (1 prompt)",
        "2. dog (2 prompts)",
    ]

    session_app.select(cat.id)
    session_app.rename("tabby")
    assert [o.category for o in session_app.objects()] == ["tabby", "dog"]
    session_app.delete()
    assert [o.category for o in session_app.objects()] == ["dog"]
    session_app.undo()
    assert [o.category for o in session_app.objects()] == ["tabby", "dog"]
    session_app.undo()
    assert [o.category for o in session_app.objects()] == ["cat", "dog"]

    session_app.select(dog.id)
    session_app.clear()  # a clicked object without prompts has no mask: it goes
    assert [o.category for o in session_app.objects()] == ["cat"]


def test_state_is_saved_as_you_go_and_restored(tmp_path, segmenter, image_checkpoint):
    folder = image_folder(tmp_path / "images")
    first = annotator(folder, segmenter)
    first.click(30, 15)
    first.click(35, 20)
    first.new_object("dog")
    first.click(10, 40)
    saved = json.loads((folder / "sam2-hf-annotations" / FILE_NAME).read_text())
    assert [o["category"] for o in saved["images"]["img0.png"]["objects"]] == ["object", "dog"]
    assert not [p.name for p in (folder / "sam2-hf-annotations").iterdir() if ".tmp" in p.name]

    # Reopen with a fresh model: the masks come back from the file, and refining a restored
    # object replays its prompts so the result equals an uninterrupted session.
    fresh = Segmenter(image_checkpoint, device="cpu")
    reopened = annotator(folder, fresh)
    assert [o.category for o in reopened.objects()] == ["object", "dog"]
    for before, after in zip(first.objects(), reopened.objects(), strict=True):
        np.testing.assert_array_equal(after.mask.array, before.mask.array)
        assert after.prompts == before.prompts and after.id == before.id
    assert fresh.decodes == 0
    reopened.select(reopened.objects()[0].id)
    reopened.click(40, 22)
    assert fresh.decodes == 3  # two replayed, one new
    first.select(first.objects()[0].id)
    first.click(40, 22)
    np.testing.assert_array_equal(reopened.objects()[0].mask.array, first.objects()[0].mask.array)


def test_two_tabs_on_one_folder_keep_each_others_objects(tmp_path, segmenter):
    folder = image_folder(tmp_path / "images")
    tab_a, tab_b = annotator(folder, segmenter), annotator(folder, segmenter)
    tab_a.click(30, 15)
    tab_b.new_object("dog")
    tab_b.click(10, 40)  # b saves after a: a's object must survive
    tab_a.new_object("bird")
    tab_a.click(50, 5)
    categories = [o.category for o in annotator(folder, segmenter).objects()]
    assert sorted(categories) == ["bird", "dog", "object"]
    tab_b.go(0)  # reopening an image picks up what the other tab saved
    assert sorted(o.category for o in tab_b.objects()) == ["bird", "dog", "object"]


def test_segment_everything_proposals_are_accepted_or_deleted(tmp_path, segmenter):
    session_app = annotator(image_folder(tmp_path / "images"), segmenter, category="thing")
    count = session_app.segment_everything()
    assert count >= 2
    proposals = list(session_app.proposals)
    session_app.accept()
    (obj,) = session_app.objects()
    assert obj.source == "auto" and obj.category == "thing" and obj.prompts == ()
    np.testing.assert_array_equal(obj.mask.array, proposals[0].mask.array)
    session_app.reject()
    assert session_app.proposals == proposals[2:]
    session_app.undo()  # the deletion
    assert session_app.proposals == proposals[1:]
    session_app.undo()  # the acceptance
    assert session_app.proposals == proposals and session_app.objects() == []

    session_app.accept(None)
    assert len(session_app.objects()) == count and session_app.proposals == []
    # Clicking an accepted mask refines it from that mask; clearing goes back to it.
    first = session_app.objects()[0]
    session_app.select(first.id)
    session_app.click(5, 5)
    assert session_app.objects()[0].prompts == (Click(5, 5),)
    session_app.clear()
    np.testing.assert_array_equal(session_app.objects()[0].mask.array, first.mask.array)
    # Proposing again skips what is already annotated.
    assert session_app.segment_everything() == 0


def test_a_folder_without_images_says_so(tmp_path, segmenter):
    empty = tmp_path / "empty"
    empty.mkdir()
    session_app = annotator(empty, segmenter)
    assert "No images in" in session_app.status()
    assert session_app.render() is None
    session_app.click(1, 1)
    assert session_app.message == "Open an image first."


def test_an_unreadable_image_is_skipped_with_a_message(tmp_path, segmenter):
    folder = image_folder(tmp_path / "images", count=2)
    (folder / "img05_broken.png").write_bytes(b"not a png")
    session_app = annotator(folder, segmenter)
    assert session_app.name == "img0.png"
    session_app.next()
    assert session_app.name == "img1.png"
    assert "img05_broken.png (not a readable image)" in session_app.status()


def test_a_model_that_cannot_load_is_reported_in_the_page(tmp_path):
    broken = Segmenter(tmp_path / "no-such-model", device="cpu")
    session_app = annotator(image_folder(tmp_path / "images"), broken)
    session_app.click(10, 10)  # no exception
    assert "could not be loaded" in session_app.message
    assert session_app.objects() == []
    assert "could not be loaded" in session_app.status()
    assert session_app.segment_everything() == 0


def test_uploads_are_copied_in_and_other_folders_opened(tmp_path, segmenter):
    folder = image_folder(tmp_path / "images", count=1)
    session_app = annotator(folder, segmenter)
    uploads = image_folder(tmp_path / "uploads", count=2)
    (uploads / "notes.txt").write_text("not an image")
    added = session_app.add_images(
        [uploads / "img1.png", uploads / "img0.png", uploads / "notes.txt"]
    )
    assert added == ["img1.png", "img0_2.png"]  # a taken name gets a number
    assert session_app.folder.names == ["img0.png", "img0_2.png", "img1.png"]
    assert session_app.name == "img1.png"
    assert (folder / "img0_2.png").read_bytes() == (uploads / "img0.png").read_bytes()

    assert session_app.open_folder(uploads)
    assert session_app.folder.root == uploads and session_app.name == "img0.png"
    assert not session_app.open_folder(tmp_path / "missing")
    assert "does not exist" in session_app.message
    assert session_app.folder.root == uploads  # still on the last good folder


def test_a_single_image_file_is_a_session_of_one(tmp_path, segmenter):
    folder = image_folder(tmp_path / "images", count=2)
    one = ImageFolder(folder / "img1.png")
    assert one.names == ["img1.png"] and one.output == folder / "sam2-hf-annotations"
    assert annotator(folder / "img1.png", segmenter).status().startswith("img1.png (1/1)")
    other = ImageFolder(folder, tmp_path / "out")
    assert other.output == tmp_path / "out" and other.names == ["img0.png", "img1.png"]
    (folder / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not an image"):
        ImageFolder(folder / "notes.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "missing")


def test_a_corrupt_annotation_file_is_reported_and_kept(tmp_path, segmenter):
    folder = image_folder(tmp_path / "images")
    good = annotator(folder, segmenter)
    other = image_folder(tmp_path / "other")
    (other / "sam2-hf-annotations").mkdir()
    corrupt = other / "sam2-hf-annotations" / FILE_NAME
    corrupt.write_text("{oops")
    assert not good.open_folder(other)
    assert "not valid JSON" in good.message and good.folder.root == folder
    assert corrupt.read_text() == "{oops"
    with pytest.raises(ValueError, match="not valid JSON"):
        annotator(other, segmenter)
