import shutil

import pytest
import streamlit as st

from tests.conftest import ROOT


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
def app(models_dir):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at
