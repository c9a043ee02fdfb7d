"""mallwake: member analytics for shopping malls (segmentation, lifecycle, wake-up campaigns).

Importing the package does nothing but define it: a notebook sets itself up with
``analysis.application.notebook.start`` (escaped tables, language, data).
"""

__version__ = "0.1.0"
