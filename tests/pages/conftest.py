import shutil

import pytest
import streamlit as st


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def models_dir(tmp_path, tiny_text_bundle, monkeypatch):
    d = tmp_path / "models"
    d.mkdir()
    shutil.copytree(tiny_text_bundle, d / "tiny-text")
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(d))
    return d


@pytest.fixture
def app(models_dir, logged_in_app):
    at = logged_in_app()  # signed in as clinician "tester" (tests/conftest.py), already run once
    assert not at.exception, at.exception
    return at
