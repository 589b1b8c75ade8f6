"""Scene simulation with pyroomacoustics: rooms, arrays, speech and noise, manifests, a torch Dataset.

- :mod:`.config`: the YAML config (typed, validated once).
- :mod:`.speech`: espeak-ng synthesis (``synthesize``, ``list_voices``).
- :mod:`.signals`: source and noise signals (recipes, then samples).
- :mod:`.scene`: deterministic planning of rooms and clips.
- :mod:`.render`: RIRs once per room, clips by FFT filtering, SNR per conventions.md.
- :mod:`.run`: batch generation (workers, progress, resume) and :mod:`.manifest`.
- :mod:`.dataset`: the same scenes on the fly for training.
"""

from .config import SimConfig, load_config, parse_config

__all__ = ["SimConfig", "load_config", "parse_config"]
