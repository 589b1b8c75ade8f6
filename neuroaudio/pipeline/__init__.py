"""Pipelines: simulate → train → evaluate → report from one YAML (``neuroaudio pipeline run``).

- :mod:`.trainers`: the config's ``kind`` → the trainer package (one line per trainer).
- :mod:`.runner`: the steps, their completion checks (resume), progress output, the report.
"""
