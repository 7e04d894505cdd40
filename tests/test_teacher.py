from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from export.config import TeacherConfig, TrainConfig  # noqa: E402
from export.models import create_model  # noqa: E402
from export.models.camera import euler_yaw_pitch_roll, project, rotation_from_6d, to_camera  # noqa: E402
from export.models.stn import SpatialTransformer, crop_to_input_pixels, input_to_crop_pixels  # noqa: E402

SMALL = dict(widths=[8, 16, 16, 32], descriptor=32, crop_size=64, input={"size": 64, "enlarge": 1.6})


def _rot(axis: str, deg: float) -> torch.Tensor:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return {
        "y": torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "x": torch.tensor([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "z": torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis][None].float()


def _queries(n: int = 68):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(n, 3, generator=g) * 40
    return q, torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)


def test_create_model_rejects_unknown_names_and_keys():
    with pytest.raises(ValueError, match="unknown model"):
        create_model("nope")
    with pytest.raises(ValueError, match="unknown TeacherConfig keys"):
        create_model("teacher", widht=3)


def test_output_shapes_and_frames():
    model = create_model("teacher", **SMALL).eval()
    q, n = _queries(30)
    out = model(torch.randn(2, 3, 64, 64), q, n, torch.zeros(2, dtype=torch.long))
    assert out["landmarks"].shape == (2, 30, 2)
    assert out["canonical"].shape == out["camera"].shape == (2, 30, 3)
    assert out["rotation"].shape == (2, 3, 3) and out["visibility"].shape == (2, 30)
    assert out["crop"].shape == (2, 3, 64, 64)
    # at initialisation the canonical face is predicted frontal, in front of the camera, inside the input
    assert torch.allclose(out["rotation"], torch.eye(3).expand(2, 3, 3), atol=1e-5)
    assert torch.all(out["camera"][..., 2] > 0)
    lm = out["landmarks"]
    assert torch.all((lm > -32) & (lm < 96))
    assert torch.all((out["visibility"] >= 0) & (out["visibility"] <= 1))


def test_frontal_canonical_point_projects_to_image_axes():
    """Subject's left (+x canonical) lands right in the image, up (+y) lands up (smaller v)."""
    p = torch.tensor([[[0.0, 0, 0], [50.0, 0, 0], [0, 50.0, 0]]])
    cam = to_camera(p, torch.eye(3)[None], torch.tensor([[0.0, 0, 500]]))
    uv = project(cam, torch.tensor([500.0]), 64.0)[0]
    assert torch.allclose(uv[0], torch.tensor([64.0, 64.0]))
    assert torch.allclose(uv[1], torch.tensor([114.0, 64.0]))
    assert torch.allclose(uv[2], torch.tensor([64.0, 14.0]))


@pytest.mark.parametrize("axis,index,deg", [("y", 0, 30.0), ("x", 1, -20.0), ("z", 2, 15.0)])
def test_euler_angles_recover_single_axis_rotations(axis, index, deg):
    ang = euler_yaw_pitch_roll(_rot(axis, deg))[0]
    expected = torch.zeros(3)
    expected[index] = deg
    assert torch.allclose(ang, expected, atol=1e-4)


def test_positive_yaw_moves_the_nose_towards_image_right():
    nose = torch.tensor([[[0.0, 0.0, 30.0]]])
    t = torch.tensor([[0.0, 0, 500]])
    u0 = project(to_camera(nose, torch.eye(3)[None], t), torch.tensor([500.0]), 0.0)[0, 0, 0]
    u1 = project(to_camera(nose, _rot("y", 30), t), torch.tensor([500.0]), 0.0)[0, 0, 0]
    assert euler_yaw_pitch_roll(_rot("y", 30))[0, 0] > 0
    assert u1 < u0  # R_y(+30) turns the nose (pointing to -z in camera) towards -x


def test_rotation_6d_is_orthonormal():
    r = rotation_from_6d(torch.randn(5, 6))
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3).expand(5, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(r), torch.ones(5), atol=1e-5)


def test_region_maps_round_trip_and_identity():
    region = torch.tensor([[math.log(0.5), 0.3, 0.1, -0.2]])
    theta = SpatialTransformer.theta(region)
    pts = torch.rand(1, 10, 2) * 64
    back = crop_to_input_pixels(input_to_crop_pixels(pts, theta, 32, 64), theta, 32, 64)
    assert torch.allclose(back, pts, atol=1e-4)
    ident = SpatialTransformer.theta(torch.zeros(1, 4))
    # the identity region maps crop pixel centres onto the same relative input position
    assert torch.allclose(crop_to_input_pixels(torch.tensor([[[15.5, 15.5]]]), ident, 32, 64), torch.tensor([[[31.5, 31.5]]]))


def test_stn_resamples_the_region_it_reports():
    """A bright pixel at a known input position shows up where input_to_crop_pixels says."""
    stn = SpatialTransformer(crop_size=48, init_scale=0.5)
    img = torch.zeros(1, 3, 64, 64)
    img[..., 40, 28] = 1.0
    crop, theta = stn(img)
    expected = input_to_crop_pixels(torch.tensor([[[28.0, 40.0]]]), theta, 48, 64)[0, 0]
    peak = torch.nonzero(crop[0, 0] == crop[0, 0].max())[0]
    expected = expected.detach()
    assert abs(float(peak[1]) - float(expected[0])) <= 1.0 and abs(float(peak[0]) - float(expected[1])) <= 1.0


def test_one_training_step_lowers_the_loss_on_a_tiny_batch():
    from export.train import compute_loss

    torch.manual_seed(0)
    model = create_model("teacher", **SMALL)
    model.train()
    q, n = _queries(20)
    flip = torch.arange(20)
    target = torch.rand(4, 20, 2) * 30 + 17
    batch = {"image": torch.randn(4, 3, 64, 64), "landmarks": target, "dataset": torch.zeros(4, dtype=torch.long)}
    cfg = TrainConfig(model=TeacherConfig.from_dict(SMALL))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        loss, _ = compute_loss(model, batch, q, n, flip, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] * 0.95


def test_visibility_of_a_turned_head():
    """Nose turned to the image's right (yaw -90): the subject's right cheek (normal -x
    canonical) faces the camera, the left cheek (+x) faces away; frontal: both cheeks at 90 deg."""
    from export.models.camera import facing_camera

    normals = torch.tensor([[1.0, 0, 0], [-1.0, 0, 0], [0, 0, 1.0]])
    pts = torch.tensor([[[40.0, 0, 0], [-40.0, 0, 0], [0, 0, 30.0]]])
    t = torch.tensor([[0.0, 0, 600]])
    rot = _rot("y", -90)
    vis = facing_camera(normals, rot, to_camera(pts, rot, t))[0]
    assert vis[0] < 0.01 and vis[1] > 0.99
    vis_front = facing_camera(normals, torch.eye(3)[None], to_camera(pts, torch.eye(3)[None], t))[0]
    assert vis_front[2] > 0.99


def test_train_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown TrainConfig keys"):
        TrainConfig.from_dict({"epochz": 3})
