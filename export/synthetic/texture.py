"""Skin albedo painted in the face model's UV space, plus the proxies' strip (mouth, hair, neck).

The texture atlas is (F * 5/4, F, 4) RGBA: rows [0, F) hold the face in the model's UV layout
(u right, v down from the forehead), the last F/4 rows a strip split into four cells: the
mouth interior, the skull proxy (hair), the neck proxy (skin) and the torso proxy (clothes). Alpha is the
specular mask (0..255). Regions (brows, eyes, lips, nostrils) are painted as polygons through
the UV positions of the ibug68 landmark vertices.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .face_model import FaceModel

# Atlas cells of the proxy strip: (u0, u1) fractions of the width.
CELLS = {"mouth": (0.0, 0.2), "hair": (0.2, 0.55), "neck": (0.55, 0.75), "clothes": (0.75, 1.0)}
FACE_ROWS = 0.8  # fraction of the atlas height that holds the face

_SKIN_TONES = np.array([  # RGB albedo anchors, light to dark
    [0.96, 0.80, 0.70], [0.88, 0.68, 0.55], [0.76, 0.55, 0.40], [0.58, 0.40, 0.28], [0.36, 0.24, 0.17], [0.24, 0.16, 0.12]])
_HAIR = np.array([[0.05, 0.04, 0.03], [0.18, 0.11, 0.06], [0.35, 0.22, 0.12], [0.62, 0.48, 0.30], [0.55, 0.53, 0.50],
                  [0.45, 0.18, 0.08]])


@dataclass(frozen=True)
class Skin:
    """Albedo parameters; colours are linear RGB in [0, 1].

    Attributes:
        tone: base skin colour.
        blotch: amplitude of low-frequency tone variation (fraction).
        grain: amplitude of pore-scale noise (fraction).
        redness: extra red on cheeks and nose, in [0, 1].
        lips: lip colour.
        hair: colour of brows, hairline and skull hair.
        brow_width: brow thickness as a fraction of the brow-to-eye distance (at most 1).
        brow_strength: how strongly the brows take the hair colour, in [0, 1].
        eye_shadow: darkening around the eyes, in [0, 1].
        iris: iris colour.
        gaze: (dx, dy) iris offset from the eye centre, in eye widths.
        hairline: fraction of the forehead (top of the UV map) covered by hair, in [0, 0.3].
        bald: the skull proxy shows skin, not hair.
        beard: stubble darkness below the nose, in [0, 1].
        shine: specular strength of the skin, in [0, 1].
        clothes: colour of the torso proxy.
        seed: seed of the noise patterns.
    """

    tone: tuple[float, float, float]
    blotch: float
    grain: float
    redness: float
    lips: tuple[float, float, float]
    hair: tuple[float, float, float]
    brow_width: float
    brow_strength: float
    eye_shadow: float
    iris: tuple[float, float, float]
    gaze: tuple[float, float]
    hairline: float
    bald: bool
    beard: float
    shine: float
    clothes: tuple[float, float, float]
    seed: int


def _rgb(x) -> tuple[float, float, float]:
    return tuple(float(v) for v in np.clip(x, 0, 1))


def sample_skin(rng: np.random.Generator) -> Skin:
    """Random skin: tone from light to dark with a hue jitter, lips, hair, eyes and texture."""
    t = rng.uniform(0, len(_SKIN_TONES) - 1)
    i = int(t)
    tone = _SKIN_TONES[i] * (1 - (t - i)) + _SKIN_TONES[min(i + 1, len(_SKIN_TONES) - 1)] * (t - i)
    tone = tone * rng.uniform(0.92, 1.08, 3)
    lips = tone * np.array([0.85, 0.55, 0.55]) * rng.uniform(0.8, 1.05) + rng.uniform(-0.03, 0.03, 3)
    hair = _HAIR[int(rng.integers(len(_HAIR)))] * rng.uniform(0.7, 1.2)
    iris = [[0.25, 0.14, 0.06], [0.12, 0.08, 0.05], [0.30, 0.40, 0.55], [0.30, 0.38, 0.22]][int(rng.integers(4))]
    return Skin(
        tone=_rgb(tone), blotch=float(rng.uniform(0.02, 0.10)), grain=float(rng.uniform(0.01, 0.04)),
        redness=float(rng.uniform(0, 0.5)), lips=_rgb(lips), hair=_rgb(hair),
        brow_width=float(rng.uniform(0.25, 0.5)), brow_strength=float(rng.uniform(0.4, 0.9)),
        eye_shadow=float(rng.uniform(0.05, 0.35)), iris=_rgb(np.array(iris) * rng.uniform(0.8, 1.2)),
        gaze=(float(rng.uniform(-0.12, 0.12)), float(rng.uniform(-0.06, 0.06))),
        hairline=float(rng.uniform(0.02, 0.14) if rng.random() < 0.7 else 0.0), bald=bool(rng.random() < 0.1),
        beard=float(rng.uniform(0, 0.5) if rng.random() < 0.3 else 0.0), shine=float(rng.uniform(0.1, 0.6)),
        clothes=_rgb(rng.uniform(0.04, 0.8) * (1 + rng.normal(0, 0.25, 3))), seed=int(rng.integers(2**31)))


def face_atlas_uv(uv: np.ndarray) -> np.ndarray:
    """Model UVs (V, 2) -> atlas UVs (V, 2), both in [0, 1] with v down."""
    return np.asarray(uv, np.float32) * np.array([1.0, FACE_ROWS], np.float32)


def cell_atlas_uv(cell: str, uv: np.ndarray) -> np.ndarray:
    """UVs (N, 2) in [0, 1] inside a strip cell -> atlas UVs (N, 2)."""
    u0, u1 = CELLS[cell]
    uv = np.asarray(uv, np.float32)
    return np.stack([u0 + uv[:, 0] * (u1 - u0), FACE_ROWS + uv[:, 1] * (1 - FACE_ROWS)], axis=1)


def _noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth noise in about [-1, 1]: ``cells`` x ``cells`` random values upsampled bicubically."""
    small = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


