"""Design-space explorer: timesteps and precision against accuracy, latency, memory, energy.

``plasticore explore`` (``docs/explore.md``).  Modules: :mod:`.settings` (what is swept,
checked), :mod:`.runs` (a training run, the task), :mod:`.cluster` (where runs train: this
process or a Dask cluster; :mod:`.probe` checks its workers), :mod:`.grid` (jobs and the
cache), :mod:`.enhance` (parameter search at reduced timesteps), :mod:`.precision` (narrow
words and the FSpiNN simplifications), :mod:`.cost` (memory, latency, energy),
:mod:`.pareto` (constraints and fronts), :mod:`.report` (report.md and plots),
:mod:`.sweep` (the sweep).  ``plasticore.bench`` uses this package, never the reverse.
"""
