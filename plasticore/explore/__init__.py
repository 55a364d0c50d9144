"""Design-space explorer: timesteps and precision against accuracy, latency, memory, energy.

``plasticore explore`` (``docs/explore.md``).  Modules: :mod:`.grid` (runs, cache, workers),
:mod:`.enhance` (parameter search at reduced timesteps), :mod:`.precision` (narrow words and
the FSpiNN simplifications), :mod:`.cost` (memory, latency, energy), :mod:`.pareto`
(constraints and fronts), :mod:`.report` (report.md and plots), :mod:`.explore` (the sweep).
"""
