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

The graph's output is one float32 row per face (``unpack``): for each point set, landmarks
(N x 2, input pixels), canonical points (N x 3, mm), camera points (N x 3, mm), visibility (N);
then the head rotation (3 x 3, row-major), translation (3, mm), focal length (input pixels)
and score.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..decode import HEAD_POSE_FIELDS, NON_FINITE, POSE_FIELDS, Decoded, PointSet, Tail, euler_yaw_pitch_roll
from ..errors import InputError


def append_tail(ov, network, tail: Tail, point_sets: list[PointSet]):
    """``network`` (an ``ov.Model``, crops -> (B, F + map) features) with the tail appended in place
    of its output. Written for few graph nodes (each costs a dispatch): the head's columns are
    reordered so that one split yields both rotations' 6D vectors side by side, which are then
    orthonormalised together."""
    import openvino.opset13 as op

    const = lambda a: op.constant(np.ascontiguousarray(a, np.float32))  # noqa: E731
    (old,) = network.get_results()
    width, k, s = tail.weight.shape[0], tail.num_coeffs, float(tail.input_size)
    map_size = tail.refine.size if tail.refine is not None else 0
    features, refine_map = op.variadic_split(old.input_value(0), 1, [width, map_size]).outputs() if map_size \
        else (old.input_value(0), None)
    # head columns: coeffs, both rotations' first vectors, both second vectors, log depth and
    # focal, centre xy, score (the projection's rotation doubles as the head's without a pose head)
    head = list(range(POSE_FIELDS, POSE_FIELDS + HEAD_POSE_FIELDS)) if tail.pose_head else list(range(6))
    order = [*range(k), *(k + i for i in (0, 1, 2, *head[:3], 3, 4, 5, *head[3:], 8, 9, 6, 7, 10))]
    raw = op.add(op.matmul(features, const(tail.weight[:, order]), False, False), const(tail.bias[order]))
    coeffs, first, second, logs, centre, score_logit = op.variadic_split(raw, 1, [k, 6, 6, 2, 2, 1]).outputs()
    rows = _rotations(op, const, op.reshape(first, [-1, 2, 3], False), op.reshape(second, [-1, 2, 3], False))
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


def _rotations(op, const, a, b):
    """Rows (B, 2, 3, 3) of the rotations whose first two columns Gram-Schmidt makes of the 6D
    vectors (Zhou et al.) ``a`` and ``b`` (B, 2, 3): row-major R^T, i.e. the columns a, b, a x b."""
    a = op.normalize_l2(a, [2], 1e-24, "max")  # / max(|a|, 1e-12), as decode._rotation_6d_row
    b = op.subtract(b, op.multiply(op.reduce_sum(op.multiply(a, b), [2], True), a))
    b = op.normalize_l2(b, [2], 1e-24, "max")
    # a x b = the outer product a b^T (B, 2, 9) times the Levi-Civita symbol (9, 3)
    levi = np.zeros((3, 3, 3), np.float32)
    for i, j, m in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        levi[j, m, i], levi[m, j, i] = 1.0, -1.0
    outer = op.reshape(op.multiply(op.unsqueeze(a, 3), op.unsqueeze(b, 2)), [-1, 2, 9], False)
    c = op.matmul(outer, const(levi.reshape(9, 3)), False, False)
    return op.concat([op.unsqueeze(v, 2) for v in (a, b, c)], 2)


def _project(op, const, cam, focal, centre: float):
    """Pinhole projection (B, N, 2) of camera points (B, N, 3) with ``focal`` (B, 1, 1), depth
    clamped to 1 mm."""
    xy, z = op.variadic_split(cam, 2, [2, 1]).outputs()
    return op.add(op.multiply(xy, op.divide(focal, op.maximum(z, const(1.0)))), const(centre))


def unpack(rows: np.ndarray, point_sets: list[PointSet]) -> list[Decoded]:
    """The fused graph's output rows (B, width) -> one ``Decoded`` per point set (views).

    Raises:
        InputError: a non-finite value anywhere (as ``Tail.decode_many``)."""
    if not cv2.checkRange(rows)[0]:
        raise InputError(NON_FINITE)
    b = len(rows)
    end = sum(9 * len(p) for p in point_sets)  # the pose block follows the point sets' blocks
    rotation = rows[:, end:end + 9].reshape(b, 3, 3)
    translation, focal, score = rows[:, end + 9:end + 12], rows[:, end + 12], rows[:, end + 13]
    angles = euler_yaw_pitch_roll(rotation).astype(np.float32)
    out, o = [], 0
    for points in point_sets:
        n = len(points)
        out.append(Decoded(rows[:, o:o + 2 * n].reshape(b, n, 2), rows[:, o + 2 * n:o + 5 * n].reshape(b, n, 3),
                           rows[:, o + 5 * n:o + 8 * n].reshape(b, n, 3), rotation, translation, focal,
                           rows[:, o + 8 * n:o + 9 * n], score, angles))
        o += 9 * n
    return out
