from __future__ import annotations

import math

import numpy as np

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


class _RenderedStub:
    """The fields of a synthetic sample that SyntheticDataset reads: a frontal head 600 mm away."""

    def __init__(self, rotation):
        rng = np.random.default_rng(0)
        canonical = rng.uniform(-50, 50, (68, 3))
        canonical[36], canonical[45] = (-45.0, 35.0, 0.0), (45.0, 35.0, 0.0)
        self.rotation, self.translation = np.asarray(rotation, np.float64), np.array([0.0, 0.0, 600.0])
        self.canonical = canonical
        self.cam = canonical @ np.diag([1.0, -1.0, -1.0]) @ self.rotation.T + self.translation
        self.image = rng.integers(0, 255, (160, 160, 3), dtype=np.uint8)
        self.self_visible = np.ones(68, bool)

    def landmarks_2d(self, layout="ibug68"):
        return (self.cam[:, :2] / self.cam[:, 2:] * 400.0 + 79.5).astype(np.float32)

    def landmarks_3d(self, layout="ibug68"):
        return self.cam

    def ids(self, layout):
        return np.arange(68)


def test_synthetic_training_samples_turn_the_true_rotation_with_the_framing():
    """In-plane augmentation turns the image; the rotation label must turn with it (roll follows
    the eye line), and the canonical label is the head's own shape whatever the pose."""
    from dataclasses import replace

    from export.augment import AugmentConfig
    from export.dataset import SyntheticDataset
    from export.config import InputSpec

    aug = AugmentConfig(max_rotation=40, rotation_uniform_prob=1.0, scale_range=(1, 1), max_shift=0.0,
                        occluder_prob=0, blur_prob=0, noise_prob=0)
    yaw20 = euler_to_matrix(20.0)
    ds = SyntheticDataset([_RenderedStub(np.eye(3)), _RenderedStub(yaw20)], InputSpec(), 1, aug)
    rolls = []
    for epoch in range(4):
        ds.set_epoch(epoch)
        item = ds[0]
        lm = item["landmarks"].numpy()
        eye = lm[45] - lm[36]
        yaw, pitch, roll = euler_yaw_pitch_roll(item["rotation"][None].double())[0].tolist()
        assert abs(yaw) < 1e-3 and abs(pitch) < 1e-3
        assert roll == pytest.approx(math.degrees(math.atan2(eye[1], eye[0])), abs=0.05)
        rolls.append(roll)
    assert np.ptp(rolls) > 5  # the framing did turn
    np.testing.assert_allclose(ds[1]["canonical"].numpy(), _RenderedStub(yaw20).canonical, atol=1e-3)
    upright = SyntheticDataset([_RenderedStub(yaw20)], InputSpec(), 1, replace(aug, max_rotation=0.0))
    assert euler_yaw_pitch_roll(upright[0]["rotation"][None].double())[0].tolist() == pytest.approx([20.0, 0, 0], abs=1e-3)


