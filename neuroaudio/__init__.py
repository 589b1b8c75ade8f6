"""neuroaudio: spiking (neuromorphic) hearing — where a sound comes from and what was said."""

__version__ = "0.1.0"

SPEED_OF_SOUND_M_S = 343.0
"""Speed of sound used everywhere (m/s, air at about 20 °C)."""

DEFAULT_FS_HZ = 16000
"""Default processing sample rate (Hz)."""
