"""ctypes binding of the C ABI that `ssmc compile` generates (see docs/abi.md)."""
import ctypes
import numpy as np

_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}


class _Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("elem_type", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("dims", ctypes.POINTER(ctypes.c_int64))]


class _Info(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("elem_type", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("dims", ctypes.POINTER(ctypes.c_int64))]


class _NodeProfile(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("op", ctypes.c_char_p), ("shapes", ctypes.c_char_p),
                ("calls", ctypes.c_int64), ("nanoseconds", ctypes.c_int64), ("cpu_nanoseconds", ctypes.c_int64)]


class SSMCError(RuntimeError):
    """A failed call into a compiled model; the message is the library's last_error."""


class CompiledModel:
    """A compiled model library with one context (use one instance per thread)."""

    def __init__(self, path, threads=0):
        self._lib = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        lib = self._lib
        lib.ssmc_create.restype = ctypes.c_void_p
        lib.ssmc_destroy.argtypes = [ctypes.c_void_p]
        lib.ssmc_input_info.restype = ctypes.POINTER(_Info)
        lib.ssmc_output_info.restype = ctypes.POINTER(_Info)
        lib.ssmc_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Tensor), ctypes.c_int32, ctypes.POINTER(_Tensor), ctypes.c_int32]
        lib.ssmc_last_error.argtypes = [ctypes.c_void_p]
        lib.ssmc_last_error.restype = ctypes.c_char_p
        lib.ssmc_set_num_threads.argtypes = [ctypes.c_void_p, ctypes.c_int32]
        # Present in libraries that take a run-time batch (older ones have fixed shapes only).
        self._output_shape_fn = getattr(lib, "ssmc_output_shape", None)
        if self._output_shape_fn is not None:
            self._output_shape_fn.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Tensor), ctypes.c_int32, ctypes.c_int32,
                                              ctypes.POINTER(ctypes.c_int64)]
        self._ctx = lib.ssmc_create()
        if not self._ctx:
            raise SSMCError("could not create a context (out of memory)")
        if threads:
            lib.ssmc_set_num_threads(self._ctx, threads)
        self.inputs = [self._info(lib.ssmc_input_info(i)) for i in range(lib.ssmc_num_inputs())]
        self.outputs = [self._info(lib.ssmc_output_info(i)) for i in range(lib.ssmc_num_outputs())]
        self.shape_variants = self._shape_variants()

    def _shape_variants(self):
        """The input shapes run takes: per shape variant, one tuple per input (-1 on a run-time batch dim)."""
        count_fn = getattr(self._lib, "ssmc_num_shape_variants", None)
        if count_fn is None:  # a library made before shape variants
            return [[i["shape"] for i in self.inputs]]
        dims_fn = self._lib.ssmc_shape_variant_input_dims
        dims_fn.argtypes = [ctypes.c_int32, ctypes.c_int32, ctypes.POINTER(ctypes.c_int64)]
        variants = []
        for v in range(count_fn()):
            shapes = []
            for i, info in enumerate(self.inputs):
                dims = (ctypes.c_int64 * max(len(info["shape"]), 1))()
                if dims_fn(v, i, dims) != 0:
                    raise SSMCError(f"shape variant {v} of input {i} is not readable")
                shapes.append(tuple(dims[j] for j in range(len(info["shape"]))))
            variants.append(shapes)
        return variants

    @staticmethod
    def _info(p):
        info = p.contents
        return {"name": info.name.decode(), "dtype": _DTYPES[info.elem_type],
                "shape": tuple(info.dims[i] for i in range(info.rank))}

    def _output_shape(self, ins, count, index):
        """The output's dims for these inputs: the library fills in a run-time batch dim (-1 in its info)."""
        shape = self.outputs[index]["shape"]
        if -1 not in shape:
            return shape
        if self._output_shape_fn is None:
            raise SSMCError(f"output {index} has a run-time dim but the library lacks ssmc_output_shape")
        dims = (ctypes.c_int64 * max(len(shape), 1))()
        if self._output_shape_fn(self._ctx, ins, count, index, dims) != 0:
            raise SSMCError(self._lib.ssmc_last_error(self._ctx).decode())
        return tuple(dims[i] for i in range(len(shape)))

    def run(self, *arrays):
        """Runs the model on numpy arrays (in input order) and returns the outputs as numpy arrays."""
        keep = []
        ins = (_Tensor * max(len(arrays), 1))()
        for i, a in enumerate(arrays):
            a = np.require(np.asarray(a), requirements="C")  # ascontiguousarray would make 0-d arrays 1-d
            dims = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
            keep += [a, dims]
            code = next((c for c, t in _DTYPES.items() if np.dtype(t) == a.dtype), 0)
            ins[i] = _Tensor(a.ctypes.data, code, a.ndim, dims)
        outs_np = [np.empty(self._output_shape(ins, len(arrays), i), o["dtype"]) for i, o in enumerate(self.outputs)]
        outs = (_Tensor * max(len(outs_np), 1))()
        for i, a in enumerate(outs_np):
            dims = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
            keep.append(dims)
            code = next(c for c, t in _DTYPES.items() if np.dtype(t) == a.dtype)
            outs[i] = _Tensor(a.ctypes.data, code, a.ndim, dims)
        status = self._lib.ssmc_run(self._ctx, ins, len(arrays), outs, len(outs_np))
        if status != 0:
            raise SSMCError(self._lib.ssmc_last_error(self._ctx).decode())
        return outs_np

    def profile(self):
        """Per-node timings since creation or `reset_profile()` (libraries compiled with `ssmc compile --profile`):
        a list of dicts name, op, shapes, calls, ms (wall), cpu_ms (the calling thread's CPU time) in run order;
        empty for libraries compiled without it."""
        lib = self._lib
        if not hasattr(lib, "ssmc_profile"):
            raise SSMCError("the library predates the profile functions of the C ABI")
        lib.ssmc_profile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_NodeProfile), ctypes.c_int32]
        count = lib.ssmc_profile_num_nodes()
        nodes = (_NodeProfile * max(count, 1))()
        if lib.ssmc_profile(self._ctx, nodes, count) != 0:
            raise SSMCError(lib.ssmc_last_error(self._ctx).decode())
        return [{"name": n.name.decode(), "op": n.op.decode(), "shapes": n.shapes.decode(), "calls": n.calls,
                 "ms": n.nanoseconds / 1e6, "cpu_ms": n.cpu_nanoseconds / 1e6} for n in nodes[:count]]

    def reset_profile(self):
        """Sets every node's profile counters back to zero."""
        self._lib.ssmc_profile_reset.argtypes = [ctypes.c_void_p]
        if self._lib.ssmc_profile_reset(self._ctx) != 0:
            raise SSMCError(self._lib.ssmc_last_error(self._ctx).decode())

    def __del__(self):
        if getattr(self, "_ctx", None):
            self._lib.ssmc_destroy(self._ctx)
            self._ctx = None
