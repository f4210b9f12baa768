"""Models: U-Net segmenters and their safetensors + JSON checkpoints."""

from shared.models.segmentation import (
    ENCODERS,
    Segmenter,
    UnetConfig,
    build_unet,
    load_segmenter,
    load_segmenter_checkpoint,
    save_segmenter,
)

__all__ = [
    "ENCODERS",
    "Segmenter",
    "UnetConfig",
    "build_unet",
    "load_segmenter",
    "load_segmenter_checkpoint",
    "save_segmenter",
]
