"""Bundles are untrusted input: the manifest is validated (depth, sizes, types) before use, listed files
stay inside the bundle folder, a bad bundle is listed as unavailable (never a crash), and messages never
show file contents or hashes of files outside the bundle. Plus the model-family registry."""
from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from medviz.bundle import MANIFEST_FILE, list_bundles, load_bundle, read_manifest
from medviz.errors import BundleError

SECRET = "TOP-SECRET-LINE-do-not-print"


def _copy(src, tmp_path, name="b"):
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def _edit(d, fn):
    m = json.loads((d / MANIFEST_FILE).read_text())
    fn(m)
    (d / MANIFEST_FILE).write_text(json.dumps(m))
    return m


def test_deeply_nested_manifest_is_refused_not_a_crash(tiny_text_bundle, tmp_path):
    d = _copy(tiny_text_bundle, tmp_path)
    m = json.loads((d / MANIFEST_FILE).read_text())
    text = json.dumps(m)[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (d / MANIFEST_FILE).write_text(text)
    with pytest.raises(BundleError, match="nested deeper"):
        read_manifest(d)
    mild = json.dumps(m)[:-1] + ', "x": ' + "[" * 40 + "]" * 40 + "}"  # parses, but deeper than allowed
    (d / MANIFEST_FILE).write_text(mild)
    with pytest.raises(BundleError, match="nested deeper"):
        read_manifest(d)


@pytest.mark.parametrize("change, words", [
    (lambda m: m.update(labels="flu"), "labels"),
    (lambda m: m.update(labels=["flu", "flu", "rash"]), "distinct"),
    (lambda m: m.update(labels=[["x"], {"y": 1}]), "labels"),
    (lambda m: m.update(name=""), "name"),
    (lambda m: m.update(inputs=[1, 2]), "inputs"),
    (lambda m: m.update(title="t" * 10_000), "title"),
    (lambda m: m.update(files={"model.keras": "not-a-digest"}), "SHA-256"),
    (lambda m: m["inputs"].update(sequence_length="64"), "sequence_length"),
    (lambda m: m.update(conformal={"coverage": "high"}), "conformal"),
    (lambda m: m.update(out_of_scope=[1]), "out_of_scope"),
    (lambda m: m.update(x="y" * 200_000), "string longer"),
])
def test_malformed_manifests_are_bundle_errors(tiny_text_bundle, tmp_path, change, words):
    d = _copy(tiny_text_bundle, tmp_path)
    _edit(d, change)
    with pytest.raises(BundleError, match=words) as exc:
        load_bundle(d)
    assert "y" * 100 not in str(exc.value) and "t" * 100 not in str(exc.value)  # values are not quoted back


@pytest.mark.parametrize("name", ["../outside.txt", "/etc/hostname", "sub/../../outside.txt", "..\\outside.txt"])
def test_files_outside_the_bundle_are_refused_before_reading(tiny_text_bundle, tmp_path, name):
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET)
    d = _copy(tiny_text_bundle, tmp_path)
    _edit(d, lambda m: m["files"].update({name: hashlib.sha256(b"x").hexdigest()}))
    with pytest.raises(BundleError) as exc:
        load_bundle(d)
    msg = str(exc.value)
    assert "inside the bundle" in msg or "backslash" in msg
    assert SECRET not in msg and hashlib.sha256(SECRET.encode()).hexdigest()[:8] not in msg


