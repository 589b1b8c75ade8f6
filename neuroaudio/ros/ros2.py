"""ROS 2 (rclpy) adapter of the neuroaudio node.

Run::

    python -m neuroaudio.ros --ros 2 --ros-args -p device:=pulse -p array:=respeaker4

Parameters ``device channels array method model tracking frame_id frame_s hop_s block_s record threads
reconnect reconnect_max_s allow_dependent_channels``
(see :class:`~neuroaudio.ros.core.NodeParams`); topics ``~/azimuth`` (std_msgs/Float32),
``~/doa`` (geometry_msgs/PoseStamped), ``~/estimate`` (std_msgs/String). The capture loop runs
in a worker thread; the main thread spins the node; shutdown stops the capture cleanly.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import fields
from typing import Any

from ..errors import InputError
from .core import NodeCore, NodeParams, TopicPublisher, route_log


def import_rclpy() -> Any:
    try:
        import rclpy
        return rclpy
    except ImportError:
        raise InputError("ROS 2 (rclpy) is not importable: source your ROS 2 setup "
                         "(e.g. /opt/ros/humble/setup.bash) in the shell that runs the node") from None


class Ros2Publisher(TopicPublisher):
    """Publishes :class:`~neuroaudio.ros.core.NodeOutput` on ``~/azimuth``, ``~/doa``, ``~/estimate``."""

    def __init__(self, node: Any):
        self.node = node
        super().__init__()

    def advertise(self, msg_type: type, topic: str) -> Any:
        return self.node.create_publisher(msg_type, "~/" + topic, 10)

    def set_stamp(self, header: Any, stamp_s: float) -> None:
        sec = int(stamp_s)
        header.stamp.sec, header.stamp.nanosec = sec, int((stamp_s - sec) * 1e9)


def main(argv: list[str] | None = None) -> int:
    """Run the node until shutdown or the device is lost."""
    rclpy = import_rclpy()
    from rclpy.node import Node

    rclpy.init(args=list(sys.argv if argv is None else argv))
    node = Node("neuroaudio")
    try:   # parameters may come as int or str (device:=2 or device:=pulse): let them
        from rcl_interfaces.msg import ParameterDescriptor

        descriptor = ParameterDescriptor(dynamic_typing=True)
    except (ImportError, TypeError):   # rclpy before Humble
        descriptor = None
    for f in fields(NodeParams):
        if descriptor is None:
            node.declare_parameter(f.name, f.default)
        else:
            node.declare_parameter(f.name, f.default, descriptor)
    route_log(node.get_logger().warning, node.get_logger().info)
    params = NodeParams.from_getter(lambda name, d: node.get_parameter(name).value)
    core = NodeCore(params, Ros2Publisher(node))
    node.get_logger().info(f"localizing from '{core.capture.device.name}' ({core.localizer.name}, "
                           f"{core.localizer.array.name}), publishing ~/azimuth ~/doa ~/estimate")
    error: list[BaseException] = []

    def work() -> None:
        try:
            node.get_logger().info(f"stopped: {core.run()}")
        except BaseException as e:   # reported by the main thread
            error.append(e)
        finally:
            if rclpy.ok():
                rclpy.shutdown()

    worker = threading.Thread(target=work, name="neuroaudio-capture", daemon=True)
    worker.start()
    try:
        from rclpy.executors import ExternalShutdownException
    except ImportError:          # older rclpy
        ExternalShutdownException = RuntimeError   # noqa: N806
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        core.stop()
        worker.join(timeout=5.0)
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    if error:
        raise error[0]
    return 0
