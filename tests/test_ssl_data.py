"""Datasets: every loader on small fixture files written here, splits that never overlap, clear
errors for bad files, and the label-augmentation sampler (M = label)."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from ssltheory.ssl import data as D
from ssltheory.ssl.data import SameLabelSampler, Split, load_dataset, read_idx, split_train_val, stratified_indices


@pytest.fixture(autouse=True)
def _one_thread():
    """These tests are small: one torch thread beats two on the shared two-core machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# ----------------------------------------------------------------------------------------------
# fixtures written in tmp_path


def write_idx(path: Path, array: np.ndarray, gz: bool, truncate: int = 0, magic: int | None = None):
    header = (magic if magic is not None else 0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    raw = raw[: len(raw) - truncate]
    if gz:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)


def mnist_tree(root: Path, gz: bool, n_train=40, n_test=20):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    root.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        write_idx(root / name, arr, gz)
    return arrays


def cifar_tree(root: Path, per_batch=6):
    rng = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
        }
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))
        batches[name] = batch
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (root / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return batches


def save_png(path: Path, array: np.ndarray):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


# ----------------------------------------------------------------------------------------------
# patches (embedded)


def test_patches_default_shapes_and_balanced_labels():
    ds = load_dataset("patches", n_per_class=(20, 5, 10))
    assert ds.channels == 3 and ds.image_size == 32 and ds.n_classes == len(D.PATCH_SOURCES) == 10
    for split, n in ((ds.train, 20), (ds.val, 5), (ds.test, 10)):
        assert split.images.dtype == torch.uint8 and split.images.shape[1:] == (3, 32, 32)
        assert np.bincount(split.labels.numpy()).tolist() == [n] * 10
    again = load_dataset("patches", n_per_class=(20, 5, 10))
    assert torch.equal(ds.test.images, again.test.images)  # fixed seed


def test_patch_splits_cover_disjoint_pixels_of_each_source(monkeypatch):
    """Test patches are not crops of training patches: a fake source whose pixels encode their own
    coordinates lets us enumerate the exact pixels each split used."""
    import skimage.data

    h, w = 256, 384
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coded = np.stack([yy, xx % 256, xx // 256], axis=2).astype(np.uint8)
    monkeypatch.setattr(skimage.data, "coded_a", lambda: coded, raising=False)
    monkeypatch.setattr(skimage.data, "coded_b", lambda: coded, raising=False)
    (tr, va, te), _ = D.load_patches(sources=("coded_a", "coded_b"), n_per_class=(300, 60, 60), seed=3)
    used = []
    for split in (tr, va, te):
        mask = np.zeros((2, h, w), dtype=bool)
        for img, label in zip(split.images.numpy(), split.labels.numpy()):
            y0, x0 = int(img[0, 0, 0]), int(img[1, 0, 0]) + 256 * int(img[2, 0, 0])
            # the patch is an unmodified window of the source
            assert np.array_equal(img.transpose(1, 2, 0), coded[y0 : y0 + 32, x0 : x0 + 32])
            mask[label, y0 : y0 + 32, x0 : x0 + 32] = True
        used.append(mask)
    assert not (used[0] & used[2]).any() and not (used[1] & used[2]).any() and not (used[0] & used[1]).any()


def test_patches_bad_source_is_named():
    with pytest.raises(ValueError, match="no_such_picture"):
        D.load_patches(sources=("astronaut", "no_such_picture"))


# ----------------------------------------------------------------------------------------------
# digits


def test_digits_native_8x8_stratified_disjoint_splits():
    ds = load_dataset("digits")
    assert ds.image_size == 8 and ds.channels == 1
    sizes = [len(ds.train), len(ds.val), len(ds.test)]
    assert sum(sizes) == 1797 and len(ds.test) == pytest.approx(0.2 * 1797, abs=10)
    rows = {s: {tuple(x.flatten().tolist()) for x in getattr(ds, s).images} for s in ("train", "test")}
    # sklearn's digits has a few exact duplicate images; almost all test images are unseen
    assert len(rows["test"] & rows["train"]) <= 5
    assert ds.train.images.max() == 255
    up = load_dataset("digits", image_size=16)
    assert up.image_size == 16 and up.train.images.shape[1:] == (1, 16, 16)


# ----------------------------------------------------------------------------------------------
# MNIST idx


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_fixture_roundtrip(tmp_path, gz):
    arrays = mnist_tree(tmp_path, gz)
    ds = load_dataset("mnist", tmp_path, val_fraction=0.25)
    assert len(ds.train) + len(ds.val) == 40 and len(ds.test) == 20
    assert torch.equal(ds.test.images[:, 0], torch.from_numpy(arrays["t10k-images-idx3-ubyte"].astype(np.uint8)))
    assert ds.test.labels.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    # train + val is a partition of the training file
    both = torch.cat([ds.train.images, ds.val.images]).reshape(40, -1)
    original = torch.from_numpy(arrays["train-images-idx3-ubyte"].astype(np.uint8)).reshape(40, -1)
    assert sorted(map(tuple, both.tolist())) == sorted(map(tuple, original.tolist()))


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_idx_names_the_file(tmp_path, gz):
    mnist_tree(tmp_path, gz)
    name = "train-images-idx3-ubyte"
    write_idx(tmp_path / name, np.zeros((40, 28, 28)), gz, truncate=100)
    with pytest.raises(ValueError, match=name):
        load_dataset("mnist", tmp_path)


def test_bad_magic_and_count_mismatch_are_errors(tmp_path):
    write_idx(tmp_path / "x", np.zeros((3, 4, 4)), False, magic=0x0900 + 3)
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "x", 3)
    mnist_tree(tmp_path / "m", False)
    write_idx(tmp_path / "m" / "t10k-labels-idx1-ubyte", np.zeros(19), False)
    with pytest.raises(ValueError, match="20 images but .* 19 labels"):
        load_dataset("mnist", tmp_path / "m")


def test_real_mnist_sizes_and_label_counts(mnist_dir):
    ds = load_dataset("mnist", mnist_dir)
    assert len(ds.train) + len(ds.val) == 60000 and len(ds.test) == 10000
    counts = np.bincount(torch.cat([ds.train.labels, ds.val.labels]).numpy())
    assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(ds.test.labels.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert ds.mean[0] == pytest.approx(0.1307, abs=2e-3)


# ----------------------------------------------------------------------------------------------
# CIFAR-10 pickles


def test_cifar10_fixture_layout_and_names(tmp_path):
    batches = cifar_tree(tmp_path / "cifar-10-batches-py")
    ds = load_dataset("cifar10", tmp_path, val_fraction=0.0)
    assert ds.class_names[0] == "airplane" and ds.image_size == 32 and ds.channels == 3
    raw = batches["test_batch"][b"data"]
    # channel c, row r, column s is entry c * 1024 + r * 32 + s of a row
    for i, c, r, s in [(0, 0, 0, 0), (1, 2, 31, 5), (5, 1, 7, 30)]:
        assert ds.test.images[i, c, r, s] == raw[i, c * 1024 + r * 32 + s]
    assert ds.test.labels.tolist() == batches["test_batch"][b"labels"]
    assert len(ds.train) == 30


def test_cifar_pickle_with_code_is_refused(tmp_path):
    cifar_tree(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "data_batch_3").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(ValueError, match="data_batch_3"):
        load_dataset("cifar10", tmp_path)


# ----------------------------------------------------------------------------------------------
# TinyImageNet and ImageFolder trees


def test_tinyimagenet_fixture_tree(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    wnids = ["n001", "n002"]
    (tmp_path / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (tmp_path / "words.txt").write_text("n001\tgoldfish\nn002\ttabby cat\n")
    for w in wnids:
        for i in range(3):
            path = tmp_path / "train" / w / "images" / f"{w}_{i}.JPEG"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, "JPEG")
    (tmp_path / "val" / "images").mkdir(parents=True)
    lines = []
    for i, w in enumerate(["n002", "n001", "n002"]):
        Image.fromarray(np.full((64, 64), 100, np.uint8)).save(tmp_path / "val" / "images" / f"val_{i}.JPEG", "JPEG")
        lines.append(f"val_{i}.JPEG\t{w}\t0\t0\t10\t10")
    (tmp_path / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    ds = load_dataset("tinyimagenet", tmp_path, val_fraction=0.34)
    assert ds.class_names == ("goldfish", "tabby cat")
    assert ds.test.labels.tolist() == [1, 0, 1]
    assert ds.test.images.shape == (3, 3, 64, 64)  # grey JPEGs become RGB
    assert len(ds.train) + len(ds.val) == 6 and len(ds.val) == 2
    assert ds.mean == D.IMAGENET_MEAN


def test_folder_tree_exact_pixels_and_split(tmp_path):
    rng = np.random.default_rng(3)
    stored = {}
    for c in ("cats", "dogs", "eels"):
        for i in range(10):
            arr = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
            save_png(tmp_path / c / f"{i}.png", arr)
            stored[arr.tobytes()] = c
    ds = load_dataset("folder", tmp_path, test_fraction=0.2, val_fraction=0.25)
    assert ds.class_names == ("cats", "dogs", "eels") and ds.image_size == 12
    seen = 0
    for split in (ds.train, ds.val, ds.test):
        for img, label in zip(split.images, split.labels):
            assert stored[img.permute(1, 2, 0).numpy().tobytes()] == ds.class_names[label]
            seen += 1
    assert seen == 30 and np.bincount(ds.test.labels.numpy()).tolist() == [2, 2, 2]


def test_folder_mismatched_sizes_error_or_explicit_resize(tmp_path):
    save_png(tmp_path / "a" / "0.png", np.zeros((8, 8), np.uint8))
    save_png(tmp_path / "a" / "1.png", np.zeros((8, 8), np.uint8))
    save_png(tmp_path / "b" / "0.png", np.zeros((10, 6), np.uint8))
    save_png(tmp_path / "b" / "1.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"different sizes.*0\.png is 8x8 but .*b.0\.png is 10x6"):
        load_dataset("folder", tmp_path, test_fraction=0.5)
    ds = load_dataset("folder", tmp_path, test_fraction=0.5, val_fraction=0.0, image_size=8)
    assert ds.channels == 1 and ds.image_size == 8


def test_folder_train_test_layout(tmp_path):
    for split, n in (("train", 4), ("test", 2)):
        for c in ("x", "y"):
            for i in range(n):
                save_png(tmp_path / split / c / f"{i}.png", np.full((5, 5, 3), 40 * i, np.uint8))
    ds = load_dataset("folder", tmp_path, val_fraction=0.25)
    assert len(ds.test) == 4 and len(ds.train) + len(ds.val) == 8 and len(ds.val) == 2


def test_bad_names_and_missing_dirs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        load_dataset("imagenet21k")
    with pytest.raises(ValueError, match="data_dir is required"):
        load_dataset("cifar10")
    with pytest.raises(ValueError, match="not a directory"):
        load_dataset("mnist", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="train-images"):
        load_dataset("mnist", tmp_path)


# ----------------------------------------------------------------------------------------------
# splits and sampling


def test_split_train_val_example():
    labels = torch.tensor([0] * 10 + [1] * 5 + [2])
    split = Split(torch.zeros(16, 1, 2, 2, dtype=torch.uint8), labels)
    tr, va = split_train_val(split, 0.2, seed=0)
    assert np.bincount(va.labels.numpy(), minlength=3).tolist() == [2, 1, 0]  # the singleton stays in train
    assert len(tr) == 13


@given(st.lists(st.integers(0, 4), min_size=1, max_size=60), st.floats(0.05, 1.0), st.integers(0, 10))
def test_stratified_indices_take_the_stated_count_per_class(labels, fraction, seed):
    labels = np.array(labels)
    chosen = stratified_indices(labels, fraction, seed)
    assert len(set(chosen.tolist())) == len(chosen)
    for c in np.unique(labels):
        n_c = int((labels == c).sum())
        expected = min(n_c, max(1, int(round(fraction * n_c))))
        assert int((labels[chosen] == c).sum()) == expected
    assert np.array_equal(chosen, stratified_indices(labels, fraction, seed))


def test_same_label_sampler_example():
    labels = [0, 1, 0, 2, 1, 0]
    partners = SameLabelSampler(labels)(generator=torch.Generator().manual_seed(0)).tolist()
    assert partners[3] == 3  # label 2 is a singleton
    for i, j in enumerate(partners):
        if i != 3:
            assert labels[j] == labels[i] and j != i


@given(st.lists(st.integers(0, 5), min_size=1, max_size=40), st.integers(0, 2**16))
def test_same_label_partner_is_another_member_of_the_class(labels, seed):
    sampler = SameLabelSampler(labels)
    partners = sampler(generator=torch.Generator().manual_seed(seed)).tolist()
    for i, j in enumerate(partners):  # checked against the label list directly
        members = [m for m, lab in enumerate(labels) if lab == labels[i]]
        assert j in members
        assert (j != i) if len(members) > 1 else (j == i)
    again = sampler(generator=torch.Generator().manual_seed(seed)).tolist()
    assert again == partners


def test_same_label_sampler_reaches_every_other_member_uniformly():
    labels = [7] * 5 + [3] * 2
    sampler = SameLabelSampler(labels)
    gen = torch.Generator().manual_seed(1)
    draws = sampler(torch.zeros(4000, dtype=torch.long), generator=gen).numpy()
    counts = np.bincount(draws, minlength=7)
    assert counts[0] == 0 and counts[5:].sum() == 0
    assert np.all(np.abs(counts[1:5] - 1000) < 150)  # 4 equally likely others
    with pytest.raises(ValueError, match="indices must be in"):
        sampler([7])
    with pytest.raises(ValueError, match="integers"):
        SameLabelSampler([0.5, 1.0])
