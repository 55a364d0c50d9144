"""Networks in and out through NIR, the Neuromorphic Intermediate Representation (PyPI
``nir``): how networks trained in snnTorch, Norse, SpikingJelly, Rockpool, Sinabs or Lava
move between tools.

- :mod:`.graph` reads a NIR graph into a float :class:`~.graph.FloatNetwork` (a chain of
  ``Affine``/``Linear`` + ``LIF``/``IF``/``CubaLIF`` layers), refusing in one line what
  plasticore cannot represent, and naming the node;
- :mod:`.quantize` puts it on the integer grid: a layered configuration and integer
  weights, thresholds and biases, with a report of the scales, the clipped values and the
  leak chosen and its error;
- :mod:`.export` writes a configuration and its weights back as a NIR graph.

``docs/interchange.md`` states the semantics (NIR's continuous-time neurons, the ``dt`` and
the reset it does not store) and what the importer assumes.
"""
