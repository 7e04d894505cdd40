from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_landmarks.data import (
    FaceSample,
    load_300w,
    load_val_people,
    load_wflw,
    load_ytf68,
    person_of,
    split_by_person,
)
from edge_landmarks.data.split import train_val
from edge_landmarks.errors import DataError


def _write_image(path: Path, h: int = 12, w: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((h, w, 3), 128, np.uint8))
    return path


def _points(n: int, offset: float = 0.0) -> np.ndarray:
    return (np.arange(2 * n, dtype=np.float32).reshape(n, 2) * 0.5 + offset).astype(np.float32)


def _ytf_header(n: int = 68) -> str:
    return "image," + ",".join(f"x{i},y{i}" for i in range(n))


def _ytf_row(image: str, pts: np.ndarray) -> str:
    return image + "," + ",".join(f"{v:g}" for v in pts.reshape(-1))


def _ytf_folder(root: Path, lines: list[str], images: tuple[str, ...] = ("Jane_Doe_00.jpg",)) -> Path:
    for name in images:
        _write_image(root / "images" / name)
    (root / "landmarks.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def ytf68_samples(ytf68_dir) -> list[FaceSample]:
    return load_ytf68(ytf68_dir)


def test_real_ytf68_folder(ytf68_samples):
    assert len(ytf68_samples) == 2820
    assert {s.layout for s in ytf68_samples} == {"ibug68"}
    assert len({s.name for s in ytf68_samples}) == 2820
    assert len({s.person for s in ytf68_samples}) == 282
    s = ytf68_samples[0]
    assert s.landmarks.shape == (68, 2) and s.landmarks.dtype == np.float32
    assert s.person == person_of(s.image_path.name) and s.person and not s.person[-1].isdigit()
    img = s.load_image()
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8
    h, w = img.shape[:2]
    pts = np.stack([x.landmarks for x in ytf68_samples[:50]])
    assert pts.min() >= -1 and pts[..., 0].max() <= w + 1 and pts[..., 1].max() <= h + 1


def test_person_of():
    assert person_of("Abdel_Aziz_Al-Hakim_00.jpg") == "Abdel_Aziz_Al-Hakim"
    assert person_of("sub/Jane_Doe_12.png") == "Jane_Doe"
    assert person_of("nounderscore.jpg") == "nounderscore"


def test_ytf68_small_folder_reads_coordinates_and_people(tmp_path):
    pts_a, pts_b = _points(68), _points(68, 3.25)
    root = _ytf_folder(
        tmp_path,
        [_ytf_header(), _ytf_row("Jane_Doe_00.jpg", pts_a), "", _ytf_row("John_Q_Public_13.jpg", pts_b)],
        images=("Jane_Doe_00.jpg", "John_Q_Public_13.jpg"),
    )
    samples = load_ytf68(root)
    assert [s.name for s in samples] == ["Jane_Doe_00.jpg", "John_Q_Public_13.jpg"]
    assert [s.person for s in samples] == ["Jane_Doe", "John_Q_Public"]
    np.testing.assert_array_equal(samples[1].landmarks, pts_b)
    assert samples[0].image_path == root / "images" / "Jane_Doe_00.jpg"
    assert samples[0].load_image().shape == (12, 10, 3)


def test_ytf68_several_rows_for_one_image_get_distinct_names(tmp_path):
    row = _ytf_row("Jane_Doe_00.jpg", _points(68))
    samples = load_ytf68(_ytf_folder(tmp_path, [_ytf_header(), row, row, row]))
    names = [s.name for s in samples]
    assert len(set(names)) == 3
    assert names[0] == "Jane_Doe_00.jpg"
    assert {s.image_path for s in samples} == {tmp_path / "images" / "Jane_Doe_00.jpg"}
    assert {s.person for s in samples} == {"Jane_Doe"}


def test_ytf68_other_point_counts_get_a_custom_layout(tmp_path):
    samples = load_ytf68(_ytf_folder(tmp_path, [_ytf_header(5), _ytf_row("Jane_Doe_00.jpg", _points(5))]))
    assert samples[0].layout == "custom5"
    assert samples[0].landmarks.shape == (5, 2)


@pytest.mark.parametrize(
    "header",
    ["img," + _ytf_header()[len("image,"):], _ytf_header() + ",x68", "image", ""],
)
def test_ytf68_bad_header(tmp_path, header):
    with pytest.raises(DataError):
        load_ytf68(_ytf_folder(tmp_path, [header, _ytf_row("Jane_Doe_00.jpg", _points(68))]))


@pytest.mark.parametrize("cut", [1, -1])
def test_ytf68_row_with_wrong_number_of_fields(tmp_path, cut):
    row = _ytf_row("Jane_Doe_00.jpg", _points(68))
    row = row.rsplit(",", 1)[0] if cut == 1 else row + ",1.0"
    with pytest.raises(DataError, match=":2:"):
        load_ytf68(_ytf_folder(tmp_path, [_ytf_header(), row]))


def test_ytf68_non_numeric_coordinate(tmp_path):
    row = _ytf_row("Jane_Doe_00.jpg", _points(68)).replace(",0,", ",abc,", 1)
    with pytest.raises(DataError):
        load_ytf68(_ytf_folder(tmp_path, [_ytf_header(), row]))


def test_ytf68_missing_image(tmp_path):
    lines = [_ytf_header(), _ytf_row("Jane_Doe_00.jpg", _points(68)), _ytf_row("Gone_Person_01.jpg", _points(68))]
    with pytest.raises(DataError, match="Gone_Person_01.jpg"):
        load_ytf68(_ytf_folder(tmp_path, lines))


def test_ytf68_missing_csv_or_no_rows(tmp_path):
    with pytest.raises(DataError):
        load_ytf68(tmp_path / "nowhere")
    with pytest.raises(DataError):
        load_ytf68(_ytf_folder(tmp_path, [_ytf_header()]))


def test_load_image_of_vanished_file_raises_data_error(tmp_path):
    s = load_ytf68(_ytf_folder(tmp_path, [_ytf_header(), _ytf_row("Jane_Doe_00.jpg", _points(68))]))[0]
    s.image_path.unlink()
    with pytest.raises(DataError):
        s.load_image()


def _write_pts(path: Path, pts: np.ndarray, n_points: int | None = None) -> Path:
    n = len(pts) if n_points is None else n_points
    body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in pts)
    path.write_text(f"version: 1\nn_points:  {n}\n{{\n{body}\n}}\n")
    return path


