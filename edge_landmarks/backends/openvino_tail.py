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

The graph takes the crops and the affines they were cut with (image -> crop), and gives one
float32 row per face (``unpacker``), in the pixels of the image: for each point set, landmarks
(N x 2), camera points (N x 3, mm), visibility (N); then the first set's tight box (4), the head
rotation (3 x 3, row-major), translation (3, mm), focal length, camera centre (2) and score.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..decode import HEAD_POSE_FIELDS, NON_FINITE, POSE_FIELDS, FaceDecoding, PointSet, Tail, euler_row
from ..errors import InputError


def append_tail(ov, network, tail: Tail, point_sets: list[PointSet]):
    """``network`` (an ``ov.Model``, crops -> (B, F + map) features) with the tail appended in place
    of its output and a second input, the crops' affines (B, 2, 3), image -> crop.

    Written for few graph nodes and kernels, since each costs a dispatch (about 1 us at two
    threads) while the arithmetic is tiny. The maths is kept elementwise, which the plugin fuses
    into a few kernels, rather than small matrix products and reductions (each a node of its own,
    and a reduction over an inner axis can cost tens of microseconds): points as (B, 3, N) rows of
    x, y and z, rotated by the sum of each row times a rotation column (B, 3, 1); rotations from
    the 6D vectors and their cyclic rolls (``_rotations``, both at once); in-place splits along
    axis 1 to hand out rows and fields. The map read (``GridSample``), the read-out of its channels
    and the two small linear layers are the other nodes."""
    import openvino.opset13 as op

    const = lambda a: op.constant(np.ascontiguousarray(a, np.float32))  # noqa: E731
    column = lambda v: op.reshape(v, [-1, 3, 1], False)  # noqa: E731  (B, 3) -> (B, 3, 1)
    (old,) = network.get_results()
    width, k, s = tail.weight.shape[0], tail.num_coeffs, float(tail.input_size)
    affine = op.parameter([network.inputs[0].get_partial_shape()[0], 2, 3], np.float32, name="affine")
    network.add_parameters([affine])
    refine = tail.refine
    features, refine_map = op.variadic_split(old.input_value(0), 1, [width, refine.size]).outputs() if refine \
        else (old.input_value(0), None)
    # head columns: coeffs; the first 6D vector, rolled once, rolled twice, then the same for the
    # second vector, each as (B, 6): the projection's rotation and the head's side by side (the
    # projection's doubles as the head's without a pose head); centre xy, log depth, log focal, score
    head = list(range(POSE_FIELDS, POSE_FIELDS + HEAD_POSE_FIELDS)) if tail.pose_head else list(range(6))
    roll = lambda v, i: v[i:] + v[:i]  # noqa: E731
    vectors = [roll(p, i) + roll(h, i) for p, h in (([0, 1, 2], head[:3]), ([3, 4, 5], head[3:])) for i in range(3)]
    order = [*range(k), *(k + c for v in vectors for c in v), *(k + i for i in (6, 7, 8, 9, 10))]
    raw = op.add(op.matmul(features, const(tail.weight[:, order]), False, False), const(tail.bias[order]))
    coeffs, *ab, centre, log_depth, log_focal, score_logit = _split(op, raw, [k] + [6] * 6 + [2, 1, 1, 1])
    first, second, third = _rotations(op, const, ab[:3], ab[3:])
    # the projection's columns a, -b, -c (the canonical frame's diag(1, -1, -1)); the head's for the pose
    (a, head_a), (b, head_b), (c, head_c) = (_split(op, v, [3, 3]) for v in (first, second, third))
    a, b, c = column(a), column(op.negative(b)), column(op.negative(c))
    tz = op.multiply(op.exp(log_depth), const(tail.depth0))
    focal = op.multiply(op.exp(log_focal), const(tail.focal0 * s))
    translation = op.concat([op.multiply(centre, op.divide(op.multiply(tz, const(s / 2)), focal)), tz], 1)
    t, f = column(translation), op.reshape(focal, [-1, 1, 1], False)
    to_image, focal_scale, camera_center = _image_frame(op, const, affine, (s - 1) / 2)

    def camera(canonical):
        """(B, 3, N) canonical -> camera points: x a - y b - z c + t, rows of x, y, z."""
        x, y, z = _split(op, canonical, [1, 1, 1])
        return op.add(op.add(op.add(op.multiply(x, a), op.multiply(y, b)), op.multiply(z, c)), t)

    maps = None
    if refine is not None:
        g, e = refine.grid, refine.channels
        maps = op.transpose(op.reshape(refine_map, [-1, g, g, e], False), op.constant(np.array([0, 3, 1, 2], np.int64)))
    blocks = []
    for i, points in enumerate(point_sets):
        n = len(points)
        canonical = op.add(op.reshape(op.matmul(coeffs, const(points.basis.transpose(0, 2, 1).reshape(k, 3 * n)), False, False),
                                      [-1, 3, n], False), const(points.mean.T))
        cam = camera(canonical)
        if maps is not None:
            # grid_sample's coordinates (align_corners=False, the map spans the input): 2 (p + 0.5) / s - 1
            # for input pixel p = f xy / z + (s - 1) / 2, that is 2 f / s * xy / z
            x, y, z = _split(op, cam, [1, 1, 1])
            to_grid = op.divide(op.multiply(f, const(2.0 / s)), op.maximum(z, const(1.0)))
            grid = op.concat([op.unsqueeze(op.multiply(v, to_grid), 3) for v in (x, y)], 3)  # (B, 1, N, 2)
            read = op.grid_sample(maps, grid, {"align_corners": False, "mode": "bilinear", "padding_mode": "border"})
            # offsets (B, 3, N): the sum over channels of read (B, E, 1, N) x weights (E, 3, N), over
            # the outer axis (45 us over an inner one)
            offsets = op.reduce_sum(op.multiply(read, const(points.readout.transpose(2, 1, 0))), [1], False)
            cam = camera(op.add(canonical, op.add(offsets, const(points.readout_bias.T))))
        x, y, z = _split(op, cam, [1, 1, 1])
        per_depth = op.divide(f, op.maximum(z, const(1.0)))
        u, v = to_image(*(op.add(op.multiply(w, per_depth), const((s - 1) / 2)) for w in (x, y)))  # (B, 1, N)
        if i == 0:  # Face.box: the framing set's tight box
            box = [op.reshape(reduce(w, [2], False), [-1, 1], False)
                   for reduce, w in ((op.reduce_min, u), (op.reduce_min, v), (op.reduce_max, u), (op.reduce_max, v))]
        # visibility: sigmoid(10 cos) of the rotated normal with the view ray -cam / |cam|
        normals = [const(-10.0 * points.normals[:, j]) for j in range(3)]
        cos = op.reduce_sum(op.multiply(op.add(op.add(op.multiply(normals[0], a), op.multiply(normals[1], b)),
                                               op.multiply(normals[2], c)), cam), [1], False)  # (B, N)
        length = op.sqrt(op.maximum(op.add(op.add(op.multiply(x, x), op.multiply(y, y)), op.multiply(z, z)), const(1e-30)))
        visibility = op.sigmoid(op.divide(cos, op.reshape(length, [-1, n], False)))
        landmarks = op.concat([op.unsqueeze(u, 3), op.unsqueeze(v, 3)], 3)  # (B, 1, N, 2)
        blocks += [op.reshape(landmarks, [-1, 2 * n], False),
                   op.reshape(op.transpose(cam, op.constant(np.array([0, 2, 1], np.int64))), [-1, 3 * n], False), visibility]
    rotation = op.reshape(op.concat([op.unsqueeze(v, 2) for v in (head_a, head_b, head_c)], 2), [-1, 9], False)
    out = op.concat(blocks + box + [rotation, translation, op.multiply(focal, focal_scale), *camera_center,
                                    op.sigmoid(score_logit)], 1)
    network.remove_result(old)
    network.add_results([op.result(out)])
    return network


