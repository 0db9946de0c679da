"""The readers of training data, the split, and the errors bad data gets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from finetune_shapes import (
    coco_content,
    make_shapes,
    to_hf_dataset,
    write_coco,
    write_mask_folder,
)
from PIL import Image

from sam2_hf.train import CocoData, DataError, HFData, MaskFolder, open_data, split


@pytest.fixture(scope="module")
def samples():
    return make_shapes(4, seed=3)


def _same_content(data, samples) -> None:
    assert len(data) == len(samples)
    for index, (image, masks) in enumerate(samples):
        np.testing.assert_array_equal(data.image(index), image)
        got = data.masks(index)
        assert got.dtype == bool and got.shape == masks.shape
        np.testing.assert_array_equal(got, masks)


@pytest.mark.parametrize("layout", ["labels", "objects"])
def test_mask_folder_reads_both_layouts(tmp_path, samples, layout):
    root = write_mask_folder(tmp_path / "data", samples, layout=layout)
    data = open_data(root)
    assert isinstance(data, MaskFolder)
    _same_content(data, samples)
    assert data.name(0).endswith("img_000.png")


def test_coco_rle_reads_exactly(tmp_path, samples):
    path = write_coco(tmp_path / "coco", samples, encoding="rle")
    data = open_data(path)
    assert isinstance(data, CocoData)
    assert data.images_dir == tmp_path / "coco" / "images"  # found without being told
    _same_content(data, samples)


def test_coco_polygons_match_the_masks(tmp_path, samples):
    path = write_coco(tmp_path / "coco", samples, encoding="polygon")
    data = open_data(path, images_dir=tmp_path / "coco" / "images")
    for index, (_, masks) in enumerate(samples):
        got = data.masks(index)
        assert got.shape == masks.shape
        # Polygons trace pixel outlines: the rasterised area is within a pixel ring of the truth.
        overlap = (got & masks).sum(axis=(1, 2)) / (got | masks).sum(axis=(1, 2))
        assert (overlap > 0.8).all()


def test_coco_leaves_out_crowds_and_unannotated_images(tmp_path, samples):
    path = write_coco(tmp_path / "coco", samples)
    content = json.loads(path.read_text())
    content["annotations"] = [a for a in content["annotations"] if a["image_id"] != 2]
    content["annotations"][0]["iscrowd"] = 1
    path.write_text(json.dumps(content))
    data = CocoData(path)
    assert len(data) == len(samples) - 1
    assert len(data.masks(0)) == len(samples[0][1]) - 1


def test_hf_dataset(samples, tmp_path):
    dataset = to_hf_dataset(samples)
    data = open_data(dataset)
    assert isinstance(data, HFData)
    _same_content(data, samples)
    assert data.name(2) == "dataset row 2"
    dataset.save_to_disk(tmp_path / "saved")
    _same_content(open_data(tmp_path / "saved"), samples)


def test_hf_dataset_mask_lists_and_stacks(samples):
    import datasets

    stacks = [masks.astype(np.uint8) for _, masks in samples]
    dataset = datasets.Dataset.from_dict(
        {"picture": [Image.fromarray(image) for image, _ in samples], "objects": stacks}
    ).with_format("numpy", columns=["objects"], output_all_columns=True)
    data = HFData(dataset, image_column="picture", mask_column="objects")
    _same_content(data, samples)


def test_split_is_seeded_and_disjoint(tmp_path, samples):
    data = open_data(write_mask_folder(tmp_path / "data", make_shapes(10, seed=1), "labels"))
    train, val = split(data, val_fraction=0.3, seed=7)
    again_train, again_val = split(data, val_fraction=0.3, seed=7)
    assert (train.indices, val.indices) == (again_train.indices, again_val.indices)
    assert len(val) == 3 and len(train) == 7
    assert not set(train.indices) & set(val.indices)
    assert split(data, val_fraction=0.3, seed=8)[1].indices != val.indices
    with pytest.raises(DataError, match="cannot split 1 image"):
        split(open_data(write_mask_folder(tmp_path / "one", samples[:1])), 0.5)


# ------------------------------------------------------------------------ bad data


def test_coco_missing_image_names_annotation_and_file(tmp_path, samples):
    path = write_coco(tmp_path / "coco", samples)
    (tmp_path / "coco" / "images" / "img_001.png").unlink()
    first = next(a["id"] for a in json.loads(path.read_text())["annotations"] if a["image_id"] == 2)
    with pytest.raises(DataError, match=rf"annotation {first} points to image 'img_001.png'"):
        open_data(path)


def test_coco_image_id_unknown(tmp_path, samples):
    path = write_coco(tmp_path / "coco", samples)
    content = json.loads(path.read_text())
    content["annotations"][3]["image_id"] = 99
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match="annotation 4 points to image_id 99"):
        open_data(path)


def test_coco_short_polygon(tmp_path, samples):
    path = write_coco(tmp_path / "coco", samples, encoding="polygon")
    content = json.loads(path.read_text())
    content["annotations"][1]["segmentation"] = [[1.0, 2.0, 5.0, 6.0]]
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=r"annotation 2 \(image 'img_000.png'\).*2 points"):
        open_data(path)


def test_coco_rle_of_wrong_size(tmp_path, samples):
    path = write_coco(tmp_path / "coco", samples)
    content = json.loads(path.read_text())
    content["annotations"][0]["segmentation"]["size"] = [10, 10]
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=r"annotation 1 .*mask is 10x10.*image is 128x96"):
        open_data(path)


def test_coco_image_file_of_wrong_size(tmp_path, samples):
    path = write_coco(tmp_path / "coco", samples)
    Image.new("RGB", (50, 40)).save(tmp_path / "coco" / "images" / "img_002.png")
    with pytest.raises(DataError, match=r"img_002.png' is 50x40 .* JSON gives 128x96"):
        open_data(path)


def test_coco_empty_mask(tmp_path, samples):
    from pycocotools import mask as mask_utils

    path = write_coco(tmp_path / "coco", samples)
    content = json.loads(path.read_text())
    empty = mask_utils.encode(np.zeros((96, 128), np.uint8, order="F"))
    content["annotations"][2]["segmentation"] = {
        "size": empty["size"],
        "counts": empty["counts"].decode(),
    }
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match="annotation 3 .*the mask is empty"):
        open_data(path)


def test_coco_not_coco(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"images": []}))
    with pytest.raises(DataError, match="needs 'images' and 'annotations'"):
        open_data(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not a valid JSON"):
        open_data(path)
    assert coco_content([])["images"] == []


def test_mask_folder_mask_of_wrong_size(tmp_path, samples):
    root = write_mask_folder(tmp_path / "data", samples, layout="objects")
    Image.new("L", (64, 48), 255).save(root / "masks" / "img_001" / "0.png")
    with pytest.raises(DataError, match=r"masks/img_001/0.png' of image .*img_001.png'.*64x48"):
        open_data(root)


def test_mask_folder_empty_mask(tmp_path, samples):
    root = write_mask_folder(tmp_path / "data", samples, layout="labels")
    Image.new("L", (128, 96), 0).save(root / "masks" / "img_003.png")
    with pytest.raises(DataError, match=r"masks/img_003.png' is empty"):
        open_data(root)


def test_mask_folder_missing_mask_and_layout(tmp_path, samples):
    root = write_mask_folder(tmp_path / "data", samples, layout="labels")
    (root / "masks" / "img_002.png").unlink()
    with pytest.raises(DataError, match=r"img_002.png' has no mask: expected"):
        open_data(root)
    with pytest.raises(DataError, match="needs images/ and masks/"):
        open_data(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_data(tmp_path / "nowhere")


def test_hf_dataset_wrong_column_type(samples):
    import datasets

    dataset = datasets.Dataset.from_dict(
        {"image": [Image.fromarray(image) for image, _ in samples], "mask": ["a", "b", "c", "d"]}
    )
    with pytest.raises(TypeError, match="dataset row 0, column 'mask': expected .* got str"):
        open_data(dataset)
    with pytest.raises(DataError, match="mask_column 'label' is not a column"):
        open_data(dataset, mask_column="label")
    swapped = datasets.Dataset.from_dict({"image": [1, 2], "mask": [1, 2]})
    with pytest.raises(TypeError, match="dataset row 0, column 'image'"):
        open_data(swapped)


def test_hf_dataset_empty_and_mis_sized_masks(samples):
    import datasets

    images = [Image.fromarray(image) for image, _ in samples[:2]]
    empty = [[np.zeros((96, 128), np.uint8)], [np.ones((96, 128), np.uint8)]]
    with pytest.raises(DataError, match="dataset row 0, column 'mask': mask 0 is empty"):
        open_data(datasets.Dataset.from_dict({"image": images, "mask": empty}))
    small = [[np.ones((96, 128), np.uint8)], [np.ones((10, 12), np.uint8)]]
    with pytest.raises(DataError, match="dataset row 1, column 'mask': the mask is 12x10"):
        open_data(datasets.Dataset.from_dict({"image": images, "mask": small}))


def test_unknown_source_type():
    with pytest.raises(TypeError, match="got int"):
        open_data(3)
    with pytest.raises(DataError, match="not a COCO .json"):
        open_data(Path(__file__))
