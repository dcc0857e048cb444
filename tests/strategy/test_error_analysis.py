"""Error analysis (course 3, 2.1-2.2): misclassified dev examples with their predictions, tags
by hand through a CSV round trip or in code, counts per tag with the ceiling each fix could
reach, and the worst examples as an image grid."""

import csv

import numpy as np
import pytest

from dlkit.strategy.error_analysis import ErrorTable, misclassified, plot_worst


def dev_set(m=1000, errors=100, classes=2, seed=0):
    """Outputs with exactly ``errors`` wrong predictions out of ``m`` (a 10% dev error)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, m)
    if classes == 2:
        z = np.where(labels == 1, 1.0, -1.0) * rng.uniform(0.5, 3.0, m)
        z[:errors] *= -1  # the first `errors` examples are confidently wrong by various amounts
        return z[:, None], labels[:, None].astype(np.float32)
    z = rng.standard_normal((m, classes))
    z[np.arange(m), labels] += 10
    wrong = (labels[:errors] + 1) % classes
    z[np.arange(errors), wrong] += 20 + rng.uniform(0, 5, errors)
    return z, labels


def test_misclassified_lists_the_errors_worst_first():
    z, y = dev_set()
    table = misclassified(z, y)
    assert len(table) == 100 and table.n_errors == 100 and table.n_examples == 1000
    assert table.dev_error == pytest.approx(0.10)
    assert sorted(table.indices) == list(range(100))
    losses = [r.loss for r in table]
    assert losses == sorted(losses, reverse=True)
    worst = table.rows[0]
    assert worst.predicted != worst.label
    assert worst.p_label == pytest.approx(1 / (1 + np.exp(abs(z[worst.index, 0]))))
    assert worst.p_predicted == pytest.approx(1 - worst.p_label)
    zm, ym = dev_set(500, 40, classes=5, seed=1)
    t = misclassified(zm, ym, limit=10)
    assert len(t) == 10 and t.n_errors == 40 and all(r.label != r.predicted for r in t)
    sample = misclassified(zm, ym, limit=10, sample="random")
    assert len(sample) == 10 and set(sample.indices) <= set(range(40))
    one_hot = misclassified(zm, np.eye(5)[ym])
    assert list(one_hot.indices) == list(misclassified(zm, ym).indices)


def test_tags_in_code_and_the_notes_ceiling():
    z, y = dev_set()
    dogs = list(range(5))
    table = misclassified(z, y, tags={i: ["dog"] for i in dogs})
    table.tag(range(10, 53), "great_cat")
    table.tag(range(20, 81), "blurry", comment="rainy day")
    s = table.summary()
    counts = {c.tag: c for c in s.counts}
    # 5 of 100 errors are dogs: fixing them all takes the error from 10% to 9.5% at best
    assert counts["dog"].count == 5 and counts["dog"].share == pytest.approx(0.05)
    assert counts["dog"].ceiling == pytest.approx(0.005)
    assert counts["dog"].error_after == pytest.approx(0.095)
    assert counts["great_cat"].share == pytest.approx(0.43)
    assert counts["blurry"].share == pytest.approx(0.61)
    assert [c.tag for c in s.counts] == ["blurry", "great_cat", "dog"]
    text = str(s)
    assert "ceiling" in text and "9.50%" in text and "overall dev error 10.00%" in text
    with pytest.raises(KeyError, match=r"examples \[500\] are not among the errors"):
        table.tag(500, "dog")


def test_csv_round_trip_with_hand_tags(tmp_path):
    z, y = dev_set()
    table = misclassified(z, y)
    path = table.to_csv(tmp_path / "errors.csv", tags=["dog", "great_cat", "blurry",
                                                         "incorrectly_labeled"])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert header[:6] == ["index", "label", "predicted", "p_predicted", "p_label", "loss"]
    assert header[6:] == ["dog", "great_cat", "blurry", "incorrectly_labeled", "tags",
                          "comment"]
    assert rows[-1][0].startswith("# n_examples=1000")
    # the user ticks columns in a spreadsheet, adds an "instagram" column half-way, writes
    # free-form tags and comments, and sorts the rows by index
    body = sorted(rows[1:-1], key=lambda r: int(r[0]))
    header.insert(-2, "instagram")
    col = {name: i for i, name in enumerate(header)}
    edited = [header]
    for r in body:
        r.insert(col["instagram"], "")
        i = int(r[0])
        if i < 8:
            r[col["dog"]] = "✓"
        if 50 <= i < 93:
            r[col["great_cat"]] = "x"
        if i >= 39:
            r[col["blurry"]] = "1"
        if i in (97, 99) or 90 <= i < 94:
            r[col["incorrectly_labeled"]] = "yes"
        if 10 <= i < 22:
            r[col["instagram"]] = "X"
        if i == 3:
            r[col["blurry"]] = "no"
            r[col["tags"]] = "pitbull; dark"
            r[col["comment"]] = "Pitbull, looks like a cat"
        edited.append(r)
    edited.append(rows[-1])
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f).writerows(edited)
    back = ErrorTable.from_csv(path)
    assert len(back) == 100 and back.n_examples == 1000 and back.n_errors == 100
    by_index = {r.index: r for r in back}
    assert by_index[3].tags == {"dog", "pitbull", "dark"}
    assert by_index[3].comment == "Pitbull, looks like a cat"
    assert by_index[15].tags == {"instagram"}
    original = {r.index: r for r in table}
    assert by_index[42].p_label == pytest.approx(original[42].p_label, abs=1e-6)
    counts = {c.tag: c for c in back.summary().counts}
    assert counts["dog"].share == pytest.approx(0.08)
    assert counts["great_cat"].share == pytest.approx(0.43)
    assert counts["blurry"].share == pytest.approx(0.61)
    assert counts["instagram"].share == pytest.approx(0.12)
    assert counts["incorrectly_labeled"].count == 6
    text = str(back.summary())
    # 6% of a 10% error is due to incorrect labels: 0.6%, other causes 9.4% (the notes)
    assert "incorrect labels 0.60%" in text and "other causes 9.40%" in text
    # a second round trip keeps everything
    again = ErrorTable.from_csv(back.to_csv(tmp_path / "again.csv"))
    assert {r.index: r.tags for r in again} == {r.index: r.tags for r in back}


def test_csv_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        ErrorTable.from_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match="does not start with the columns index, label"):
        ErrorTable.from_csv(bad)
    z, y = dev_set(50, 5)
    path = misclassified(z, y).to_csv(tmp_path / "e.csv")
    text = path.read_text().replace("\n", "\nnot-a-number,0,1,0.5,0.5,0.7,,\n", 1)
    path.write_text(text)
    with pytest.raises(ValueError, match="line 2"):
        ErrorTable.from_csv(path)


def test_worst_examples_as_an_image_grid(tmp_path):
    pytest.importorskip("matplotlib")
    imread = pytest.importorskip("matplotlib.image").imread
    rng = np.random.default_rng(0)
    z, y = dev_set(60, 12, classes=3)
    table = misclassified(z, y)
    table.tag(table.rows[0].index, "blurry")
    gray = rng.random((60, 8, 8))
    color = rng.random((60, 8, 8, 3))
    for images, kwargs in ((gray, {}), (color, {"class_names": ["cat", "dog", "lion"]}),
                           (gray.reshape(60, 64), {"image_shape": (8, 8)})):
        path = plot_worst(images, table, tmp_path / "worst.png", n=9, columns=3, **kwargs)
        assert imread(path).shape[0] > 100
    with pytest.raises(ValueError, match="pass image_shape"):
        plot_worst(gray.reshape(60, 64), table, tmp_path / "x.png")
    with pytest.raises(ValueError, match="only 5 images"):
        plot_worst(gray[:5], table, tmp_path / "x.png")
