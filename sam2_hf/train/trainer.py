"""``finetune``: train SAM 2 on your own masks with ``accelerate``; evaluate; save.

``accelerate`` owns the devices, mixed precision, gradient accumulation, data parallelism
(``accelerate launch``) and the checkpoints. The run works in ``<output_dir>.partial/``
(checkpoints, the disk embedding cache) and writes ``output_dir`` only when everything is done,
by renaming a finished folder into place.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from typing_extensions import Unpack

from ..engine.loading import LoadOptions, load_model
from .cache import CACHE_MODES, CacheMode, EmbeddingCache
from .data import SegmentationData, open_data, require_extra, split
from .evaluate import EvalScores, score_data, summarize
from .export import export_model, publish, write_json
from .items import EpochShuffle, TrainingItems, keep_list, pixel_values
from .losses import LossWeights
from .model import (
    IMAGE_ENCODER_MODES,
    ImageEncoderMode,
    InteractiveLoss,
    add_lora,
    image_embeddings,
    set_trainable,
)
from .prompts import PromptSettings

MIXED_PRECISIONS = ("auto", "no", "bf16", "fp16")
_CHECKPOINTS_KEPT = 2


@dataclass(frozen=True)
class FinetuneConfig:
    """Every setting of a run; written to ``finetune_config.json`` beside the weights, and
    compared on resume (a checkpoint only continues the run that made it)."""

    model: str
    epochs: int = 10
    batch_size: int = 4
    learning_rate: float = 1e-5
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    max_grad_norm: float = 0.1
    gradient_accumulation_steps: int = 1
    image_encoder: ImageEncoderMode = "frozen"
    train_prompt_encoder: bool = False
    lora_rank: int = 8
    cache: CacheMode = "memory"
    mixed_precision: str = "auto"
    seed: int = 0
    val_fraction: float = 0.1
    checkpoint_every: int | None = None
    eval_corrections: int = 3
    prompts: PromptSettings = field(default_factory=PromptSettings)
    losses: LossWeights = field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "gradient_accumulation_steps", "lora_rank"):
            _check_int(name, getattr(self, name), 1)
        _check_int("eval_corrections", self.eval_corrections, 0)
        if self.checkpoint_every is not None:
            _check_int("checkpoint_every", self.checkpoint_every, 1)
        for name in ("learning_rate", "weight_decay", "max_grad_norm"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction!r}")
        choices = {
            "image_encoder": IMAGE_ENCODER_MODES,
            "cache": CACHE_MODES,
            "mixed_precision": MIXED_PRECISIONS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


@dataclass(frozen=True)
class FinetuneResult:
    """What a run did.

    Attributes:
        output_dir: the saved folder (weights, processor, ``metrics.json``,
            ``finetune_config.json``), loadable by every sam2-hf class.
        before: validation scores of the base model (None without validation data).
        after: validation scores of the fine-tuned model.
        steps: optimizer steps taken (in this and any resumed-from run).
        train_images: images trained on.
        val_images: images validated on.
        seconds: wall time of this call.
        final_loss: mean training loss over the last epoch's batches and the processes.
    """

    output_dir: Path
    before: EvalScores | None
    after: EvalScores | None
    steps: int
    train_images: int
    val_images: int
    seconds: float
    final_loss: float


class _Progress:
    """The run's position, saved in every checkpoint."""

    def __init__(self) -> None:
        self.batches = 0
        self.steps = 0

    def state_dict(self) -> dict[str, int]:
        return {"batches": self.batches, "steps": self.steps}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.batches, self.steps = int(state["batches"]), int(state["steps"])