def test_load_300w_converts_one_based_to_zero_based(tmp_path):
    pts = np.random.default_rng(0).uniform(1, 100, size=(68, 2)).round(3).astype(np.float32)
    _write_image(tmp_path / "helen" / "trainset" / "face_1.jpg")
    _write_pts(tmp_path / "helen" / "trainset" / "face_1.pts", pts)
    _write_image(tmp_path / "lfpw" / "face_2.png")
    _write_pts(tmp_path / "lfpw" / "face_2.pts", pts + 10)
    samples = load_300w(tmp_path)
    assert [s.name for s in samples] == ["helen/trainset/face_1", "lfpw/face_2"]
    assert samples[0].image_path == tmp_path / "helen" / "trainset" / "face_1.jpg"
    assert samples[1].image_path.suffix == ".png"
    assert samples[0].layout == "ibug68"
    assert samples[0].landmarks.dtype == np.float32 and samples[0].landmarks.shape == (68, 2)
    np.testing.assert_allclose(samples[0].landmarks, pts - 1.0, atol=1e-5)
    np.testing.assert_allclose(samples[1].landmarks, pts + 9.0, atol=1e-5)


def test_load_300w_errors(tmp_path):
    with pytest.raises(DataError):
        load_300w(tmp_path / "nowhere")
    with pytest.raises(DataError):
        load_300w(tmp_path)
    _write_pts(tmp_path / "orphan.pts", _points(68))
    with pytest.raises(DataError, match="orphan"):
        load_300w(tmp_path)


@pytest.mark.parametrize("text", ["version: 1\nn_points: 68\n1 2\n", "version: 1\n{\n1 2\n}\n", "n_points: 2\n{\n1 x\n3 4\n}\n"])
def test_load_300w_malformed_pts(tmp_path, text):
    _write_image(tmp_path / "a.jpg")
    (tmp_path / "a.pts").write_text(text)
    with pytest.raises(DataError):
        load_300w(tmp_path)


def test_load_300w_point_count_must_match_header(tmp_path):
    _write_image(tmp_path / "a.jpg")
    _write_pts(tmp_path / "a.pts", _points(67), n_points=68)
    with pytest.raises(DataError, match="68"):
        load_300w(tmp_path)


def _wflw_line(pts: np.ndarray, rel: str, box=(1, 2, 30, 40), attrs=(0, 1, 0, 0, 0, 1)) -> str:
    return " ".join([*(f"{v:g}" for v in pts.reshape(-1)), *map(str, box), *map(str, attrs), rel])


