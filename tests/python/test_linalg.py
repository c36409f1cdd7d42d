"""MatMul, Gemm and Einsum compiled by ssmc vs onnxruntime and numpy float64 (run with SSMC=path/to/ssmc)."""
import numpy as np
import pytest

from linconv_helpers import check

rng = np.random.default_rng(7)


def rand(*shape, dtype=np.float32):
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-5, 6, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


MATMUL_SHAPES = [
    ((1, 1), (1, 1)),
    ((7, 13), (13, 5)),
    ((6, 32), (32, 32)),
    ((64, 96), (96, 130)),
    ((197, 384), (384, 37)),
    ((5, 300), (300, 1)),
    ((1, 129), (129, 77)),
    ((2, 3, 5, 7), (7, 9)),
    ((3, 1, 5, 7), (2, 7, 9)),
    ((5, 7), (4, 7, 6)),
    ((2, 50, 33), (2, 33, 47)),
    ((7,), (7,)),
    ((7,), (3, 7, 5)),
    ((2, 5, 7), (7,)),
    ((1, 197, 192), (192, 768)),
]


@pytest.mark.parametrize("a_shape,b_shape", MATMUL_SHAPES)
@pytest.mark.parametrize("b_const", [False, True])
def test_matmul_f32(a_shape, b_shape, b_const):
    a, b = rand(*a_shape), rand(*b_shape)
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    check("MatMul", [a, b], constants=(1,) if b_const else (), reference=ref, label=f"{a_shape}x{b_shape}")


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
@pytest.mark.parametrize("a_shape,b_shape", [((3, 4), (4, 5)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3))])
def test_matmul_int(dtype, a_shape, b_shape):
    a, b = rand(*a_shape, dtype=dtype), rand(*b_shape, dtype=dtype)
    check("MatMul", [a, b], reference=np.matmul(a, b), label=f"{dtype.__name__} {a_shape}x{b_shape}")


GEMM_CASES = [
    (5, 7, 3, {}, None),
    (13, 17, 29, {"transA": 1}, (17,)),
    (13, 17, 29, {"transB": 1}, (13, 17)),
    (40, 70, 33, {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}, (40, 1)),
    (64, 100, 128, {"alpha": -1.5}, (1, 100)),
    (9, 50, 200, {"beta": 0.25}, ()),
    (1, 1000, 512, {"transB": 1}, (1000,)),
]


@pytest.mark.parametrize("m,n,k,attrs,c_shape", GEMM_CASES)
@pytest.mark.parametrize("b_const", [False, True])
def test_gemm(m, n, k, attrs, c_shape, b_const):
    a = rand(*((k, m) if attrs.get("transA") else (m, k)))
    b = rand(*((n, k) if attrs.get("transB") else (k, n)))
    c = None if c_shape is None else rand(*c_shape)
    a64 = a.astype(np.float64).T if attrs.get("transA") else a.astype(np.float64)
    b64 = b.astype(np.float64).T if attrs.get("transB") else b.astype(np.float64)
    ref = attrs.get("alpha", 1.0) * (a64 @ b64)
    if c is not None:
        ref = ref + attrs.get("beta", 1.0) * c.astype(np.float64)
    inputs = [a, b] + ([c] if c is not None else [])
    consts = (1, 2) if b_const else ()
    if c_shape == ():
        consts += (2,)  # tools/ssmc_py passes 0-d inputs as 1-d (np.ascontiguousarray), so keep a scalar C constant
    check("Gemm", inputs, attrs, constants=tuple(i for i in consts if i < len(inputs)), reference=ref,
          label=f"{m}x{n}x{k} {attrs} C{c_shape}")


EINSUM_CASES = [
    ("bij,bjk->bik", [(3, 5, 7), (3, 7, 4)]),
    ("bhid,bhjd->bhij", [(2, 3, 9, 16), (2, 3, 11, 16)]),
    ("bhij,bhjd->bhid", [(2, 3, 9, 11), (2, 3, 11, 16)]),
    ("ij,jk", [(33, 20), (20, 70)]),
    ("ik,jk->ji", [(9, 20), (13, 20)]),
    ("bhwc->bchw", [(2, 5, 6, 7)]),
    ("ij->ji", [(17, 9)]),
    ("bij->bj", [(3, 5, 7)]),
    ("ii->i", [(6, 6)]),
    ("ii", [(6, 6)]),
    ("i,i", [(10,), (10,)]),
    ("i,j->ij", [(4,), (6,)]),
    ("...ij,...jk->...ik", [(2, 3, 4, 5), (2, 3, 5, 6)]),
    ("b...d,de->b...e", [(2, 3, 4, 8), (8, 5)]),
    ("abc,cd,de->abe", [(2, 3, 4), (4, 5), (5, 6)]),
    ("bdl,bdnl->bdn", [(2, 6, 9), (2, 6, 4, 9)]),
    ("bkdl,kdn->bkln", [(1, 4, 8, 10), (4, 8, 3)]),
    ("b k d l, k c d -> b k c l", [(2, 4, 40, 70), (4, 38, 40)]),
    ("bkrl,kdr->bkdl", [(1, 4, 6, 100), (4, 48, 6)]),
    ("bld,de->ble", [(2, 50, 33), (33, 47)]),
    ("bij,bkj->bik", [(3, 40, 20), (3, 30, 20)]),
    ("bhqd,bhkd->bhqk", [(1, 3, 50, 16), (1, 3, 60, 16)]),
    ("ij,kj->ki", [(40, 20), (30, 20)]),
]


@pytest.mark.parametrize("equation,shapes", EINSUM_CASES)
def test_einsum(equation, shapes):
    inputs = [rand(*s) for s in shapes]
    ref = np.einsum(equation, *[x.astype(np.float64) for x in inputs])
    check("Einsum", inputs, {"equation": equation}, reference=ref, label=equation)


@pytest.mark.parametrize("cpu", ["x86-64-v3", "x86-64"])
@pytest.mark.parametrize("a_shape,b_shape,b_const", [((37, 45), (45, 29), True), ((2, 20, 33), (2, 33, 41), False),
                                                     ((100, 70), (70, 9), True)])
def test_matmul_other_targets(cpu, a_shape, b_shape, b_const):
    """The kernels size their tiles by the target's vector width (8 lanes with AVX2, 4 with SSE)."""
    a, b = rand(*a_shape), rand(*b_shape)
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    check("MatMul", [a, b], constants=(1,) if b_const else (), reference=ref, label=f"{cpu} {a_shape}x{b_shape}",
          compile_args=("--target-cpu", cpu))
