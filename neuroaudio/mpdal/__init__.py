"""Aggregate-label learning with multi-spike SRM neurons: MPD-AL (Zhang et al., AAAI 2019) and the MST.

- ``rules``: the MPD-AL easiest-modifiable-time rule and the Multi-Spike Tempotron (critical threshold).
- ``learner``: a layer of neurons trained online by either rule.
- ``clues`` / ``clue_experiment``: the clue-detection task and the MPD-AL vs MST comparison.
- ``digits`` / ``encoder`` / ``decoding``: spoken digits, the spike encoder, dynamic decoding.
- ``pipeline`` / ``config``: `neuroaudio train mpdal --config ...`.
The neuron itself is ``neuroaudio.neurons.srm``.
"""
