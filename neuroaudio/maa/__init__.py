"""MAA: the spiking sound-localization network of Zhang et al. (NeurIPS 2024) on RF-PLC spikes.

- :mod:`.config`: the training pipeline config (YAML ↔ JSON-able dict).
- :mod:`.model`: FSJA attention, ST-M short-term memory, LIF conv blocks, 360-way read-out.
- :mod:`.loss`: circular Gaussian soft-label cross-entropy averaged over the T steps.
- :mod:`.data`: clips from the simulator → encoded frames (on the fly or cached .npz shards).
- :mod:`.train`: AdamW + cosine, checkpoints, resume, CSV log, curve, DDP via torchrun.
- :mod:`.checkpoint`: MAA checkpoints (array, rate, encoder, model and training config, metrics).
"""
