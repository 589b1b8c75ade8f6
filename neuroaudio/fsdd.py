"""Where the Free Spoken Digit Dataset (FSDD) is on this machine.

FSDD (Z. Jackson et al., CC BY-SA 4.0) is not shipped: a user clones it (the docs use the folder name FSDD),
``git clone https://github.com/Jakobovski/free-spoken-digit-dataset FSDD``, and passes its
``recordings/`` folder (8 kHz mono WAVs named ``{digit}_{speaker}_{index}.wav``) to the command
that reads it, or sets the environment variable ``NEUROAUDIO_FSDD`` to that folder once.
"""

from __future__ import annotations

import os
from pathlib import Path

FSDD_ENV = "NEUROAUDIO_FSDD"
FSDD_GIT = "https://github.com/Jakobovski/free-spoken-digit-dataset"
FSDD_HINT = (f"get the Free Spoken Digit Dataset with 'git clone {FSDD_GIT}' and pass its recordings/ "
             f"folder (or set {FSDD_ENV} to it)")
"""One-line hint for errors that lack the FSDD folder."""


def fsdd_folder(given: str | os.PathLike | None) -> Path | None:
    """The FSDD recordings folder: ``given`` when set, else ``$NEUROAUDIO_FSDD``, else None.

    Existence is not checked here: the reader says what is missing, with :data:`FSDD_HINT`.
    """
    if given not in (None, ""):
        return Path(given)
    env = os.environ.get(FSDD_ENV, "")
    return Path(env) if env else None