def euler_to_matrix(yaw_deg: float) -> np.ndarray:
    a = math.radians(yaw_deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def test_training_writes_history_and_checkpoints_and_resumes(ytf68_dir, sfm_dir, tmp_path):
    """Two epochs on 16 faces, then the same run asked for three: it resumes at epoch 3 from
    ``last.pt`` instead of starting over, and ``best.pt`` loads back as a model."""
    from export.checkpoint import load_checkpoint
    from export.train import train

    small = dict(SMALL, blocks=[1, 1, 1, 1])
    cfg = TrainConfig.from_dict({"model": small, "epochs": 2, "batch_size": 8, "threads": 1, "warmup_epochs": 0.5})
    out = tmp_path / "run"
    first = train(cfg, out, data=ytf68_dir, sfm=sfm_dir, limit=16)
    assert first["epoch"] == 2 and np.isfinite(first["train"]["landmarks"]) and 0 < first["val"]["nme_mean"] < 5
    again = train(TrainConfig.from_dict({**cfg.to_dict(), "epochs": 3}), out, data=ytf68_dir, sfm=sfm_dir, limit=16)
    history = [line for line in (out / "history.jsonl").read_text().splitlines() if line]
    assert again["epoch"] == 3 and len(history) == 3
    model, face, _ = load_checkpoint(out / "best.pt")
    assert model.cfg.crop_size == 64 and "ibug68" in face.layouts


def test_warm_start_into_a_deeper_backbone_keeps_the_function(tmp_path):
    """Growing blocks (1,1,1,1) -> (2,1,2,1) renumbers the old blocks and adds identity blocks:
    the grown teacher predicts exactly what the checkpoint did; shrinking is refused."""
    from export.canonical_sfm import build_canonical_face
    from export.checkpoint import save_checkpoint
    from export.train import warm_start

    torch.manual_seed(0)
    small = create_model("teacher", **dict(SMALL, blocks=[1, 1, 1, 1])).eval()
    for m in small.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.uniform_(m.running_mean, -0.1, 0.1)
    face = build_canonical_face()
    save_checkpoint(tmp_path / "small.pt", small, face)
    grown = create_model("teacher", **dict(SMALL, blocks=[2, 1, 2, 1])).eval()
    warm_start(grown, tmp_path / "small.pt")
    q, n = _queries()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    d = torch.zeros(2, dtype=torch.long)
    assert torch.allclose(small(x, q, n, d)["landmarks"], grown(x, q, n, d)["landmarks"], atol=1e-5)
    assert sum(p.numel() for p in grown.parameters()) > sum(p.numel() for p in small.parameters())
    with pytest.raises(ValueError, match="cannot grow"):
        warm_start(create_model("teacher", **dict(SMALL, blocks=[1, 1, 1])), tmp_path / "small.pt")


@pytest.mark.parametrize("stages", [1, 4])
def test_a_pose_branch_starts_as_the_trunk_and_learns_pose_apart(tmp_path, stages):
    """``pose_branch``: warm-started from a teacher without one, the branch is a copy of the
    trunk's last stages, so landmarks and rotation are exactly the checkpoint's; afterwards a
    rotation loss reaches the branch but not the trunk layers that only the landmarks use."""
    from export.canonical_sfm import build_canonical_face
    from export.checkpoint import save_checkpoint
    from export.train import warm_start

    torch.manual_seed(0)
    plain = create_model("teacher", **SMALL).eval()
    torch.nn.init.normal_(plain.backbone.pose.weight, std=0.1)
    save_checkpoint(tmp_path / "plain.pt", plain, build_canonical_face())
    branched = create_model("teacher", **dict(SMALL, pose_branch=stages)).eval()
    warm_start(branched, tmp_path / "plain.pt")
    q, n = _queries()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    d = torch.zeros(2, dtype=torch.long)
    a, b = plain(x, q, n, d), branched(x, q, n, d)
    assert torch.equal(a["landmarks"], b["landmarks"]) and torch.equal(a["rotation"], b["rotation"])
    b["rotation"].sum().backward()
    grads = {k: p.grad for k, p in branched.named_parameters()}
    assert grads["backbone.pose_features.0.body.0.0.weight"].abs().sum() > 0
    assert grads["backbone.descriptor.0.weight"] is None
    last_trunk = f"backbone.features.{len(branched.backbone.features) - 1}.body.0.0.weight"
    assert grads[last_trunk] is None
    with pytest.raises(ValueError, match="pose_branch"):
        create_model("teacher", **dict(SMALL, pose_branch=5))


def test_a_detached_pose_branch_turns_the_reported_pose_and_never_the_landmarks(tmp_path):
    """``pose_detached``: the branch's own rotation head starts as the trunk's rotation rows, so
    the warm-started teacher is the checkpoint's function; training the branch alone on a
    rotation target then moves the reported rotation while the projected landmarks, camera-space
    points and visibility stay identical to the bit."""
    from export.canonical_sfm import build_canonical_face
    from export.checkpoint import save_checkpoint
    from export.train import freeze, warm_start

    torch.manual_seed(0)
    plain = create_model("teacher", **SMALL).eval()
    torch.nn.init.normal_(plain.backbone.pose.weight, std=0.1)
    save_checkpoint(tmp_path / "plain.pt", plain, build_canonical_face())
    detached = create_model("teacher", **dict(SMALL, pose_branch=4, pose_detached=True))
    warm_start(detached, tmp_path / "plain.pt")
    detached.eval()
    q, n = _queries()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    d = torch.zeros(2, dtype=torch.long)
    a, b = plain(x, q, n, d), detached(x, q, n, d)
    for key in ("landmarks", "rotation", "camera", "visibility"):
        assert torch.equal(a[key], b[key]), key
    freeze(detached, ("stn.", "backbone.features.", "backbone.reduce.", "backbone.descriptor.", "backbone.pose.",
                      "deformer.", "head."))
    params = [p for p in detached.parameters() if p.requires_grad]
    assert params and all(name.startswith("backbone.pose_") and not name.startswith("backbone.pose.")
                          for name, p in detached.named_parameters() if p.requires_grad)
    opt = torch.optim.Adam(params, lr=1e-2)
    target = torch.eye(3).expand(2, 3, 3)
    before = (b["rotation"] - target).norm()
    for _ in range(20):
        opt.zero_grad()
        (detached(x, q, n, d)["rotation"] - target).pow(2).sum().backward()
        opt.step()
    detached.eval()
    c = detached(x, q, n, d)
    assert (c["rotation"] - target).norm() < 0.5 * before
    for key in ("landmarks", "camera", "visibility"):
        assert torch.equal(c[key], a[key]), key
    assert torch.equal(c["rotation_projection"], a["rotation"])
    save_checkpoint(tmp_path / "detached.pt", detached, build_canonical_face())
    trunk = create_model("teacher", **SMALL)
    warm_start(trunk, tmp_path / "detached.pt")  # the branch is left out: a branchless recipe still warm-starts
    assert torch.equal(trunk.eval()(x, q, n, d)["landmarks"], a["landmarks"])
    with pytest.raises(ValueError, match="pose_detached"):
        create_model("teacher", **dict(SMALL, pose_detached=True))


def test_warm_start_at_a_larger_crop_needs_the_same_last_feature_map(tmp_path):
    """A larger crop and input take every weight when the backbone's last feature map keeps its
    size (56 -> 64 px crops: 2 x 2 both); one that changes it (96 px: 3 x 3) is refused with a
    ValueError naming the resized weights, not torch's shape error."""
    from export.canonical_sfm import build_canonical_face
    from export.checkpoint import save_checkpoint
    from export.train import warm_start

    torch.manual_seed(0)
    src = create_model("teacher", **dict(SMALL, crop_size=56, input={"size": 64, "enlarge": 1.6}))
    save_checkpoint(tmp_path / "src.pt", src, build_canonical_face())
    finer = create_model("teacher", **dict(SMALL, crop_size=64, input={"size": 72, "enlarge": 1.6}))
    warm_start(finer, tmp_path / "src.pt")
    a, b = src.state_dict(), finer.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if k != "n_averaged")
    with pytest.raises(ValueError, match="does not fit this teacher.*descriptor"):
        warm_start(create_model("teacher", **dict(SMALL, crop_size=96, input={"size": 108, "enlarge": 1.6})), tmp_path / "src.pt")


