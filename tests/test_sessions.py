"""Server-side sessions (medviz.store.sessions) and the cookie routes / download guard (medviz.web)."""
from __future__ import annotations

import os
import stat
import threading
from datetime import timedelta

import pytest

from medviz.store import get_engine, sessions
from medviz.store.models import utcnow


@pytest.fixture
def user(make_user):
    return make_user("dr.session", "clinician")


def _live_cookie(user) -> tuple[int, str]:
    row_id, code = sessions.start(get_engine(), user.id, "abcd1234")
    token = sessions.claim(get_engine(), code)
    assert token is not None
    return row_id, sessions.sign_token(token)


def test_hand_off_code_is_single_use_and_gives_a_working_cookie(user):
    row_id, code = sessions.start(get_engine(), user.id, "abcd1234")
    token = sessions.claim(get_engine(), code)
    assert token and sessions.claim(get_engine(), code) is None  # used
    state = sessions.check_cookie(get_engine(), sessions.sign_token(token), 15)
    assert state.ok and state.row_id == row_id and state.user_id == user.id and state.audit_session_id == "abcd1234"


def test_concurrent_claims_of_one_code_give_one_token(user):
    _, code = sessions.start(get_engine(), user.id, "abcd1234")
    results, barrier = [], threading.Barrier(8)

    def claim():
        barrier.wait()
        results.append(sessions.claim(get_engine(), code))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1


def test_expired_hand_off_code_is_refused(user):
    _, code = sessions.start(get_engine(), user.id, "abcd1234")
    later = utcnow() + timedelta(seconds=sessions.HANDOFF_SECONDS + 1)
    assert sessions.claim(get_engine(), code, now=later) is None


