"""Distillation smoke test on a few real faces: teacher targets, one epoch, checkpoints that
load back, and the float tail of the exported bundle decoding like the PyTorch student."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.config import DistillConfig, InputSpec, StudentConfig  # noqa: E402
from export.distill import distill, load_student, release_student  # noqa: E402


def test_one_epoch_of_distillation_writes_loadable_checkpoints(ytf68_dir, tmp_path):
    cfg = replace(DistillConfig(), epochs=1, batch_size=8, threads=1,
                  student=StudentConfig(input=InputSpec(size=48, enlarge=1.5), stages=((8, 1, 1, 1), (16, 1, 2, 2)),
                                        reduce=8, features=32, num_coeffs=4))
    summary = distill(cfg, tmp_path / "run", data=ytf68_dir, limit=16)
    assert summary["epoch"] == 1 and np.isfinite(summary["train"]["landmarks"])
    assert 0 < summary["val"]["nme_mean"] < 5
    assert (tmp_path / "run" / "history.jsonl").is_file() and list((tmp_path / "run").glob("teacher_targets_*.npz"))
    model, face, ck = load_student(tmp_path / "run" / "last.pt")
    assert model.cfg.input.size == 48 and "ibug68" in face.layouts
    slim = release_student(tmp_path / "run" / "last.pt", tmp_path / "student.pt")
    m2, _, _ = load_student(slim)
    x = torch.zeros(1, 3, 48, 48)
    assert torch.allclose(m2.backbone(x), model.backbone(x), atol=1e-2)


def test_rotation_targets_follow_flips_and_turns_of_the_crop(sfm_dir):
    """A rendered face through DistillDataset (random flips, turns and scales): its canonical
    points turned by the item's rotation target line up with its 2D targets up to scale and
    shift (orthographic check, residual under 3 % of the face size); a rotation that ignored
    the flip or the turn would not."""
    from export.canonical_sfm import build_canonical_face
    from export.distill import DistillDataset, synthetic_targets

    face = build_canonical_face(sfm_dir)
    samples, images, targets = synthetic_targets(1)
    cfg = replace(DistillConfig(), negative_prob=0.0, loose_prob=0.0, max_rotation=40.0)
    ds = DistillDataset(samples, images, targets, face, cfg, face.flip_permutation("ibug68"), np.zeros(1, bool))
    c2c = np.diag([1.0, -1.0, -1.0])
    flips = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        item = ds[0]
        rot, t2d, t3d = (item[k].numpy().astype(np.float64) for k in ("rotation", "teacher_2d", "teacher_3d"))
        assert np.allclose(rot @ rot.T, np.eye(3), atol=1e-4) and np.linalg.det(rot) > 0
        cam = (t3d @ c2c) @ rot.T
        one, zero = np.ones((len(cam), 1)), np.zeros((len(cam), 1))
        design = np.block([[cam[:, :1], one, zero], [cam[:, 1:2], zero, one]])
        coef, *_ = np.linalg.lstsq(design, t2d.T.reshape(-1), rcond=None)
        fit = np.concatenate([cam[:, 0] * coef[0] + coef[1], cam[:, 1] * coef[0] + coef[2]])
        size = np.ptp(t2d, axis=0).max()
        assert coef[0] > 0 and np.abs(fit - t2d.T.reshape(-1)).mean() < 0.03 * size
        flips.add(bool(t2d[face.layout_vertices("ibug68")[36], 0] > t2d[face.layout_vertices("ibug68")[45], 0]))
    assert flips == {True, False}


def test_face_crop_rotations_follow_the_recipe(sfm_dir):
    """``rotation_uniform_prob`` of the face crops are turned uniformly within ``max_rotation``,
    the rest by a normal of ``rotation_std`` degrees (clipped)."""
    from export.canonical_sfm import build_canonical_face
    from export.distill import DistillDataset

    face = build_canonical_face(sfm_dir)

    def rotations(**kw):
        cfg = replace(DistillConfig(), negative_prob=0.0, loose_prob=0.0, **kw)
        ds = DistillDataset([], [], {}, face, cfg, face.flip_permutation("ibug68"))
        rng = np.random.default_rng(0)
        return np.array([ds.framing(rng)[0]["rotation_deg"] for _ in range(400)])

    assert np.all(rotations(rotation_uniform_prob=0.0, rotation_std=0.0) == 0)
    normal = rotations(rotation_uniform_prob=0.0, rotation_std=12.0, max_rotation=45.0)
    assert 10.0 < normal.std() < 14.0 and np.abs(normal).max() <= 45.0
    uniform = rotations(rotation_uniform_prob=1.0, max_rotation=40.0)
    assert np.abs(uniform).max() <= 40.0 and 20.0 < uniform.std() < 26.0


def _tiny_students(sfm_dir, size: int):
    """(canonical face, the tiny student config at input ``size``, config -> a fresh Student):
    what the growth tests build and warm-start."""
    from export.canonical_sfm import build_canonical_face
    from export.models.student import Student

    face = build_canonical_face(sfm_dir)
    ids = {n: torch.as_tensor(face.layout_vertices(n), dtype=torch.long) for n in face.layouts}
    small = StudentConfig(input=InputSpec(size=size, enlarge=1.5), stages=((8, 1, 1, 1), (16, 1, 2, 2), (24, 1, 2, 2)),
                          reduce=8, features=32, num_coeffs=4)
    return face, small, lambda cfg: Student(cfg, torch.zeros(len(face.vertices), 3), ids)


def _plain_student_saved(sfm_dir, path):
    """(face, tiny config, config -> Student on the canonical mesh, a seeded student saved at
    ``path`` with a non-trivial head): where the pose-head and refinement tests warm-start from."""
    from export.distill import save_student
    from export.models.student import Student

    face, small, _ = _tiny_students(sfm_dir, 48)
    ids = {n: torch.as_tensor(face.layout_vertices(n), dtype=torch.long) for n in face.layouts}
    student = lambda cfg: Student(cfg, torch.as_tensor(face.vertices, dtype=torch.float32), ids)  # noqa: E731
    torch.manual_seed(0)
    src = student(small)
    with torch.no_grad():
        src.head.weight.normal_(0, 0.02)
    save_student(path, src, face, best_weights="model")
    return face, small, student, src


def test_a_grown_student_starts_as_the_same_function(sfm_dir, tmp_path):
    """Warm-starting a deeper and wider student (an added block, doubled expansion, wider
    reduction) from a trained one keeps its outputs exactly; a student that is not a grown
    copy (other stage widths) is refused."""
    from export.distill import save_student, warm_start_student

    face, small, student = _tiny_students(sfm_dir, 48)
    torch.manual_seed(0)
    src = student(small)
    with torch.no_grad():  # trained-looking BatchNorm statistics and scales
        for m in src.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    save_student(tmp_path / "small.pt", src, face, best_weights="model")
    grown = replace(small, stages=((8, 1, 1, 1), (16, 2, 2, 4), (24, 1, 2, 3)), reduce=12)
    dst = student(grown)
    warm_start_student(dst, tmp_path / "small.pt")
    x = torch.randn(2, 3, 48, 48)
    src.eval()
    dst.eval()
    with torch.no_grad():
        a, b = src.backbone(x), dst.backbone(x)
    assert sum(p.numel() for p in dst.parameters()) > sum(p.numel() for p in src.parameters())
    assert a.abs().max() > 0.1 and torch.allclose(a, b, atol=1e-5)
    other = student(replace(small, stages=((8, 1, 1, 1), (20, 1, 2, 2), (24, 1, 2, 2))))
    with pytest.raises(ValueError, match="not a grown copy"):
        warm_start_student(other, tmp_path / "small.pt")


def test_a_student_takes_a_finer_input_when_its_last_feature_map_keeps_its_size(sfm_dir, tmp_path):
    """A larger input side whose last feature map has the same size takes every weight as it
    is (the fully connected layer still fits); one that changes that map is refused."""
    from export.distill import save_student, warm_start_student
    from export.models.student import feature_grid

    face, small, student = _tiny_students(sfm_dir, 44)
    torch.manual_seed(0)
    src = student(small)
    save_student(tmp_path / "small.pt", src, face, best_weights="model")
    finer = replace(small, input=InputSpec(size=48, enlarge=1.5))
    assert feature_grid(finer) == feature_grid(small) == 6
    dst = student(finer)
    warm_start_student(dst, tmp_path / "small.pt")
    a, b = src.state_dict(), dst.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert dst.backbone(torch.randn(1, 3, 48, 48)).shape == (1, 32)
    for size in (56, 42):  # a 7x7 last map; a coarser input with the same 6x6 map
        other = student(replace(small, input=InputSpec(size=size, enlarge=1.5)))
        with pytest.raises(ValueError, match="not a grown copy"):
            warm_start_student(other, tmp_path / "small.pt")


def test_a_pose_head_starts_as_the_projection_and_the_tail_decodes_it_like_torch(sfm_dir, tmp_path):
    """``pose_head``: warm-started from a student without one, the reported rotation starts as
    the one the landmarks project with; once it moves, the landmarks, camera points and
    visibility stay the projection's, and the numpy tail of the bundle decodes the reported
    rotation and its angles like the PyTorch student. A pose head cannot be dropped again."""
    from export.bundle import tail_from_student
    from export.distill import face_tensors, save_student, warm_start_student
    from export.models.camera import euler_yaw_pitch_roll

    face, small, student, src = _plain_student_saved(sfm_dir, tmp_path / "plain.pt")
    dst = student(replace(small, pose_head=True))
    warm_start_student(dst, tmp_path / "plain.pt")
    ft = face_tensors(face)
    rows = {"p": (*src.layout_rows("ibug68"), ft["normals"][ft["ibug68"]])}
    x = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    src.eval()
    dst.eval()
    with torch.no_grad():
        a, b = src(x, rows)["p"], dst(x, rows)["p"]
        assert torch.equal(a["landmarks"], b["landmarks"]) and torch.equal(a["rotation"], b["rotation"])
        dst.head.weight[small.num_coeffs + 11:] += torch.randn(6, small.features, generator=torch.Generator().manual_seed(2))
        c = dst(x, rows)["p"]
    assert (c["rotation"] - a["rotation"]).abs().max() > 0.05
    for key in ("landmarks", "camera", "visibility"):
        assert torch.equal(c[key], a[key]), key
    tail = tail_from_student(dst)
    assert tail.pose_head and not tail_from_student(src).pose_head
    with torch.no_grad():
        feats = dst.backbone(x).numpy()
    d = tail.decode(feats, tail.point_set(face, "ibug68"))
    assert np.abs(d.landmarks - c["landmarks"].numpy()).max() < 1e-3
    assert np.abs(d.rotation - c["rotation"].numpy()).max() < 1e-5
    assert np.abs(d.angles - euler_yaw_pitch_roll(c["rotation"].double()).numpy()).max() < 1e-3
    save_student(tmp_path / "head.pt", dst, face, best_weights="model")
    with pytest.raises(ValueError, match="not a grown copy"):
        warm_start_student(student(small), tmp_path / "head.pt")


def test_local_refinement_starts_as_the_same_function_and_the_tail_decodes_it_like_torch(sfm_dir, tmp_path):
    """``refine_channels``: warm-started from a student without it, the refined student is the
    same function (its read-out starts at zero); once the read-out moves, the points move, and
    the numpy tail decodes the exported network's single output like the PyTorch student, for a
    bundled layout and for custom barycentric points. The refinement cannot be dropped again."""
    from export.bundle import tail_from_student
    from export.distill import face_tensors, save_student, warm_start_student
    from export.models.student import ExportedStudent, refine_stride

    face, small, student, src = _plain_student_saved(sfm_dir, tmp_path / "plain.pt")
    refined = replace(small, refine_channels=6, refine_tap=1, refine_hidden=16)
    assert refine_stride(refined) == 4
    dst = student(refined)
    warm_start_student(dst, tmp_path / "plain.pt")
    ft = face_tensors(face)
    rows = (*dst.layout_rows("ibug68"), ft["normals"][ft["ibug68"]])
    x = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    src.eval()
    dst.eval()
    with torch.no_grad():
        a, b = src(x, {"p": rows})["p"], dst(x, {"p": rows})["p"]
        assert torch.equal(a["landmarks"], b["landmarks"])
        dst.readout.weights[-1].weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(2))
        c = dst(x, {"p": rows})["p"]
        out = ExportedStudent(dst.backbone)(x).numpy()
    assert (c["landmarks"] - c["landmarks_coarse"]).abs().max() > 0.2
    assert torch.equal(c["landmarks_coarse"], a["landmarks"])
    tail = tail_from_student(dst)
    assert out.shape == (2, tail.output_size) == (2, 32 + 12 * 12 * 6)
    d = tail.decode(out, tail.point_set(face, "ibug68"))
    for key, got in (("landmarks", d.landmarks), ("canonical", d.canonical), ("camera", d.camera), ("visibility", d.visibility)):
        assert np.abs(got - c[key].numpy()).max() < 1e-3, key
    bary = np.array([[5, 0.2, 0.3, 0.5], [40, 1.0, 0.0, 0.0]])
    tri = torch.as_tensor(face.triangles[bary[:, 0].astype(int)])
    w = torch.as_tensor(bary[:, 1:], dtype=torch.float32)
    mean = torch.einsum("nk,nkd->nd", w, dst.dense_mean[tri])
    basis = torch.einsum("nk,cnkd->cnd", w, dst.dense_basis[:, tri])
    with torch.no_grad():
        e = dst(x, {"q": (mean, basis, torch.zeros(2, 3))})["q"]
    got = tail.decode(out, tail.point_set(face, bary)).landmarks
    assert np.abs(got - e["landmarks"].numpy()).max() < 1e-3
    save_student(tmp_path / "refined.pt", dst, face, best_weights="model")
    with pytest.raises(ValueError, match="do not fit"):
        warm_start_student(student(small), tmp_path / "refined.pt")
