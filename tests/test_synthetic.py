"""The synthetic face generator: determinism, projection vs rasterized pixels, visibility, pose,
sequences and the ytf68-format export."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("eos")
pytest.importorskip("moderngl")

from export.synthetic import generate, render  # noqa: E402
from export.synthetic.dataset import scene_seeds, write_dataset  # noqa: E402
from export.synthetic.face_model import load_face_model  # noqa: E402
from export.synthetic.scene import Camera, place_face, repose, rotation_matrix, sample_scene  # noqa: E402

SIZE = 160


@pytest.fixture(scope="module", autouse=True)
def gl(sfm_dir, ytf68_dir):
    """Skip the module where no EGL OpenGL context can be created (no Mesa / GPU driver)."""
    try:
        return render.gl_context()
    except render.RenderUnavailableError as e:
        pytest.skip(f"no OpenGL context for the synthetic renderer: {e}")


def _posed(seed: int, yaw: float, pitch: float = 0.0, roll: float = 0.0, occluders: bool = False):
    """Scene ``seed`` with a given pose, a centred half-image face and optionally no occluders."""
    p = sample_scene(seed)
    cam = Camera(2.0, (0.0, 0.0))
    pose = replace(p.pose, yaw=yaw, pitch=pitch, roll=roll,
                   translation=place_face(rotation_matrix(yaw, pitch, roll), cam, 0.5, (0.0, 0.0)))
    return replace(p, pose=pose, camera=cam, occluders=p.occluders if occluders else ())


def test_same_seed_gives_identical_sample_and_other_seeds_differ():
    a = generate.render_sample(11, SIZE)
    b = generate.render_batch([3, 11], SIZE)[1]  # another place in a batch, after another face
    assert a.image.shape == (SIZE, SIZE, 3) and a.image.dtype == np.uint8
    assert a.image.tobytes() == b.image.tobytes()
    for name in ("vertices_2d", "vertices_3d", "self_visible", "unoccluded", "in_frame", "rotation", "translation", "K",
                 "depth"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.params == b.params
    c = generate.render_sample(12, SIZE)
    assert a.image.tobytes() != c.image.tobytes()
    assert not np.allclose(a.vertices_2d, c.vertices_2d)


def test_rasterized_disc_centre_lands_on_the_projected_label():
    """Flat discs parallel to the image plane, centred on face vertices, rendered with the
    generator's projection: the centroid of their pixels is the vertex's 2D label."""
    s = generate.render_sample(_posed(5, yaw=25.0, pitch=-10.0, roll=8.0), SIZE)
    ids = s.layouts["ibug68"][[30, 36, 45, 48, 54, 8]]
    n_side = 24
    ring = np.linspace(0, 2 * np.pi, n_side, endpoint=False)
    positions, triangles = [], []
    for k, v in enumerate(ids):
        x = s.vertices_3d[v].astype(np.float64)
        r = 3.0 * x[2] / s.K[0, 0]  # a radius of 3 px
        disc = np.column_stack([x[0] + r * np.cos(ring), x[1] + r * np.sin(ring), np.full(n_side, x[2])])
        base = len(positions) * (n_side + 1)
        positions.append(np.vstack([x, disc]))
        triangles += [[base, base + 1 + j, base + 1 + (j + 1) % n_side] for j in range(n_side)]
    pos = np.vstack(positions).astype(np.float32)
    part = np.repeat(np.arange(1, len(ids) + 1), n_side + 1).astype(np.uint8)
    rr = render.MeshRenderer(np.array(triangles, np.int32), np.zeros((len(pos), 2), np.float32), part,
                             np.zeros(len(pos), np.float32), SIZE, (4, 4), max_batch=1)
    light = render.Lighting((1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (0.0, 0.0, -1.0), 0.0, 1.0)
    frame = rr.render([render.View(pos, np.tile([0, 0, -1], (len(pos), 1)).astype(np.float32),
                                   np.full((4, 4, 4), 255, np.uint8), s.K, light)])
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    for k, v in enumerate(ids):
        mask = frame.part[0] == k + 1
        assert mask.sum() > 15
        centroid = np.array([cols[mask].mean(), rows[mask].mean()])
        np.testing.assert_allclose(centroid, s.vertices_2d[v], atol=0.25)  # a half-pixel convention slip fails


def test_depth_buffer_matches_visible_vertex_depths():
    s = generate.render_sample(_posed(6, yaw=0.0), SIZE)
    vis = s.self_visible & s.in_frame
    px = np.round(s.vertices_2d[vis]).astype(int)
    diff = np.abs(s.depth[px[:, 1], px[:, 0]] - s.vertices_3d[vis, 2])
    assert vis.mean() > 0.6
    assert np.median(diff) < 1.0


def test_profile_hides_the_far_side():
    """Yaw +90 turns the subject's left side (ibug 9..16, 42..47) towards the camera."""
    s = generate.render_sample(_posed(8, yaw=90.0), SIZE)
    vis = s.visibility("ibug68")
    assert not vis[[0, 1, 2, 36, 39]].any(), "far-side jaw and right-eye corners must be hidden"
    assert vis[[14, 15, 16, 45]].all(), "near-side jaw and left outer eye corner must be visible"
    mirrored = generate.render_sample(_posed(8, yaw=-90.0), SIZE).visibility("ibug68")
    assert not mirrored[[14, 15, 16, 45, 42]].any() and mirrored[[0, 1, 2, 36]].all()


