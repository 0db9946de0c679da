"""Exports: COCO JSON (RLE and polygons) readable by pycocotools, PNG masks, cut-outs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from app_helpers import image_folder
from PIL import Image

from sam2_hf import from_coco_rle, load_mask
from sam2_hf.app import AnnotatedObject, AnnotationStore, ImageFolder, StoredMask
from sam2_hf.app.export import export_annotations, folder_names


def rectangle(y0: int, y1: int, x0: int, x1: int, shape=(48, 64)) -> StoredMask:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return StoredMask.from_array(mask)


@pytest.fixture
def annotated(tmp_path):
    folder = ImageFolder(image_folder(tmp_path / "images", count=3))
    store = AnnotationStore(folder.output / "state.json")
    store.put("img0.png", AnnotatedObject("a", "cat", mask=rectangle(5, 20, 10, 30)), (48, 64))
    store.put(
        "img0.png",
        AnnotatedObject("b", "dog / puppy", mask=rectangle(30, 40, 5, 15), score=0.9),
        (48, 64),
    )
    store.put("img2.png", AnnotatedObject("c", "cat", mask=rectangle(0, 48, 0, 4)), (48, 64))
    return folder, store


def test_coco_json_for_the_folder(annotated):
    folder, store = annotated
    result = export_annotations(store, folder.output, folder.load, masks=False, cutouts=False)
    assert result.coco == folder.output / "coco.json"
    assert (result.images, result.objects) == (2, 3) and result.files == [result.coco]

    from pycocotools.coco import COCO

    coco = COCO(str(result.coco))
    assert {c["name"]: c["id"] for c in coco.loadCats(coco.getCatIds())} == {
        "cat": 1,
        "dog / puppy": 2,
    }
    assert [image["file_name"] for image in coco.loadImgs(coco.getImgIds())] == [
        "img0.png",
        "img2.png",
    ]
    annotations = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert [a["category_id"] for a in annotations] == [1, 2]
    np.testing.assert_array_equal(
        coco.annToMask(annotations[0]).astype(bool), rectangle(5, 20, 10, 30).array
    )
    assert annotations[0]["bbox"] == [10.0, 5.0, 20.0, 15.0]
    assert "score" not in annotations[0] and annotations[1]["score"] == pytest.approx(0.9)
    np.testing.assert_array_equal(
        from_coco_rle(annotations[1]["segmentation"]), rectangle(30, 40, 5, 15).array
    )


def test_polygons_instead_of_rle(annotated):
    pytest.importorskip("cv2")
    folder, store = annotated
    result = export_annotations(
        store, folder.output, folder.load, segmentation="polygons", masks=False, cutouts=False
    )
    data = json.loads(result.coco.read_text())
    first = data["annotations"][0]["segmentation"]
    assert isinstance(first, list) and len(first) == 1
    xs, ys = first[0][0::2], first[0][1::2]
    assert (min(xs), max(xs), min(ys), max(ys)) == (10, 29, 5, 19)

    from pycocotools.coco import COCO

    # The rings run through the border pixels' centres (OpenCV's contours), so COCO's
    # rasteriser fills the mask less its outer half-pixel: inside it, and most of it.
    drawn = COCO(str(result.coco)).annToMask(data["annotations"][0]).astype(bool)
    expected = rectangle(5, 20, 10, 30).array
    assert not (drawn & ~expected).any() and drawn.sum() >= 0.85 * expected.sum()


def test_png_masks_and_cutouts(annotated):
    folder, store = annotated
    result = export_annotations(store, folder.output, folder.load)
    cat = folder.output / "masks" / "img0" / "001_cat.png"
    dog = folder.output / "masks" / "img0" / "002_dog_puppy.png"
    np.testing.assert_array_equal(load_mask(cat), rectangle(5, 20, 10, 30).array)
    assert dog.exists() and (folder.output / "masks" / "img2" / "001_cat.png").exists()

    cutout = np.asarray(Image.open(folder.output / "cutouts" / "img0" / "001_cat.png"))
    assert cutout.shape == (15, 20, 4) and (cutout[..., 3] == 255).all()
    image = np.asarray(Image.open(folder.path("img0.png")))
    np.testing.assert_array_equal(cutout[..., :3], image[5:20, 10:30])
    assert len(result.files) == 1 + 3 + 3

    # Deleting an object and exporting again removes its files.
    store.delete("img0.png", "b")
    export_annotations(store, folder.output, folder.load)
    assert not dog.exists() and cat.exists()
    assert not (folder.output / "cutouts" / "img0" / "002_dog_puppy.png").exists()


def test_an_image_that_went_missing_is_reported(annotated):
    folder, store = annotated
    folder.path("img2.png").unlink()
    result = export_annotations(store, folder.output, folder.load, masks=False)
    assert result.objects == 3 and any("img2.png" in s for s in result.skipped)
    assert "skipped" in result.summary()


def test_export_folder_names_avoid_collisions():
    assert folder_names(["a.jpg", "a.png", "b c.png"]) == {
        "a.jpg": "a.jpg",
        "a.png": "a.png",
        "b c.png": "b_c",
    }


def test_bad_segmentation_kind(annotated):
    folder, store = annotated
    with pytest.raises(ValueError, match="'rle' or 'polygons', got 'svg'"):
        export_annotations(store, folder.output, folder.load, segmentation="svg")  # type: ignore[arg-type]
