"""The annotation file: JSON round trip, merge-on-write between writers, atomic writes."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

from sam2_hf.app import FILE_NAME, AnnotatedObject, AnnotationStore, Box, Click, StoredMask


def make_object(category: str = "cat", seed: int = 0, **kwargs) -> AnnotatedObject:
    rng = np.random.default_rng(seed)
    mask = rng.random((6, 8)) > 0.5
    return AnnotatedObject(
        AnnotatedObject.new_id(),
        category,
        prompts=(Click(1.5, 2.0), Click(3, 4, positive=False), Box(0, 1, 5, 4)),
        mask=StoredMask.from_array(mask),
        score=0.75,
        **kwargs,
    )


def test_objects_survive_a_round_trip(tmp_path):
    store = AnnotationStore(tmp_path / "out" / FILE_NAME)
    obj = make_object()
    auto = AnnotatedObject(
        AnnotatedObject.new_id(),
        "dog",
        mask=obj.mask,
        source="auto",
        seed=StoredMask.from_array(np.eye(6, 8, dtype=bool)),
    )
    store.put("a.png", obj, (6, 8))
    store.put("a.png", auto, (6, 8))
    assert store.dirty
    store.save()
    assert not store.dirty

    reread = AnnotationStore(tmp_path / "out" / FILE_NAME)
    first, second = reread.objects("a.png")
    assert (first.id, first.category, first.prompts, first.score) == (
        obj.id,
        "cat",
        obj.prompts,
        0.75,
    )
    np.testing.assert_array_equal(first.mask.array, obj.mask.array)
    assert second.source == "auto" and second.prompts == ()
    np.testing.assert_array_equal(second.seed.array, np.eye(6, 8, dtype=bool))
    assert reread.image_size("a.png") == (6, 8)
    assert reread.categories() == ["cat", "dog"] and reread.images() == ["a.png"]


def test_the_file_is_small_json_with_coco_rle(tmp_path):
    store = AnnotationStore(tmp_path / FILE_NAME)
    store.put("a.png", make_object(), (6, 8))
    store.save()
    document = json.loads((tmp_path / FILE_NAME).read_text())
    assert document["format"] == "sam2-hf-app" and document["version"] == 1
    (saved,) = document["images"]["a.png"]["objects"]
    assert saved["prompts"][0] == {"point": [1.5, 2.0], "label": 1}
    assert saved["prompts"][2] == {"box": [0.0, 1.0, 5.0, 4.0]}
    assert set(saved["mask"]) == {"size", "counts"} and isinstance(saved["mask"]["counts"], str)


def test_two_writers_merge_instead_of_overwriting(tmp_path):
    path = tmp_path / FILE_NAME
    tab_a, tab_b = AnnotationStore(path), AnnotationStore(path)
    cat, dog = make_object("cat"), make_object("dog", seed=1)
    tab_a.put("a.png", cat, (6, 8))
    tab_a.save()
    tab_b.put("a.png", dog, (6, 8))
    tab_b.put("b.png", make_object("bird", seed=2), (6, 8))
    tab_b.save()  # b never saw the cat, yet keeps it
    assert [o.category for o in tab_b.objects("a.png")] == ["cat", "dog"]
    tab_a.delete("a.png", cat.id)
    tab_a.save()  # a's deletion applies; b's objects stay
    final = AnnotationStore(path)
    assert [o.category for o in final.objects("a.png")] == ["dog"]
    assert [o.category for o in final.objects("b.png")] == ["bird"]
    assert tab_b.refresh() and [o.category for o in tab_b.objects("a.png")] == ["dog"]
    assert not tab_b.refresh()  # nothing changed since


def test_concurrent_writers_never_corrupt_the_file(tmp_path):
    path = tmp_path / FILE_NAME
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        store = AnnotationStore(path)
        try:
            for step in range(15):
                store.put(f"img{index}.png", make_object(f"w{index}", seed=step), (6, 8))
                store.save()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = AnnotationStore(path)
    assert sorted(final.images()) == [f"img{i}.png" for i in range(4)]
    assert all(len(final.objects(f"img{i}.png")) == 15 for i in range(4))
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_written_files_get_plain_open_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        store = AnnotationStore(tmp_path / FILE_NAME)
        store.put("a.png", make_object(), (6, 8))
        store.save()
    finally:
        os.umask(old)
    assert (tmp_path / FILE_NAME).stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"format": "other"}', "not a sam2-hf annotation file"),
        (b'{"format": "sam2-hf-app", "version": 99, "images": {}}', "newer sam2-hf"),
    ],
)
def test_an_unreadable_file_is_reported_and_left_alone(tmp_path, content, message):
    path = tmp_path / FILE_NAME
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        AnnotationStore(path)
    assert path.read_bytes() == content


def test_masks_must_match_the_image(tmp_path):
    store = AnnotationStore(tmp_path / FILE_NAME)
    with pytest.raises(ValueError, match=r"shape \(6, 8\), the image \(5, 5\)"):
        store.put("a.png", make_object(), (5, 5))
    with pytest.raises(TypeError, match="AnnotatedObject"):
        store.put("a.png", "cat", (5, 5))  # type: ignore[arg-type]


def test_stored_masks_are_read_only_and_resize_for_display():
    mask = np.zeros((4, 6), bool)
    mask[1:3, 2:5] = True
    stored = StoredMask.from_array(mask)
    mask[0, 0] = True  # the caller's array is copied
    assert not stored.array[0, 0] and not stored.array.flags.writeable
    from_rle = StoredMask.from_rle(stored.rle)
    assert from_rle.shape == (4, 6)
    np.testing.assert_array_equal(from_rle.array, stored.array)
    np.testing.assert_array_equal(stored.resized((8, 12)), np.kron(stored.array, np.ones((2, 2))))
    with pytest.raises(ValueError, match="COCO RLE"):
        StoredMask.from_rle({"counts": "abc"})


def test_malformed_objects_name_themselves():
    with pytest.raises(ValueError, match="malformed object 'x7'"):
        AnnotatedObject.from_json({"id": "x7", "category": "cat", "prompts": [{"point": [1]}]})
