"""Landmarks, 3D points and head pose of the faces in one image, drawn to a file.

    python examples/detect_image.py IMAGE [--out face.png] [--layout wflw98]
"""
import argparse

import cv2

from edge_landmarks import Runtime
from edge_landmarks.draw import draw_face

p = argparse.ArgumentParser()
p.add_argument("image")
p.add_argument("--out", default="face.png")
p.add_argument("--layout", default="ibug68")
a = p.parse_args()

rt = Runtime(layout=a.layout)  # the shipped bundle, fastest backend of this device
image = cv2.imread(a.image)
faces = rt.detect(image)  # or rt.detect(image, boxes=[[x0, y0, x1, y1], ...])
print(f"backend {rt.backend}/{rt.precision}: {len(faces)} face(s)")
for f in faces:
    print(f"yaw {f.pose.yaw:+.1f} pitch {f.pose.pitch:+.1f} roll {f.pose.roll:+.1f} deg, "
          f"{(f.visibility >= 0.5).sum()}/{len(f.visibility)} points visible, score {f.score:.2f}")
    image = draw_face(image, f)
cv2.imwrite(a.out, image)
