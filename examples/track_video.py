"""Track one face through a video file or a webcam (the crop follows the face's optical flow,
One Euro smoothing) with a head-pose overlay. Press q to stop when showing a window.

    python examples/track_video.py VIDEO.mp4 --out tracked.mp4
    python examples/track_video.py 0 --show          # webcam 0
"""
import argparse

import cv2

from edge_landmarks import Runtime
from edge_landmarks.draw import draw_face

p = argparse.ArgumentParser()
p.add_argument("source", help="video file, or a webcam index such as 0")
p.add_argument("--out", help="write the annotated video here")
p.add_argument("--show", action="store_true", help="show a window")
a = p.parse_args()

rt = Runtime(mode="video")  # each frame is framed from the previous landmarks
cap = cv2.VideoCapture(int(a.source) if a.source.isdigit() else a.source)
fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
writer, i = None, 0
while True:
    ok, frame = cap.read()
    if not ok:
        break
    faces = rt.track(frame, timestamp=i / fps)
    for f in faces:
        frame = draw_face(frame, f)
        cv2.putText(frame, f"yaw {f.pose.yaw:+.0f} pitch {f.pose.pitch:+.0f} roll {f.pose.roll:+.0f}", (10, 25),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    if a.out:
        writer = writer or cv2.VideoWriter(a.out, cv2.VideoWriter_fourcc(*"mp4v"), fps, frame.shape[1::-1])
        writer.write(frame)
    if a.show:
        cv2.imshow("edge-landmarks", frame)
        if cv2.waitKey(1) & 0xFF == ord("q"):
            break
    i += 1
cap.release()
if writer:
    writer.release()
