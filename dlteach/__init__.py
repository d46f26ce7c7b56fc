"""dlteach: MATLAB's custom-training-loop API on HIPS autograd, for teaching.

Core names are imported here; plotting and widget code (monitor, inspectors) load lazily, so
``import dlteach`` stays fast.
"""

from .dlarray import dlarray, dims, extractdata, finddim, isdlarray, stripdims
from .autodiff import dlfeval, dlgradient
from . import errors

__version__ = "0.1.0"
