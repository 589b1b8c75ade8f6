"""ROS 2 launch example: live sound source localization.

    ros2 launch neuroaudio/ros/launch/neuroaudio_launch.py device:=pulse array:=respeaker4
    ros2 topic echo /neuroaudio/azimuth

Runs `python3 -m neuroaudio.ros --ros 2` (the python3 on PATH must have neuroaudio installed).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration

# '' (two quotes) is YAML for the empty string: an empty `-p name:=` would not parse.
ARGS = {"device": "''", "channels": "''", "array": "respeaker4", "method": "''", "model": "''",
        "tracking": "true", "frame_id": "mic_array", "threads": "1", "reconnect": "true",
        "reconnect_max_s": "30.0", "frame_s": "0.17", "hop_s": "0.085", "block_s": "0.02",
        "record": "''", "allow_dependent_channels": "false", "sources": "'1'", "yaw_offset_deg": "0.0",
        "stream": "''", "kws_model": "''", "kws_threshold": "-1.0"}


def generate_launch_description():
    params = []
    for name in ARGS:
        params += ["-p", [name, ":=", LaunchConfiguration(name)]]
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=value) for name, value in ARGS.items()]
        + [ExecuteProcess(cmd=["python3", "-m", "neuroaudio.ros", "--ros", "2", "--ros-args",
                               "-r", "__node:=neuroaudio", *params], output="screen")])
