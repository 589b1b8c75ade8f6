"""Temporal tracking of source directions (azimuth over time) so live output is steady.

See :mod:`neuroaudio.tracking.kalman` for the filter, its choices and its parameters.
Tracking is on by default for live output (``neuroaudio localize --live``, the ROS node) and
off for files and ``evaluate`` (which score the localizer itself, frame by frame).
"""

from .kalman import (
    AzimuthTracker,
    Track,
    TrackerConfig,
    make_tracker,
    measurement_weight,
    multi_source_config,
)

__all__ = ["AzimuthTracker", "Track", "TrackerConfig", "make_tracker", "measurement_weight",
           "multi_source_config"]
