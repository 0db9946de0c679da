"""The code of Meta's three example notebooks (``image_predictor_example``,
``automatic_mask_generator_example``, ``video_predictor_example``), cell by cell, with only
the import and construction lines changed: ``sam2.`` -> ``sam2_hf.compat.``, and a tiny
random-weight model on small synthetic images instead of the large checkpoint and Meta's
photos. Plotting calls are left out (their inputs are computed as in the notebooks); the
coordinates are scaled to the small images. Needs no original sam2.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

# Meta's tiny config, shrunk to a 128-pixel, 128-wide model (the changed construction line).
SHRINK = [
    "++model.image_size=128",
    "++model.image_encoder.trunk.embed_dim=12",
    "++model.image_encoder.neck.d_model=128",
    "++model.image_encoder.neck.backbone_channel_list=[96,48,24,12]",
    "++model.image_encoder.neck.position_encoding.num_pos_feats=128",
    "++model.memory_attention.d_model=128",
    "++model.memory_attention.num_layers=1",
    "++model.memory_attention.layer.d_model=128",
    "++model.memory_attention.layer.dim_feedforward=256",
    "++model.memory_attention.layer.self_attention.embedding_dim=128",
    "++model.memory_attention.layer.cross_attention.embedding_dim=128",
    "++model.memory_encoder.in_dim=128",
    "++model.memory_encoder.mask_downsampler.embed_dim=128",
    "++model.memory_encoder.fuser.layer.dim=128",
]
pytestmark = pytest.mark.filterwarnings("ignore:no checkpoint given:UserWarning")


def _photo(path: Path, height: int, width: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 80, size=(height, width, 3), dtype=np.uint8)
    image[height // 4 : height // 2, width // 3 : 2 * width // 3] = (210, 60, 40)
    Image.fromarray(image).save(path)
    return path


def show_mask(mask, random_color=False, borders=True):  # the notebooks' helper, minus plt
    color = (
        np.concatenate([np.random.random(3), np.array([0.6])])
        if random_color
        else (np.array([30 / 255, 144 / 255, 255 / 255, 0.6]))
    )
    h, w = mask.shape[-2:]
    mask = mask.astype(np.uint8)
    mask_image = mask.reshape(h, w, 1) * color.reshape(1, 1, -1)
    if borders:
        cv2 = pytest.importorskip("cv2")
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        contours = [cv2.approxPolyDP(c, epsilon=0.01, closed=True) for c in contours]
    return mask_image


def test_image_predictor_example(tmp_path: Path) -> None:
    truck = _photo(tmp_path / "truck.jpg", 60, 90, 0)
    groceries = _photo(tmp_path / "groceries.jpg", 50, 70, 1)
    device = torch.device("cpu")

    image = Image.open(truck)
    image = np.array(image.convert("RGB"))

    from sam2_hf.compat.build_sam import build_sam2
    from sam2_hf.compat.sam2_image_predictor import SAM2ImagePredictor

    sam2_checkpoint = None  # changed: "../checkpoints/sam2.1_hiera_large.pt"
    model_cfg = "configs/sam2.1/sam2.1_hiera_l.yaml"
    model_cfg = "configs/sam2.1/sam2.1_hiera_t.yaml"  # changed: the tiny model below
    sam2_model = build_sam2(model_cfg, sam2_checkpoint, device=device, hydra_overrides_extra=SHRINK)
    predictor = SAM2ImagePredictor(sam2_model)

    predictor.set_image(image)
    input_point = np.array([[50, 37]])
    input_label = np.array([1])
    print(predictor._features["image_embed"].shape, predictor._features["image_embed"][-1].shape)

    masks, scores, logits = predictor.predict(
        point_coords=input_point,
        point_labels=input_label,
        multimask_output=True,
    )
    sorted_ind = np.argsort(scores)[::-1]
    masks = masks[sorted_ind]
    scores = scores[sorted_ind]
    logits = logits[sorted_ind]
    assert masks.shape == (3, 60, 90)  # (number_of_masks) x H x W
    for mask, score in zip(masks, scores, strict=True):
        show_mask(mask, borders=True)
        assert isinstance(float(score), float)

    input_point = np.array([[50, 37], [72, 50]])
    input_label = np.array([1, 1])
    mask_input = logits[np.argmax(scores), :, :]  # Choose the model's best mask
    masks, scores, _ = predictor.predict(
        point_coords=input_point,
        point_labels=input_label,
        mask_input=mask_input[None, :, :],
        multimask_output=False,
    )
    assert masks.shape == (1, 60, 90)

    input_point = np.array([[50, 37], [72, 50]])
    input_label = np.array([1, 0])
    mask_input = logits[np.argmax(scores), :, :]
    masks, scores, _ = predictor.predict(
        point_coords=input_point,
        point_labels=input_label,
        mask_input=mask_input[None, :, :],
        multimask_output=False,
    )

    input_box = np.array([25, 30, 45, 55])
    masks, scores, _ = predictor.predict(
        point_coords=None,
        point_labels=None,
        box=input_box[None, :],
        multimask_output=False,
    )
    show_mask(masks[0])

    input_box = np.array([25, 30, 45, 55])
    input_point = np.array([[35, 45]])
    input_label = np.array([0])
    masks, scores, logits = predictor.predict(
        point_coords=input_point,
        point_labels=input_label,
        box=input_box,
        multimask_output=False,
    )

    input_boxes = np.array([[5, 17, 85, 53], [25, 30, 45, 55], [60, 30, 80, 50], [70, 40, 85, 47]])
    masks, scores, _ = predictor.predict(
        point_coords=None,
        point_labels=None,
        box=input_boxes,
        multimask_output=False,
    )
    assert masks.shape == (4, 1, 60, 90)  # (batch_size) x (num_predicted_masks_per_input) x H x W
    for mask in masks:
        show_mask(mask.squeeze(0), random_color=True)

    image1 = image
    image1_boxes = np.array([[5, 17, 85, 53], [25, 30, 45, 55], [60, 30, 80, 50]])
    image2 = np.array(Image.open(groceries).convert("RGB"))
    image2_boxes = np.array([[30, 10, 35, 25], [25, 12, 32, 25], [35, 10, 40, 25]])
    img_batch = [image1, image2]
    boxes_batch = [image1_boxes, image2_boxes]
    predictor.set_image_batch(img_batch)
    masks_batch, scores_batch, _ = predictor.predict_batch(
        None, None, box_batch=boxes_batch, multimask_output=False
    )
    for image, boxes, masks in zip(img_batch, boxes_batch, masks_batch, strict=True):
        for mask in masks:
            show_mask(mask.squeeze(0), random_color=True)
        assert masks.shape[-2:] == image.shape[:2] and len(masks) == len(boxes)

    image1_pts = np.array([[[50, 37]], [[65, 45]]])
    image1_labels = np.array([[1], [1]])
    image2_pts = np.array([[[40, 30]], [[60, 30]]])
    image2_labels = np.array([[1], [1]])
    pts_batch = [image1_pts, image2_pts]
    labels_batch = [image1_labels, image2_labels]
    masks_batch, scores_batch, _ = predictor.predict_batch(
        pts_batch, labels_batch, box_batch=None, multimask_output=True
    )
    # Select the best single mask per object
    best_masks = []
    for masks, scores in zip(masks_batch, scores_batch, strict=True):
        best_masks.append(masks[range(len(masks)), np.argmax(scores, axis=-1)])
    assert [m.shape for m in best_masks] == [(2, 60, 90), (2, 50, 70)]


def test_automatic_mask_generator_example(tmp_path: Path) -> None:
    device = torch.device("cpu")
    image = Image.open(_photo(tmp_path / "cars.jpg", 48, 64, 2))
    image = np.array(image.convert("RGB"))

    from sam2_hf.compat.automatic_mask_generator import SAM2AutomaticMaskGenerator
    from sam2_hf.compat.build_sam import build_sam2

    sam2_checkpoint = None  # changed: "../checkpoints/sam2.1_hiera_large.pt"
    model_cfg = "configs/sam2.1/sam2.1_hiera_t.yaml"  # changed: the tiny model below
    sam2 = build_sam2(
        model_cfg,
        sam2_checkpoint,
        device=device,
        apply_postprocessing=False,
        hydra_overrides_extra=SHRINK,
    )
    # changed: a 4x4 grid and no thresholds, for the tiny random model
    mask_generator = SAM2AutomaticMaskGenerator(
        sam2, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0
    )
    masks = mask_generator.generate(image)
    print(len(masks))
    print(masks[0].keys())

    def show_anns(anns, borders=True):  # the notebook's, minus plt
        if len(anns) == 0:
            return
        sorted_anns = sorted(anns, key=(lambda x: x["area"]), reverse=True)
        img = np.ones(
            (sorted_anns[0]["segmentation"].shape[0], sorted_anns[0]["segmentation"].shape[1], 4)
        )
        img[:, :, 3] = 0
        for ann in sorted_anns:
            m = ann["segmentation"]
            color_mask = np.concatenate([np.random.random(3), [0.5]])
            img[m] = color_mask
            if borders:
                show_mask(m)
        return img

    assert show_anns(masks).shape == (48, 64, 4)

    mask_generator_2 = SAM2AutomaticMaskGenerator(
        model=sam2,
        points_per_side=8,  # changed: 64
        points_per_batch=128,
        pred_iou_thresh=0.7,
        stability_score_thresh=0.92,
        stability_score_offset=0.7,
        crop_n_layers=1,
        box_nms_thresh=0.7,
        crop_n_points_downscale_factor=2,
        min_mask_region_area=25.0,
        use_m2m=True,
    )
    masks2 = mask_generator_2.generate(image)
    show_anns(masks2)
    assert all(set(m) >= {"segmentation", "area", "bbox", "predicted_iou"} for m in masks2)


def test_video_predictor_example(tmp_path: Path) -> None:
    device = torch.device("cpu")
    video_dir = str(tmp_path / "bedroom")
    os.makedirs(video_dir)
    rng = np.random.default_rng(0)
    for i in range(4):  # changed: a 4-frame synthetic video instead of Meta's bedroom
        frame = rng.integers(0, 80, size=(48, 64, 3), dtype=np.uint8)
        frame[10 + i : 30 + i, 20 + 2 * i : 40 + 2 * i] = (210, 60, 40)
        Image.fromarray(frame).save(os.path.join(video_dir, f"{i:05d}.jpg"))

    from sam2_hf.compat.build_sam import build_sam2_video_predictor

    sam2_checkpoint = None  # changed: "../checkpoints/sam2.1_hiera_large.pt"
    model_cfg = "configs/sam2.1/sam2.1_hiera_t.yaml"  # changed: the tiny model below
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = build_sam2_video_predictor(
            model_cfg, sam2_checkpoint, device=device, hydra_overrides_extra=SHRINK
        )

    frame_names = [
        p
        for p in os.listdir(video_dir)
        if os.path.splitext(p)[-1] in [".jpg", ".jpeg", ".JPG", ".JPEG"]
    ]
    frame_names.sort(key=lambda p: int(os.path.splitext(p)[0]))

    inference_state = predictor.init_state(video_path=video_dir)
    predictor.reset_state(inference_state)

    ann_frame_idx = 0  # the frame index we interact with
    ann_obj_id = 1  # give a unique id to each object we interact with (it can be any integers)
    points = np.array([[21, 35]], dtype=np.float32)
    labels = np.array([1], np.int32)
    _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state,
        frame_idx=ann_frame_idx,
        obj_id=ann_obj_id,
        points=points,
        labels=labels,
    )
    show_mask((out_mask_logits[0] > 0.0).cpu().numpy(), borders=False)

    points = np.array([[21, 35], [25, 22]], dtype=np.float32)
    labels = np.array([1, 1], np.int32)
    _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state,
        frame_idx=ann_frame_idx,
        obj_id=ann_obj_id,
        points=points,
        labels=labels,
    )
    show_mask((out_mask_logits[0] > 0.0).cpu().numpy(), borders=False)

    video_segments = {}  # video_segments contains the per-frame segmentation results
    for out_frame_idx, out_obj_ids, out_mask_logits in predictor.propagate_in_video(
        inference_state
    ):
        video_segments[out_frame_idx] = {
            out_obj_id: (out_mask_logits[i] > 0.0).cpu().numpy()
            for i, out_obj_id in enumerate(out_obj_ids)
        }
    vis_frame_stride = 2
    for out_frame_idx in range(0, len(frame_names), vis_frame_stride):
        for _out_obj_id, out_mask in video_segments[out_frame_idx].items():
            show_mask(out_mask, borders=False)
    assert sorted(video_segments) == [0, 1, 2, 3]
    assert video_segments[0][1].shape == (1, 48, 64)

    ann_frame_idx = 2  # further refine some details on this frame (150 in the notebook)
    ann_obj_id = 1
    points = np.array([[8, 41]], dtype=np.float32)
    labels = np.array([0], np.int32)
    _, _, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state,
        frame_idx=ann_frame_idx,
        obj_id=ann_obj_id,
        points=points,
        labels=labels,
    )
    video_segments = {}
    for out_frame_idx, out_obj_ids, out_mask_logits in predictor.propagate_in_video(
        inference_state
    ):
        video_segments[out_frame_idx] = {
            out_obj_id: (out_mask_logits[i] > 0.0).cpu().numpy()
            for i, out_obj_id in enumerate(out_obj_ids)
        }

    predictor.reset_state(inference_state)
    ann_frame_idx = 0
    ann_obj_id = 4
    box = np.array([30, 0, 50, 40], dtype=np.float32)
    _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state,
        frame_idx=ann_frame_idx,
        obj_id=ann_obj_id,
        box=box,
    )
    points = np.array([[46, 6]], dtype=np.float32)
    labels = np.array([1], np.int32)
    box = np.array([30, 0, 50, 40], dtype=np.float32)
    _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state,
        frame_idx=ann_frame_idx,
        obj_id=ann_obj_id,
        points=points,
        labels=labels,
        box=box,
    )
    video_segments = {}
    for out_frame_idx, out_obj_ids, out_mask_logits in predictor.propagate_in_video(
        inference_state
    ):
        video_segments[out_frame_idx] = {
            out_obj_id: (out_mask_logits[i] > 0.0).cpu().numpy()
            for i, out_obj_id in enumerate(out_obj_ids)
        }
    assert list(video_segments[3]) == [4]

    predictor.reset_state(inference_state)
    prompts = {}  # hold all the clicks we add for visualization
    ann_frame_idx = 0
    ann_obj_id = 2
    points = np.array([[20, 30], [27, 17]], dtype=np.float32)
    labels = np.array([1, 0], np.int32)
    prompts[ann_obj_id] = points, labels
    _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state,
        frame_idx=ann_frame_idx,
        obj_id=ann_obj_id,
        points=points,
        labels=labels,
    )
    ann_obj_id = 3
    points = np.array([[40, 15]], dtype=np.float32)
    labels = np.array([1], np.int32)
    prompts[ann_obj_id] = points, labels
    _, out_obj_ids, out_mask_logits = predictor.add_new_points_or_box(
        inference_state=inference_state,
        frame_idx=ann_frame_idx,
        obj_id=ann_obj_id,
        points=points,
        labels=labels,
    )
    for i, out_obj_id in enumerate(out_obj_ids):
        assert prompts[out_obj_id][0].shape[1] == 2
        show_mask((out_mask_logits[i] > 0.0).cpu().numpy(), borders=False)
    video_segments = {}
    for out_frame_idx, out_obj_ids, out_mask_logits in predictor.propagate_in_video(
        inference_state
    ):
        video_segments[out_frame_idx] = {
            out_obj_id: (out_mask_logits[i] > 0.0).cpu().numpy()
            for i, out_obj_id in enumerate(out_obj_ids)
        }
    assert all(list(segments) == [2, 3] for segments in video_segments.values())