def finetune(
    data: Any,
    output_dir: str | os.PathLike[str],
    *,
    model: str | os.PathLike[str] = "tiny",
    val_data: Any = None,
    val_fraction: float = 0.1,
    epochs: int = 10,
    batch_size: int = 4,
    learning_rate: float | None = None,
    weight_decay: float = 0.01,
    warmup_fraction: float = 0.05,
    max_grad_norm: float = 0.1,
    gradient_accumulation_steps: int = 1,
    image_encoder: ImageEncoderMode = "frozen",
    train_prompt_encoder: bool = False,
    lora_rank: int = 8,
    cache: CacheMode = "memory",
    prompts: PromptSettings | None = None,
    losses: LossWeights | None = None,
    mixed_precision: str = "auto",
    seed: int = 0,
    checkpoint_every: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    evaluate: bool = True,
    eval_corrections: int = 3,
    keep_checkpoints: bool = False,
    progress: bool = True,
    cpu: bool = False,
    push_to_hub: str | None = None,
    images_dir: str | os.PathLike[str] | None = None,
    image_column: str = "image",
    mask_column: str = "mask",
    **options: Unpack[LoadOptions],
) -> FinetuneResult:
    """Fine-tune a SAM 2 checkpoint on images with object masks.

    Each step draws up to ``prompts.objects_per_image`` objects from each image of the batch,
    prompts them as SAM 2 was trained (see ``PromptSettings``) and applies SAM 2's losses (see
    ``LossWeights``). Validation scores (``EvalScores``) are measured before and after on the
    same deterministic prompts. Run it as is on one device, or with ``accelerate launch`` on
    several (``batch_size`` is per process).

    Args:
        data: training images with masks: a COCO ``.json`` (polygons or RLE), a folder with
            ``images/`` and ``masks/`` (see ``MaskFolder``), a ``datasets.Dataset`` with image
            and mask columns, a ``save_to_disk`` folder, or a ``SegmentationData``.
        output_dir: where the result goes; written only at the end, all at once.
        model: the starting checkpoint: short name (``"tiny"``), hub id or folder.
        val_data: validation data, any form ``data`` takes; default: ``val_fraction`` of
            ``data``, split off by image with ``seed``.
        val_fraction: the share of ``data`` held out when ``val_data`` is None (0: none).
        epochs: passes over the training images.
        batch_size: images per step and process.
        learning_rate: AdamW's peak rate (linear warm-up, cosine decay); default 1e-5, or 1e-4
            with LoRA.
        weight_decay: AdamW's weight decay.
        warmup_fraction: the share of steps the learning rate warms up over.
        max_grad_norm: gradients are clipped to this norm (SAM 2: 0.1; 0 turns it off).
        gradient_accumulation_steps: batches per optimizer step.
        image_encoder: ``"frozen"`` (default: embeddings computed once and cached),
            ``"full"`` (all its weights learn) or ``"lora"`` (LoRA adapters of rank
            ``lora_rank`` on its attention, merged into the weights at the end).
        train_prompt_encoder: let the prompt encoder learn too (the mask decoder always does).
        lora_rank: the adapters' rank.
        cache: where embeddings of a frozen encoder are kept: ``"memory"``, ``"disk"`` (in
            ``<output_dir>.partial/``) or ``"none"`` (recomputed every step).
        prompts: the prompt simulation (default ``PromptSettings()``).
        losses: the loss weights (default ``LossWeights()``, SAM 2's).
        mixed_precision: ``"auto"`` (bf16 on CUDA GPUs of compute capability 8.0 or more, else
            off), ``"no"``, ``"bf16"`` or ``"fp16"``.
        seed: seeds the split, the object and prompt draws and the image order.
        checkpoint_every: optimizer steps between checkpoints (default: one per epoch).
        resume: continue from the newest checkpoint in ``<output_dir>.partial/``.
        overwrite: replace an existing ``output_dir`` once the new one is complete.
        evaluate: score the validation split before and after training.
        eval_corrections: correction clicks in the "corrected" score.
        keep_checkpoints: keep ``<output_dir>.partial/`` after success.
        progress: show a progress bar (main process only).
        cpu: train on the CPU even when a GPU is present.
        push_to_hub: a hub repository id to upload the result to.
        images_dir: the images folder of a COCO file.
        image_column: the image column of a ``datasets`` dataset.
        mask_column: the mask column of a ``datasets`` dataset.
        **options: hub options for ``model``: ``revision``, ``cache_dir``,
            ``local_files_only``, ``token`` (the device comes from ``accelerate``).

    Returns:
        ``FinetuneResult``; the scores are also in ``output_dir/metrics.json``.

    Raises:
        DataError: bad training data, naming the file and the record.
        FileExistsError: ``output_dir`` exists and ``overwrite`` is False, or an earlier run
            left checkpoints and ``resume`` is False.

    Example:
        >>> from sam2_hf.train import finetune
        >>> result = finetune("coco/annotations.json", "out/", model="tiny")  # doctest: +SKIP
        >>> Sam2Predictor.from_pretrained("out/")  # doctest: +SKIP
    """
    started = time.perf_counter()
    require_extra("accelerate", *(["peft"] if image_encoder == "lora" else []))
    for key in ("device", "dtype"):
        if key in options:
            raise TypeError(
                f"finetune does not take {key!r}: accelerate places the model (cpu=True forces "
                "the CPU) and mixed_precision sets the precision"
            )
    if learning_rate is None:
        learning_rate = 1e-4 if image_encoder == "lora" else 1e-5
    config = FinetuneConfig(
        model=os.fspath(model),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        warmup_fraction=warmup_fraction,
        max_grad_norm=max_grad_norm,
        gradient_accumulation_steps=gradient_accumulation_steps,
        image_encoder=image_encoder,
        train_prompt_encoder=train_prompt_encoder,
        lora_rank=lora_rank,
        cache=cache,
        mixed_precision=mixed_precision,
        seed=seed,
        val_fraction=val_fraction if val_data is None else 0.0,
        checkpoint_every=checkpoint_every,
        eval_corrections=eval_corrections,
        prompts=prompts or PromptSettings(),
        losses=losses or LossWeights(),
    )
    output = Path(output_dir)
    if output.exists() and not overwrite and (output.is_file() or any(output.iterdir())):
        raise FileExistsError(
            f"output_dir {str(output)!r} exists and is not empty; pass overwrite=True or "
            "choose another folder"
        )

    def read(source: Any) -> SegmentationData:
        return open_data(
            source, images_dir=images_dir, image_column=image_column, mask_column=mask_column
        )

    train_data = read(data)
    if val_data is not None:
        val_set: SegmentationData | None = read(val_data)
    elif val_fraction > 0:
        train_data, val_set = split(train_data, val_fraction, seed)
    else:
        val_set = None
    run = _Run(config, output, dict(options), cpu=cpu, progress=progress)
    return run.execute(
        train_data,
        val_set if evaluate else None,
        resume=resume,
        overwrite=overwrite,
        keep_checkpoints=keep_checkpoints,
        push_to_hub=push_to_hub,
        started=started,
    )