@dataclass(frozen=True)
class _Region:
    """A soft mask (float32 in [0, 1]) cropped to its bounding box ``roi`` (row and column slices)."""

    mask: np.ndarray
    roi: tuple[slice, slice]

    @classmethod
    def of(cls, full: np.ndarray) -> "_Region":
        rows, cols = np.nonzero(full > 1e-3)
        if len(rows) == 0:
            return cls(full[:0, :0], (slice(0, 0), slice(0, 0)))
        roi = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        return cls(np.ascontiguousarray(full[roi]), roi)

    def blend(self, img: np.ndarray, colour, strength: float | np.ndarray = 1.0) -> None:
        """img = img + strength * mask * (colour - img), inside the region."""
        view = img[self.roi]
        view += (self.mask * strength)[..., None] * (np.asarray(colour, np.float32) - view)


@dataclass(frozen=True)
class _Layout:
    """Everything about the painting that depends only on the UV layout and the texture size."""

    regions: dict[str, _Region]
    brow_distance: np.ndarray  # px from the brow lines, inside brow_roi
    brow_roi: tuple[slice, slice]
    eye_centres: np.ndarray  # (2, 2) px
    eye_width: float  # px
    brow_to_eye: float  # px
    grain: np.ndarray  # (2F, 2F) fine noise bank, unit variance after blur
    grid: tuple[np.ndarray, np.ndarray]  # (F, F) column and row coordinates


def _draw(shape, draw) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    draw(m)
    return m.astype(np.float32) / 255.0


