"""Energy and sparsity profiles of the spiking models (``neuroaudio profile``).

The counting itself is model-independent (:mod:`neuroaudio.energy`: forward hooks on the weight
layers and the spiking layers); each module here says which layers of a model spike and how the
model is fed:

- :mod:`.maa`: the MAA localization network, run by the ``maa`` localizer on audio files, a
  manifest of clips, or simulated scenes (numbers per frame).
- :mod:`.kws`: the keyword-spotting network on word clips (numbers per clip).

``PROFILERS`` maps a ``--method`` name to ``"module:function"`` (same keyword arguments as
:func:`.maa.profile_maa`); adding a model is one line.
"""

from __future__ import annotations

PROFILERS = {
    "maa": "neuroaudio.profile.maa:profile_maa",
    "kws": "neuroaudio.profile.kws:profile_kws",
}
