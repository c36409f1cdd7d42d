"""Target selection: AVX-512 code for znver4, AVX2 code for x86-64-v3, objects for another triple."""
import os
import re
import subprocess

import pytest

from ssmc_testing import SSMC

MODEL = os.path.join(os.path.dirname(__file__), "..", "..", "models", "matmul-mlp", "model.onnx")


def emit(tmp_path, *args):
    out = tmp_path / "out"
    result = subprocess.run([SSMC, "compile", MODEL, "-o", str(out), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def test_znver4_uses_zmm_registers(tmp_path):
    asm = emit(tmp_path, "--target-cpu", "znver4", "--emit", "asm").decode()
    assert len(re.findall(r"vfmadd\w*\s+[^\n]*%zmm", asm)) > 0, "no 512-bit FMA in the MatMul kernel"


def test_x86_64_v3_uses_ymm_and_no_zmm(tmp_path):
    asm = emit(tmp_path, "--target-cpu", "x86-64-v3", "--emit", "asm").decode()
    assert len(re.findall(r"vfmadd\w*\s+[^\n]*%ymm", asm)) > 0, "no 256-bit FMA in the MatMul kernel"
    assert "%zmm" not in asm


@pytest.mark.parametrize("kind,magic", [("obj", b"\x7fELF"), ("llvm", b"; ModuleID")])
def test_other_emit_kinds(tmp_path, kind, magic):
    assert emit(tmp_path, "--emit", kind).startswith(magic)


def test_cross_compiling_an_object_for_aarch64(tmp_path):
    obj = emit(tmp_path, "--target-triple", "aarch64-linux-gnu", "--target-cpu", "neoverse-n1", "--emit", "obj")
    assert obj[:4] == b"\x7fELF" and obj[18] == 183  # e_machine = EM_AARCH64
