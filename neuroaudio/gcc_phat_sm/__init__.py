"""GCC-PHAT-SM: GCC-PHAT with a learned speech-oriented time-frequency mask and an MLP DOA classifier.

Wang, Qian, Pan, Zhang, Li, "GCC-PHAT with Speech-oriented Attention for Robotic Sound Source
Localization" (ICRA 2021); user docs in docs/gcc_phat_sm.md.

- :mod:`.features`: STFT snapshots of a frame, PHAT cross-spectra of every mic pair, the
  sub-sample lag grid and the masked GCC features (numpy and torch).
- :mod:`.mask`: the mask network (a small frequency-dilated CNN on log-spectra).
- :mod:`.model`: mask + GCC features + MLP → 360 one-degree logits.
- :mod:`.data`: simulated training frames with the ideal ratio mask (speech and noise known apart).
- :mod:`.config`, :mod:`.checkpoint`, :mod:`.train`: the ``neuroaudio train gcc-phat-sm`` pipeline.
"""
