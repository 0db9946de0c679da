"""Masks, COCO and drawing in plain numpy, PIL and SciPy: nothing here imports torch."""