def test_load_wflw(tmp_path):
    images = tmp_path / "WFLW_images"
    _write_image(images / "51--Dresses" / "51_Dresses_1.jpg")
    _write_image(images / "0--Parade" / "0_Parade_2.jpg")
    pts = _points(98, 0.25)
    ann = tmp_path / "list_98pt_rect_attr_test.txt"
    ann.write_text(
        "\n".join([
            _wflw_line(pts, "51--Dresses/51_Dresses_1.jpg"),
            _wflw_line(pts + 1, "0--Parade/0_Parade_2.jpg"),
            "",
            _wflw_line(pts + 2, "51--Dresses/51_Dresses_1.jpg"),
        ]) + "\n"
    )
    samples = load_wflw(ann, images)
    assert len(samples) == 3
    assert {s.layout for s in samples} == {"wflw98"}
    assert samples[0].landmarks.shape == (98, 2) and samples[0].landmarks.dtype == np.float32
    np.testing.assert_array_equal(samples[0].landmarks, pts)
    np.testing.assert_array_equal(samples[2].landmarks, pts + 2)
    assert [s.person for s in samples] == ["51--Dresses", "0--Parade", "51--Dresses"]
    assert len({s.name for s in samples}) == 3
    assert samples[0].name == "51--Dresses/51_Dresses_1.jpg"
    assert samples[2].image_path == samples[0].image_path == images / "51--Dresses" / "51_Dresses_1.jpg"


@pytest.mark.parametrize("mutate", ["drop_attr", "extra", "missing_image", "non_numeric"])
def test_load_wflw_errors(tmp_path, mutate):
    _write_image(tmp_path / "img" / "a" / "b.jpg")
    line = _wflw_line(_points(98), "a/b.jpg")
    fields = line.split()
    if mutate == "drop_attr":
        fields = fields[:-2] + fields[-1:]
    elif mutate == "extra":
        fields = ["7"] + fields
    elif mutate == "missing_image":
        fields[-1] = "a/missing.jpg"
    else:
        fields[5] = "nan?"
    ann = tmp_path / "list.txt"
    ann.write_text(_wflw_line(_points(98), "a/b.jpg") + "\n" + " ".join(fields) + "\n")
    with pytest.raises(DataError, match=":2:"):
        load_wflw(ann, tmp_path / "img")


def test_load_wflw_missing_or_empty_list(tmp_path):
    with pytest.raises(DataError):
        load_wflw(tmp_path / "none.txt", tmp_path)
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataError):
        load_wflw(tmp_path / "empty.txt", tmp_path)


def test_committed_val_people_are_15_percent_of_ytf68_people(ytf68_samples):
    val = load_val_people()
    people = {s.person for s in ytf68_samples}
    assert len(val) == 42 == round(0.15 * len(people))
    assert val <= people
    assert not any(p.startswith("#") for p in val)


def test_train_val_split_is_person_disjoint(ytf68_samples):
    train, val = train_val(ytf68_samples)
    train_people, val_people = {s.person for s in train}, {s.person for s in val}
    assert not train_people & val_people
    assert val_people == load_val_people()
    assert len(train) + len(val) == len(ytf68_samples)
    assert 0.10 < len(val) / len(ytf68_samples) < 0.20


def test_split_by_person_reproduces_the_committed_list(ytf68_samples):
    people = [s.person for s in ytf68_samples]
    shuffled = people[:]
    random.Random(3).shuffle(shuffled)
    first = split_by_person(people, 0.15)
    assert first == split_by_person(shuffled, 0.15) == split_by_person(sorted(set(people)))
    assert first == load_val_people()


def test_split_by_person_depends_on_seed_and_fraction():
    people = [f"Person_{i}" for i in range(100)]
    a = split_by_person(people, 0.2)
    assert len(a) == 20 and a <= set(people)
    assert split_by_person(people, 0.2, seed="other") != a
    assert split_by_person(people, 0.0) == set()
    assert split_by_person(people, 1.0) == set(people)


def test_train_val_with_explicit_people():
    samples = [FaceSample(Path(f"{p}.jpg"), np.zeros((68, 2), np.float32), "ibug68", f"{p}{i}", p)
               for i, p in enumerate(["A", "B", "A", "C"])]
    train, val = train_val(samples, {"A"})
    assert [s.name for s in val] == ["A0", "A2"]
    assert [s.name for s in train] == ["B1", "C3"]
