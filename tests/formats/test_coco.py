"""Tests for sam2_hf.formats.coco against pycocotools (a test-only dependency)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from sam2_hf.formats.coco import (
    CocoImage,
    from_coco_rle,
    to_coco_annotations,
    to_coco_rle,
    to_uncompressed_rle,
    write_coco_json,
)


def _reference(mask: np.ndarray) -> dict:
    """pycocotools' encoding, with its bytes counts decoded to str."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}


def _edge_cases() -> dict[str, np.ndarray]:
    single = np.zeros((5, 7), bool)
    single[3, 4] = True
    corners = np.zeros((6, 6), bool)
    corners[0, 0] = corners[-1, -1] = True
    stripes = np.zeros((8, 8), bool)
    stripes[:, ::2] = True
    return {
        "empty": np.zeros((4, 4), bool),
        "full": np.ones((4, 4), bool),
        "single": single,
        "corners": corners,
        "stripes": stripes,
        "row": np.array([[0, 1, 1, 0, 1, 0, 0, 1]], bool),
        "column": np.array([[1], [1], [0], [1], [0]], bool),
        "one-pixel-on": np.ones((1, 1), bool),
        "one-pixel-off": np.zeros((1, 1), bool),
        # long runs need several characters per count; huge deltas exercise the sign bit
        "long-runs": np.pad(np.ones((300, 2), bool), ((0, 0), (500, 1))),
    }


@pytest.mark.parametrize("name", list(_edge_cases()))
def test_rle_matches_pycocotools_on_edge_cases(name: str) -> None:
    mask = _edge_cases()[name]
    assert to_coco_rle(mask) == _reference(mask)
    np.testing.assert_array_equal(from_coco_rle(to_coco_rle(mask)), mask)


def test_rle_matches_pycocotools_on_random_masks() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        height, width = rng.integers(1, 40, size=2)
        mask = rng.random((height, width)) < rng.uniform(0.0, 1.0)
        rle = to_coco_rle(mask)
        assert rle == _reference(mask)
        np.testing.assert_array_equal(from_coco_rle(rle), mask)
        reference = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        np.testing.assert_array_equal(from_coco_rle(reference), mask_utils.decode(reference))


def test_rle_ignores_memory_order_and_dtype() -> None:
    mask = np.random.default_rng(1).random((20, 30)) > 0.5
    expected = _reference(mask)
    assert to_coco_rle(np.asfortranarray(mask)) == expected
    assert to_coco_rle(np.ascontiguousarray(mask)) == expected
    assert to_coco_rle(mask.astype(np.uint8) * 3) == expected
    assert to_coco_rle(mask.T.copy().T) == expected  # a transposed (Fortran) view


def test_encoding_does_not_modify_input() -> None:
    mask = np.random.default_rng(2).random((6, 9)) > 0.5
    original = mask.copy()
    to_coco_rle(mask)
    to_uncompressed_rle(mask)
    np.testing.assert_array_equal(mask, original)


def test_uncompressed_rle_is_sam_format() -> None:
    mask = np.array([[1, 0, 0], [1, 1, 0]], bool)
    # column-major: 1 1 | 0 1 | 0 0  -> runs start with background
    rle = to_uncompressed_rle(mask)
    assert rle == {"size": [2, 3], "counts": [0, 2, 1, 1, 2]}
    assert all(isinstance(c, int) for c in rle["counts"])
    compressed = mask_utils.frPyObjects(rle, 2, 3)
    assert compressed["counts"].decode() == to_coco_rle(mask)["counts"]
    np.testing.assert_array_equal(from_coco_rle(rle), mask)


def test_decode_returns_c_contiguous_bool() -> None:
    mask = from_coco_rle(to_coco_rle(np.eye(3, dtype=bool)))
    assert mask.dtype == np.bool_ and mask.flags.c_contiguous and mask.shape == (3, 3)


def test_decode_accepts_bytes_counts() -> None:
    mask = np.random.default_rng(3).random((5, 4)) > 0.5
    reference = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert isinstance(reference["counts"], bytes)
    np.testing.assert_array_equal(from_coco_rle(reference), mask)


def test_rle_errors() -> None:
    with pytest.raises(ValueError, match=r"mask must have shape \(H, W\), got \(2, 3, 4\)"):
        to_coco_rle(np.zeros((2, 3, 4), bool))
    with pytest.raises(TypeError, match="mask must be a bool or integer array, got dtype float64"):
        to_uncompressed_rle(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="rle must be a mapping"):
        from_coco_rle([3, 4])
    with pytest.raises(ValueError, match=r"missing \['counts'\]"):
        from_coco_rle({"size": [2, 2]})
    with pytest.raises(ValueError, match=r"rle\['size'\] must be \[H, W\]"):
        from_coco_rle({"size": [2], "counts": [2]})
    with pytest.raises(ValueError, match=r"covers 3 pixels, but size \[2, 2\] has 4"):
        from_coco_rle({"size": [2, 2], "counts": [1, 2]})
    with pytest.raises(ValueError, match="negative run lengths"):
        from_coco_rle({"size": [1, 2], "counts": [3, -1]})
    with pytest.raises(ValueError, match="truncated"):
        from_coco_rle({"size": [2, 2], "counts": "4P"})  # 'P' sets the "more" bit
    with pytest.raises(ValueError, match="outside COCO's RLE alphabet"):
        from_coco_rle({"size": [2, 2], "counts": "4~"})
    with pytest.raises(TypeError, match=r"rle\['counts'\] must be a str, bytes"):
        from_coco_rle({"size": [2, 2], "counts": [1.5, 2.5]})


