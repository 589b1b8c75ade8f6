"""``python -m neuroaudio.ros [--ros auto|1|2] [ROS arguments]``: run the neuroaudio ROS node.

``auto`` (the default) uses ``$ROS_VERSION`` when set (ROS setup scripts set it), else ROS 2
when rclpy imports, else ROS 1. Errors the user can fix (no device, no ROS, bad parameter) are
one line on stderr and exit status 2, as for the CLI.
"""

from __future__ import annotations

import logging
import os
import sys

from ..errors import InputError


def _pick(version: str) -> str:
    if version in ("1", "2"):
        return version
    if version != "auto":
        raise InputError(f"--ros {version}: choose auto, 1 or 2")
    env = os.environ.get("ROS_VERSION", "")
    if env in ("1", "2"):
        return env
    try:
        import rclpy  # noqa: F401
        return "2"
    except ImportError:
        return "1"


def help_parameters() -> str:
    """Every node parameter with its default (``--help``), and the topics."""
    from dataclasses import fields

    from .core import NodeParams

    rows = [f"  {f.name:<26} default {f.default!r}" for f in fields(NodeParams)]
    return ("Parameters (ROS 1: _name:=value, ROS 2: --ros-args -p name:=value; docs/live.md):\n"
            + "\n".join(rows)
            + "\n\nTopics: ~azimuth (std_msgs/Float32), ~doa (geometry_msgs/PoseStamped), ~estimate "
            "(std_msgs/String), ~vad (std_msgs/Bool); with sources other than 1 also ~sources "
            "(geometry_msgs/PoseArray) and ~sources_json (std_msgs/String); with kws_model also ~keyword "
            "(std_msgs/String: JSON label, score, t_start_s, t_end_s, azimuth_deg).")


def run_node(version: str, ros_args: list[str]) -> None:
    """Run the node with the adapter for ``version``; ``ros_args`` go to ROS untouched."""
    v = _pick(version)
    argv = [sys.argv[0], *ros_args]
    if v == "1":
        from .ros1 import main
    else:
        from .ros2 import main
    main(argv)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    version = "auto"
    if "--ros" in args:
        i = args.index("--ros")
        if i + 1 >= len(args):
            print("neuroaudio: error: --ros needs a value: auto, 1 or 2", file=sys.stderr)
            sys.exit(2)
        version = args[i + 1]
        del args[i:i + 2]
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        print(help_parameters())
        return
    logging.basicConfig(level=logging.WARNING, format="neuroaudio: %(levelname)s: %(message)s")
    try:
        run_node(version, args)
    except InputError as e:
        print(f"neuroaudio: error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
