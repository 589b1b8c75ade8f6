"""Direction-of-arrival estimation: one Localizer interface, many methods."""

from .base import (
                   ActivityDetector,
                   FrameEstimate,
                   Framer,
                   LocalizationResult,
                   Localizer,
)
from .registry import localizer_class, make_localizer, method_names, method_summaries

__all__ = ["ActivityDetector", "FrameEstimate", "Framer", "LocalizationResult", "Localizer",
           "localizer_class", "make_localizer", "method_names",
           "method_summaries"]
