"""Checkpoints: exact round trips, atomic saves, bit-identical resumption, and hostile or broken files."""

import errno
import json
import os
import pickle
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lr import atomic, io, models, optim
from tinygrad_lr.train import fit

X = np.random.default_rng(0).standard_normal((40, 3))
Y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)

MODELS = {
    "logistic": lambda dtype: models.LogisticRegression(3, seed=1, dtype=dtype),
    "softmax": lambda dtype: models.SoftmaxRegression(3, 2, seed=1, dtype=dtype),
    "mlp": lambda dtype: models.MLP([3, 5, 4, 2], activation="relu", seed=1, dtype=dtype),
}


def trained(kind, dtype=np.float64, optimizer=optim.Adam):
    model = MODELS[kind](dtype)
    opt = optimizer(model.parameters(), lr=0.05)
    fit(model, X.astype(dtype), Y, optimizer=opt, epochs=2, batch_size=8)
    return model, opt


def files_in(directory):
    return sorted(p.name for p in Path(directory).iterdir())


# ---- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_round_trip_preserves_predictions_exactly(tmp_path, kind, dtype):
    model, _ = trained(kind, dtype)
    io.save(model, tmp_path / "m.npz")
    loaded = io.load(tmp_path / "m.npz")
    assert type(loaded) is type(model) and loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    for (name, p), (name2, q) in zip(model.named_parameters().items(), loaded.named_parameters().items()):
        assert name == name2 and q.dtype == p.dtype and q.requires_grad
        np.testing.assert_array_equal(q.data, p.data)
    assert files_in(tmp_path) == ["m.npz"]  # no temporary left behind


def test_checkpoint_carries_optimizer_rng_and_extra(tmp_path):
    model, opt = trained("mlp", optimizer=lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9, nesterov=True))
    rng = np.random.default_rng(7)
    rng.random(3)
    io.save(model, tmp_path / "c.npz", optimizer=opt, rng=rng, extra={"epoch": 2, "note": "after warm-up"})
    ck = io.load_checkpoint(tmp_path / "c.npz")
    assert ck.extra == {"epoch": 2, "note": "after warm-up"} and ck.format_version == io.FORMAT_VERSION
    assert ck.rng.random() == rng.random()  # continues the same stream
    restored = ck.restore_optimizer()
    assert type(restored) is optim.SGD and restored.hyper() == opt.hyper() and restored.steps == opt.steps
    assert restored.params == ck.model.parameters()
    for a, b in zip(opt.state_dict()["buffers"]["momentum"], restored.state_dict()["buffers"]["momentum"]):
        np.testing.assert_array_equal(a, b)


def test_without_optimizer_restore_optimizer_says_so(tmp_path):
    io.save(models.LogisticRegression(3), tmp_path / "m.npz")
    ck = io.load_checkpoint(tmp_path / "m.npz")
    assert ck.optimizer_state is None and ck.rng is None and ck.extra == {}
    with pytest.raises(io.CheckpointError, match="saved without an optimizer"):
        ck.restore_optimizer()


def test_save_refuses_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="can only save"):
        io.save(object(), tmp_path / "x.npz")
    with pytest.raises(TypeError, match="extra must be JSON-serialisable"):
        io.save(models.LogisticRegression(3), tmp_path / "x.npz", extra={"f": print})
    with pytest.raises(ValueError, match="cannot store a MT19937 generator"):
        io.save(models.LogisticRegression(3), tmp_path / "x.npz", rng=np.random.Generator(np.random.MT19937(0)))
    with pytest.raises(FileNotFoundError, match="the directory .*absent does not exist"):
        io.save(models.LogisticRegression(3), tmp_path / "absent" / "x.npz")
    assert files_in(tmp_path) == []


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_checkpoint_gets_the_permissions_open_would_give(tmp_path, umask, mask, mode):
    umask(mask)
    io.save(models.LogisticRegression(3), tmp_path / "m.npz")
    assert (tmp_path / "m.npz").stat().st_mode & 0o7777 == mode


