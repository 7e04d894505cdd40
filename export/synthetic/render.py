"""Offscreen batch rasterizer (moderngl on EGL): textured, lit meshes with a depth buffer.

Geometry is given in OpenCV camera space (mm; x right, y down, z forward) and projected by a
pinhole K with pixel centres at integer coordinates: ``u = fx * x / z + cx``. The framebuffer's
first memory row is the image's top row, so read-back needs no flip. Each view of a batch has
its own framebuffer at the same window position (so a view renders byte-identically whatever
its place in the batch); all views are drawn before the first read-back.
Outputs per view: colour (RGB), the part id of the nearest surface and its camera z (mm).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edge_landmarks.errors import EdgeLandmarksError

_NEAR, _FAR = 1.0, 1.0e5  # mm: clipping range; depth is written linearly over [0, _FAR]
_CONTEXT = None

_VERTEX = """
#version 330
in vec3 in_pos; in vec3 in_nrm; in vec2 in_uv; in vec2 in_part_bias;
uniform vec4 intr;  // fx, fy, cx, cy (px)
uniform vec2 size;  // W, H (px)
out vec3 v_pos; out vec3 v_nrm; out vec2 v_uv; flat out float v_part; out float v_bias;
void main() {
    float z = in_pos.z;
    float xw = intr.x * in_pos.x + (intr.z + 0.5) * z;  // (u + 0.5) * z: window x of the pixel grid
    float yw = intr.y * in_pos.y + (intr.w + 0.5) * z;
    float a = (%(far)r + %(near)r) / (%(far)r - %(near)r);
    float b = -2.0 * %(far)r * %(near)r / (%(far)r - %(near)r);
    gl_Position = vec4(2.0 * xw / size.x - z, 2.0 * yw / size.y - z, a * z + b, z);
    v_pos = in_pos; v_nrm = in_nrm; v_uv = in_uv; v_part = in_part_bias.x; v_bias = in_part_bias.y;
}
""" % {"near": _NEAR, "far": _FAR}

_FRAGMENT = """
#version 330
in vec3 v_pos; in vec3 v_nrm; in vec2 v_uv; flat in float v_part; in float v_bias;
uniform sampler2DArray albedo; uniform float layer;
uniform vec3 ambient; uniform vec3 diffuse; uniform vec3 light_dir; uniform float specular; uniform float shininess;
layout(location = 0) out vec4 colour;
layout(location = 1) out float depth_mm;
void main() {
    vec3 n = normalize(v_nrm);
    vec3 view = normalize(-v_pos);
    if (dot(n, view) < 0.0) n = -n;
    vec4 tex = texture(albedo, vec3(v_uv, layer));
    float ndl = max(dot(n, light_dir), 0.0);
    vec3 h = normalize(light_dir + view);
    float spec = ndl > 0.0 ? specular * tex.a * pow(max(dot(n, h), 0.0), shininess) : 0.0;
    colour = vec4(tex.rgb * (ambient + diffuse * ndl) + spec * diffuse, v_part / 255.0);
    depth_mm = v_pos.z;
    gl_FragDepth = clamp((v_pos.z + v_bias) / %(far)r, 0.0, 1.0);
}
""" % {"far": _FAR}


class RenderUnavailableError(EdgeLandmarksError, RuntimeError):
    """No OpenGL context could be created (moderngl with an EGL driver, e.g. Mesa, is needed)."""


def gl_context():
    """The process's moderngl standalone EGL context, created on first use and reused.

    Raises:
        RenderUnavailableError: moderngl is missing or no EGL context can be created.
    """
    global _CONTEXT
    if _CONTEXT is None:
        try:
            import moderngl
        except ImportError as e:
            raise RenderUnavailableError("moderngl is not installed (pip install 'edge-landmarks[train]')") from e
        try:
            _CONTEXT = moderngl.create_standalone_context(backend="egl")
        except Exception as e:  # the driver's own error types vary
            raise RenderUnavailableError(f"cannot create an EGL OpenGL context ({e}); install Mesa's EGL (libegl1)") from e
    return _CONTEXT


@dataclass(frozen=True)
class Lighting:
    """Ambient plus one directional light with Blinn-Phong specular, in camera space.

    Attributes:
        ambient: (r, g, b) ambient light.
        diffuse: (r, g, b) directional light colour and strength.
        direction: (3,) unit vector from the surface towards the light, camera frame.
        specular: specular strength (scaled per texel by the albedo's alpha).
        shininess: Blinn-Phong exponent.
    """

    ambient: tuple[float, float, float]
    diffuse: tuple[float, float, float]
    direction: tuple[float, float, float]
    specular: float
    shininess: float


@dataclass(frozen=True)
class View:
    """One image to render.

    Attributes:
        positions: (N, 3) float32 vertices, mm, camera frame.
        normals: (N, 3) float32 unit normals, camera frame (either orientation: shading is two-sided).
        texture: (Ht, Wt, 4) uint8 RGBA albedo atlas, alpha the specular mask.
        K: (3, 3) intrinsics, px.
        lighting: the lights.
    """

    positions: np.ndarray
    normals: np.ndarray
    texture: np.ndarray
    K: np.ndarray
    lighting: Lighting


@dataclass(frozen=True)
class Frames:
    """Rendered views, stacked.

    Attributes:
        colour: (B, H, W, 3) uint8 RGB; 0 where no surface.
        part: (B, H, W) uint8 part id of the nearest surface; 0 where no surface.
        depth: (B, H, W) float32 camera z of the nearest surface, mm; inf where no surface.
    """

    colour: np.ndarray
    part: np.ndarray
    depth: np.ndarray


class MeshRenderer:
    """Renders views of one fixed topology at one image size, up to ``max_batch`` per pass.

    Only the per-view vertex positions, normals and textures are uploaded per view; the
    topology, UVs and per-vertex part ids / depth biases are uploaded once.
    """

    def __init__(self, triangles: np.ndarray, uv: np.ndarray, part: np.ndarray, depth_bias: np.ndarray,
                 size: int, texture_shape: tuple[int, int], max_batch: int = 32):
        ctx = gl_context()
        self.ctx, self.size, self.texture_shape = ctx, int(size), tuple(texture_shape)
        self.max_batch = max_batch
        self.num_vertices = len(uv)
        self.program = ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        static = np.column_stack([uv, part.astype(np.float32), depth_bias]).astype("f4")
        self._static = ctx.buffer(static.tobytes())
        self._index = ctx.buffer(np.ascontiguousarray(triangles, dtype="i4").tobytes())
        self._dynamic = [ctx.buffer(reserve=self.num_vertices * 24) for _ in range(max_batch)]
        self._vaos = [ctx.vertex_array(self.program, [(d, "3f 3f", "in_pos", "in_nrm"),
                                                      (self._static, "2f 2f", "in_uv", "in_part_bias")],
                                       index_buffer=self._index, index_element_size=4) for d in self._dynamic]
        th, tw = self.texture_shape
        self._textures = ctx.texture_array((tw, th, max_batch), 4, dtype="f1")
        self._textures.repeat_x = self._textures.repeat_y = False
        s = (self.size, self.size)
        self._fbos = [ctx.framebuffer(color_attachments=[ctx.texture(s, 4, dtype="f1"), ctx.texture(s, 1, dtype="f4")],
                                      depth_attachment=ctx.depth_texture(s)) for _ in range(max_batch)]
        self.program["size"].value = (float(self.size), float(self.size))
        self.program["albedo"].value = 0

    def render(self, views: Sequence[View]) -> Frames:
        """Render up to ``max_batch`` views; returns their frames in order."""
        import moderngl

        n = len(views)
        if not 0 < n <= self.max_batch:
            raise ValueError(f"render takes 1 to {self.max_batch} views, got {n}")
        ctx, s, prog = self.ctx, self.size, self.program
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.CULL_FACE)
        self._textures.use(location=0)
        th, tw = self.texture_shape
        for i, view in enumerate(views):
            if view.positions.shape != (self.num_vertices, 3) or view.texture.shape[:2] != self.texture_shape:
                raise ValueError(f"view {i}: expected {self.num_vertices} vertices and a {self.texture_shape} texture, "
                                 f"got {view.positions.shape} and {view.texture.shape}")
            data = np.empty((self.num_vertices, 6), "f4")
            data[:, :3] = view.positions
            data[:, 3:] = view.normals
            self._dynamic[i].write(data.tobytes())
            self._textures.write(np.ascontiguousarray(view.texture).tobytes(), viewport=(0, 0, i, tw, th, 1))
            k = view.K
            lt = view.lighting
            prog["intr"].value = (float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]))
            prog["layer"].value = float(i)
            prog["ambient"].value = lt.ambient
            prog["diffuse"].value = lt.diffuse
            prog["light_dir"].value = lt.direction
            prog["specular"].value = lt.specular
            prog["shininess"].value = lt.shininess
            fbo = self._fbos[i]
            fbo.use()
            fbo.viewport = (0, 0, s, s)
            fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            self._vaos[i].render(moderngl.TRIANGLES)
        rgba = np.empty((n, s, s, 4), np.uint8)
        z = np.empty((n, s, s), np.float32)
        for i in range(n):
            self._fbos[i].read_into(rgba[i], components=4, attachment=0)
            self._fbos[i].read_into(z[i], components=1, attachment=1, dtype="f4")
        part = rgba[..., 3].copy()
        depth = np.where(part > 0, z, np.inf).astype(np.float32)
        return Frames(rgba[..., :3].copy(), part, depth)
