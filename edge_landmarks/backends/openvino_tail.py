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
    of its output.

    Written for few graph nodes, since each costs a dispatch (about 1 us at two threads) while
    the arithmetic is tiny: everything is kept as (B, 1) scalars and (B, N) rows of one
    coordinate, so that the maths is elementwise, which the plugin fuses into a few kernels,
    instead of small matrix products and reductions (each its own node). One linear layer gives
    every pose field and each point set's canonical x, y and z (the shape coefficients' layer
    composed with the set's basis), one in-place split hands them out; the map read (``GridSample``)
    and the read-out of its channels are the only other operations that are not elementwise."""
    import openvino.opset13 as op

    const = lambda a: op.constant(np.ascontiguousarray(a, np.float32))  # noqa: E731
    (old,) = network.get_results()
    width, k, s = tail.weight.shape[0], tail.num_coeffs, float(tail.input_size)
    affine = op.parameter([network.inputs[0].get_partial_shape()[0], 2, 3], np.float32, name="affine")
    network.add_parameters([affine])
    to_image, focal_scale, camera_center = _image_frame(op, const, affine, (s - 1) / 2)
    refine = tail.refine
    features, refine_map = op.variadic_split(old.input_value(0), 1, [width, refine.size]).outputs() if refine \
        else (old.input_value(0), None)
    # columns: each set's canonical x, y, z; the 6D vectors of the projection's rotation and of the
    # head's (the projection's again without a pose head); centre xy, log depth, log focal, score
    head = range(POSE_FIELDS, POSE_FIELDS + HEAD_POSE_FIELDS) if tail.pose_head else range(6)
    pose = [k + c for c in (*range(6), *head, 6, 7, 8, 9, 10)]
    w, b = tail.weight.astype(np.float64), tail.bias.astype(np.float64)
    ws, bs = [], []
    for points in point_sets:
        for axis in range(3):
            basis = points.basis[:, :, axis].astype(np.float64)  # (K, N)
            ws.append(w[:, :k] @ basis)
            bs.append(b[:k] @ basis + points.mean[:, axis])
    raw = op.add(op.matmul(features, const(np.concatenate(ws + [w[:, pose]], 1)), False, False),
                 const(np.concatenate(bs + [b[pose]])))
    *coords, a, a_head, centre_x, centre_y, log_depth, log_focal, score_logit = _split(
        op, raw, [len(p) for p in point_sets for _ in range(3)] + [6, 6, 1, 1, 1, 1, 1])
    a, b, c = _rotation(op, const, a)
    head_columns = _rotation(op, const, a_head)
    tz = op.multiply(op.exp(log_depth), const(tail.depth0))
    focal = op.multiply(op.exp(log_focal), const(tail.focal0 * s))
    per_unit = op.divide(op.multiply(tz, const(s / 2)), focal)
    t = [op.multiply(centre_x, per_unit), op.multiply(centre_y, per_unit), tz]

    def camera(x, y, z):
        """Camera coordinates of canonical x, y, z: R diag(1, -1, -1) (x, y, z) + t."""
        return [op.add(op.subtract(op.subtract(op.multiply(x, a[i]), op.multiply(y, b[i])), op.multiply(z, c[i])), t[i])
                for i in range(3)]

    def interleave(rows: list, n: int):
        """(B, N) rows of x, y (, z) -> (B, N * len(rows)) as x0 y0 (z0) x1 y1 (z1) ..."""
        return op.reshape(op.concat([op.unsqueeze(r, 2) for r in rows], 2), [-1, len(rows) * n], False)

    maps = None
    if refine is not None:
        g, e = refine.grid, refine.channels
        maps = op.transpose(op.reshape(refine_map, [-1, g, g, e], False), op.constant(np.array([0, 3, 1, 2], np.int64)))
    blocks = []
    for i, points in enumerate(point_sets):
        n = len(points)
        x, y, z = coords[3 * i:3 * i + 3]
        cam = camera(x, y, z)
        if maps is not None:
            # grid_sample's coordinates (align_corners=False, the map spans the input): 2 (p + 0.5) / s - 1
            # for input pixel p = f xy / z + (s - 1) / 2, that is 2 f / s * xy / z
            to_grid = op.divide(op.multiply(focal, const(2.0 / s)), op.maximum(cam[2], const(1.0)))
            grid = op.unsqueeze(op.concat([op.unsqueeze(op.multiply(v, to_grid), 2) for v in cam[:2]], 2), 1)
            read = op.grid_sample(maps, grid, {"align_corners": False, "mode": "bilinear", "padding_mode": "border"})
            # offsets (B, 3, N): the sum over channels of read (B, E, 1, N) x weights (E, 3, N), over
            # the outer axis (45 us over an inner one)
            offsets = op.reduce_sum(op.multiply(read, const(points.readout.transpose(2, 1, 0))), [1], False)
            x, y, z = (op.add(v, op.add(op.reshape(o, [-1, n], False), const(points.readout_bias[:, j])))
                       for j, (v, o) in enumerate(zip((x, y, z), _split(op, offsets, [1, 1, 1]))))
            cam = camera(x, y, z)
        per_depth = op.divide(focal, op.maximum(cam[2], const(1.0)))
        u, v = to_image(*(op.add(op.multiply(w, per_depth), const((s - 1) / 2)) for w in cam[:2]))
        if i == 0:  # Face.box: the framing set's tight box
            box = [op.reduce_min(u, [1], True), op.reduce_min(v, [1], True), op.reduce_max(u, [1], True), op.reduce_max(v, [1], True)]
        # visibility: sigmoid(10 cos) of the rotated normal with the view ray -cam / |cam|
        nx, ny, nz = (const(-10.0 * points.normals[:, j]) for j in range(3))
        cos = [op.multiply(op.subtract(op.subtract(op.multiply(nx, a[j]), op.multiply(ny, b[j])), op.multiply(nz, c[j])), cam[j])
               for j in range(3)]
        length = op.sqrt(op.maximum(op.add(op.add(op.multiply(cam[0], cam[0]), op.multiply(cam[1], cam[1])),
                                           op.multiply(cam[2], cam[2])), const(1e-30)))
        visibility = op.sigmoid(op.divide(op.add(op.add(cos[0], cos[1]), cos[2]), length))
        blocks += [interleave([u, v], n), interleave(cam, n), visibility]
    rotation = [col[i] for i in range(3) for col in head_columns]  # row-major
    out = op.concat(blocks + box + rotation + t + [op.multiply(focal, focal_scale), *camera_center, op.sigmoid(score_logit)], 1)
    network.remove_result(old)
    network.add_results([op.result(out)])
    return network


def _image_frame(op, const, affine, centre: float):
    """From the crops' affines (B, 2, 3) (image -> crop): the map of crop pixels (u, v) to image
    pixels (the inverse affine), the image's pixels per crop pixel, and the crop's centre in image
    pixels (x, y), each a (B, 1) tensor."""
    a, b, c, d, e, g = _split(op, op.reshape(affine, [-1, 6], False), [1] * 6)
    det = op.subtract(op.multiply(a, e), op.multiply(b, d))
    ia, ib, id_, ie = op.divide(e, det), op.divide(op.negative(b), det), op.divide(op.negative(d), det), op.divide(a, det)
    tx = op.negative(op.add(op.multiply(ia, c), op.multiply(ib, g)))
    ty = op.negative(op.add(op.multiply(id_, c), op.multiply(ie, g)))

    def to_image(u, v):
        return (op.add(op.add(op.multiply(ia, u), op.multiply(ib, v)), tx),
                op.add(op.add(op.multiply(id_, u), op.multiply(ie, v)), ty))

    return to_image, op.divide(const(1.0), op.sqrt(op.abs(det))), to_image(const(centre), const(centre))


def _split(op, x, sizes: list[int]) -> list:
    """``x`` split along axis 1 (in place for a batch of one: no copy, no kernel)."""
    return list(op.variadic_split(x, 1, sizes).outputs())


def _rotation(op, const, ab) -> tuple[list, list, list]:
    """Columns (a, b, c), each three (B, 1) tensors x y z, of the rotation that Gram-Schmidt makes
    of the 6D vector (Zhou et al.) ``ab`` (B, 6), as ``decode._rotation_6d_row``: a = a / |a|,
    c = a x b / |a x b|, and b's part orthogonal to a, normalised, is c x a."""
    ax, ay, az, bx, by, bz = _split(op, ab, [1] * 6)
    norm = lambda v: op.sqrt(op.maximum(  # noqa: E731  max(|v|, 1e-12), as decode._rotation_6d_row
        op.add(op.add(op.multiply(v[0], v[0]), op.multiply(v[1], v[1])), op.multiply(v[2], v[2])), const(1e-24)))
    cross = lambda u, v: [op.subtract(op.multiply(u[(i + 1) % 3], v[(i + 2) % 3]),  # noqa: E731
                                      op.multiply(u[(i + 2) % 3], v[(i + 1) % 3])) for i in range(3)]
    a, b = [ax, ay, az], [bx, by, bz]
    length = norm(a)
    a = [op.divide(v, length) for v in a]
    c = cross(a, b)
    length = norm(c)
    c = [op.divide(v, length) for v in c]
    return a, cross(c, a), c


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