def _image_frame(op, const, affine, centre: float):
    """From the crops' affines (B, 2, 3) (image -> crop): the map of crop pixels (u, v) to image
    pixels (the inverse affine), the image's pixels per crop pixel (B, 1), and the crop's centre in
    image pixels (x, y), each (B, 1)."""
    a, b, c, d, e, g = _split(op, op.reshape(affine, [-1, 6], False), [1] * 6)
    det = op.subtract(op.multiply(a, e), op.multiply(b, d))
    ia, ib, id_, ie = op.divide(e, det), op.divide(op.negative(b), det), op.divide(op.negative(d), det), op.divide(a, det)
    tx = op.negative(op.add(op.multiply(ia, c), op.multiply(ib, g)))
    ty = op.negative(op.add(op.multiply(id_, c), op.multiply(ie, g)))
    scalar = lambda x: op.reshape(x, [-1, 1, 1], False)  # noqa: E731  broadcast over (B, 1, N) rows

    def to_image(u, v):
        return (op.add(op.add(op.multiply(scalar(ia), u), op.multiply(scalar(ib), v)), scalar(tx)),
                op.add(op.add(op.multiply(scalar(id_), u), op.multiply(scalar(ie), v)), scalar(ty)))

    centre_x = op.add(op.multiply(op.add(ia, ib), const(centre)), tx)
    centre_y = op.add(op.multiply(op.add(id_, ie), const(centre)), ty)
    return to_image, op.divide(const(1.0), op.sqrt(op.abs(det))), (centre_x, centre_y)