def test_pose_in_the_input_frame_undoes_the_region_angle():
    """The spatial transformer may turn its crop; pose is reported in the input image's axes.
    Points in the crop's camera, projected and mapped to input pixels, land where the same
    points turned by ``region_turn`` project in the input (centred region, so only the angle
    and scale differ); a region turned by 20 degrees adds 20 degrees of roll to a frontal head."""
    from export.models.stn import region_turn

    crop, inp = 64, 128
    theta = SpatialTransformer.theta(torch.tensor([[math.log(0.8), math.radians(20.0), 0.0, 0.0]]))
    turn = region_turn(theta)
    cam = torch.tensor([[[30.0, -20.0, 600.0], [-45.0, 10.0, 620.0], [5.0, 40.0, 590.0]]])
    focal = torch.tensor([150.0])
    via_crop = crop_to_input_pixels(project(cam, focal, (crop - 1) / 2), theta, crop, inp)
    direct = project(cam @ turn.transpose(1, 2), focal * 0.8 * inp / crop, (inp - 1) / 2)
    assert torch.allclose(via_crop, direct, atol=1e-3)
    yaw, pitch, roll = euler_yaw_pitch_roll((turn @ torch.eye(3)[None]).double())[0].tolist()
    assert roll == pytest.approx(20.0, abs=1e-4) and abs(yaw) < 1e-4 and abs(pitch) < 1e-4


