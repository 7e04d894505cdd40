"""Automatic backend choice: time every installed backend and precision of a bundle on this
device, keep those whose export-time accuracy is within tolerance, pick the fastest (of
near-equal ones, the most accurate), and cache the choice keyed by the device (CPU model and
flags, core count, backend versions, bundle).

int8 is not always faster (older Arm cores without dot-product instructions, OpenVINO on Arm),
which is why the choice is measured rather than assumed. Nor is it always as accurate as at
export: int8 kernels differ between CPUs (x86 without VNNI sums int8 products in saturating
16-bit pairs), so each reduced-precision model is also run on a seeded probe and must stay as
close to the fp32 model on this device as it was on the exporting machine (``reproduces``).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass

import numpy as np

from .backends import available_backends, get_backend
from .bundle import Bundle
from .paths import user_cache_dir

ACCURACY_TOLERANCE = 1.05  # a model's NME may be at most this times its backend's fp32 NME
SPEED_TIE = 1.05  # candidates within this factor of the fastest median count as equally fast
PROBE_SEED, PROBE_INPUTS = 20261202, 8
PROBE_TOLERANCE, PROBE_SLACK = 1.5, 0.01  # device deviation <= 1.5 x export deviation + 0.01
TIMED = "decoder-image"  # what the timings measure (``time_model``); a cached choice timed otherwise is measured again


@dataclass(frozen=True)
class Timing:
    backend: str
    precision: str
    median_ms: float
    p90_ms: float
    runs: int
    accepted: bool
    note: str = ""


def _cpu_identity() -> dict:
    model, flags = platform.processor(), ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "hardware", "cpu part") and not model:
                    model = value.strip()
                elif key == "model name":
                    model = value.strip()
                elif key in ("flags", "features") and not flags:
                    flags = value.strip()
    except OSError:
        pass
    return {"model": model, "flags": hashlib.sha256(flags.encode()).hexdigest()[:16], "machine": platform.machine()}


def device_key(bundle: Bundle, threads: int) -> dict:
    versions = {}
    for name in available_backends():
        versions[name] = get_backend(name).version()
    return {"cpu": _cpu_identity(), "cores": os.cpu_count(), "threads": threads, "backends": versions, "bundle": bundle.digest,
            "timed": TIMED}


def accepted(bundle: Bundle, backend: str, precision: str) -> tuple[bool, str]:
    """Whether the export-time accuracy of a model is within tolerance of its fp32 sibling (the
    same backend's fp32 model, else the bundle's fp32 model on another backend: a bundle may
    carry one float reference and int8 or float16 models elsewhere)."""
    entry = bundle.entry(backend, precision)
    ref = bundle.entries(backend, "fp32") or bundle.entries(precision="fp32")
    nme, ref_nme = entry.accuracy.get("nme_mean"), ref[0].accuracy.get("nme_mean") if ref else None
    if nme is None or ref_nme is None or precision == "fp32":
        return True, ""
    ok = nme <= ACCURACY_TOLERANCE * ref_nme
    return ok, "" if ok else f"NME {100 * nme:.2f} % > {ACCURACY_TOLERANCE} x fp32 {100 * ref_nme:.2f} %"


def probe_inputs(bundle: Bundle) -> np.ndarray:
    """(8, 3, S, S) seeded white noise over the network's whole input range: the inputs a
    reduced-precision model's deviation from fp32 is measured on, at export and on the device.
    Noise, not faces (no data is shipped), and it exercises every weight: saturating int8
    kernels deviate several times more on it than exact ones (0.23 against 0.06 of the
    features' spread for the stage-7 student's ONNX Runtime int8; 2.2x on real face crops)."""
    spec = bundle.input
    lo, hi = (0.0 - spec.mean) / spec.std, (1.0 - spec.mean) / spec.std
    shape = (PROBE_INPUTS, 3, spec.size, spec.size)
    return np.random.default_rng(PROBE_SEED).uniform(lo, hi, shape).astype(np.float32)


def deviation(runner, inputs: np.ndarray, reference: np.ndarray) -> float:
    """RMS of ``runner``'s features minus ``reference``, per standard deviation of the reference."""
    y = runner.run(inputs)
    return float(np.sqrt(np.mean((y - reference) ** 2)) / max(float(reference.std()), 1e-12))


