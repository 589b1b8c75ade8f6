"""RF-PLC spike encoding: resonator bank → cochlear bands → phase-locked spikes → ITD coincidences.

Modules, one job each:

- :mod:`.config`: :class:`RFPLCConfig`, the typed, validated parameters (paper defaults).
- :mod:`.cochlear`: ERB-spaced (cochlear, near constant-Q) bands and the neuron → band map.
- :mod:`.silent_stage`: the resonator bank's state at the end of each integration step (FFT form).
- :mod:`.phase_lock`: activity gating and phase-locked spike times (spike stage).
- :mod:`.coincidence`: Jeffress-style coincidence detectors per mic pair, band and delay.
- :mod:`.framing`: steps → frames of T steps every hop.
- :mod:`.encoder`: :class:`RFPLCEncoder`, the streaming encoder, and the npz output.
- :mod:`.plot`: spike rasters and coincidence maps.

Import from the submodules (``from neuroaudio.encoding.encoder import RFPLCEncoder``).
"""
