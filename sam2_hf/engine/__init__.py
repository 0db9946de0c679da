"""The engine: model loading, device and dtype, and every contact with transformers' internals.

The front ends (``sam2_hf.image``, ``sam2_hf.video``, the CLI) own no model logic; they call
the engine's public functions.
"""