# --- COCO JSON ---------------------------------------------------------------------------


def _images() -> list[CocoImage]:
    rng = np.random.default_rng(4)
    first = rng.random((3, 20, 30)) > 0.7
    first[2] = False  # an empty mask still gets an annotation
    second = np.zeros((2, 8, 6), bool)
    second[0, 1:4, 2:5] = True
    second[1, 7, 5] = True
    return [
        CocoImage("a.jpg", first, scores=np.array([0.9, 0.5, 0.1])),
        CocoImage("b.png", second, category_ids=[2, 1]),
        CocoImage("nothing.png", np.zeros((0, 5, 5), bool)),
    ]


def test_coco_image_takes_size_from_masks() -> None:
    image = CocoImage("x.png", np.zeros((2, 7, 9), dtype=np.uint8))
    assert (image.height, image.width) == (7, 9)
    assert image.masks.dtype == np.bool_


def test_coco_image_errors() -> None:
    with pytest.raises(ValueError, match=r"masks must have shape \(N, H, W\), got \(7, 9\)"):
        CocoImage("x.png", np.zeros((7, 9), bool))
    with pytest.raises(ValueError, match=r"scores must have shape \(2,\), got \(3,\)"):
        CocoImage("x.png", np.zeros((2, 7, 9), bool), scores=[0.1, 0.2, 0.3])
    with pytest.raises(TypeError, match="category_ids must be an integer array, got dtype float64"):
        CocoImage("x.png", np.zeros((1, 7, 9), bool), category_ids=[1.0])
    with pytest.raises(TypeError, match="file_name must be a str, got PosixPath"):
        CocoImage(Path("x.png"), np.zeros((1, 7, 9), bool))  # type: ignore[arg-type]


def test_annotations_structure() -> None:
    data = to_coco_annotations(
        _images(), categories=[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    )
    assert [image["id"] for image in data["images"]] == [1, 2, 3]
    assert data["images"][1] == {"id": 2, "file_name": "b.png", "height": 8, "width": 6}
    annotations = data["annotations"]
    assert [a["id"] for a in annotations] == [1, 2, 3, 4, 5]
    assert [a["image_id"] for a in annotations] == [1, 1, 1, 2, 2]
    assert [a["category_id"] for a in annotations] == [1, 1, 1, 2, 1]
    assert [a.get("score") for a in annotations] == [0.9, 0.5, 0.1, None, None]
    assert annotations[3]["bbox"] == [2.0, 1.0, 3.0, 3.0]
    assert annotations[4]["bbox"] == [5.0, 7.0, 1.0, 1.0]
    assert annotations[2]["bbox"] == [0.0, 0.0, 0.0, 0.0] and annotations[2]["area"] == 0
    assert all(a["iscrowd"] == 0 for a in annotations)
    json.dumps(data)  # plain Python values only


def test_default_category() -> None:
    data = to_coco_annotations(_images()[:1])
    assert data["categories"] == [{"id": 1, "name": "object"}]
    assert {a["category_id"] for a in data["annotations"]} == {1}


def test_pycocotools_loads_written_file(tmp_path: Path) -> None:
    images = _images()
    data = to_coco_annotations(images, categories=[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    path = write_coco_json(data, tmp_path / "instances.json")
    assert path == tmp_path / "instances.json"
    assert [p.name for p in tmp_path.iterdir()] == ["instances.json"]
    coco = COCO(str(path))
    assert sorted(coco.getImgIds()) == [1, 2, 3]
    assert coco.getAnnIds(imgIds=[3]) == []
    masks = [mask for image in images for mask in image.masks]
    for annotation_id, mask in enumerate(masks, start=1):
        annotation = coco.loadAnns(annotation_id)[0]
        rle = coco.annToRLE(annotation)
        np.testing.assert_array_equal(coco.annToMask(annotation), mask.astype(np.uint8))
        assert annotation["area"] == int(mask_utils.area(rle))
        np.testing.assert_array_equal(annotation["bbox"], mask_utils.toBbox(rle))


def test_annotation_errors() -> None:
    with pytest.raises(ValueError, match=r"category_ids \[2\] not in categories; known ids: \[1\]"):
        to_coco_annotations(_images())
    with pytest.raises(TypeError, match="images must hold CocoImage entries, got ndarray"):
        to_coco_annotations([np.zeros((1, 2, 2), bool)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="categories must not be empty"):
        to_coco_annotations([], categories=[])
    with pytest.raises(ValueError, match=r"categories\[0\] must have 'id' and 'name'"):
        to_coco_annotations([], categories=[{"id": 1}])
    with pytest.raises(TypeError, match="data must be a mapping, got list"):
        write_coco_json([], "unused.json")  # type: ignore[arg-type]
