#!/usr/bin/env python3
"""Compile mlp.cu to mlp.ptx with NVRTC, without a CUDA toolkit.

    python3 examples/digits/build_ptx.py

Downloads the pinned NVRTC wheel from PyPI (no install), loads libnvrtc from it with ctypes,
and writes mlp.ptx beside this script. The NVRTC version fixes the PTX ISA version (12.0 →
.version 8.0, which drivers from CUDA 12.0 on load), so it is pinned. `--fmad=false` keeps
every product and sum rounded on its own, as the CPU forward pass does.
"""
import ctypes
import pathlib
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "nvidia-cuda-nvrtc-cu12==12.0.140"
OPTIONS = [b"--gpu-architecture=compute_70", b"--fmad=false", b"-default-device"]
HERE = pathlib.Path(__file__).resolve().parent


def nvrtc(workdir: pathlib.Path) -> ctypes.CDLL:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(workdir), WHEEL],
        check=True,
    )
    wheel = next(workdir.glob("nvidia_cuda_nvrtc_cu12-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(workdir)
    libs = sorted(workdir.glob("nvidia/cuda_nvrtc/lib/libnvrtc.so*"))
    builtins = [l for l in libs if "builtins" in l.name]
    for lib in builtins:  # libnvrtc loads its builtins by name
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
    return ctypes.CDLL(str(next(l for l in libs if "builtins" not in l.name)))


def compile_ptx(lib: ctypes.CDLL, source: str, name: str) -> str:
    program = ctypes.c_void_p()
    check = lambda result, what: result == 0 or sys.exit(f"nvrtc {what} failed: {result}")
    check(lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), name.encode(), 0, None, None), "create")
    options = (ctypes.c_char_p * len(OPTIONS))(*OPTIONS)
    result = lib.nvrtcCompileProgram(program, len(OPTIONS), options)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(program, log)
    if result != 0:
        sys.exit(f"{name} does not compile:\n{log.value.decode()}")
    lib.nvrtcGetPTXSize(program, ctypes.byref(size))
    ptx = ctypes.create_string_buffer(size.value)
    check(lib.nvrtcGetPTX(program, ptx), "get PTX")
    lib.nvrtcDestroyProgram(ctypes.byref(program))
    return ptx.value.decode()


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        lib = nvrtc(pathlib.Path(workdir))
        source = (HERE / "mlp.cu").read_text()
        ptx = compile_ptx(lib, source, "mlp.cu")
    header = f"// Generated from mlp.cu by build_ptx.py ({WHEEL}); do not edit.\n"
    (HERE / "mlp.ptx").write_text(header + ptx)
    print(f"wrote {HERE / 'mlp.ptx'}")


if __name__ == "__main__":
    main()