def test_overwriting_keeps_the_old_files_permissions(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "m.npz"
    io.save(models.LogisticRegression(3), path)
    path.chmod(0o640)
    io.save(models.LogisticRegression(3, seed=2), path)
    assert path.stat().st_mode & 0o7777 == 0o640
    np.testing.assert_array_equal(io.load(path).w.data, models.LogisticRegression(3, seed=2).w.data)


def test_save_into_a_bad_place_names_the_place_and_writes_nothing(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"the directory .*a_file does not exist"):
        io.save(models.LogisticRegression(3), tmp_path / "a_file" / "x.npz")  # a path through a file
    (tmp_path / "a_dir").mkdir()
    with pytest.raises(IsADirectoryError, match=r"save: .*a_dir is a directory, not a file name"):
        io.save(models.LogisticRegression(3), tmp_path / "a_dir")
    assert files_in(tmp_path) == ["a_dir", "a_file"] and files_in(tmp_path / "a_dir") == []

    def denied(file, mode):  # as creating the temporary fails in a read-only directory (root is never refused)
        raise PermissionError(errno.EACCES, "Permission denied", file)

    monkeypatch.setattr(atomic, "open", denied, raising=False)
    with pytest.raises(PermissionError) as info:
        io.save(models.LogisticRegression(3), tmp_path / "x.npz")
    assert f"cannot create a file in the directory {tmp_path} (Permission denied)" in str(info.value)
    assert ".tmp" not in str(info.value)


# ---- resuming --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda p: optim.Adam(p, lr=0.02), lambda p: optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3)],
)
def test_resumed_training_is_bit_identical_to_an_uninterrupted_run(tmp_path, make_optimizer):
    def start():
        model = models.MLP([3, 6, 2], seed=5)
        return model, make_optimizer(model.parameters()), np.random.default_rng(11)

    model, opt, rng = start()
    fit(model, X, Y, optimizer=opt, epochs=5, batch_size=7, seed=rng, l2=1e-3)
    uninterrupted = [p.data.copy() for p in model.parameters()]

    model, opt, rng = start()
    fit(model, X, Y, optimizer=opt, epochs=3, batch_size=7, seed=rng, l2=1e-3)
    io.save(model, tmp_path / "ck.npz", optimizer=opt, rng=rng, extra={"epoch": 3})
    del model, opt, rng  # a new process would have nothing but the file

    ck = io.load_checkpoint(tmp_path / "ck.npz")
    fit(ck.model, X, Y, optimizer=ck.restore_optimizer(), epochs=5 - ck.extra["epoch"], batch_size=7, seed=ck.rng,
        l2=1e-3)  # fmt: skip
    for a, b in zip(uninterrupted, ck.model.parameters()):
        assert a.tobytes() == b.data.tobytes()


def test_checkpointing_from_a_callback_during_training(tmp_path):
    model = models.SoftmaxRegression(3, 2)
    opt, rng = optim.Adam(model.parameters(), lr=0.05), np.random.default_rng(0)

    def checkpoint(epoch, history, m):
        io.save(m, tmp_path / "last.npz", optimizer=opt, rng=rng, extra={"epoch": epoch + 1})

    fit(model, X, Y, optimizer=opt, epochs=4, batch_size=5, seed=rng, callbacks=[checkpoint])
    final = [p.data.copy() for p in model.parameters()]
    ck = io.load_checkpoint(tmp_path / "last.npz")
    assert ck.extra["epoch"] == 4
    for a, b in zip(final, ck.model.parameters()):
        np.testing.assert_array_equal(a, b.data)


# ---- atomicity -------------------------------------------------------------------------------------


