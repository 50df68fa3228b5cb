"""What this CPU offers and what the OS lets a process use: the facts behind ``llmos doctor`` and
behind the local model's choice of llama.cpp's extra buffer types (AMX and repacked weights).

A CPU can list AMX in /proc/cpuinfo while the kernel or hypervisor does not grant its tile state;
code that then runs ``ldtilecfg`` dies of a general protection fault. The kernel says what it
supports through ``arch_prctl(ARCH_GET_XCOMP_SUPP)``, which is read here without running any AMX
instruction.
"""

from __future__ import annotations

import ctypes
import platform
from dataclasses import dataclass, field
from pathlib import Path

# Flags worth showing a person, in the order they matter for llama.cpp on x86_64 and aarch64.
NOTABLE = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "bmi2",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx512vbmi",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "sve",
    "sve2",
    "i8mm",
    "bf16",
)
# llama.cpp's build feature names (llama_print_system_info) -> the cpuinfo flag a CPU needs for them.
BUILD_NEEDS = {
    "SSE3": "pni",
    "SSSE3": "ssse3",
    "AVX": "avx",
    "AVX2": "avx2",
    "AVX_VNNI": "avx_vnni",
    "F16C": "f16c",
    "FMA": "fma",
    "BMI2": "bmi2",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}

_SYS_ARCH_PRCTL = 158  # x86_64
_ARCH_GET_XCOMP_SUPP = 0x1022
_XFEATURE_XTILEDATA = 18


@dataclass
class CpuInfo:
    machine: str
    model: str
    flags: set[str] = field(default_factory=set)

    @property
    def notable(self) -> list[str]:
        return [f for f in NOTABLE if f in self.flags]

    @property
    def lists_amx(self) -> bool:
        return "amx_tile" in self.flags


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    """The first processor's model name and feature flags (x86 ``flags``, arm ``Features``)."""
    model, flags = platform.processor() or "unknown", set()
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return CpuInfo(platform.machine(), model, flags)
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and model in ("unknown", "", platform.machine()):
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return CpuInfo(platform.machine(), model, flags)


def amx_granted() -> bool | None:
    """Whether the OS supports AMX tile data for this process: True/False, None where it cannot say
    (not Linux x86_64, or the call itself is refused)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        mask = ctypes.c_uint64(0)
        if libc.syscall(_SYS_ARCH_PRCTL, _ARCH_GET_XCOMP_SUPP, ctypes.byref(mask)) != 0:
            return False  # a kernel (or sandbox) that does not know the call cannot hand out tile state
        return bool(mask.value >> _XFEATURE_XTILEDATA & 1)
    except (OSError, AttributeError):
        return None


def amx_usable(info: CpuInfo | None = None) -> bool:
    """AMX is listed by the CPU and granted by the OS."""
    info = info or cpu_info()
    return info.lists_amx and amx_granted() is True


def build_features(system_info: str) -> set[str]:
    """Feature names switched on in a llama.cpp build, from ``llama_print_system_info`` text
    (``CPU : SSE3 = 1 | AVX = 1 | ...``)."""
    on = set()
    for part in system_info.replace("\n", "|").split("|"):
        name, _, value = part.rpartition("=")
        name = name.split(":")[-1].strip()
        if name and value.strip() == "1":
            on.add(name)
    return on


def missing_for_build(features: set[str], info: CpuInfo) -> list[str]:
    """Build features this CPU lacks: a library built for another machine (it dies of SIGILL)."""
    if not info.flags:
        return []
    return sorted(f for f in features if f in BUILD_NEEDS and BUILD_NEEDS[f] not in info.flags)
