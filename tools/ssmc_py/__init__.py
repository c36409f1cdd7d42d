"""Load an ssmc-compiled model library from Python (ctypes + numpy) through its generic ssmc_* C ABI."""
from .runtime import CompiledModel, SSMCError

__all__ = ["CompiledModel", "SSMCError"]
