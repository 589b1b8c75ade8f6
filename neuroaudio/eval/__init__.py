"""Batch evaluation: metrics, runs over manifests, tables and plots."""

from .metrics import compute_metrics, summarize
from .runner import EvalResult, Manifest, evaluate, read_manifest

__all__ = ["EvalResult", "Manifest", "compute_metrics", "evaluate", "read_manifest", "summarize"]
