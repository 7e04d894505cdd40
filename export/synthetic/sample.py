"""One rendered synthetic face with its exact labels."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from edge_landmarks.decode import euler_yaw_pitch_roll

from .scene import SceneParams


@dataclass(frozen=True)
class SyntheticSample:
    """A synthetic face image and its ground truth.

    Frames and units: camera space is OpenCV's (x right, y down, z forward; mm); pixel
    coordinates have pixel centres at integers (pixel (0, 0) covers [-0.5, 0.5]^2), the same
    projection the renderer rasterizes with: ``u = K[0, 0] * x / z + K[0, 2]``,
    ``v = K[1, 1] * y / z + K[1, 2]``. Landmarks are mesh vertices (the ``ibug68`` / ``wflw98``
    layouts of ``export.canonical_sfm``, jaw points included), so every layout and every mesh
    point has exact 2D and 3D labels.

    Attributes:
        image: (H, W, 3) uint8 BGR, the OpenCV colour order the runtime takes.
        K: (3, 3) float64 intrinsics, px.
        rotation: (3, 3) float64 R: camera point = R @ diag(1, -1, -1) @ canonical point + t.
        translation: (3,) float64 t, mm.
        vertices_3d: (V, 3) float32 every face-model vertex in camera space, mm (V = 3448).
        vertices_2d: (V, 2) float32 their projections, px.
        self_visible: (V,) bool: not hidden by the head itself (depth-buffer test, see
            ``generate.SELF_OCCLUSION_TOLERANCE_MM``) and inside the image.
        unoccluded: (V,) bool: not under a 2D occluder (points outside the image count as unoccluded).
        in_frame: (V,) bool: the projection lies inside the image.
        face_mask: (H, W) bool pixels showing the face mesh or the mouth interior.
        occluder_mask: (H, W) bool pixels covered by occluders.
        depth: (H, W) float32 camera z of the rendered head (face and proxies), mm; inf elsewhere.
        layouts: layout name -> (N,) int32 vertex ids.
        params: the scene it was rendered from.
    """

    image: np.ndarray
    K: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    vertices_3d: np.ndarray
    vertices_2d: np.ndarray
    self_visible: np.ndarray
    unoccluded: np.ndarray
    in_frame: np.ndarray
    face_mask: np.ndarray
    occluder_mask: np.ndarray
    depth: np.ndarray
    layouts: Mapping[str, np.ndarray]
    params: SceneParams

    @property
    def visible(self) -> np.ndarray:
        """(V,) bool: in the image, not self-occluded and not under an occluder."""
        return self.self_visible & self.unoccluded & self.in_frame

    @property
    def euler(self) -> np.ndarray:
        """(3,) float64 yaw, pitch, roll in degrees of ``rotation`` (``euler_yaw_pitch_roll``)."""
        return euler_yaw_pitch_roll(self.rotation[None])[0]

    def ids(self, layout: str | np.ndarray) -> np.ndarray:
        """Vertex ids of a layout name, or the given vertex ids (N,) unchanged."""
        if isinstance(layout, str):
            if layout not in self.layouts:
                raise KeyError(f"unknown layout {layout!r}; expected one of {sorted(self.layouts)}")
            return self.layouts[layout]
        return np.asarray(layout, dtype=np.int64)

    def landmarks_2d(self, layout: str | np.ndarray = "ibug68") -> np.ndarray:
        """(N, 2) float32 pixel positions of a layout's points (hidden ones included)."""
        return self.vertices_2d[self.ids(layout)]

    def landmarks_3d(self, layout: str | np.ndarray = "ibug68") -> np.ndarray:
        """(N, 3) float32 camera-space positions of a layout's points, mm."""
        return self.vertices_3d[self.ids(layout)]

    def visibility(self, layout: str | np.ndarray = "ibug68") -> np.ndarray:
        """(N,) bool combined visibility (``visible``) of a layout's points."""
        return self.visible[self.ids(layout)]

    @property
    def box(self) -> np.ndarray:
        """(4,) float32 x0, y0, x1, y1: tight box of all 68 ibug points (hidden ones included), px,
        the box the ytf68 evaluation derives from its labels."""
        p = self.landmarks_2d("ibug68")
        return np.concatenate([p.min(0), p.max(0)]).astype(np.float32)
