"""The float tail (``decode.Tail.decode_many``) as OpenVINO operations appended to the network,
so that one compiled call goes from face crops to landmarks, 3D points, pose and visibility.

Why: after the network has run, the CPU's caches hold its weights and activations, and every
numpy operation of the tail then runs about three times slower than in a warm loop; the
tail's forty-odd small operations cost more than the arithmetic they do. Inside the compiled
graph they cost less (a dispatch of about 0.6 us per node at one thread, 1 us at two;
docs/DEPLOYED.md). The numpy tail stays the reference (the other backends use it) and
``tests/test_openvino_tail.py`` checks that both give the same faces.

Same maths, one difference: the refinement map is read with OpenVINO's exact bilinear
``GridSample`` (as in training) where the numpy tail uses ``cv2.remap``'s 1/32-cell weights.

The graph's output is one float32 row per face (``unpacker``): for each point set, landmarks
(N x 2, input pixels), canonical points (N x 3, mm), camera points (N x 3, mm), visibility (N);
then the head rotation (3 x 3, row-major), translation (3, mm), focal length (input pixels)
and score.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..decode import HEAD_POSE_FIELDS, NON_FINITE, POSE_FIELDS, Decoded, PointSet, Tail, euler_row
from ..errors import InputError


def append_tail(ov, network, tail: Tail, point_sets: list[PointSet]):
    """``network`` (an ``ov.Model``, crops -> (B, F + map) features) with the tail appended in place
    of its output. Written for few graph nodes (each costs a dispatch): the head's columns are
    reordered and repeated so that one split yields both rotations' 6D vectors side by side,
    with their cyclic rolls, and the rotations are then made with elementwise operations only
    (``_rotations``), which the plugin fuses into one kernel."""
    import openvino.opset13 as op

    const = lambda a: op.constant(np.ascontiguousarray(a, np.float32))  # noqa: E731
    (old,) = network.get_results()
    width, k, s = tail.weight.shape[0], tail.num_coeffs, float(tail.input_size)
    map_size = tail.refine.size if tail.refine is not None else 0
    features, refine_map = op.variadic_split(old.input_value(0), 1, [width, map_size]).outputs() if map_size \
        else (old.input_value(0), None)
    # head columns: coeffs; the first 6D vector, rolled once, rolled twice, then the same for the
    # second vector, each as (B, 6): the projection's rotation and the head's side by side (the
    # projection's doubles as the head's without a pose head); log depth and focal, centre xy, score
    head = list(range(POSE_FIELDS, POSE_FIELDS + HEAD_POSE_FIELDS)) if tail.pose_head else list(range(6))
    roll = lambda v, i: v[i:] + v[:i]  # noqa: E731
    vectors = [roll(p, i) + roll(h, i) for p, h in (([0, 1, 2], head[:3]), ([3, 4, 5], head[3:])) for i in range(3)]
    order = [*range(k), *(k + c for v in vectors for c in v), *(k + i for i in (8, 9, 6, 7, 10))]
    raw = op.add(op.matmul(features, const(tail.weight[:, order]), False, False), const(tail.bias[order]))
    coeffs, *ab, logs, centre, score_logit = op.variadic_split(raw, 1, [k] + [6] * 6 + [2, 2, 1]).outputs()
    rows = _rotations(op, const, ab[:3], ab[3:])
    projection, head_rows = op.variadic_split(rows, 1, [1, 1]).outputs()  # (B, 1, 3, 3) each
    mt = op.multiply(op.reshape(projection, [-1, 3, 3], False), const([[1.0], [-1.0], [-1.0]]))
    rotation = op.reshape(op.transpose(head_rows, op.constant(np.array([0, 1, 3, 2], np.int64))), [-1, 9], False)
    depth_focal = op.multiply(op.exp(logs), const([tail.depth0, tail.focal0 * s]))
    tz, focal = op.variadic_split(depth_focal, 1, [1, 1]).outputs()  # (B, 1) each
    translation = op.concat([op.multiply(centre, op.divide(op.multiply(tz, const(s / 2)), focal)), tz], 1)
    t3 = op.unsqueeze(translation, 1)
    f3 = op.unsqueeze(focal, 1)
    maps = None
    if tail.refine is not None:
        g, e = tail.refine.grid, tail.refine.channels
        maps = op.transpose(op.reshape(refine_map, [-1, g, g, e], False), op.constant(np.array([0, 3, 1, 2], np.int64)))
    blocks = []
    for points in point_sets:
        n = len(points)
        canonical = op.reshape(op.add(op.matmul(coeffs, const(points.basis.reshape(k, n * 3)), False, False),
                                      const(points.mean.reshape(-1))), [-1, n, 3], False)
        cam = op.add(op.matmul(canonical, mt, False, False), t3)
        if maps is not None:
            # grid_sample's coordinates (align_corners=False, the map spans the input): 2 (p + 0.5) / s - 1
            # for input pixel p = f xy / z + (s - 1) / 2, that is 2 f / s * xy / z
            grid = _project(op, const, cam, op.multiply(f3, const(2.0 / s)), 0.0)
            read = op.grid_sample(maps, op.unsqueeze(grid, 1), {"align_corners": False, "mode": "bilinear",
                                                                "padding_mode": "border"})  # (B, E, 1, N)
            # sum over channels of read (B, E, N, 1) x weights (E, N, 3)
            offsets = op.reduce_sum(op.multiply(op.reshape(read, [-1, tail.refine.channels, n, 1], False),
                                                const(points.readout.transpose(2, 0, 1))), [1], False)
            canonical = op.add(canonical, op.add(offsets, const(points.readout_bias)))
            cam = op.add(op.matmul(canonical, mt, False, False), t3)
        lm = _project(op, const, cam, f3, (s - 1) / 2)
        # visibility: sigmoid(10 cos) of the rotated normal with the view ray -cam / |cam|
        normals = op.matmul(const(-10.0 * points.normals), mt, False, False)  # (B, N, 3)
        ray = op.normalize_l2(cam, [2], 1e-30, "max")
        visibility = op.sigmoid(op.reduce_sum(op.multiply(normals, ray), [2], False))
        blocks += [op.reshape(lm, [-1, 2 * n], False), op.reshape(canonical, [-1, 3 * n], False),
                   op.reshape(cam, [-1, 3 * n], False), visibility]
    out = op.concat(blocks + [rotation, translation, focal, op.sigmoid(score_logit)], 1)
    network.remove_result(old)
    network.add_results([op.result(out)])
    return network


def _rotations(op, const, a: list, b: list):
    """Rows (B, 2, 3, 3) of the rotations whose first two columns Gram-Schmidt makes of the 6D
    vectors (Zhou et al.) ``a`` and ``b``: row-major R^T, i.e. the columns a, b, a x b, as
    ``decode._rotation_6d_row``. ``a`` and ``b`` are each three (B, 6) tensors, the vectors (two
    rotations' x y z side by side) and their cyclic rolls (y z x, z x y), so that norms and cross
    products are elementwise: |v|^2 = v v + v' v' + v'' v'', (a x b) = a' b'' - a'' b'. The second
    column is (a x b) x a normalised, which is b's part orthogonal to a."""
    norm = lambda v: op.sqrt(op.maximum(  # noqa: E731  max(|v|, 1e-12), as decode._rotation_6d_row
        op.add(op.add(op.multiply(v[0], v[0]), op.multiply(v[1], v[1])), op.multiply(v[2], v[2])), const(1e-24)))
    cross = lambda u, v, i: op.subtract(op.multiply(u[(i + 1) % 3], v[(i + 2) % 3]),  # noqa: E731
                                        op.multiply(u[(i + 2) % 3], v[(i + 1) % 3]))
    na = norm(a)
    first = [op.divide(v, na) for v in a]
    c = [cross(a, b, i) for i in range(3)]
    nc = norm(c)
    third = [op.divide(v, nc) for v in c]
    second = cross(third, first, 0)
    return op.concat([op.reshape(v, [-1, 2, 1, 3], False) for v in (first[0], second, third[0])], 2)


def _project(op, const, cam, focal, centre: float):
    """Pinhole projection (B, N, 2) of camera points (B, N, 3) with ``focal`` (B, 1, 1), depth
    clamped to 1 mm."""
    xy, z = op.variadic_split(cam, 2, [2, 1]).outputs()
    return op.add(op.multiply(xy, op.divide(focal, op.maximum(z, const(1.0)))), const(centre))


def unpacker(point_sets: list[PointSet]):
    """A function from the fused graph's output rows (B, width) to one ``Decoded`` per point set
    (views of the rows), with the row layout worked out once.

    It raises InputError on a non-finite value anywhere (as ``Tail.decode_many``)."""
    spans, o = [], 0
    for points in point_sets:
        spans.append((o, len(points)))
        o += 9 * len(points)

    def unpack(rows: np.ndarray) -> list[Decoded]:
        if not cv2.checkRange(rows)[0]:
            raise InputError(NON_FINITE)
        b, pose = len(rows), rows[:, o:]  # the pose block follows the point sets' blocks
        rotation, translation, focal, score = pose[:, :9].reshape(b, 3, 3), pose[:, 9:12], pose[:, 12], pose[:, 13]
        angles = np.array([euler_row(r) for r in pose[:, :9].tolist()], np.float32)
        return [Decoded(rows[:, s:s + 2 * n].reshape(b, n, 2), rows[:, s + 2 * n:s + 5 * n].reshape(b, n, 3),
                        rows[:, s + 5 * n:s + 8 * n].reshape(b, n, 3), rotation, translation, focal,
                        rows[:, s + 8 * n:s + 9 * n], score, angles) for s, n in spans]

    return unpack
