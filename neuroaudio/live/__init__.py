"""Live localization from a sound card: the session factory shared by the CLI and the ROS node.

See :mod:`neuroaudio.live.session`; capture itself is :mod:`neuroaudio.audio.live`.
"""

from .session import LiveEstimate, LiveSession, build_live_session

__all__ = ["LiveEstimate", "LiveSession", "build_live_session"]
