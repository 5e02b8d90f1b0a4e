"""The bottom of the dependency graph: the input-error type and the one atomic writer.

Every package (arch, quant, workloads, kernels, reports, sim) may import `common`;
`common` imports nothing of the project. `sim` re-exports both names.
"""

from common.errors import InputError
from common.files import write_atomic, write_dir_atomic

__all__ = ["InputError", "write_atomic", "write_dir_atomic"]