@lru_cache(maxsize=4)
def _layout(uv_key: bytes, size: int) -> _Layout:
    lm = np.frombuffer(uv_key, np.float32).reshape(68, 2) * size
    sh = (size, size)
    blur = max(size / 256, 0.5)

    def pts(ids):
        return np.round(lm[list(ids)] * 16).astype(np.int32)

    def poly(ids):
        return _draw(sh, lambda m: cv2.fillPoly(m, [pts(ids)], 255, cv2.LINE_AA, shift=4))

    def disc(c, r):
        return lambda m: cv2.circle(m, tuple(np.round(np.asarray(c) * 16).astype(int).tolist()), int(r * 16), 255, -1,
                                    cv2.LINE_AA, 4)

    eye_w = float(np.linalg.norm(lm[39] - lm[36]))
    regions = {}
    red = _draw(sh, lambda m: [disc(c, 1.1 * eye_w)(m) for c in ((lm[2] + lm[31]) / 2, (lm[14] + lm[35]) / 2, lm[30])])
    regions["red"] = cv2.GaussianBlur(red, (0, 0), 0.6 * eye_w)
    regions["tzone"] = cv2.GaussianBlur(poly([27, 31, 33, 35]), (0, 0), 0.5 * eye_w)
    regions["beard"] = cv2.GaussianBlur(poly(list(range(3, 14)) + [54, 35, 33, 31, 48]), (0, 0), 0.3 * eye_w)
    ring = sum(cv2.GaussianBlur(poly(ids), (0, 0), 0.35 * eye_w) for ids in (range(36, 42), range(42, 48)))
    regions["eye_shadow"] = np.clip(ring * 2.5, 0, 1)
    lips = np.clip(poly(range(48, 60)) - poly(range(60, 68)), 0, 1)
    regions["lips"] = cv2.GaussianBlur(lips, (0, 0), blur)
    nostrils = _draw(sh, lambda m: [cv2.ellipse(m, tuple(np.round(c * 16).astype(int).tolist()),
                                                (int(0.12 * eye_w * 16), int(0.07 * eye_w * 16)), 0, 0, 360, 255, -1,
                                                cv2.LINE_AA, 4) for c in ((lm[31] * 2 + lm[32]) / 3, (lm[35] * 2 + lm[34]) / 3)])
    regions["nostrils"] = cv2.GaussianBlur(nostrils, (0, 0), blur)
    regions["eyes"] = poly(range(36, 42)) + poly(range(42, 48))
    lash = _draw(sh, lambda m: [cv2.polylines(m, [pts(ids)], False, 255, max(int(0.12 * eye_w), 1), cv2.LINE_AA, 4)
                                for ids in (range(36, 40), range(42, 46))])
    regions["lash"] = cv2.GaussianBlur(lash, (0, 0), blur)
    lines = np.full(sh, 255, np.uint8)
    for ids in (range(17, 22), range(22, 27)):
        cv2.polylines(lines, [pts(ids)], False, 0, 1, cv2.LINE_8, 4)
    brow_distance = cv2.distanceTransform(lines, cv2.DIST_L2, 5)
    brow_to_eye = float(np.linalg.norm(lm[19] - lm[37]))
    brow_roi = _Region.of((brow_distance < 0.5 * brow_to_eye + 2).astype(np.float32)).roi
    grain = cv2.GaussianBlur(np.random.default_rng(0).standard_normal((2 * size, 2 * size)).astype(np.float32), (0, 0), 0.7)
    grain /= grain.std()
    cols, rows = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    return _Layout({k: _Region.of(v) for k, v in regions.items()}, brow_distance[brow_roi], brow_roi,
                   np.stack([lm[36:42].mean(0), lm[42:48].mean(0)]), eye_w, brow_to_eye, grain, (cols, rows))


