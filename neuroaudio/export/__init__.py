"""Export of the spiking models to NIR, the Neuromorphic Intermediate Representation (docs/nir.md).

``neuroaudio export MODEL --format nir --out FILE.nir`` writes a graph of NIR primitives that
reproduces the model step by step; :mod:`.reference` runs such a graph with snnTorch's NIR node
converters on nirtorch's graph executor, so an exported file can be checked against our own model
(tests/test_nir_export.py). Needs the optional extra ``neuroaudio[nir]`` (nir, nirtorch, snntorch).
"""
