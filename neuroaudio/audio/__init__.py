"""Audio input: files and (later) sound cards, as block streams of ``[samples, channels]``."""

from .io import (
           AudioInfo,
           FileBlockStream,
           audio_info,
           blocks_of,
           parse_channels,
           read_audio,
           write_audio,
)
from .resample import StreamingResampler

__all__ = ["AudioInfo", "FileBlockStream", "StreamingResampler", "audio_info", "blocks_of",
           "parse_channels", "read_audio", "write_audio"]