def reproduces(entry, runner, inputs: np.ndarray, reference: np.ndarray | None) -> tuple[bool, str]:
    """Whether a reduced-precision model stays as close to fp32 on this device as at export
    (its ``probe_rms``; entries without one, fp32 models, or no installed fp32 model to compare
    with pass)."""
    recorded = entry.accuracy.get("probe_rms")
    if entry.precision == "fp32" or recorded is None or reference is None:
        return True, ""
    dev = deviation(runner, inputs, reference)
    if dev <= PROBE_TOLERANCE * recorded + PROBE_SLACK:
        return True, ""
    return False, f"deviates from fp32 by {dev:.3f} on this CPU against {recorded:.3f} at export"


def probe_reference(runners: list[tuple], inputs: np.ndarray) -> np.ndarray | None:
    """Features of the first fp32 model among ``runners`` ((entry, runner) pairs) on the probe
    ``inputs``: what ``reproduces`` compares with, on the device and at export. None without one."""
    return next((runner.run(inputs) for entry, runner in runners if entry.precision == "fp32"), None)


def time_model(runner, bundle: Bundle, budget_s: float = 0.3, warmup: int = 5, max_runs: int = 200) -> tuple[float, float, int]:
    """(median ms, p90 ms, runs) of ``runner``'s decoder (what ``Runtime.detect`` calls: a face
    crop and its affine in, the face in image pixels out) on one random crop, within about
    ``budget_s``."""
    s = bundle.input.size
    crops, affines = [np.random.default_rng(0).integers(0, 256, (s, s, 3), dtype=np.uint8)], [np.eye(2, 3)]
    decode = runner.decoder(bundle.input, bundle.tail, [bundle.tail.point_set(bundle.face, "ibug68")])
    for _ in range(warmup):
        decode(crops, affines)
    times = []
    t_end = time.perf_counter() + budget_s
    while len(times) < max_runs and (len(times) < 10 or time.perf_counter() < t_end):
        t = time.perf_counter()
        decode(crops, affines)
        times.append(time.perf_counter() - t)
    ms = np.asarray(times) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 90)), len(ms)


def measure(bundle: Bundle, threads: int, budget_s: float = 0.3) -> list[Timing]:
    """Time every installed backend x precision of the bundle (about ``budget_s`` each); a
    model is accepted when its export-time accuracy is within tolerance and it reproduces its
    export-time closeness to fp32 on this device."""
    installed = set(available_backends())
    runners = [(e, get_backend(e.backend)(e.path, threads)) for e in bundle.models if e.backend in installed]
    inputs = probe_inputs(bundle)
    reference = probe_reference(runners, inputs)
    rows = []
    for entry, runner in runners:
        ok, note = accepted(bundle, entry.backend, entry.precision)
        if ok:
            ok, note = reproduces(entry, runner, inputs, reference)
        med, p90, n = time_model(runner, bundle, budget_s)
        rows.append(Timing(entry.backend, entry.precision, med, p90, n, ok, note))
    return rows


def pick(bundle: Bundle, table: list[Timing]) -> Timing:
    """The accepted candidate to run: the fastest, except that among candidates within
    ``SPEED_TIE`` of the fastest median (a difference the timing noise of a shared machine can
    flip from one measurement to the next) the one with the lowest export-time NME wins, so
    equal speed never costs accuracy and the choice does not flip between near-equal backends.

    Raises:
        BackendUnavailableError: no accepted candidate."""
    ok = [t for t in table if t.accepted]
    if not ok:
        from .errors import BackendUnavailableError

        raise BackendUnavailableError("no inference backend for this bundle is installed: "
                                      "pip install 'edge-landmarks[onnx]' (or [openvino], [tflite], [all])")
    fastest = min(t.median_ms for t in ok)
    tied = [t for t in ok if t.median_ms <= SPEED_TIE * fastest]

    def nme(t: Timing) -> float:
        return bundle.entry(t.backend, t.precision).accuracy.get("nme_mean", float("inf"))

    return min(tied, key=lambda t: (nme(t), t.median_ms))


def choose(bundle: Bundle, threads: int, use_cache: bool = True,
           budget_s: float = 0.3) -> tuple[str, str, list[Timing]]:
    """(backend, precision, timing table): from the cache when the device key matches, else
    measured (about ``budget_s`` per candidate), picked by ``pick`` and cached."""
    key = device_key(bundle, threads)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    path = user_cache_dir() / "choices" / f"{digest}.json"
    if use_cache and path.is_file():
        try:
            c = json.loads(path.read_text())
            return c["backend"], c["precision"], [Timing(**t) for t in c["table"]]
        except (ValueError, KeyError, TypeError):
            pass  # a damaged cache entry is measured again
    table = measure(bundle, threads, budget_s)
    best = pick(bundle, table)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"key": key, "backend": best.backend, "precision": best.precision,
                                   "table": [asdict(t) for t in table]}, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs a new measurement next time
    return best.backend, best.precision, table