def test_frozen_parts_keep_their_weights_and_statistics_through_training_steps():
    """``TrainConfig.frozen``: the named prefixes (here the STN and the convolutional trunk) keep
    their parameters and BatchNorm running statistics through optimiser steps in training
    mode, while the rest still learns; a prefix that names nothing is refused."""
    from export.train import compute_loss, freeze

    torch.manual_seed(0)
    model = create_model("teacher", **SMALL)
    freeze(model, ("stn.", "backbone.features."))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    q, n = _queries(20)
    batch = {"image": torch.randn(4, 3, 64, 64), "landmarks": torch.rand(4, 20, 2) * 30 + 17,
             "dataset": torch.zeros(4, dtype=torch.long)}
    cfg = TrainConfig(model=TeacherConfig.from_dict(SMALL))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(2):
        loss, _ = compute_loss(model, batch, q, n, torch.arange(20), cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = model.state_dict()
    frozen = [k for k in after if k.startswith(("stn.", "backbone.features.")) and after[k].dtype.is_floating_point]
    assert any("running_mean" in k for k in frozen) and any(k.endswith("weight") for k in frozen)
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert not torch.equal(before["backbone.pose.weight"], after["backbone.pose.weight"])
    with pytest.raises(ValueError, match="match no parameter"):
        freeze(create_model("teacher", **SMALL), ("backbone.trunk.",))


def test_every_committed_recipe_loads_and_chains_its_warm_starts():
    """Recipes are JSON configs with unknown keys refused: each committed one must load, and
    each teacher stage's ``init`` must name a run some other recipe's command writes (or the
    released teacher), and each
    later student stage must warm-start from the released student of the same architecture, or
    (stage 5) of an architecture that ``warm_start_student`` can grow into this one."""
    from pathlib import Path

    from export.config import DistillConfig, TrainConfig
    from export.distill import _check_growable

    recipes = Path(__file__).resolve().parents[1] / "export" / "recipes"
    teachers = {p.stem: TrainConfig.load(p) for p in recipes.glob("teacher*.json")}
    assert {"teacher", "teacher_stage2", "teacher_stage5_deeper"} <= set(teachers)
    stages = {"teacher": "runs/teacher", "teacher_stage2": "runs/teacher2", "teacher_stage3_synthetic": "runs/teacher3",
              "teacher_stage4_mild": "runs/teacher4", "teacher_stage5_deeper": "runs/teacher5",
              "teacher_stage6_long": "runs/teacher6", "teacher_stage8_long": "runs/teacher8",
              "teacher_stage9_synthetic_bn": "runs/teacher9b", "teacher_stage10_real": "runs/teacher10real",
              "teacher_stage12_frozen": "runs/teacher12", "teacher_stage18_refine": "runs/teacher18",
              "teacher_stage19_refine_all": "runs/teacher19", "teacher_stage20_cascade": "runs/teacher20",
              "teacher_stage21_cascade_all": "runs/teacher21",
              "teacher_stage24_second_cycle": "runs/teacher24", "teacher_stage26_third_cycle": "runs/teacher26"}
    for name, cfg in teachers.items():
        if cfg.init:
            assert str(Path(cfg.init).parent) in stages.values() or cfg.init == "export/checkpoints/teacher.pt", (name, cfg.init)
    assert teachers["teacher_stage5_deeper"].model.blocks == (2, 2, 2, 2)
    student = DistillConfig.load(recipes / "student.json")
    assert student.teacher == "export/checkpoints/teacher.pt" and student.student.input.size == 112
    for stage in ("student_stage2", "student_stage3", "student_stage4_pose"):  # each continues the previous release
        later = DistillConfig.load(recipes / f"{stage}.json")
        assert later.init == "export/checkpoints/student.pt" and later.student == student.student, stage
    wide = DistillConfig.load(recipes / "student_stage5_wide.json")
    assert wide.init == "export/checkpoints/student.pt" and wide.student != student.student
    _check_growable(student.student, wide.student, "student_stage4_pose")
    later = DistillConfig.load(recipes / "student_stage6_pose.json")  # continues the stage-5 release
    assert later.init == "export/checkpoints/student.pt" and later.student == wide.student
    hires = DistillConfig.load(recipes / "student_stage7_hires.json")  # the stage-6 release at a finer input
    assert hires.init == "export/checkpoints/student.pt" and hires.student.input.size > wide.student.input.size
    _check_growable(wide.student, hires.student, "student_stage6_pose")
    again = DistillConfig.load(recipes / "student_stage8_hires.json")  # continues the stage-7 release
    assert again.init == "export/checkpoints/student.pt" and again.student == hires.student
    deeper = DistillConfig.load(recipes / "student_stage9_deeper.json")  # the stage-7 release grown
    assert deeper.init == "export/checkpoints/student.pt" and deeper.student != hires.student
    _check_growable(hires.student, deeper.student, "student_stage7_hires")


def test_rendered_batches_can_leave_batchnorm_running_statistics_alone():
    """``synthetic_bn_frozen``: inside ``_running_stats_frozen`` a training-mode forward pass
    normalises with the batch's statistics but leaves the running ones (what inference uses)
    as they were; afterwards BatchNorm updates them again with its own momentum."""
    import torch

    from export.train import _running_stats_frozen

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.BatchNorm2d(4))
    net.train()
    before = [m.running_mean.clone() for m in (net[1], net[3])]
    with _running_stats_frozen(net):
        out = net[:2](torch.randn(8, 3, 9, 9) * 5 + 3)
    assert abs(float(out.mean())) < 1e-5  # normalised with the batch's own statistics
    assert all(torch.equal(b, m.running_mean) for b, m in zip(before, (net[1], net[3])))
    assert net[1].momentum == 0.1 and net[3].momentum == 0.1
    net(torch.randn(8, 3, 9, 9) * 5 + 3)
    assert not torch.equal(before[0], net[1].running_mean)


