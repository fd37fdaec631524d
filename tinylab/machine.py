"""The machine a number was measured on: CPU model, the instruction sets its float kernels use.

Training in float32 gives different last bits on different CPUs, and training amplifies them
(docs/reproducibility.md): TensorFlow's matrix products go through oneDNN, which picks its
kernels by the instruction sets the CPU has (SSE4.1, AVX, AVX2, AVX-512, ...) unless
``ONEDNN_MAX_CPU_ISA`` caps them. So every recorded figure (the benchmarks, the compression
grid) carries :func:`describe`, and prose quotes :func:`summary`:

>>> summary({"cpu_model": "AMD EPYC", "cpus": 2, "isa": ["sse4_1", "avx", "avx2", "fma"],
...          "onednn_max_cpu_isa": None})
'AMD EPYC, 2 CPUs, SSE4.1 AVX AVX2 FMA (no AVX-512)'

Nothing here imports TensorFlow: the versions come from the installed packages' metadata.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

__all__ = ["ISA_FLAGS", "FLOAT_ENVIRONMENT", "describe", "summary", "cpu_model", "isa_flags"]

#: The CPU flags (as /proc/cpuinfo names them) that decide which float kernels run, in order,
#: with the names people know them by.
ISA_FLAGS = {"sse4_1": "SSE4.1", "sse4_2": "SSE4.2", "avx": "AVX", "avx2": "AVX2", "fma": "FMA",
             "avx512f": "AVX-512", "avx512_vnni": "AVX512-VNNI", "avx512_bf16": "AVX512-BF16",
             "amx_tile": "AMX", "asimd": "NEON", "sve": "SVE"}
#: Environment variables that change TensorFlow's float results on one machine.
FLOAT_ENVIRONMENT = ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS")
#: The packages whose versions a recorded figure depends on.
PACKAGES = ("tensorflow", "keras", "numpy", "scikit-learn")


def _cpuinfo(path="/proc/cpuinfo") -> dict:
    """The first processor's fields of ``/proc/cpuinfo`` ({} where there is none)."""
    fields = {}
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return fields
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model(cpuinfo: dict | None = None) -> str:
    """The CPU's model name (e.g. ``"AMD EPYC"``, ``"Intel(R) Xeon(R) Platinum 8375C ..."``)."""
    info = _cpuinfo() if cpuinfo is None else cpuinfo
    return (info.get("model name") or info.get("Model") or info.get("cpu model")
            or platform.processor() or platform.machine() or "unknown CPU")


def isa_flags(cpuinfo: dict | None = None) -> list:
    """The flags of :data:`ISA_FLAGS` this CPU has, in that order (``[]`` if unknown)."""
    info = _cpuinfo() if cpuinfo is None else cpuinfo
    flags = set((info.get("flags") or info.get("Features") or "").split())
    return [flag for flag in ISA_FLAGS if flag in flags]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def describe() -> dict:
    """What a recorded figure should carry about the machine it was measured on.

    Returns
    -------
    dict
        ``cpu_model``, ``cpus`` (usable by this process), ``isa`` (see :func:`isa_flags`),
        ``platform``, ``python``, ``versions`` (tensorflow, keras, numpy, scikit-learn; None
        when absent) and the :data:`FLOAT_ENVIRONMENT` variables in lower case (None when
        unset).
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = _cpuinfo()
    described = {"cpu_model": cpu_model(info), "cpus": cpus, "isa": isa_flags(info),
                 "platform": platform.platform(), "python": platform.python_version(),
                 "versions": {package: _version(package) for package in PACKAGES}}
    for name in FLOAT_ENVIRONMENT:
        described[name.lower()] = os.environ.get(name)
    return described


def summary(described: dict | None = None) -> str:
    """One line for prose: model, CPUs, instruction sets, and a oneDNN cap when one was set."""
    described = describe() if described is None else described
    isa = described.get("isa") or []
    names = " ".join(ISA_FLAGS[f] for f in isa if f in ISA_FLAGS and f != "sse4_2")
    if names and "avx512f" not in isa and "avx2" in isa:
        names += " (no AVX-512)"
    text = f"{described.get('cpu_model', 'unknown CPU')}, {described.get('cpus', '?')} CPUs"
    if names:
        text += f", {names}"
    if described.get("onednn_max_cpu_isa"):
        text += f", oneDNN capped at {described['onednn_max_cpu_isa']}"
    if described.get("tf_enable_onednn_opts") is not None:
        text += f", TF_ENABLE_ONEDNN_OPTS={described['tf_enable_onednn_opts']}"
    return text
