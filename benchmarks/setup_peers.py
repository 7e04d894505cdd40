"""Fetch the peer systems of the benchmarks into a user cache, never into the repository.

    python benchmarks/setup_peers.py            # fetch MediaPipe's model, report what dlib lacks
    python benchmarks/setup_peers.py --install  # also pip-install dlib-bin + face_recognition_models

- MediaPipe Face Mesh: ``face_landmark.tflite`` read out of the pinned ``mediapipe`` wheel
  (downloaded with pip for one fixed platform, so the bytes and their checksum are always the
  same) into ``peers_dir()``, with a ``face_landmark.json`` recording source, sha256 and size.
- dlib 68-point predictor: the ``dlib-bin`` and ``face_recognition_models`` packages in the
  current interpreter; the latter ships ``shape_predictor_68_face_landmarks.dat``.

The cache is ``$EDGE_LANDMARKS_PEERS``, else ``$XDG_CACHE_HOME/edge-landmarks/peers``, else
``~/.cache/edge-landmarks/peers``. Importable: the peers read their paths from here.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from edge_landmarks.bundle import sha256_file

MEDIAPIPE_VERSION = "0.10.21"
MEDIAPIPE_WHEEL_TAGS = ("manylinux_2_28_x86_64", "3.11", "cp", "cp311")
MEDIAPIPE_MEMBER = "mediapipe/modules/face_landmark/face_landmark.tflite"
MEDIAPIPE_SHA256 = "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"
MEDIAPIPE_SIZE = 1_242_398
MEDIAPIPE_FILE = "face_landmark.tflite"

DLIB_PACKAGES = ("dlib-bin", "face_recognition_models")
DLIB_PREDICTOR = "models/shape_predictor_68_face_landmarks.dat"


class PeerSetupError(RuntimeError):
    """A peer that cannot be fetched, is missing, or does not match its recorded checksum."""


def peers_dir() -> Path:
    """The user cache folder holding the peers' files (not created here)."""
    env = os.environ.get("EDGE_LANDMARKS_PEERS")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edge-landmarks" / "peers"


def mediapipe_model_path() -> Path:
    """Where ``face_landmark.tflite`` lives once fetched (it may not exist yet)."""
    return peers_dir() / MEDIAPIPE_FILE


def fetch_mediapipe(force: bool = False) -> Path:
    """Download the pinned mediapipe wheel with pip, extract ``face_landmark.tflite``, verify it.

    Returns:
        The path of the model in ``peers_dir()``.

    Raises:
        PeerSetupError: pip failed, the wheel lacks the model, or its checksum differs.
    """
    dest = mediapipe_model_path()
    if dest.is_file() and not force and sha256_file(dest) == MEDIAPIPE_SHA256:
        return dest
    platform, py, impl, abi = MEDIAPIPE_WHEEL_TAGS
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", f"mediapipe=={MEDIAPIPE_VERSION}", "--no-deps",
               "--only-binary=:all:", "--platform", platform, "--python-version", py,
               "--implementation", impl, "--abi", abi, "-d", tmp, "-q"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("mediapipe-*.whl"))
        if done.returncode != 0 or not wheels:
            raise PeerSetupError(f"pip could not download mediapipe=={MEDIAPIPE_VERSION}: {done.stderr.strip()[-500:]}")
        with zipfile.ZipFile(wheels[0]) as z:
            try:
                data = z.read(MEDIAPIPE_MEMBER)
            except KeyError:
                raise PeerSetupError(f"{wheels[0].name} holds no {MEDIAPIPE_MEMBER}") from None
        wheel_name = wheels[0].name
    digest = hashlib.sha256(data).hexdigest()
    if digest != MEDIAPIPE_SHA256 or len(data) != MEDIAPIPE_SIZE:
        raise PeerSetupError(
            f"{MEDIAPIPE_MEMBER} from {wheel_name} has sha256 {digest} and {len(data)} bytes; "
            f"expected {MEDIAPIPE_SHA256} and {MEDIAPIPE_SIZE}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_dest = dest.with_suffix(".part")
    tmp_dest.write_bytes(data)
    tmp_dest.replace(dest)
    record = {"source": f"{wheel_name}:{MEDIAPIPE_MEMBER}", "sha256": digest, "size": len(data)}
    dest.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    return dest


def dlib_predictor_path() -> Path | None:
    """``shape_predictor_68_face_landmarks.dat`` of the installed ``face_recognition_models``.

    Found without importing the package: its ``__init__`` needs ``pkg_resources``, which recent
    setuptools no longer ships.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / DLIB_PREDICTOR
        if path.is_file():
            return path
    return None


def dlib_missing() -> list[str]:
    """The pip packages of the dlib peer that the current interpreter lacks."""
    missing = []
    if importlib.util.find_spec("dlib") is None:
        missing.append("dlib-bin")
    if dlib_predictor_path() is None:
        missing.append("face_recognition_models")
    return missing


def install_dlib() -> None:
    """pip-install the dlib peer's packages into the current interpreter."""
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *DLIB_PACKAGES])
    if done.returncode != 0 or dlib_missing():
        raise PeerSetupError(f"pip could not install {' '.join(DLIB_PACKAGES)}; still missing: {dlib_missing()}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--install", action="store_true", help="pip-install the dlib peer's packages when missing")
    ap.add_argument("--force", action="store_true", help="fetch MediaPipe's model again even when cached")
    args = ap.parse_args(argv)
    ok = True
    try:
        path = fetch_mediapipe(force=args.force)
        print(f"mediapipe  {path}  sha256 {MEDIAPIPE_SHA256[:16]}...  {MEDIAPIPE_SIZE} bytes")
    except PeerSetupError as e:
        print(f"mediapipe  FAILED: {e}", file=sys.stderr)
        ok = False
    missing = dlib_missing()
    if missing and args.install:
        try:
            install_dlib()
            missing = []
        except PeerSetupError as e:
            print(f"dlib68     FAILED: {e}", file=sys.stderr)
            return 1
    if missing:
        print(f"dlib68     missing {' '.join(missing)}: run with --install, or pip install {' '.join(missing)}")
        ok = False
    else:
        print(f"dlib68     {dlib_predictor_path()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
