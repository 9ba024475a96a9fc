"""model.save / cr.load_model / save_weights: round trips, atomic writes, bad files."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers


def _trained(rng, kind="sequential"):
    cr.set_seed(0)
    if kind == "sequential":
        model = cr.Sequential([cr.Input((4,)), layers.Dense(8, activation="relu"),
                               layers.BatchNormalization(), layers.Dropout(0.2),
                               layers.Dense(3, activation="softmax")])
    else:
        x = cr.Input((4,))
        h = layers.Dense(8, activation="relu")(x)
        model = cr.Model(x, layers.Dense(3, activation="softmax")(layers.Add()([h, h])))
    model.compile(cr.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    x, y = rng.normal(size=(32, 4)).astype(np.float32), rng.integers(0, 3, 32)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model, x, y


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("suffix", [".chainrule", ".keras"])
def test_save_load_round_trip(rng, tmp_path, kind, suffix):
    model, x, y = _trained(rng, kind)
    path = tmp_path / f"net{suffix}"
    model.save(path)
    loaded = cr.load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    # compile state: optimizer with its state, loss, metrics
    assert type(loaded.optimizer) is cr.optimizers.Adam
    assert loaded.optimizer.learning_rate == pytest.approx(0.01)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 8
    saved_state = model.optimizer.get_state(model.trainable_weights)
    loaded_state = loaded.optimizer.get_state(loaded.trainable_weights)
    assert saved_state.keys() == loaded_state.keys()
    for key in saved_state:
        np.testing.assert_array_equal(saved_state[key], loaded_state[key])
    assert loaded.evaluate(x, y) == pytest.approx(model.evaluate(x, y))


def test_file_layout_is_one_zip_with_json_and_npz(rng, tmp_path):
    model, _, _ = _trained(rng)
    path = tmp_path / "net.chainrule"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert names == {"metadata.json", "config.json", "model.weights.npz", "optimizer.npz"}
        meta = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
        weights = np.load(io.BytesIO(archive.read("model.weights.npz")), allow_pickle=False)
        assert len(weights.files) == len(model.weights)
    assert meta["format"] == "chainrule.model" and meta["chainrule_version"] == cr.__version__
    assert config["model"]["class_name"] == "Sequential"
    assert config["compile_config"]["loss"] == "sparse_categorical_crossentropy"


def test_load_without_compile(rng, tmp_path):
    model, x, _ = _trained(rng)
    model.save(tmp_path / "m.chainrule")
    loaded = cr.load_model(tmp_path / "m.chainrule", compile=False)
    assert loaded.optimizer is None and not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


class Residual(cr.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = layers.Dense(units)
        self.out = layers.Dense(2)

    def call(self, x, training=False):
        return self.out(x + self.inner(x))


class Unsaveable(cr.Model):
    def __init__(self, table):
        super().__init__()
        self.table = table
        self.dense = layers.Dense(1)

    def call(self, x, training=False):
        return self.dense(x)


def test_subclassed_model_saves_through_its_constructor_arguments(rng, tmp_path):
    cr.set_seed(0)
    model = Residual(units=3)
    model.compile("sgd", "mse")
    x = rng.normal(size=(5, 3)).astype(np.float32)
    model.fit(x, np.zeros((5, 2)), verbose=0)
    model.save(tmp_path / "res.chainrule")
    loaded = cr.load_model(tmp_path / "res.chainrule")
    assert isinstance(loaded, Residual) and loaded.units == 3 and loaded.name == model.name
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_subclassed_model_with_unsaveable_arguments_says_what_to_do(tmp_path):
    model = Unsaveable(table=np.arange(3))
    model.build((None, 2))
    with pytest.raises(ValueError, match="cannot save the architecture.*save_weights"):
        model.save(tmp_path / "u.chainrule")
    assert not (tmp_path / "u.chainrule").exists()
    model.save_weights(tmp_path / "u.weights.npz")        # the weights always save
    other = Unsaveable(table=np.arange(3))
    other.build((None, 2))
    other.load_weights(tmp_path / "u.weights.npz")
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_weights_load_weights_and_mismatches(rng, tmp_path):
    model, x, _ = _trained(rng)
    model.save_weights(tmp_path / "w.npz")
    model.save(tmp_path / "full.chainrule")
    clone, _, _ = _trained(np.random.default_rng(99))
    assert not np.array_equal(clone.predict(x), model.predict(x))
    clone.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    clone.load_weights(tmp_path / "full.chainrule")       # a model file works too
    small = cr.Sequential([cr.Input((4,)), layers.Dense(3)])
    with pytest.raises(ValueError, match="holds 8 weight arrays but model .* has 2"):
        small.load_weights(tmp_path / "w.npz")


# --------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------
def test_a_crash_mid_save_leaves_the_previous_file_whole(rng, tmp_path, monkeypatch):
    model, _, _ = _trained(rng)
    path = tmp_path / "net.chainrule"
    model.save(path)
    before = path.read_bytes()
    for w in model.weights:                                # change the model, then crash
        w.data += 1.0
    calls = []
    real_writestr = zipfile.ZipFile.writestr

    def crash_on_second_member(self, name, data, *args, **kwargs):
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return real_writestr(self, name, data, *args, **kwargs)
    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash_on_second_member)
    with pytest.raises(OSError, match="simulated"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.chainrule"]       # no temporary file left
    cr.load_model(path)                                    # still a valid model


def test_save_weights_is_atomic_too(rng, tmp_path, monkeypatch):
    model, _, _ = _trained(rng)
    path = tmp_path / "w.npz"
    model.save_weights(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("killed mid-write (simulated)")
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        model.save_weights(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["w.npz"]


# --------------------------------------------------------------------------
# Files that are not chainrule models
# --------------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _random_zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a model")


@pytest.mark.parametrize("make", ["empty", "png", "random_zip", "truncated", "garbage_json",
                                  "wrong_format", "pickled_weights"])
def test_bad_files_give_a_clear_value_error(rng, tmp_path, make):
    path = tmp_path / "bad.chainrule"
    if make == "empty":
        path.write_bytes(b"")
    elif make == "png":
        path.write_bytes(PNG)
    elif make == "random_zip":
        _random_zip(path)
    else:
        model, _, _ = _trained(rng)
        model.save(path)
        data = path.read_bytes()
        if make == "truncated":
            path.write_bytes(data[: len(data) // 2])
        else:
            with zipfile.ZipFile(path) as archive:
                members = {n: archive.read(n) for n in archive.namelist()}
            if make == "garbage_json":
                members["config.json"] = b"{not json"
            elif make == "wrong_format":
                members["metadata.json"] = json.dumps({"format": "something.else"}).encode()
            else:                   # an object array: loading it would need pickle
                buffer = io.BytesIO()
                np.savez(buffer, w00000=np.array([{"evil": 1}], dtype=object))
                members["model.weights.npz"] = buffer.getvalue()
            with zipfile.ZipFile(path, "w") as archive:
                for name, content in members.items():
                    archive.writestr(name, content)
    with pytest.raises(ValueError, match="is not a chainrule model file"):
        cr.load_model(path)


def test_missing_file_and_unknown_class(rng, tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        cr.load_model(tmp_path / "nothing.chainrule")
    model, _, _ = _trained(rng)
    path = tmp_path / "m.chainrule"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    config = json.loads(members["config.json"])
    config["model"]["config"]["layers"][0]["class_name"] = "NotARealLayer"
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(ValueError, match="NotARealLayer.*custom_objects"):
        cr.load_model(path)
