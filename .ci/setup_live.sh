#!/usr/bin/env bash
# System packages for the live-audio and ROS tests (issue 7): PortAudio for sounddevice,
# PulseAudio + ALSA's pulse plugin for the virtual sound card the tests create, and ROS 1
# (rospy, rosmaster, std_msgs, geometry_msgs) from Debian, and Chromium for the headless-browser
# tests of `neuroaudio serve` (tests/test_serve.py). Called by .ci/run; safe to rerun.
# Without these the tests in tests/test_live.py and tests/test_ros.py skip and say why.
set -euo pipefail
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup_live: no apt-get; install PortAudio, PulseAudio and ROS 1 by hand (docs/live.md)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends \
  libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins \
  python3-rospy python3-rosmaster python3-rosgraph python3-roslaunch \
  python3-std-msgs python3-geometry-msgs chromium >/dev/null \
  || echo "setup_live: some packages did not install; the live/ROS tests will skip and say why"
