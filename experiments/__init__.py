"""One-question studies, each in its own folder with a README.md (question, command, answer).

Run their scripts as modules from the repository root, e.g.
``python -m experiments.maa_readout.maa_readout --help``; they import the installed ``neuroaudio``
(and, where a study reuses a benchmark's scene, the ``benchmarks`` package).
"""
