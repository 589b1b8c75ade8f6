"""Thin shim: `python cli.py ...` runs the same app as the `neuroaudio` console script."""

from neuroaudio.cli import main

if __name__ == "__main__":
    main()
