"""Direction-of-arrival estimation: one Localizer interface, many methods."""

from .base import (
                   ActivityDetector,
                   FrameEstimate,
                   Framer,
                   LocalizationResult,
                   Localizer,
                   circular_error_deg,
)
from .registry import localizer_class, make_localizer, method_names, method_summaries

__all__ = ["ActivityDetector", "FrameEstimate", "Framer", "LocalizationResult", "Localizer",
           "circular_error_deg", "localizer_class", "make_localizer", "method_names",
           "method_summaries"]