def test_an_interrupted_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old, _ = trained("softmax")
    io.save(old, path)
    old_bytes = path.read_bytes()
    new, _ = trained("softmax", optimizer=lambda p, lr: optim.SGD(p, lr=lr))

    def savez_then_die(f, **arrays):
        f.write(b"PK\x03\x04 half of a zip")  # some bytes reach the disk...
        raise KeyboardInterrupt  # ...then the process is interrupted

    monkeypatch.setattr(io.np, "savez", savez_then_die)
    with pytest.raises(KeyboardInterrupt):
        io.save(new, path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes and files_in(tmp_path) == ["m.npz"]
    np.testing.assert_array_equal(io.load(path).predict_proba(X), old.predict_proba(X))
    io.save(new, path)  # a completed save replaces it
    np.testing.assert_array_equal(io.load(path).predict_proba(X), new.predict_proba(X))


# ---- bad files -------------------------------------------------------------------------------------


class Marker:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_the_marker_payload_really_executes_when_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Marker(marker)))
    assert marker.exists()  # so its absence below means no code ran


@pytest.fixture
def no_unpickling(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load() called the unpickler")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


def test_a_pickle_renamed_npz_is_refused_without_running_it(tmp_path, no_unpickling):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.npz").write_bytes(pickle.dumps(Marker(marker)))
    with pytest.raises(io.CheckpointError, match="is a pickle file"):
        io.load(tmp_path / "evil.npz")
    assert not marker.exists()


@pytest.mark.parametrize(
    "key, message",
    [("meta", "pickled"), ("param/w", "pickled"), ("param/b", "pickled"), ("other", "'other', which is not part of")],
)
def test_object_arrays_inside_an_npz_are_refused_without_running_them(tmp_path, key, message, no_unpickling):
    good = tmp_path / "good.npz"
    io.save(models.LogisticRegression(3), good)
    with np.load(good) as npz:
        arrays = {k: npz[k] for k in npz.files}
    marker = tmp_path / "pwned"
    arrays[key] = np.array([Marker(marker)], dtype=object)
    np.savez(tmp_path / "evil.npz", **arrays)  # allow_pickle=True by default: what an attacker can write
    with pytest.raises(io.CheckpointError, match=message):
        io.load(tmp_path / "evil.npz")
    assert not marker.exists()


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint file: .*absent.npz"):
        io.load(tmp_path / "absent.npz")


def test_truncated_files_at_every_tenth(tmp_path):
    model, opt = trained("mlp")
    io.save(model, tmp_path / "full.npz", optimizer=opt)
    raw = (tmp_path / "full.npz").read_bytes()
    for cut in np.linspace(0, len(raw) - 1, 11).astype(int):
        (tmp_path / "cut.npz").write_bytes(raw[:cut])
        with pytest.raises(io.CheckpointError):
            io.load(tmp_path / "cut.npz")


def test_flipped_bytes_are_detected(tmp_path):
    io.save(models.MLP([3, 50, 2]), tmp_path / "m.npz")
    raw = bytearray((tmp_path / "m.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside a parameter's data: the zip CRC catches it
    (tmp_path / "m.npz").write_bytes(bytes(raw))
    with pytest.raises(io.CheckpointError, match="truncated or corrupt"):
        io.load(tmp_path / "m.npz")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not an .npz archive"),
        (b"hello, world", "not an .npz archive"),
        (np.lib.format.magic(1, 0) + b"{}", "not an .npz archive"),
    ],
)
def test_foreign_files(tmp_path, content, message):
    (tmp_path / "x.npz").write_bytes(content)
    with pytest.raises(io.CheckpointError, match=message):
        io.load(tmp_path / "x.npz")


def test_foreign_npz_and_zip(tmp_path):
    np.savez(tmp_path / "foreign.npz", weights=np.ones(3))
    with pytest.raises(io.CheckpointError, match=r"not a tinygrad_lr checkpoint \(no 'meta' entry; it has \['w"):
        io.load(tmp_path / "foreign.npz")
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as z:
        z.writestr("readme.txt", "not numpy")
    with pytest.raises(io.CheckpointError, match="holds 'readme.txt', which is not a NumPy array"):
        io.load(tmp_path / "plain.zip")


def rewrite(path, change):
    """Load the arrays of a checkpoint, change them, write them back (as a tampering user would)."""
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    change(arrays, meta)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a, m: a.update({"param/W": np.ones((4, 2))}), r"param/W has shape \(4, 2\) but the model's config"),
        (
            lambda a, m: m["config"].update(n_features=5),
            r"param/W has shape \(3, 2\) but the model's config needs \(5, 2\)",
        ),
        (lambda a, m: a.pop("param/b"), "lacks the array 'param/b'"),
        (lambda a, m: a.update({"param/b": np.array(["x", "y"])}), "param/b has dtype <U1"),
        (lambda a, m: a.update({"param/b": np.ones(2, np.float32)}), "mixes parameter dtypes"),
        (lambda a, m: m.update(model="Transformer"), "names model 'Transformer'"),
        (lambda a, m: m.update(model="__import__"), "names model '__import__'"),
        (lambda a, m: m["config"].update(depth=3), "cannot build SoftmaxRegression from config"),
        (lambda a, m: m.update(version=99), "format version 99; this tinygrad_lr reads versions 1..1"),
        (lambda a, m: m.update(format="something else"), "not a tinygrad_lr checkpoint"),
        (lambda a, m: m.update(parameters=["W"]), r"lists parameters \['W'\]"),
        (lambda a, m: m.update(rng={"bit_generator": "os.system"}), "RNG of unsupported kind 'os.system'"),
        (lambda a, m: m["optimizer"].update(type="Evil"), "unusable optimizer state .*unknown optimizer type 'Evil'"),
        (lambda a, m: m["optimizer"]["hyper"].update(lr=-1), "unusable optimizer state .*lr must be finite and > 0"),
        (lambda a, m: a.update({"optimizer/m/0": np.ones(7)}), r"optimizer/m/0 has shape \(7,\)"),
    ],
)
def test_mismatched_or_tampered_checkpoints(tmp_path, change, message):
    model, opt = trained("softmax")
    path = tmp_path / "m.npz"
    io.save(model, path, optimizer=opt, rng=np.random.default_rng(0))
    rewrite(path, change)
    with pytest.raises(io.CheckpointError, match=message):
        io.load(path)


