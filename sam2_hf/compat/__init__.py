"""Code and checkpoints written for the original ``sam2`` package, on transformers."""
