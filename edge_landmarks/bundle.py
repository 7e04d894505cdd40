"""Model bundles: a folder (or one .zip of it) with ``manifest.json``, one model file per backend
and precision, the float tail (``tail.npz``) and the canonical face (``canonical.npz``).

Loading checks the format version and every file's sha256 before anything is used, so a
truncated, tampered or incomplete bundle is refused with a BundleError naming the file.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .canonical import CanonicalFace
from .decode import Tail
from .errors import BundleError, InputError
from .paths import user_cache_dir

FORMAT = "edge-landmarks-bundle"
FORMAT_VERSION = 1
DEFAULT_BUNDLE = Path(__file__).resolve().parent / "models" / "default"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelEntry:
    """One exported network: ``backend`` (runtime registry name), ``precision`` (fp32/fp16/int8),
    ``path`` of its main file, the accuracy measured at export (may be empty), and all its
    ``files`` (e.g. OpenVINO's .xml and .bin)."""

    backend: str
    precision: str
    path: Path
    accuracy: dict
    files: tuple[Path, ...] = ()

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files)


@dataclass(frozen=True)
class InputSpec:
    """How the runtime frames and normalises a face for the network (from the manifest)."""

    size: int
    enlarge: float
    color: str
    mean: float
    std: float


class Bundle:
    """A verified model bundle. Use ``Bundle.load(path)``."""

    def __init__(self, root: Path, manifest: dict, digest: str):
        self.root, self.manifest, self.digest = root, manifest, digest
        i = manifest["input"]
        self.input = InputSpec(int(i["size"]), float(i["enlarge"]), i["color"], float(i["mean"]), float(i["std"]))
        with np.load(root / manifest["tail"]) as z:
            self.tail = Tail.from_arrays(z)
        self.face = CanonicalFace.load(root / manifest["canonical"])
        self.models = [ModelEntry(m["backend"], m["precision"], root / m["files"][0]["path"], m.get("accuracy", {}),
                                  tuple(root / f["path"] for f in m["files"])) for m in manifest["models"]]

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Bundle":
        """Load and verify a bundle folder or .zip (default: the one shipped in the package).

        Raises:
            BundleError: missing folder or file, unreadable manifest, unknown format version,
                or a file whose sha256 does not match the manifest.
        """
        root = Path(path) if path is not None else DEFAULT_BUNDLE
        if root.is_file() and zipfile.is_zipfile(root):
            root = _unzip(root)
        manifest_path = root / "manifest.json"
        if not manifest_path.is_file():
            raise BundleError(f"{root} is not a model bundle: {manifest_path.name} not found")
        raw = manifest_path.read_bytes()
        try:
            manifest = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BundleError(f"{manifest_path}: not valid JSON ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError(f"{manifest_path}: not an {FORMAT} manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise BundleError(f"{manifest_path}: unknown format version {manifest.get('format_version')!r}; "
                              f"this edge-landmarks reads version {FORMAT_VERSION}")
        try:
            files = [*manifest["files"], *(f for m in manifest["models"] for f in m["files"])]
            for f in files:
                _verify(root, f)
            bundle = cls(root, manifest, hashlib.sha256(raw).hexdigest())
        except KeyError as e:
            raise BundleError(f"{manifest_path}: missing field {e}") from None
        return bundle

    def entries(self, backend: str | None = None, precision: str | None = None) -> list[ModelEntry]:
        return [m for m in self.models if (backend is None or m.backend == backend) and (precision is None or m.precision == precision)]

    def entry(self, backend: str, precision: str) -> ModelEntry:
        found = self.entries(backend, precision)
        if not found:
            have = sorted({f"{m.backend}/{m.precision}" for m in self.models})
            raise InputError(f"the bundle {self.root} has no {backend}/{precision} model; it has {have}")
        return found[0]

    @property
    def layouts(self) -> list[str]:
        return sorted(self.tail.layout_mean)


def _verify(root: Path, f: dict) -> None:
    p = root / f["path"]
    if not p.is_file():
        raise BundleError(f"bundle file {p} is missing")
    if p.stat().st_size != f["bytes"] or sha256_file(p) != f["sha256"]:
        raise BundleError(f"bundle file {p} is corrupt or was modified: its sha256 does not match the manifest")


def is_bundle_path(model: str | Path | None) -> bool:
    """Whether ``model`` names a bundle (None: the shipped one, a folder, or a .zip) rather than a
    training checkpoint."""
    return model is None or Path(model).is_dir() or Path(model).suffix == ".zip"


def _unzip(path: Path) -> Path:
    """Extract a zipped bundle once into the user cache, keyed by the zip's sha256."""
    target = user_cache_dir() / "bundles" / sha256_file(path)[:16]
    if not (target / "manifest.json").is_file():
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        try:
            with zipfile.ZipFile(path) as z:
                for name in z.namelist():
                    if name.startswith("/") or ".." in Path(name).parts:
                        raise BundleError(f"{path}: unsafe member name {name!r}")
                z.extractall(tmp)
        except zipfile.BadZipFile as e:
            raise BundleError(f"{path}: not a readable zip ({e})") from None
        inner = [p.parent for p in tmp.rglob("manifest.json")]
        if len(inner) != 1:
            raise BundleError(f"{path}: expected exactly one manifest.json in the zip, found {len(inner)}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(inner[0], target)
    return target
