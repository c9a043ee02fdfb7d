"""mallwake: member analytics for shopping malls (segmentation, lifecycle, wake-up campaigns)."""

__version__ = "0.1.0"

import sys as _sys

if "ipykernel" in _sys.modules:  # inside a notebook kernel: every displayed Styler is HTML-escaped
    from .display import register_kernel_formatters as _register_kernel_formatters

    _register_kernel_formatters()
