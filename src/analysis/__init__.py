"""mallwake: member analytics for shopping malls (segmentation, lifecycle, wake-up campaigns)."""

__version__ = "0.1.0"
