"""The project's durable benchmarks, each run as a module from the repository root.

``python -m benchmarks`` prints the README's localization table from the results the bench runs
wrote under ``runs/`` (``--help`` says how). The benchmarks import the installed ``neuroaudio``
package (``pip install -e .``) and nothing else of the repository:

- ``dev_bench``: every localizer on a simulated bench (dev, held-out, realistic), MAE per SNR;
- ``variants``: named variants of a method (another model, other options) side by side on a bench;
- ``localize``: real-time factor and memory of the localizers; ``encode``: the RF-PLC encoder;
- ``simulate``: the simulator against one pyroomacoustics simulation per clip;
- ``live_latency``: capture-to-estimate latency on a (virtual) sound card;
- ``profile_maa``: energy and sparsity of the spiking MAA network per SNR;
- ``kws_fsdd``: FSDD speaker-independent keyword spotting; ``kws_speed``: D-RF training speed;
- ``mpdal``: MPD-AL against the Multi-Spike Tempotron;
- ``short_word_scenes`` and ``fit_calibration``: the scenes and the fit of the shipped confidence maps.

One-question studies live in ``experiments/<study>/``, each with a README (question, command, answer).
"""