def _mixed_precision(setting: str, cpu: bool) -> str:
    if setting != "auto":
        return setting
    if not cpu and torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.get_device_capability(local)[0] >= 8:
            return "bf16"
    return "no"


def _fresh_accelerate_state() -> None:
    """Forget the settings of an earlier run in this process (a notebook's second call).

    accelerate keeps one mixed precision per process and refuses another ("restart your
    runtime"); the process group (``PartialState``) is kept, so this is safe under
    ``accelerate launch`` too. The reset functions are accelerate's own, used by its tests.
    """
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()


class _Run:
    """One training run: the accelerator, the model, the caches and the work folder."""

    def __init__(
        self,
        config: FinetuneConfig,
        output: Path,
        hub: dict[str, Any],
        *,
        cpu: bool,
        progress: bool,
    ) -> None:
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        self.config = config
        self.output = output
        self.work = output.with_name(output.name + ".partial")
        self.hub = hub
        self.progress = progress
        unused = config.image_encoder != "frozen" or config.train_prompt_encoder
        _fresh_accelerate_state()
        self.accelerator = Accelerator(
            mixed_precision=_mixed_precision(config.mixed_precision, cpu),
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            cpu=cpu,
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=unused)],
        )

    # ------------------------------------------------------------------ run

    def execute(
        self,
        train: SegmentationData,
        val: SegmentationData | None,
        *,
        resume: bool,
        overwrite: bool,
        keep_checkpoints: bool,
        push_to_hub: str | None,
        started: float,
    ) -> FinetuneResult:
        accelerator, config = self.accelerator, self.config
        checkpoint = self._prepare_work(resume)
        loaded = load_model(config.model, task="image", device="cpu", **self.hub)
        network: Any = loaded.model
        peft_model = add_lora(network, config.lora_rank) if config.image_encoder == "lora" else None
        set_trainable(network, config.image_encoder, config.train_prompt_encoder)
        self.image_size = int(network.prompt_encoder.input_image_size)
        self.processor = loaded.processor
        frozen = config.image_encoder == "frozen"
        items = TrainingItems(
            train, loaded.processor, self.image_size, config.prompts, config.seed, not frozen
        )
        sampler = EpochShuffle(len(items), config.seed)
        loader = torch.utils.data.DataLoader(
            items, batch_size=config.batch_size, sampler=sampler, collate_fn=keep_list
        )
        parameters = [p for p in network.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            parameters, lr=config.learning_rate, weight_decay=config.weight_decay
        )
        module = InteractiveLoss(network, config.losses)
        module, prepared_optimizer, loader = accelerator.prepare(module, optimizer, loader)
        steps_per_epoch = math.ceil(len(loader) / config.gradient_accumulation_steps)
        total_steps = steps_per_epoch * config.epochs
        from transformers import get_cosine_schedule_with_warmup

        scheduler = get_cosine_schedule_with_warmup(
            optimizer, round(config.warmup_fraction * total_steps), total_steps
        )
        position = _Progress()
        accelerator.register_for_checkpointing(scheduler, position)
        if checkpoint is not None:
            accelerator.load_state(os.fspath(checkpoint))
            accelerator.print(f"Resuming from {checkpoint} (step {position.steps}).")
        self.network = accelerator.unwrap_model(module).model
        cache_mode: CacheMode = config.cache if frozen else "none"
        train_cache = EmbeddingCache(cache_mode, self.work / "embeddings" / "train")
        self.val_cache = EmbeddingCache(cache_mode, self.work / "embeddings" / "val")

        before = self._before(val, checkpoint is not None)
        recent = self._train(
            module,
            prepared_optimizer,
            scheduler,
            loader,
            items,
            parameters,
            position,
            train_cache if frozen else None,
            steps_per_epoch,
        )
        local = sum(recent) / len(recent) if recent else math.nan
        local_loss = torch.tensor(local, device=accelerator.device)
        final_loss = float(accelerator.reduce(local_loss, "mean"))
        if peft_model is not None:
            self.network = peft_model.merge_and_unload()
        self.network.eval()
        after = self._scores(val) if val is not None else None
        if accelerator.is_main_process:
            self._save(loaded, before, after, position, overwrite, push_to_hub)
            if not keep_checkpoints:
                shutil.rmtree(self.work, ignore_errors=True)
        accelerator.wait_for_everyone()
        result = FinetuneResult(
            output_dir=self.output,
            before=before,
            after=after,
            steps=position.steps,
            train_images=len(train),
            val_images=len(val) if val is not None else 0,
            seconds=time.perf_counter() - started,
            final_loss=final_loss,
        )
        accelerator.print(summary(result, loaded.source))
        return result

    def _prepare_work(self, resume: bool) -> Path | None:
        """The newest complete checkpoint to resume from, after checking it belongs to this run."""
        accelerator = self.accelerator
        checkpoints = self.work / "checkpoints"
        found = sorted(checkpoints.glob("step-*")) if checkpoints.is_dir() else []
        settings = _config_dict(self.config)
        saved_config = self.work / "finetune_config.json"
        if found and not resume:
            raise FileExistsError(
                f"an earlier run left checkpoints in {str(self.work)!r}: pass resume=True "
                "(--resume) to continue it, or delete that folder to start over"
            )
        if found and saved_config.is_file():
            earlier = json.loads(saved_config.read_text())
            changed = sorted(k for k in settings if earlier.get(k) != settings[k])
            if changed:
                raise ValueError(
                    f"the checkpoints in {str(self.work)!r} come from a run with other settings "
                    f"({', '.join(changed)}); resume with the same settings or delete the folder"
                )
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            self.work.mkdir(parents=True, exist_ok=True)
            write_json(saved_config, settings)
        accelerator.wait_for_everyone()
        if resume and not found:
            accelerator.print(f"No checkpoint in {str(self.work)!r}; starting from the beginning.")
        return found[-1] if found else None

    # ------------------------------------------------------------- training

    def _train(
        self,
        module: torch.nn.Module,
        optimizer: Any,
        scheduler: Any,
        loader: Any,
        items: TrainingItems,
        parameters: list[torch.nn.Parameter],
        position: _Progress,
        cache: EmbeddingCache | None,
        steps_per_epoch: int,
    ) -> list[float]:
        from tqdm.auto import tqdm

        accelerator, config = self.accelerator, self.config
        every = config.checkpoint_every or steps_per_epoch
        last_step = steps_per_epoch * config.epochs  # the result itself is saved after it
        batches_per_epoch = len(loader)
        first_epoch, skip = divmod(position.batches, batches_per_epoch)
        bar = tqdm(
            total=batches_per_epoch * config.epochs,
            initial=position.batches,
            desc="fine-tuning",
            unit="batch",
            disable=not (self.progress and accelerator.is_local_main_process),
        )
        recent: deque[float] = deque(maxlen=batches_per_epoch)
        module.train()
        for epoch in range(first_epoch, config.epochs):
            # accelerate's loader passes its own epoch counter to the sampler whenever it starts
            # iterating, so that counter is what must be set (also for a resumed run).
            loader.set_epoch(epoch)
            batches = loader
            if epoch == first_epoch and skip:
                batches = accelerator.skip_first_batches(loader, skip)
            for batch in batches:
                with accelerator.accumulate(module):
                    embeddings = None
                    if cache is not None:
                        data = items.data
                        embeddings = [
                            self._embedding(cache, "train", data, item["index"]) for item in batch
                        ]
                    losses = module(batch, embeddings)
                    accelerator.backward(losses["loss"])
                    if accelerator.sync_gradients and config.max_grad_norm > 0:
                        accelerator.clip_grad_norm_(parameters, config.max_grad_norm)
                    optimizer.step()
                    if accelerator.sync_gradients:
                        scheduler.step()
                    optimizer.zero_grad()
                position.batches += 1
                recent.append(float(losses["loss"].detach()))
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{sum(recent) / len(recent):.4f}")
                if accelerator.sync_gradients:
                    position.steps += 1
                    if position.steps % every == 0 and position.steps < last_step:
                        self._checkpoint(position.steps)
        bar.close()
        return list(recent)

    def _embedding(
        self, cache: EmbeddingCache, split_name: str, data: SegmentationData, index: int
    ) -> list[torch.Tensor]:
        device = self.accelerator.device

        def compute() -> list[torch.Tensor]:
            values = pixel_values(self.processor, data.image(index))[None].to(device)
            with torch.no_grad(), self.accelerator.autocast():
                return image_embeddings(self.network, values)

        return cache.get(f"{split_name}-{int(index)}", compute, device)

    def _checkpoint(self, step: int) -> None:
        """Save the state into a temporary folder, then rename it: a kill never leaves a
        half-written checkpoint where resume looks."""
        accelerator = self.accelerator
        folder = self.work / "checkpoints"
        staging = folder / f"tmp-step-{step:08d}"
        accelerator.wait_for_everyone()
        accelerator.save_state(os.fspath(staging))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            os.replace(staging, folder / f"step-{step:08d}")
            for old in sorted(folder.glob("step-*"))[:-_CHECKPOINTS_KEPT]:
                shutil.rmtree(old, ignore_errors=True)
        accelerator.wait_for_everyone()

    # ----------------------------------------------------------- evaluation

    def _before(self, val: SegmentationData | None, resumed: bool) -> EvalScores | None:
        if val is None:
            return None
        saved = self.work / "eval_before.json"
        if resumed and saved.is_file():
            return EvalScores(**json.loads(saved.read_text()))
        scores = self._scores(val)
        if self.accelerator.is_main_process:
            write_json(saved, scores.to_dict())
        return scores

    def _scores(self, val: SegmentationData) -> EvalScores:
        """Validation scores, the images shared out between the processes."""
        from accelerate.utils import gather_object

        accelerator = self.accelerator
        was_training = self.network.training
        self.network.eval()
        indices = list(range(len(val)))
        with accelerator.split_between_processes(indices) as mine:
            with accelerator.autocast():
                rows = score_data(
                    self.network,
                    val,
                    mine,
                    lambda i: self._embedding(self.val_cache, "val", val, i),
                    self.image_size,
                    self.config.eval_corrections,
                )
        self.network.train(was_training)
        return summarize(gather_object(rows), self.config.eval_corrections)

    # ---------------------------------------------------------------- saving

    def _save(
        self,
        loaded: Any,
        before: EvalScores | None,
        after: EvalScores | None,
        position: _Progress,
        overwrite: bool,
        push_to_hub: str | None,
    ) -> None:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{self.output.name}.", dir=self.output.parent))
        try:
            model_type = export_model(self.network, loaded, staging, **self.hub)
            metrics = {
                "base_model": loaded.source,
                "model_type": model_type,
                "steps": position.steps,
                "before": before.to_dict() if before else None,
                "after": after.to_dict() if after else None,
            }
            write_json(staging / "metrics.json", metrics)
            write_json(staging / "finetune_config.json", _config_dict(self.config))
            publish(staging, self.output, overwrite)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if push_to_hub:
            from huggingface_hub import HfApi

            api = HfApi(token=self.hub.get("token"))
            api.create_repo(push_to_hub, exist_ok=True)
            api.upload_folder(folder_path=os.fspath(self.output), repo_id=push_to_hub)


def _config_dict(config: FinetuneConfig) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(config)))


def summary(result: FinetuneResult, source: str) -> str:
    """The end-of-run report: what was trained, how long, and the scores before and after."""
    minutes, seconds = divmod(result.seconds, 60)
    lines = [
        f"Fine-tuned {source} on {result.train_images} images ({result.val_images} for "
        f"validation): {result.steps} steps in {int(minutes)}m{seconds:04.1f}s, "
        f"final loss {result.final_loss:.4f}."
    ]
    if result.before is not None and result.after is not None:
        corrections = result.after.corrections
        lines.append(f"Validation mean IoU ({result.after.objects} objects)   before   after")
        for label, key in (
            ("box", "box"),
            ("1 click", "one_click"),
            (f"1 click + {corrections} corrections", "corrected"),
        ):
            old, new = getattr(result.before, key), getattr(result.after, key)
            lines.append(f"  {label:<35}{old:8.3f}{new:8.3f}")
    lines.append(f"Saved to {result.output_dir} (scores in metrics.json).")
    return "\n".join(lines)