def test_upright_prior_measures_the_shape_turn_that_projection_cannot_see():
    """``losses.upright``: a canonical shape nodded by 5 or 20 degrees about x (and moved) scores
    (angle / 10)^2 to first order, the template itself or a translated copy 0, and point noise
    that is not a turn next to nothing; its gradient turns the shape back."""
    import math

    import torch

    from export.losses import upright

    g = torch.Generator().manual_seed(0)
    t = torch.randn(68, 3, generator=g) * torch.tensor([40.0, 50.0, 20.0])

    def nod(deg):
        a = math.radians(deg)
        return torch.tensor([[1.0, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])

    assert float(upright((t + torch.tensor([3.0, -2, 5]))[None], t)) < 1e-10
    assert abs(float(upright((t @ nod(5).T)[None], t)) - 0.25) < 0.01
    assert abs(float(upright((t @ nod(20).T)[None], t)) - 4.0) < 0.3  # sin(20 deg) / (20 deg) = 0.98
    assert float(upright(t[None] + torch.randn(8, 68, 3, generator=g), t)) < 0.01
    c = (t @ nod(10).T)[None].requires_grad_()
    upright(c, t).backward()
    assert float(upright((c - 50 * c.grad).detach(), t)) < float(upright(c.detach(), t))


def test_the_local_refiner_reads_each_map_on_a_patch_around_each_point():
    """A map whose two channels hold each cell centre's crop-pixel x and y, at strides 4 and 8:
    bilinear sampling of a linear field is exact, so every patch entry must read the point
    plus its grid offset on both maps; per point the features are laid out patch position by
    patch position (rows top down, x fastest), each with the maps' channels in tap order."""
    from export.models.refine import LocalRefiner

    crop = 64
    refiner = LocalRefiner({1: 2, 2: 2}, descriptor=8, encoding=5, crop_size=crop, patch=3, spacing=4.0)

    def coordinate_map(stride: int) -> torch.Tensor:
        c = (torch.arange(crop // stride, dtype=torch.float32) + 0.5) * stride - 0.5
        return torch.stack([c[None].expand(len(c), -1), c[:, None].expand(-1, len(c))])[None]

    points = torch.tensor([[[20.0, 30.0], [33.5, 17.25]]])
    feats = refiner.sample([coordinate_map(4), coordinate_map(8)], points)
    assert feats.shape == (1, 2, 2 * 9 * 2)
    per_map = feats.reshape(1, 2, 9, 4)
    expected = points[:, :, None, :] + refiner.grid
    assert torch.allclose(per_map[..., :2], expected, atol=1e-4)
    assert torch.allclose(per_map[..., 2:], expected, atol=1e-4)
    assert torch.equal(refiner.grid[1], torch.tensor([0.0, -4.0]))  # x varies fastest, rows go down


def test_a_local_refiner_starts_as_the_checkpoint_and_learns_alone_with_the_rest_frozen(tmp_path):
    """``refine_taps``: a teacher warm-started from a checkpoint without a refiner is the same
    function (zero offsets); trained with everything else frozen, the refined landmarks move
    towards the target while the coarse ones stay identical to the checkpoint's; a second
    cascade step and a fine one (stem and first stage) warm-started from that start as the
    one-step function."""
    from export.canonical_sfm import build_canonical_face
    from export.checkpoint import save_checkpoint
    from export.train import compute_loss, freeze, warm_start

    torch.manual_seed(0)
    plain = create_model("teacher", **SMALL).eval()
    save_checkpoint(tmp_path / "plain.pt", plain, build_canonical_face())
    refined = create_model("teacher", **dict(SMALL, refine_taps=[0, 1]))
    warm_start(refined, tmp_path / "plain.pt")
    q, n = _queries(20)
    x = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    d = torch.zeros(4, dtype=torch.long)
    a, b = plain(x, q, n, d), refined.eval()(x, q, n, d)
    assert torch.equal(a["landmarks"], b["landmarks"]) and torch.equal(b["landmarks_coarse_crop"], b["landmarks_crop"])
    freeze(refined, ("stn.", "backbone.", "deformer.", "head."))
    assert {name.split(".")[0] for name, p in refined.named_parameters() if p.requires_grad} == {"refiners"}
    batch = {"image": x, "landmarks": a["landmarks"].detach() + 3.0, "dataset": d}
    cfg = TrainConfig(model=refined.cfg)
    opt = torch.optim.Adam([p for p in refined.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(15):
        refined.train()
        for m in refined.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
        loss, _ = compute_loss(refined, batch, q, n, torch.arange(20), cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]
    c = refined.eval()(x, q, n, d)
    assert torch.equal(c["landmarks_coarse_crop"], a["landmarks_crop"])
    assert not torch.allclose(c["landmarks"], a["landmarks"], atol=0.1)
    save_checkpoint(tmp_path / "refined.pt", refined, build_canonical_face())
    cascade = create_model("teacher", **dict(SMALL, refine_taps=[0, 1], refine_steps=2, refine_fine=1))
    warm_start(cascade, tmp_path / "refined.pt")
    assert [r.taps for r in cascade.refiners] == [(0, 1), (0, 1), (-1, 0)]
    assert torch.allclose(cascade.eval()(x, q, n, d)["landmarks"], c["landmarks"], atol=1e-5)


def test_fixed_batchnorm_layers_normalise_with_their_running_statistics_in_training():
    """``frozen_eval``: ``run_epoch`` keeps the ``fixed`` modules in eval mode during the steps,
    so a frozen trunk gives the features it gives at inference (not batch-normalised ones)."""
    from export.loop import run_epoch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 1, 1))
    bn = net[1]
    bn.running_mean.fill_(0.5)
    params = list(net[2].parameters())
    opt = torch.optim.SGD(params, lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    ema = torch.optim.swa_utils.AveragedModel(net)
    seen = []

    def step_loss(batch):
        seen.append(bn.training)
        out = net(batch)
        expected = torch.nn.functional.batch_norm(net[0](batch), bn.running_mean, bn.running_var, bn.weight, bn.bias)
        assert torch.allclose(net[1](net[0](batch)), expected, atol=1e-6)
        return out.pow(2).mean(), {"loss": float(out.pow(2).mean())}

    run_epoch(net, [torch.randn(2, 3, 8, 8) for _ in range(3)], step_loss, params, opt, sched, ema, "t", fixed=(bn,))
    assert seen == [False] * 3 and torch.all(bn.running_mean == 0.5) and net[2].training


def test_the_flip_test_is_mirror_equivariant_and_keeps_the_labels_x_offset():
    """``TeacherPredictor(flip_test=True)``: for an input and its mirror image, the averaged
    landmarks are each other's mirror (left/right re-indexed), apart from the labels' x offset:
    both carry it to the right, so they differ by twice the offset (in input pixels, the framing's
    scale times the image-pixel offset). Query points without left/right pairs are refused."""
    from pathlib import Path

    from edge_landmarks.errors import InputError
    from export.checkpoint import load_checkpoint
    from export.predict import TeacherPredictor

    _, face, _ = load_checkpoint(Path(__file__).resolve().parents[1] / "export" / "checkpoints" / "teacher.pt")
    torch.manual_seed(0)
    model = create_model("teacher", **SMALL).eval()
    torch.nn.init.normal_(model.head.net[-1].weight, std=0.05)
    pred = TeacherPredictor(model, face, flip_test=True)
    perm = face.flip_permutation("ibug68")
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    mirror = torch.flip(x, dims=[3])
    d = torch.zeros(1, dtype=torch.long)
    affine = [np.array([[0.5, 0.0, 3.0], [0.0, 0.5, 1.0]])]  # 0.5 input px per image px
    with torch.no_grad():
        a = pred._with_mirror(model(x, pred.queries, pred.normals, d)["landmarks"], x, d, affine)[0].numpy()
        b = pred._with_mirror(model(mirror, pred.queries, pred.normals, d)["landmarks"], mirror, d, affine)[0].numpy()
        plain = model(x, pred.queries, pred.normals, d)["landmarks"][0].numpy()
    back = np.stack([63 - b[perm, 0], b[perm, 1]], -1)
    assert np.allclose(a - back, [2 * pred.label_x_offset * 0.5, 0.0], atol=1e-3)
    assert pred.label_x_offset == 1.2 and not np.allclose(a, plain, atol=0.05)
    with pytest.raises(InputError, match="named layout"):
        TeacherPredictor(model, face, layout=np.array([1, 2, 3]), flip_test=True)
