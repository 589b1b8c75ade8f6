"""Generic training pieces shared by the trainable models (MAA, GCC-PHAT-SM, KWS).

- :mod:`.loop`: the one training loop (:func:`.loop.fit`) and the :class:`.loop.Task` hooks a trainer fills.
- :mod:`.checkpoint`: :class:`.checkpoint.CheckpointFormat` (save atomically, load with
  ``weights_only=True``), code revision.
- :mod:`.logging_io`: CSV log (one row per epoch) and learning-curve plot.
- :mod:`.seeding`: seeds for python, numpy and torch.
- :mod:`.distributed`: DDP that works unchanged under ``torchrun`` (init only when WORLD_SIZE is set).
- :mod:`.optim`: AdamW + per-step cosine (total changeable: a run fitted to a budget), run identity.
- :mod:`.budget`: ``train.time_budget_s``: the number of epochs fitted to a wall-clock budget.
"""
