"""ROS node: live localization published on ROS topics.

- :mod:`neuroaudio.ros.core`: the framework-free node (parameters, pipeline, messages as plain
  data); testable without ROS.
- :mod:`neuroaudio.ros.ros1`: the ROS 1 (rospy) adapter.
- :mod:`neuroaudio.ros.ros2`: the ROS 2 (rclpy) adapter.
- ``python -m neuroaudio.ros`` / ``neuroaudio ros``: run the node (``--ros auto|1|2``).
- ``launch/``: launch examples for both (see docs/live.md).
"""
