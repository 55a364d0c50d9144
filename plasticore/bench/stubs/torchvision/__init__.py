"""Import-only stand-in for ``torchvision``, used by the BindsNET benchmark subprocess.

BindsNET imports ``torchvision`` at package import time, but only for its dataset
wrappers (``torchvision.datasets``), image preprocessing (``torchvision.transforms``)
and plotting (``torchvision.utils.make_grid``). No torchvision wheel loads against the
CPU torch used here, and the benchmark uses none of those features, so this stub
provides the names BindsNET touches at import time; every object raises
``RuntimeError`` when it is actually used. The directory holding this package is put
on ``PYTHONPATH`` of the benchmark subprocess only (see ``plasticore.bench.peer``).
"""

from . import datasets, transforms, utils

__version__ = "0.0.0+plasticore.stub"
__all__ = ["datasets", "transforms", "utils"]
