"""Keyword spotting with dendritic resonate-and-fire (D-RF) spiking networks.

Modules: ``config`` (typed, validated pipeline configs), ``data`` (one loader interface for FSDD,
Speech Commands v2, ``label/*.wav`` folders and espeak-ng synthetic keywords), ``frontend`` (raw
audio or log-mel), ``model`` (residual D-RF network), ``train`` (checkpoints, resume, CSV log),
``evaluate`` (accuracy, confusion matrix, firing rates, SOP energy), ``infer`` (keywords found in
files, with times and scores). See docs/kws.md.
"""