def _split(op, x, sizes: list[int]) -> list:
    """``x`` split along axis 1 (in place for a batch of one: no copy, no kernel)."""
    return list(op.variadic_split(x, 1, sizes).outputs())


def _rotations(op, const, a: list, b: list):
    """Columns (first, second, third) of the rotations whose first two columns Gram-Schmidt makes of
    the 6D vectors (Zhou et al.) ``a`` and ``b``, as ``decode._rotation_6d_row``. ``a`` and ``b``
    are each three (B, 6) tensors, the vectors (two rotations' x y z side by side) and their cyclic
    rolls (y z x, z x y), so that norms and cross products are elementwise: |v|^2 = v v + v' v' +
    v'' v'', (a x b) = a' b'' - a'' b'. first = a / |a|, third = a x b / |a x b|, and the second,
    b's part orthogonal to a normalised, is third x first."""
    norm = lambda v: op.sqrt(op.maximum(  # noqa: E731  max(|v|, 1e-12), as decode._rotation_6d_row
        op.add(op.add(op.multiply(v[0], v[0]), op.multiply(v[1], v[1])), op.multiply(v[2], v[2])), const(1e-24)))
    cross = lambda u, v, i: op.subtract(op.multiply(u[(i + 1) % 3], v[(i + 2) % 3]),  # noqa: E731
                                        op.multiply(u[(i + 2) % 3], v[(i + 1) % 3]))
    length = norm(a)
    first = [op.divide(v, length) for v in a]
    c = [cross(a, b, i) for i in range(3)]
    length = norm(c)
    third = [op.divide(v, length) for v in c]
    return first[0], cross(third, first, 0), third[0]


def unpacker(point_sets: list[PointSet]):
    """A function from the fused graph's output rows (B, width) to B ``FaceDecoding`` (views of
    the rows), with the row layout worked out once.

    It raises InputError on a non-finite value anywhere (as ``Tail.decode_many``)."""
    spans, o = [], 0
    for points in point_sets:
        spans.append((o, len(points)))
        o += 6 * len(points)

    def unpack(rows: np.ndarray) -> list[FaceDecoding]:
        if not cv2.checkRange(rows)[0]:
            raise InputError(NON_FINITE)
        out = []
        for r in rows:
            pose = r[o + 4:o + 20].tolist()  # rotation (9), translation (3), focal, centre (2), score
            out.append(FaceDecoding(tuple((r[s:s + 2 * n].reshape(n, 2), r[s + 2 * n:s + 5 * n].reshape(n, 3), r[s + 5 * n:s + 6 * n])
                                          for s, n in spans),
                                    r[o:o + 4], r[o + 4:o + 13].reshape(3, 3), r[o + 13:o + 16], pose[12], r[o + 17:o + 19],
                                    pose[15], euler_row(pose)))
        return out

    return unpack