def paint_texture(model: FaceModel, skin: Skin, size: int = 256) -> np.ndarray:
    """(size * 5/4, size, 4) uint8 RGBA atlas of ``skin``; alpha is the specular mask."""
    rng = np.random.default_rng(skin.seed)
    f = size
    lay = _layout(np.ascontiguousarray(model.uv[model.layouts["ibug68"]], np.float32).tobytes(), size)
    reg = lay.regions
    tone = np.asarray(skin.tone, np.float32)
    oy, ox = rng.integers(0, f, 2)
    grain = lay.grain[oy:oy + f, ox:ox + f]
    low = _noise(rng, (f, f), 6)
    img = tone * (1 + (skin.blotch * low + skin.grain * grain)[..., None])
    spec = np.full((f, f, 1), skin.shine, np.float32)
    reg["red"].blend(img, tone * np.array([1.05, 0.7, 0.7]), 0.5 * skin.redness)
    reg["tzone"].blend(spec, (1.4 * skin.shine,))
    if skin.beard > 0:
        r = reg["beard"]
        patchy = np.clip(0.6 + 0.4 * _noise(rng, (f, f), 32)[r.roi], 0, 1)
        r.blend(img, np.asarray(skin.hair) * 0.6 + tone * 0.2, skin.beard * patchy)
    r = reg["eye_shadow"]
    img[r.roi] *= 1 - (r.mask * skin.eye_shadow)[..., None]
    # brows: a soft band of the brow lines' distance field, textured by the grain
    half = 0.5 * skin.brow_width * lay.brow_to_eye
    brows = np.clip((half - lay.brow_distance) / max(0.3 * half, 0.5) + 0.5, 0, 1)
    brows *= 0.75 + 0.25 * np.clip(grain[lay.brow_roi], -1, 1)
    _Region(brows, lay.brow_roi).blend(img, skin.hair, skin.brow_strength)
    if skin.hairline > 0:
        u = np.linspace(-1, 1, f, dtype=np.float32)
        line = skin.hairline * (1 + 0.5 * u ** 2) * f + 0.02 * f * _noise(rng, (1, f), 8)[0]
        rows = int(min(np.ceil(line.max() + 0.05 * f), f))
        hair = np.clip((line[None, :] - lay.grid[1][:rows]) / (0.02 * f) + 0.5, 0, 1)
        hair *= 0.8 + 0.2 * np.clip(grain[:rows], -1, 1)
        img[:rows] += hair[..., None] * (np.asarray(skin.hair, np.float32) - img[:rows])
        spec[:rows] *= 1 - 0.8 * hair[..., None]
    reg["lips"].blend(img, skin.lips, 0.85)
    reg["lips"].blend(spec, (skin.shine + 0.3,))
    reg["nostrils"].blend(img, tone * 0.25, 0.7)
    # eyes: sclera, then iris and pupil clipped to the opening, then the lash line
    eyes = reg["eyes"]
    sclera = np.array([0.85, 0.80, 0.76]) * np.clip(tone * 0.3 + 0.7, 0, 1)
    eyes.blend(img, sclera)
    eyes.blend(spec, (0.9,))
    cols, rows = lay.grid[0][eyes.roi], lay.grid[1][eyes.roi]
    r_iris = 0.21 * lay.eye_width
    dist = np.min([np.hypot(cols - c[0], rows - c[1]) for c in lay.eye_centres + np.asarray(skin.gaze) * lay.eye_width], 0)
    iris = np.clip(r_iris - dist + 0.5, 0, 1) * eyes.mask
    pupil = np.clip(0.45 * r_iris - dist + 0.5, 0, 1) * eyes.mask
    _Region(iris, eyes.roi).blend(img, skin.iris)
    _Region(pupil, eyes.roi).blend(img, (0.02, 0.02, 0.02))
    reg["lash"].blend(img, (0.03, 0.025, 0.02), 0.85)
    strip = _paint_strip(rng, skin, f)
    out = np.empty((f + f // 4, f, 4), np.float32)
    out[:f, :, :3] = img
    out[:f, :, 3:] = spec
    out[f:] = strip
    return cv2.convertScaleAbs(out, alpha=255.0).reshape(out.shape)


def _paint_strip(rng: np.random.Generator, skin: Skin, f: int) -> np.ndarray:
    """(f/4, f, 4) float RGBA proxy strip: mouth interior, skull hair, neck skin."""
    h = f // 4
    out = np.zeros((h, f, 4), np.float32)
    tone = np.asarray(skin.tone, np.float32)
    # mouth: teeth at the top and bottom rims (v = 0 and 1), a dark throat in the middle
    x0, x1 = (int(c * f) for c in CELLS["mouth"])
    v = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    teeth = np.array([0.80, 0.76, 0.68], np.float32)
    throat = np.array([0.10, 0.03, 0.03], np.float32)
    tongue = np.array([0.55, 0.25, 0.25], np.float32) * tone / tone.max()
    w_teeth = np.clip(1 - np.minimum(v, 1 - v) / 0.12, 0, 1)
    w_tongue = np.clip((v - 0.55) / 0.3, 0, 1) * (1 - w_teeth)
    mouth = throat * (1 - w_teeth - w_tongue) + teeth * w_teeth + tongue * w_tongue
    out[:, x0:x1, :3] = np.broadcast_to(mouth, (h, x1 - x0, 3))
    out[:, x0:x1, 3] = 0.3
    # skull shell (u: 0 top of the head .. 1 under the chin; v: 0 face rim .. 1 back of the head):
    # hair above the ears and on the back of the head, skin below (or everywhere when bald)
    x0, x1 = (int(c * f) for c in CELLS["hair"])
    uu = np.linspace(0, 1, x1 - x0, dtype=np.float32)[None, :]
    hair = np.clip((0.55 + 0.3 * np.clip(v[..., 0] - 0.3, 0, 1) / 0.7 - uu) / 0.05, 0, 1)[..., None]
    hair = hair * (0 if skin.bald else 1)
    strands = 1 + 0.15 * _noise(rng, (h, x1 - x0), 24)[..., None]
    out[:, x0:x1, :3] = (np.asarray(skin.hair, np.float32) * strands * hair + tone * (1 - hair))
    out[:, x0:x1, 3] = (0.15 * hair + skin.shine * (1 - hair))[..., 0]
    # neck: slightly darker skin
    x0, x1 = (int(c * f) for c in CELLS["neck"])
    out[:, x0:x1, :3] = tone * 0.85 * (1 + skin.blotch * _noise(rng, (h, x1 - x0), 4)[..., None])
    out[:, x0:x1, 3] = skin.shine * 0.5
    # clothes: a flat colour with soft folds
    x0, x1 = (int(c * f) for c in CELLS["clothes"])
    out[:, x0:x1, :3] = np.asarray(skin.clothes, np.float32) * (1 + 0.2 * _noise(rng, (h, x1 - x0), 10)[..., None])
    out[:, x0:x1, 3] = 0.1
    return out