def test_symlink_out_of_the_bundle_is_refused(tiny_text_bundle, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text(SECRET)
    d = _copy(tiny_text_bundle, tmp_path)
    os.symlink(outside, d / "notes.csv")
    _edit(d, lambda m: m["files"].update({"notes.csv": hashlib.sha256(b"whatever").hexdigest()}))
    with pytest.raises(BundleError, match="outside the bundle folder") as exc:
        load_bundle(d)
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    assert SECRET not in str(exc.value) and digest[:6] not in str(exc.value)


def test_changed_file_message_shows_no_hash(tiny_text_bundle, tmp_path):
    d = _copy(tiny_text_bundle, tmp_path)
    (d / "test_predictions.csv").write_text("y_true\nflu\n")
    with pytest.raises(BundleError, match="do not match") as exc:
        load_bundle(d)
    assert not any(len(w) >= 8 and all(c in "0123456789abcdef" for c in w.strip("(),.…;")) for w in str(exc.value).split())


def test_bad_bundles_are_listed_with_a_reason(tiny_text_bundle, tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    _copy(tiny_text_bundle, root, "good")
    deep = _copy(tiny_text_bundle, root, "deep")
    (deep / MANIFEST_FILE).write_text('{"name": ' + "[" * 50_000 + "]" * 50_000 + "}")
    weird = _copy(tiny_text_bundle, root, "weird")
    _edit(weird, lambda m: m.update(task="image_segmentation"))
    infos = {i.path.name: i for i in list_bundles(root)}
    assert infos["good"].error is None
    assert "nested" in infos["deep"].error
    assert "unknown task kind 'image_segmentation'" in infos["weird"].error


def test_bad_tabular_feature_spec_is_refused(tiny_tabular_bundle, tmp_path):
    d = _copy(tiny_tabular_bundle, tmp_path)
    _edit(d, lambda m: m["inputs"]["features"][0].update(min="low"))
    with pytest.raises(BundleError, match="feature"):
        load_bundle(d)
    _edit(d, lambda m: m["inputs"].update(features=["age", "bmi"]))
    with pytest.raises(BundleError, match="features"):
        load_bundle(d)


def test_sidebar_lists_a_bad_bundle_as_unavailable_and_pages_still_work(tiny_text_bundle, tmp_path, monkeypatch,
                                                                         logged_in_app):
    root = tmp_path / "models"
    root.mkdir()
    _copy(tiny_text_bundle, root, "good")
    deep = _copy(tiny_text_bundle, root, "deep")
    (deep / MANIFEST_FILE).write_text('{"name": ' + "[" * 50_000 + "]" * 50_000 + "}")
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(root))
    at = logged_in_app()
    assert not at.exception, at.exception
    texts = " ".join(t.value for t in at.sidebar.text)
    assert "deep" in texts and "nested" in texts
    for page in ("pages/case.py", "pages/batch.py", "pages/evaluation.py", "pages/model_card.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)


def test_typed_manifest_is_parsed_once(tiny_text_bundle):
    b = load_bundle(tiny_text_bundle)
    assert b.spec.name == b.name and b.spec.labels == b.labels and b.spec.task == b.task
    with pytest.raises(Exception):
        b.spec.name = "other"  # frozen


# ---------------------------------------------------------------- families


def test_family_registry_serves_both_builtin_tasks(tiny_text_bundle, tiny_tabular_bundle):
    from medviz.families import family_for, known_tasks

    text, tab = load_bundle(tiny_text_bundle), load_bundle(tiny_tabular_bundle)
    assert {"text_classification", "tabular_binary"} <= set(known_tasks())
    assert family_for(text).task == "text_classification" and family_for(tab).task == "tabular_binary"
    assert [f.name for f in family_for(text).input_spec(text)] == ["text"]
    out = [f.name for f in family_for(text).output_spec(text)]
    assert {"findings_present", "findings_absent", "findings_uncertain", "warnings", "error"} <= set(out)
    from medviz.scoring import make_scorer

    assert make_scorer(text, text_column="text").output_columns() == out
    assert {f.name for f in family_for(tab).input_spec(tab)} == {s["name"] for s in tab.manifest["inputs"]["features"]}


def test_a_third_family_is_one_registration(tiny_text_bundle, tmp_path):
    from medviz import families
    from medviz.text.family import TextFamily

    class EchoFamily(TextFamily):  # a new kind of model: here, text read the same way under another task name
        task = "echo_text"

    d = _copy(tiny_text_bundle, tmp_path)
    _edit(d, lambda m: m.update(task="echo_text"))
    with pytest.raises(BundleError, match="unknown task kind"):
        read_manifest(d)
    families.register(EchoFamily())
    try:
        assert read_manifest(d)["task"] == "echo_text"
        assert "echo_text" in families.known_tasks()
    finally:
        families._FAMILIES.pop("echo_text", None)


def test_label_names_give_display_names_per_language(tiny_text_bundle, tmp_path):
    d = _copy(tiny_text_bundle, tmp_path)
    m = json.loads((d / MANIFEST_FILE).read_text())
    first, second = m["labels"][:2]
    _edit(d, lambda m: m.__setitem__("label_names", {"zh_CN": {first: "甲病"}}))
    bundle = load_bundle(d)
    assert bundle.display_label(first, "zh_CN") == f"甲病 ({first})"
    assert bundle.display_label(second, "zh_CN") == second  # no name: the label as written
    assert bundle.display_label(first, "en") == first
    assert bundle.labels[0] == first  # the identifier itself never changes


@pytest.mark.parametrize("names, where", [
    ({"zh_CN": {"no such label": "x"}}, "names labels the bundle does not have"),
    ({"../etc": {}}, "language code"),
    ({"zh_CN": {"@FIRST@": ""}}, "1-300 characters"),
])
def test_bad_label_names_are_refused_naming_the_key(tiny_text_bundle, tmp_path, names, where):
    d = _copy(tiny_text_bundle, tmp_path)
    first = json.loads((d / MANIFEST_FILE).read_text())["labels"][0]
    names = json.loads(json.dumps(names).replace("@FIRST@", first))
    _edit(d, lambda m: m.__setitem__("label_names", names))
    with pytest.raises(BundleError, match="label_names") as err:
        read_manifest(d)
    assert where in str(err.value)
