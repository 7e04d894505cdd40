"""Any point of the canonical face as a landmark, without re-exporting: mesh vertex ids or
barycentric points ``[triangle_id, w0, w1, w2]``.

    python examples/custom_points.py IMAGE
"""
import sys

import numpy as np

from edge_landmarks import Runtime

rt = Runtime()
mesh = rt.bundle.face
nose_tip = int(np.argmax(mesh.vertices[:, 2]))  # the vertex furthest towards the viewer
rt.set_layout(np.array([nose_tip]))
faces = rt.detect(sys.argv[1])
if faces:
    f = faces[0]
    print("nose tip at", f.landmarks[0], "px;", f.landmarks_3d[0], "mm in camera space")
