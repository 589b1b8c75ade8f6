"""ROS 1 (rospy) adapter of the neuroaudio node.

Run::

    python -m neuroaudio.ros --ros 1 _device:=pulse _array:=respeaker4 _frame_id:=mic_array

Private parameters ``~device ~channels ~array ~method ~model ~tracking ~frame_id ~frame_s
~hop_s ~block_s ~record ~threads ~reconnect ~reconnect_max_s
~allow_dependent_channels ~sources ~yaw_offset_deg ~stream ~kws_model ~kws_threshold`` (see
:class:`~neuroaudio.ros.core.NodeParams`); topics ``~azimuth`` (std_msgs/Float32), ``~doa``
(geometry_msgs/PoseStamped), ``~estimate`` (std_msgs/String), ``~vad`` (std_msgs/Bool), and with
``sources`` other than 1 ``~sources`` (geometry_msgs/PoseArray) and ``~sources_json``
(std_msgs/String), with ``kws_model`` ``~keyword`` (std_msgs/String, JSON).

Python environments: rospy comes from the distribution (Debian/Ubuntu ``python3-rospy``, or
``/opt/ros/noetic``) for its system Python. When neuroaudio runs in another interpreter of the
same Python version (a virtualenv, pyenv) and ``import rospy`` fails, :func:`import_rospy`
appends the distribution's package folders to ``sys.path`` (after the interpreter's own, so
numpy and friends still come from the environment) and tries again. rospy is pure Python, so
this works whenever the versions match; otherwise the error says what to install.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InputError
from .core import NodeCore, NodeParams, TopicPublisher, route_log

log = logging.getLogger("neuroaudio")

ROS1_PYTHON_DIRS = ("/opt/ros/noetic/lib/python3/dist-packages", "/usr/lib/python3/dist-packages")


def import_rospy() -> Any:
    """Import rospy, falling back on the distribution's folders (module docstring)."""
    try:
        import rospy
        return rospy
    except ImportError:
        pass
    major, minor = sys.version_info[:2]
    same_version = Path(f"/usr/lib/python{major}.{minor}").is_dir()
    added = [d for d in ROS1_PYTHON_DIRS if Path(d, "rospy").is_dir() and d not in sys.path]
    if added and same_version:
        sys.path.extend(added)
        try:
            import rospy
            log.info("rospy found in %s", ", ".join(added))
            return rospy
        except ImportError as e:
            raise InputError(f"rospy found in {added} but does not import here ({e}); run the node "
                             "with the system python3") from None
    raise InputError("ROS 1 (rospy) is not installed for this Python: install python3-rospy, "
                     "python3-std-msgs and python3-geometry-msgs (Debian/Ubuntu) or source ROS Noetic")


class Ros1Publisher(TopicPublisher):
    """Publishes :class:`~neuroaudio.ros.core.NodeOutput` on ``~azimuth``, ``~doa``, ``~estimate``."""

    def __init__(self, rospy: Any):
        self.rospy = rospy
        super().__init__()

    def advertise(self, msg_type: type, topic: str) -> Any:
        return self.rospy.Publisher("~" + topic, msg_type, queue_size=10)

    def set_stamp(self, header: Any, stamp_s: float) -> None:
        header.stamp = self.rospy.Time.from_sec(stamp_s)


MASTER_WAIT_S = 15.0
"""How long (s) the node waits for the ROS master at start-up: a master launched at the same time as
the node (a robot's boot script) needs a few seconds before it answers."""


def wait_for_master(is_online: Callable[[], bool], wait_s: float, poll_s: float = 0.25) -> bool:
    """Poll ``is_online()`` every ``poll_s`` seconds for up to ``wait_s`` seconds; True once it answers."""
    deadline = time.monotonic() + max(wait_s, 0.0)
    while True:
        if is_online():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)


def main(argv: list[str] | None = None) -> int:
    """Run the node until shutdown (Ctrl-C, rosnode kill) or the device is lost."""
    rospy = import_rospy()
    import rosgraph

    wait_s = float(os.environ.get("NEUROAUDIO_ROS_MASTER_WAIT_S", MASTER_WAIT_S))
    if not wait_for_master(rosgraph.is_master_online, wait_s):
        raise InputError(f"no ROS master at {rosgraph.get_master_uri()} after {wait_s:g} s: start one "
                         "(roscore, or rosmaster --core) or set ROS_MASTER_URI")
    argv = list(sys.argv if argv is None else argv)
    rospy.init_node("neuroaudio", argv=argv, anonymous=False)
    route_log(rospy.logwarn, rospy.loginfo)
    params = NodeParams.from_getter(lambda name, d: rospy.get_param("~" + name, d))
    core = NodeCore(params, Ros1Publisher(rospy))
    rospy.on_shutdown(core.stop)
    rospy.loginfo("neuroaudio: localizing from '%s' (%s, %s), publishing ~azimuth ~doa ~estimate ~vad"
                  + (" ~sources ~sources_json" if core.localizer.multi else "")
                  + (" ~keyword" if core.kws_labels is not None else ""),
                  core.capture.device.name, core.localizer.name, core.localizer.array.name)
    summary = core.run()
    rospy.loginfo("neuroaudio: stopped: %s", summary)
    return 0
