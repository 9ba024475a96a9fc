"""Finding data files (path, $CHAINRULE_DATA, cache, download), CIFAR-10's three
layouts with the safe unpickler, and make_income_debt. Nothing here touches the
network: downloads go through a monkeypatched fetcher."""
import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from chainrule.datasets import (
    ChecksumError,
    DatasetNotFoundError,
    _files,
    cifar10,
    find_file,
    make_income_debt,
    mnist,
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """A fresh home (so the cache is empty), no $CHAINRULE_DATA, and a fetcher that fails."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.delenv("CHAINRULE_OFFLINE", raising=False)

    def no_network(url, out):
        raise AssertionError(f"a test tried to download {url}")
    monkeypatch.setattr(_files, "_fetch", no_network)
    return home


def _cache(home):
    return home / ".chainrule" / "datasets"


def _write(path, content=b"some bytes"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _fake_fetch(content, calls):
    def fetch(url, out):
        calls.append(url)
        out.write(content)
    return fetch


# ---------------------------------------------------------------- find_file


def test_path_argument_file_or_folder(tmp_path):
    f = _write(tmp_path / "data" / "thing.bin")
    assert find_file("thing.bin", f) == f
    assert find_file("thing.bin", tmp_path / "data") == f
    assert find_file("thing.bin", str(tmp_path / "data")) == f


def test_environment_variable_folder_file_and_list(tmp_path, monkeypatch):
    f = _write(tmp_path / "b" / "thing.bin")
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "b"))
    assert find_file("thing.bin") == f
    monkeypatch.setenv("CHAINRULE_DATA", str(f))
    assert find_file("thing.bin") == f
    monkeypatch.setenv("CHAINRULE_DATA", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    assert find_file("thing.bin") == f


def test_order_path_then_env_then_cache(tmp_path, monkeypatch, _isolated):
    in_cache = _write(_cache(_isolated) / "thing.bin")
    in_env = _write(tmp_path / "env" / "thing.bin")
    given = _write(tmp_path / "given" / "thing.bin")
    assert find_file("thing.bin") == in_cache
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    assert find_file("thing.bin") == in_env
    assert find_file("thing.bin", tmp_path / "given") == given


def test_alternative_names_are_tried_in_order_and_may_be_folders(tmp_path):
    (tmp_path / "batches").mkdir()
    _write(tmp_path / "archive.tar.gz")
    assert find_file(("batches", "archive.tar.gz"), tmp_path) == tmp_path / "batches"
    assert find_file(("missing", "archive.tar.gz"), tmp_path) == tmp_path / "archive.tar.gz"


def test_missing_file_message_names_every_place_and_where_to_put_it(tmp_path, monkeypatch,
                                                                   _isolated):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "envdir"))
    with pytest.raises(DatasetNotFoundError) as info:
        find_file("thing.bin", tmp_path / "nowhere", url="https://example.org/thing.bin",
                  download=False)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "nowhere") in message
    assert str(tmp_path / "envdir") in message
    assert str(_cache(_isolated) / "thing.bin") in message
    assert "download=False" in message and "https://example.org/thing.bin" in message
    assert f"Put thing.bin in {_cache(_isolated)}" in message


def test_offline_environment_variable_blocks_the_download(monkeypatch):
    monkeypatch.setenv("CHAINRULE_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match=r"CHAINRULE_OFFLINE is set"):
        find_file("thing.bin", url="https://example.org/thing.bin")
    with pytest.raises(DatasetNotFoundError, match=r"no address to download it from"):
        find_file("thing.bin")


@pytest.mark.parametrize("value, allowed", [("", True), ("0", True), ("false", True),
                                             ("1", False), ("yes", False), ("TRUE", False)])
def test_offline_flag_values(value, allowed, monkeypatch):
    monkeypatch.setenv("CHAINRULE_OFFLINE", value)
    assert _files.download_allowed() is allowed
    assert _files.download_allowed(True) is True and _files.download_allowed(False) is False


def test_download_lands_checked_and_atomically_in_the_cache(monkeypatch, _isolated):
    content = b"the real file"
    calls = []
    monkeypatch.setattr(_files, "_fetch", _fake_fetch(content, calls))
    digest = hashlib.sha256(content).hexdigest()
    got = find_file("thing.bin", url="https://example.org/thing.bin", sha256=digest)
    assert got == _cache(_isolated) / "thing.bin"
    assert got.read_bytes() == content
    assert calls == ["https://example.org/thing.bin"]
    assert sorted(p.name for p in got.parent.iterdir()) == ["thing.bin"]   # no .part left
    # The second call finds the cached copy and does not download again.
    assert find_file("thing.bin", url="https://example.org/thing.bin", sha256=digest) == got
    assert len(calls) == 1


def test_download_with_the_wrong_checksum_is_refused_and_not_kept(monkeypatch, _isolated):
    monkeypatch.setattr(_files, "_fetch", _fake_fetch(b"truncated", []))
    with pytest.raises(ChecksumError, match=r"SHA-256 [0-9a-f]{64}, expected 0{64}"):
        find_file("thing.bin", url="https://example.org/thing.bin", sha256="0" * 64,
                  download=True)
    assert not _cache(_isolated).exists() or list(_cache(_isolated).iterdir()) == []


def test_a_failed_download_says_why_and_where_to_put_the_file(monkeypatch):
    def unreachable(url, out):
        raise OSError("network is unreachable")
    monkeypatch.setattr(_files, "_fetch", unreachable)
    with pytest.raises(DatasetNotFoundError, match=r"failed \(network is unreachable\)"):
        find_file("thing.bin", url="https://example.org/thing.bin")


def test_cached_file_with_the_wrong_checksum_is_an_error(_isolated):
    _write(_cache(_isolated) / "thing.bin", b"corrupted")
    with pytest.raises(ChecksumError, match=r"cached file .*thing\.bin has SHA-256"):
        find_file("thing.bin", sha256="f" * 64)
    assert find_file("thing.bin", sha256={"other.bin": "f" * 64}).name == "thing.bin"


def test_files_given_by_the_user_are_not_checksummed(tmp_path):
    f = _write(tmp_path / "thing.bin", b"a small test copy")
    assert find_file("thing.bin", f, sha256="0" * 64) == f


# ---------------------------------------------------------------- MNIST


def _fake_mnist(path):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
             y_train=np.arange(6, dtype=np.uint8), x_test=np.zeros((2, 28, 28), np.uint8),
             y_test=np.array([3, 4], np.uint8))


def test_mnist_reads_the_cache_and_offline_says_where(monkeypatch, _isolated):
    monkeypatch.setenv("CHAINRULE_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match=r"mnist\.npz was not found"):
        mnist.load_data()
    # A file in the cache must be a known MNIST file: a fake one is refused...
    _cache(_isolated).mkdir(parents=True)
    _fake_mnist(_cache(_isolated) / "mnist.npz")
    with pytest.raises(ChecksumError, match="mnist.npz has SHA-256"):
        mnist.load_data()


def test_mnist_download_is_checked_against_keras_digest(monkeypatch, _isolated):
    buffer = io.BytesIO()
    _fake_mnist(buffer)
    calls = []
    monkeypatch.setattr(_files, "_fetch", _fake_fetch(buffer.getvalue(), calls))
    with pytest.raises(ChecksumError, match="731c5ac602752760c8e48fbffcf8c3b850d9dc2a"):
        mnist.load_data()
    assert calls == [mnist.URL]
    monkeypatch.setattr(mnist, "SHA256", (hashlib.sha256(buffer.getvalue()).hexdigest(),))
    (x_train, _), (_, y_test) = mnist.load_data()
    assert x_train.shape == (6, 28, 28) and y_test.tolist() == [3, 4]
    assert (_cache(_isolated) / "mnist.npz").is_file()


def test_shared_mnist_copy_has_an_accepted_digest():
    shared = "/work/shared/data/mnist.npz"
    if not os.path.exists(shared):
        pytest.skip("no shared mnist.npz")
    assert _files.sha256sum(shared) in mnist.SHA256


# ---------------------------------------------------------------- CIFAR-10


def _batch_bytes(images, labels, protocol=4):
    """An official-layout batch: rows of 1024 R, 1024 G, 1024 B values."""
    data = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    # Python 2 wrote the keys as byte strings; protocol 4 keeps them bytes here.
    batch = {b"batch_label": b"fake", b"labels": [int(v) for v in labels], b"data": data,
             b"filenames": [b"img.png"] * len(labels)}
    return pickle.dumps(batch, protocol=protocol)


def _fake_cifar_batches(rng):
    batches = {}
    for i, name in enumerate(cifar10.TRAIN_BATCHES + (cifar10.TEST_BATCH,)):
        images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
        labels = np.array([i, (i + 1) % 10, 9], np.uint8)
        batches[name] = (images, labels)
    return batches


def _expected(batches):
    train = [batches[n] for n in cifar10.TRAIN_BATCHES]
    return (np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train]),
            *batches[cifar10.TEST_BATCH])


def _check_cifar(loaded, batches):
    (x_train, y_train), (x_test, y_test) = loaded
    ex_train, ey_train, ex_test, ey_test = _expected(batches)
    assert x_train.shape == (15, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (15, 1) and y_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, ex_train)
    np.testing.assert_array_equal(y_train.ravel(), ey_train)
    np.testing.assert_array_equal(x_test, ex_test)
    np.testing.assert_array_equal(y_test.ravel(), ey_test)


def test_cifar_official_folder(tmp_path, rng):
    batches = _fake_cifar_batches(rng)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, (images, labels) in batches.items():
        (folder / name).write_bytes(_batch_bytes(images, labels))
    _check_cifar(cifar10.load_data(folder), batches)
    _check_cifar(cifar10.load_data(tmp_path), batches)        # the folder holding it


def test_cifar_official_archive_read_in_place(tmp_path, rng, monkeypatch):
    batches = _fake_cifar_batches(rng)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, (images, labels) in batches.items():
            data = _batch_bytes(images, labels)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    _check_cifar(cifar10.load_data(archive), batches)
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    _check_cifar(cifar10.load_data(), batches)
    assert not (tmp_path / "cifar-10-batches-py").exists()    # nothing unpacked


def test_cifar_npz_layout(tmp_path, rng):
    x = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "cifar10_partial.npz", x_train=x, y_train=np.array([6, 8, 6, 8]),
             x_test=x[:2], y_test=np.array([8, 6]), class_names=np.array(cifar10.class_names))
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(tmp_path)
    np.testing.assert_array_equal(x_train, x)
    np.testing.assert_array_equal(x_test, x[:2])
    assert y_train.shape == (4, 1) and y_train.dtype == np.uint8
    assert y_test.ravel().tolist() == [8, 6]
    assert cifar10.class_names[6] == "frog" and cifar10.class_names[8] == "ship"


def test_shared_partial_cifar_matches_its_readme():
    shared = "/work/shared/data/cifar10_partial.npz"
    if not os.path.exists(shared):
        pytest.skip("no shared cifar10_partial.npz")
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(shared)
    assert x_train.shape == (5169, 32, 32, 3) and x_test.shape == (1017, 32, 32, 3)
    assert y_train[:10].ravel().tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert np.bincount(y_test.ravel())[[6, 8]].tolist() == [114, 110]


def _python2_batch(data, labels):
    """{'data': uint8 array, 'labels': [...]} pickled as Python 2 wrote the official batches
    (protocol 2, str keys as byte strings, the array through numpy.core.multiarray)."""
    def string(b):
        return b"U" + bytes([len(b)]) + b
    raw = data.tobytes()
    out = b"\x80\x02}(" + string(b"data")
    out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + string(b"b")
    out += b"\x87R(K\x01J" + struct.pack("<i", data.shape[0])
    out += b"M" + struct.pack("<H", data.shape[1]) + b"\x86"
    out += b"cnumpy\ndtype\n" + string(b"u1") + b"K\x00K\x01\x87R"
    out += b"(K\x03" + string(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    out += b"\x89T" + struct.pack("<I", len(raw)) + raw + b"tb"
    out += string(b"labels") + b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"eu."
    return out


def test_cifar_reads_python2_pickles_like_the_official_files(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rows = {}
    for i, name in enumerate(cifar10.TRAIN_BATCHES + (cifar10.TEST_BATCH,)):
        rows[name] = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
        (folder / name).write_bytes(_python2_batch(rows[name], [i, 9 - i]))
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(folder)
    assert x_train.shape == (10, 32, 32, 3) and y_train.ravel().tolist()[:4] == [0, 9, 1, 8]
    # Row layout: 1024 red, then 1024 green, then 1024 blue values, each 32x32 row-major.
    first = rows["data_batch_1"][0]
    np.testing.assert_array_equal(x_train[0, :, :, 0], first[:1024].reshape(32, 32))
    np.testing.assert_array_equal(x_train[0, :, :, 2], first[2048:].reshape(32, 32))
    np.testing.assert_array_equal(x_test[1, :, :, 1], rows["test_batch"][1, 1024:2048].reshape(32, 32))
    assert y_test.ravel().tolist() == [5, 4]


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar_batches_never_run_code(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, (images, labels) in _fake_cifar_batches(rng).items():
        (folder / name).write_bytes(_batch_bytes(images, labels))
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": _Evil(), b"labels": []}))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load .*system"):
        cifar10.load_data(folder)


def test_cifar_incomplete_folder_and_offline_message(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"data_batch_2.*test_batch missing"):
        cifar10.load_data(folder)
    monkeypatch.setenv("CHAINRULE_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError,
                       match=r"cifar-10-batches-py or cifar-10-python\.tar\.gz"):
        cifar10.load_data(tmp_path / "elsewhere")


# ---------------------------------------------------------------- make_income_debt


def test_income_debt_ranges_labels_and_the_true_line():
    X, y = make_income_debt(500, seed=3)
    assert X.shape == (500, 2) and y.shape == (500,)
    assert X.min() >= 0 and X.max() <= 100000
    assert set(np.unique(y)) == {-1, 1}
    score = 2 * X[:, 0] - X[:, 1] - 30000
    np.testing.assert_array_equal(y, np.where(score > 0, 1, -1))
    # Uniform in the square: 60% of it lies on the +1 side (1 - (0.5 + 0.3)/2 in units of 1e5).
    assert 0.52 < np.mean(y == 1) < 0.68


def test_income_debt_is_reproducible_by_seed():
    a, b = make_income_debt(20, seed=1), make_income_debt(20, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], make_income_debt(20, seed=2)[0])


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_income_debt_rejects_a_bad_n(n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        make_income_debt(n)