def test_pose_and_projection_are_consistent():
    yaw, pitch, roll = -37.0, 12.0, -20.0
    params = _posed(9, yaw, pitch, roll)
    s = generate.render_sample(params, SIZE)
    np.testing.assert_allclose(s.euler, [yaw, pitch, roll], atol=1e-3)
    np.testing.assert_allclose(s.rotation @ s.rotation.T, np.eye(3), atol=1e-5)
    np.testing.assert_allclose(generate.project(s.vertices_3d, s.K), s.vertices_2d, atol=1e-3)
    model = load_face_model()
    canonical = model.shape(np.asarray(params.identity), np.asarray(params.expression))
    expected = canonical @ (s.rotation @ np.diag([1.0, -1.0, -1.0])).T + s.translation
    np.testing.assert_allclose(s.vertices_3d, expected, atol=1e-3)
    np.testing.assert_allclose(s.landmarks_3d("wflw98"), s.vertices_3d[model.layouts["wflw98"]])
    assert s.box[0] == s.landmarks_2d()[:, 0].min() and s.box[3] == s.landmarks_2d()[:, 1].max()


def test_repose_keeps_the_framing():
    p = sample_scene(4)
    q = repose(p, 50.0, -5.0, 10.0)
    c = np.array([0.0, 12.0, 40.0])  # FACE_CENTRE_MM in camera axes at R = I
    a = rotation_matrix(p.pose.yaw, p.pose.pitch, p.pose.roll) @ c + p.pose.translation
    b = rotation_matrix(50.0, -5.0, 10.0) @ c + q.pose.translation
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_occluder_flags_follow_the_occluder_mask():
    seed = next(s for s in range(200) if sample_scene(s).occluders)
    s = generate.render_sample(seed, SIZE)
    assert s.occluder_mask.any()
    inside = s.in_frame
    px = np.clip(np.round(s.vertices_2d).astype(int), 0, SIZE - 1)
    np.testing.assert_array_equal(~s.unoccluded[inside], s.occluder_mask[px[inside, 1], px[inside, 0]])
    np.testing.assert_array_equal(s.visible, s.self_visible & s.unoccluded & s.in_frame)


def test_sequence_moves_smoothly_below_a_pixel_per_frame():
    frames = generate.render_sequence(21, 8, SIZE, max_step_px=0.5)
    lm = np.stack([f.landmarks_2d() for f in frames])
    step = np.linalg.norm(np.diff(lm, axis=0), axis=-1).max(axis=1)
    assert np.all(step < 1.0) and np.all(step <= 0.5 + 1e-6)
    assert np.all(step > 1e-3), "the head must move"
    assert len({f.params.identity for f in frames}) == 1 and len({f.params.background for f in frames}) == 1
    assert frames[0].image.tobytes() != frames[1].image.tobytes()


def test_write_dataset_is_a_ytf68_folder_and_refuses_to_overwrite(tmp_path):
    from edge_landmarks.data import load_ytf68

    out = write_dataset(tmp_path / "synth", 3, seed=5)
    faces = load_ytf68(out)
    assert [f.name for f in faces] == [f"synth{i:06d}_00.jpg" for i in range(3)]
    first = generate.render_sample(int(scene_seeds(3, 5)[0]), SIZE)
    np.testing.assert_allclose(faces[0].landmarks, first.landmarks_2d(), atol=1e-3)
    with np.load(out / "ground_truth.npz") as z:
        assert z["ibug68_3d"].shape == (3, 68, 3) and z["wflw98_visible"].shape == (3, 98)
        np.testing.assert_allclose(z["euler"][0], first.euler)
    with pytest.raises(FileExistsError, match="not empty"):
        write_dataset(out, 1)
    np.testing.assert_array_equal(scene_seeds(2, 5), scene_seeds(3, 5)[:2])


def test_runtime_never_imports_the_training_side():
    code = ("import sys, edge_landmarks, edge_landmarks.cli, edge_landmarks.runtime, edge_landmarks.evaluate; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('export', 'moderngl', 'torch', 'eos')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