def test_forged_altered_or_foreign_cookie_is_refused(user, tmp_path, monkeypatch):
    _, cookie = _live_cookie(user)
    assert not sessions.check_cookie(get_engine(), cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"), 15).ok
    assert not sessions.check_cookie(get_engine(), "not-a-cookie", 15).ok
    assert not sessions.check_cookie(get_engine(), None, 15).ok
    # signed with another server's secret: refused before any lookup
    monkeypatch.setenv("MEDVIZ_SESSION_SECRET", "x" * 40)
    assert not sessions.check_cookie(get_engine(), cookie, 15).ok
    # a validly signed token that no row holds
    assert sessions.check_cookie(get_engine(), sessions.sign_token("made-up-token"), 15).reason == "unknown"


def test_sign_out_idle_and_expiry_end_the_session_server_side(user):
    row_id, cookie = _live_cookie(user)
    assert sessions.check(get_engine(), row_id, 15).ok
    assert sessions.check(get_engine(), row_id, 15, now=utcnow() + timedelta(minutes=16)).reason == "idle"
    assert sessions.check(get_engine(), row_id, 10_000, now=utcnow() + timedelta(hours=13)).reason == "expired"
    sessions.touch(get_engine(), row_id, now=utcnow() + timedelta(minutes=10))
    assert sessions.check(get_engine(), row_id, 15, now=utcnow() + timedelta(minutes=16)).ok  # activity counted
    assert sessions.revoke(get_engine(), row_id, "logout")
    assert not sessions.revoke(get_engine(), row_id, "logout")  # once
    state = sessions.check_cookie(get_engine(), cookie, 15)
    assert not state.ok and state.reason == "logout"


def test_revoke_user_ends_every_session_of_that_user(user, make_user):
    other = make_user("dr.other", "clinician")
    a, _ = _live_cookie(user)
    b, _ = _live_cookie(user)
    c, _ = _live_cookie(other)
    assert sessions.revoke_user(get_engine(), user.id, "account_disabled") == 2
    assert not sessions.check(get_engine(), a, 15).ok and not sessions.check(get_engine(), b, 15).ok
    assert sessions.check(get_engine(), c, 15).ok


def test_key_file_is_created_owner_only_and_reused(monkeypatch, tmp_path):
    monkeypatch.delenv("MEDVIZ_SESSION_SECRET", raising=False)
    monkeypatch.setenv("MEDVIZ_SESSION_KEY_FILE", str(tmp_path / "k" / "session.key"))
    first = sessions.session_secret()
    mode = stat.S_IMODE(os.stat(tmp_path / "k" / "session.key").st_mode)
    assert mode == 0o600 and len(first) >= 32
    assert sessions.session_secret() == first


def test_bad_lifetime_setting_names_the_variable(monkeypatch):
    from medviz.errors import InputError

    monkeypatch.setenv("MEDVIZ_SESSION_HOURS", "soon")
    with pytest.raises(InputError, match="MEDVIZ_SESSION_HOURS"):
        sessions.session_hours()


# --- HTTP routes and the download guard (Starlette test client, no Streamlit server) ---------------


@pytest.fixture
def client():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from medviz import web

    async def media(request):
        return PlainTextResponse("scored,csv\n")

    app = Starlette(routes=web.routes() + [Route("/media/{name}", media)], middleware=web.middleware())
    return TestClient(app, base_url="http://testserver")


def test_session_route_sets_an_httponly_strict_cookie_once(client, user):
    _, code = sessions.start(get_engine(), user.id, "abcd1234")
    r = client.post("/_medviz/session", data={"code": code}, headers={"sec-fetch-site": "same-origin"})
    assert r.status_code == 204
    header = r.headers["set-cookie"].lower()
    assert "medviz_session=" in header and "httponly" in header and "samesite=strict" in header and "path=/" in header
    assert client.post("/_medviz/session", data={"code": code}, headers={"sec-fetch-site": "same-origin"}).status_code == 403


def test_session_route_refuses_cross_site_posts(client, user):
    _, code = sessions.start(get_engine(), user.id, "abcd1234")
    r = client.post("/_medviz/session", data={"code": code}, headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    r = client.post("/_medviz/session", data={"code": code}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403


@pytest.fixture
def media(monkeypatch):
    """Streamlit's own media manager (in-memory storage, as the server uses), with files added by two tabs."""
    import streamlit.runtime.media_file_manager as mfm
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    from medviz import web

    mgr = mfm.MediaFileManager(MemoryMediaFileStorage("/media"))
    monkeypatch.setattr(web, "_media_manager", lambda: mgr)

    def add(tab: str, data: bytes) -> str:
        monkeypatch.setattr(mfm, "_get_session_id", lambda: tab)
        return mgr.add(data, "text/csv", f"coord-{tab}", file_name="scored.csv", is_for_static_download=True)  # its URL

    yield add
    web._OWNERS.clear()
    web._FILE_ROWS.clear()


def test_downloads_only_to_the_live_session_that_produced_them(client, user, make_user, media):
    from medviz import web

    url = media("tab-A", b"scored,csv")
    assert client.get(url).status_code == 403  # no cookie: a copied URL is useless
    row_id, cookie = _live_cookie(user)
    web.bind_streamlit_session("tab-A", row_id)  # the tab that made the file, signed in as this session
    client.cookies.set(sessions.COOKIE_NAME, cookie)
    r = client.get(url)
    assert r.status_code == 200 and r.text == "scored,csv\n"
    # another user's live session gets 403 for that file; its own file it gets
    other = make_user("dr.other", "clinician")
    other_row, other_cookie = _live_cookie(other)
    web.bind_streamlit_session("tab-B", other_row)
    other_url = media("tab-B", b"other,file")
    client.cookies.set(sessions.COOKIE_NAME, other_cookie)
    assert client.get(url).status_code == 403
    assert client.get(other_url).status_code == 200
    # a file no tab holds any more, or a tab signed out: refused
    client.cookies.set(sessions.COOKIE_NAME, cookie)
    assert client.get(other_url).status_code == 403
    web.bind_streamlit_session("tab-A", None)
    assert client.get(url).status_code == 403
    web.bind_streamlit_session("tab-A", row_id)
    sessions.revoke(get_engine(), row_id, "logout")
    assert client.get(url).status_code == 403  # signed out: the same cookie no longer works


def test_download_still_served_to_its_session_after_a_rerun_unmapped_it(client, user, make_user, media):
    """A download click reruns the page; a rerun that draws no button at that place unmaps the file while
    the browser's request for it is on its way (seen in the browser suite): the session whose tab held it
    at the end of a run still gets it, nobody else does."""
    from medviz import web

    url = media("tab-A", b"scored,csv")
    row_id, cookie = _live_cookie(user)
    web.bind_streamlit_session("tab-A", row_id)
    web.remember_tab_files("tab-A")  # end of the run that drew the button (app.py)
    mgr = web._media_manager()
    mgr._files_by_session_and_coord["tab-A"].clear()  # the rerun drew something else there
    client.cookies.set(sessions.COOKIE_NAME, cookie)
    assert client.get(url).status_code == 200
    other = make_user("dr.other", "clinician")
    other_row, other_cookie = _live_cookie(other)
    web.bind_streamlit_session("tab-B", other_row)
    client.cookies.set(sessions.COOKIE_NAME, other_cookie)
    assert client.get(url).status_code == 403
    sessions.revoke(get_engine(), row_id, "logout")
    client.cookies.set(sessions.COOKIE_NAME, cookie)
    assert client.get(url).status_code == 403


def test_download_guard_reads_streamlits_media_manager_as_it_is():
    """The guard relies on MediaFileManager's session -> file mapping (not a public API): fail loudly
    here, not silently in production, if a Streamlit upgrade changes it."""
    import streamlit.runtime.media_file_manager as mfm
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    from medviz.web import file_sessions

    mgr = mfm.MediaFileManager(MemoryMediaFileStorage("/media"))
    assert isinstance(mgr._files_by_session_and_coord, dict)
    assert file_sessions("nothing", mgr) == set()
    assert file_sessions("x", object()) == set()  # an unknown manager: nobody gets the file


def test_logout_route_revokes_and_deletes_the_cookie(client, user):
    row_id, cookie = _live_cookie(user)
    client.cookies.set(sessions.COOKIE_NAME, cookie)
    r = client.post("/_medviz/logout", headers={"sec-fetch-site": "same-origin"})
    assert r.status_code == 204 and "medviz_session=" in r.headers["set-cookie"]
    assert sessions.check(get_engine(), row_id, 15).reason == "logout"