def test_meta_that_is_not_json(tmp_path):
    path = tmp_path / "m.npz"
    io.save(models.LogisticRegression(3), path)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["meta"] = np.array("{not json")
    np.savez(path, **arrays)
    with pytest.raises(io.CheckpointError, match="unreadable metadata"):
        io.load(path)
    arrays["meta"] = np.arange(3)
    np.savez(path, **arrays)
    with pytest.raises(io.CheckpointError, match="'meta' entry of dtype int64"):
        io.load(path)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(io.CheckpointError, ValueError)


# ---- hostile files: nothing is built or decompressed before the file is checked -------------------


def npy_bytes(array=None, header=None):
    """A member's bytes: a real .npy of ``array``, or a hand-written header dict followed by no data."""
    if header is None:
        buffer = __import__("io").BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    text = repr(header).encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return np.lib.format.magic(1, 0) + len(text).to_bytes(2, "little") + text


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    """A zip of raw member bytes, as a hostile user writes it (names are given with .npy)."""
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return path


def members_of(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def meta_bytes(meta):
    return npy_bytes(np.array(json.dumps(meta)))


def saved(tmp_path, model=None, **kwargs):
    path = tmp_path / "good.npz"
    io.save(models.SoftmaxRegression(3, 2) if model is None else model, path, **kwargs)
    return path, members_of(path), json.loads(str(np.load(path)["meta"]))


@pytest.fixture
def peak_memory():
    """The peak of memory allocated by Python and NumPy while the test's body runs, in bytes."""
    tracemalloc.start()
    yield lambda: tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()


def test_huge_sizes_in_the_config_are_refused_before_anything_is_allocated(tmp_path, peak_memory):
    _, members, meta = saved(tmp_path)
    meta["config"] = {"n_features": 10000, "n_classes": 10000}  # 800 MB of parameters, in a 2 KB file
    path = write_zip(tmp_path / "big.npz", {**members, "meta.npy": meta_bytes(meta)})
    with pytest.raises(io.CheckpointError, match=r"param/W has shape \(3, 2\) but the model's config needs"):
        io.load(path)
    assert peak_memory() < 5e6


def test_headers_claiming_more_data_than_the_file_holds_are_refused_before_reading(tmp_path, peak_memory):
    _, members, meta = saved(tmp_path)
    meta["config"] = {"n_features": 30000, "n_classes": 30000}
    big = npy_bytes(header={"descr": "<f8", "fortran_order": False, "shape": (30000, 30000)})
    path = write_zip(tmp_path / "big.npz", {**members, "meta.npy": meta_bytes(meta), "param/W.npy": big})
    with pytest.raises(io.CheckpointError, match=r"header for float64 of shape \(30000, 30000\)"):
        io.load(path)
    terabyte = npy_bytes(header={"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    path = write_zip(tmp_path / "tera.npz", {**members, "param/b.npy": terabyte})
    with pytest.raises(io.CheckpointError, match=r"shape \(1000000, 1000000\)"):
        io.load(path)
    assert peak_memory() < 5e6


def test_a_member_outside_the_schema_is_refused_without_being_decompressed(tmp_path, monkeypatch, peak_memory):
    _, members, _ = saved(tmp_path)
    path = tmp_path / "bomb.npz"
    write_zip(path, members)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("unused.npy", bytes(64 << 20))  # 64 MiB of zeros in about 64 KB
    assert path.stat().st_size < 1 << 20
    tracemalloc.reset_peak()  # count what loading costs, not the making of the bomb
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: opened.append(getattr(name, "filename",
                        name)) or real_open(self, name, *a, **k))  # fmt: skip
    with pytest.raises(io.CheckpointError, match="'unused.npy' compressed .* to expand to 67108864"):
        io.load(path)
    write_zip(path, {**members, "unused.npy": npy_bytes(np.zeros(1000))})  # stored, so no bomb: still not read
    opened.clear()
    with pytest.raises(io.CheckpointError, match="'unused', which is not part of this checkpoint"):
        io.load(path)
    assert "unused.npy" not in opened and peak_memory() < 5e6


def test_compressed_encrypted_or_unknown_methods_are_one_error(tmp_path):
    _, members, _ = saved(tmp_path)
    deflated = write_zip(tmp_path / "deflated.npz", members, zipfile.ZIP_DEFLATED)
    with pytest.raises(io.CheckpointError, match="compressed .*checkpoints store arrays uncompressed"):
        io.load(deflated)
    raw = (tmp_path / "good.npz").read_bytes()
    for field, value, message in [(6, 1, "encrypted"), (8, 99, "method 99")]:  # flags, compression method
        damaged = bytearray(raw)
        for signature, offset in ((b"PK\x03\x04", field), (b"PK\x01\x02", field + 2)):  # local and central headers
            start = damaged.find(signature)
            while start >= 0:
                damaged[start + offset : start + offset + 2] = value.to_bytes(2, "little")
                start = damaged.find(signature, start + 4)
        (tmp_path / "damaged.npz").write_bytes(bytes(damaged))
        with pytest.raises(io.CheckpointError, match=message):
            io.load(tmp_path / "damaged.npz")


@pytest.mark.parametrize(
    "member, content",
    [
        ("param/b.npy", np.lib.format.magic(1, 0) + b"\x10\x00{'descr': <f8,}  \n"),  # not a Python literal
        ("param/b.npy", np.lib.format.magic(1, 0) + b"\x10\x00{'a': 1}        \n"),  # wrong keys
        ("param/b.npy", np.lib.format.magic(2, 0) + b"\x10\x00\x00\x00{'descr': '<f8', 'shape': (2,)}\n"),  # short
        ("param/b.npy", np.lib.format.magic(9, 0) + b"\x00\x00"),  # unknown .npy version
        ("param/b.npy", b"\x93NUMPY"),  # cut in the magic
        ("meta.npy", npy_bytes(np.array("[" * 100000 + "]" * 100000))),  # nesting beyond the recursion limit
        ("meta.npy", npy_bytes(np.array('{"version": ' + "9" * 5000 + "}"))),  # beyond int's 4300 digits
    ],
    ids=["header-syntax", "header-keys", "header-length", "npy-version", "cut-magic", "deep-json", "long-int"],
)
def test_malformed_members_raise_checkpoint_error_only(tmp_path, member, content):
    _, members, _ = saved(tmp_path)
    path = write_zip(tmp_path / "bad.npz", {**members, member: content})
    with pytest.raises(io.CheckpointError, match=r"load: .*bad.npz"):
        io.load(path)


def tampered(tmp_path, change, **save_kwargs):
    model = models.SoftmaxRegression(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    fit(model, X, Y, optimizer=opt, epochs=1, batch_size=20)
    _, members, meta = saved(tmp_path, model, optimizer=opt, **save_kwargs)
    change(meta)
    return write_zip(tmp_path / "tampered.npz", {**members, "meta.npy": meta_bytes(meta)})


@pytest.mark.parametrize("steps", [-1, 2.7, "12", True, 10**30, 2**63, None])
def test_the_optimizer_step_count_must_be_a_non_negative_integer(tmp_path, steps):
    path = tampered(tmp_path, lambda m: m["optimizer"].update(steps=steps))
    with pytest.raises(io.CheckpointError, match="step count must be an integer in"):
        io.load_checkpoint(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(model={"a": 1}), r"names model \{'a': 1\}"),
        (lambda m: m.update(model=["MLP"]), r"names model \['MLP'\]"),
        (lambda m: m["config"].update(n_classes=2.0), "n_classes must be integers >= 1"),
        (lambda m: m["config"].update(n_features=-3), "n_features must be integers >= 1"),
        (lambda m: m["config"].update(n_features=[3]), r"n_features must be integers >= 1, got \[3\]"),
        (lambda m: m.update(frozen=["nope"]), "'frozen' must be a list of the model's parameter names"),
        (lambda m: m.update(extra=[1]), "'extra' metadata that is not a dict"),
        (lambda m: m["optimizer"]["buffers"].update(m=[True, "yes"]), "needs one true/false per parameter"),
        (lambda m: m["optimizer"].update(parameters=["W", "W"]), "names a parameter twice"),
        (lambda m: m["optimizer"].update(hyper=[1]), "unusable optimizer state"),
        (lambda m: m.update(optimizer=[1, 2]), "the optimizer state is not a dict with buffers"),
        (lambda m: m["optimizer"].update(buffers=[]), "the optimizer state is not a dict with buffers"),
        (lambda m: m["config"].update(activation="tanh"), "cannot build SoftmaxRegression from config"),
        (lambda m: m["rng"]["state"].update(state=-1), "invalid PCG64 state .*OverflowError"),
        (lambda m: m["rng"]["state"].update(inc=2**200), "invalid PCG64 state .*OverflowError"),
        (lambda m: m["rng"].update(has_uint32=0.5), "does not survive being set"),
        (lambda m: m["rng"].update(bit_generator={"x": 1}), r"RNG of unsupported kind \{'x': 1\}"),
    ],
)
def test_tampered_metadata_is_one_checkpoint_error(tmp_path, change, message):
    path = tampered(tmp_path, change, rng=np.random.default_rng(3))
    with pytest.raises(io.CheckpointError, match=message):
        io.load_checkpoint(path)


def test_every_bit_generator_offered_round_trips(tmp_path):
    for kind in io.BIT_GENERATORS:
        rng = np.random.Generator(getattr(np.random, kind)(5))
        rng.random(3)
        io.save(models.LogisticRegression(2), tmp_path / "r.npz", rng=rng)
        assert io.load_checkpoint(tmp_path / "r.npz").rng.random(4).tolist() == rng.random(4).tolist()


def test_save_refuses_extra_that_load_would_refuse(tmp_path):
    for extra in ([1, 2], "epoch 3", 5):
        with pytest.raises(TypeError, match="save: extra must be a dict, got"):
            io.save(models.LogisticRegression(2), tmp_path / "m.npz", extra=extra)
    assert files_in(tmp_path) == []


def test_save_writes_no_metadata_larger_than_load_reads(tmp_path):
    chars = io.META_MAX_BYTES // 4
    with pytest.raises(ValueError, match=r"save: the metadata takes .* more than load reads"):
        io.save(models.LogisticRegression(2), tmp_path / "m.npz", extra={"s": "x" * chars})
    assert files_in(tmp_path) == []
    io.save(models.LogisticRegression(2), tmp_path / "m.npz", extra={"s": "x" * (chars - 1000)})
    assert len(io.load_checkpoint(tmp_path / "m.npz").extra["s"]) == chars - 1000


def test_the_schema_io_reads_matches_the_models_it_builds():
    """io computes each model's parameter shapes from its config without building it; they must agree."""
    for model in (models.LogisticRegression(4), models.SoftmaxRegression(4, 3), models.MLP([4, 5, 6, 3])):
        meta = {"model": type(model).__name__, "config": model.config()}
        expected = {n: p.shape for n, p in model.named_parameters().items()}
        assert io._param_shapes(meta, "m.npz") == expected


# ---- frozen parameters ------------------------------------------------------------------------------


def test_a_model_with_a_frozen_parameter_round_trips_with_its_optimizer(tmp_path):
    def start():
        model = models.SoftmaxRegression(3, 2, seed=4)
        model.b.requires_grad_(False)
        return model, optim.Adam([model.W], lr=0.05), np.random.default_rng(1)

    model, opt, rng = start()
    fit(model, X, Y, optimizer=opt, epochs=4, batch_size=8, seed=rng)
    uninterrupted = [p.data.copy() for p in model.parameters()]
    model, opt, rng = start()
    fit(model, X, Y, optimizer=opt, epochs=2, batch_size=8, seed=rng)
    io.save(model, tmp_path / "f.npz", optimizer=opt, rng=rng)
    alone = io.load(tmp_path / "f.npz")
    assert alone.W.requires_grad and not alone.b.requires_grad
    ck = io.load_checkpoint(tmp_path / "f.npz")
    restored = ck.restore_optimizer()
    assert restored.params == [ck.model.W] and not ck.model.b.requires_grad
    fit(ck.model, X, Y, optimizer=restored, epochs=2, batch_size=8, seed=ck.rng)
    for a, b in zip(uninterrupted, ck.model.parameters()):
        assert a.tobytes() == b.data.tobytes()


def test_save_refuses_an_optimizer_that_load_could_not_rebuild(tmp_path):
    other = models.LogisticRegression(2)
    with pytest.raises(ValueError, match="save: the optimizer holds a parameter that is not one of the model's"):
        io.save(models.LogisticRegression(2), tmp_path / "m.npz", optimizer=optim.SGD(other.parameters(), lr=0.1))
    model = models.LogisticRegression(2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model.b.requires_grad_(False)  # frozen after the optimizer was made
    with pytest.raises(ValueError, match=r"save: the optimizer holds \['b'\], frozen since"):
        io.save(model, tmp_path / "m.npz", optimizer=opt)
    assert files_in(tmp_path) == []


def test_flipped_bytes_and_cuts_anywhere_are_a_checkpoint_error_or_a_load(tmp_path):
    """Every other byte flipped, a cut every 13 bytes: no zip-, npy- or json-module exception gets out."""
    model = models.SoftmaxRegression(2, 2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    fit(model, X[:8, :2], Y[:8], optimizer=opt, epochs=1)
    io.save(model, tmp_path / "good.npz", optimizer=opt, rng=np.random.default_rng(0), extra={"a": 1})
    raw = (tmp_path / "good.npz").read_bytes()
    bad = tmp_path / "bad.npz"
    variants = [raw[:cut] for cut in range(0, len(raw), 13)]
    variants += [raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1 :] for i in range(0, len(raw), 2)]
    loaded = 0
    for content in variants:
        bad.write_bytes(content)
        try:
            io.load_checkpoint(bad)
            loaded += 1
        except io.CheckpointError:
            pass
    assert loaded < len(variants) // 4  # most damage is detected (the rest hits padding or unchecked zip fields)
