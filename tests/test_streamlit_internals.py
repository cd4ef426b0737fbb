"""The parts of Streamlit the dashboard uses beyond its documented API, each checked on its own.

Streamlit may change any of these in a minor release. The app copes (GridHolder falls back to the
public per-session hold; a CSS rule for a missing element matches nothing; ...) but then silently
loses what the internal gave it. These tests make such a change loud: each names the internal, the
place in playground/ that uses it, and what is lost.

What is used, and why there is no public API for it in Streamlit 1.67:
- ``streamlit.runtime.exists`` / ``streamlit.runtime.get_instance().media_file_mgr``
  (playground/ui/widgets.py ``_media_file_mgr``): the server's media store, to keep recent grids
  fetchable for slow browsers.
- ``MediaFileManager._lock``, ``._storage.load_and_get_id``, ``._file_metadata``,
  ``._files_by_session_and_coord``, ``MediaFileMetadata``, ``MediaFileKind.MEDIA``
  (``GridHolder.hold``): to register a grid under a holder of the app's own, not a session's.
- ``MediaFileManager.add`` (``hold_recent``, the fallback): public on the class, not documented.
- The ``data-testid`` names of the front end's elements in the CSS of playground/ui/layout.py and
  streamlit_app.py (presentation mode, the padding above a page, grids fitted to the screen).
- A page file given to ``st.navigation`` (and to AppTest) runs with ``__name__ == "__main__"``: every
  page under playground/ui/pages/ ends with ``if __name__ == "__main__": main()``.
"""

import inspect
import re
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("streamlit")

import streamlit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHANGED = f"Streamlit {streamlit.__version__} changed an internal that the dashboard uses: "


def _params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


# ----------------------------------------------------------------------------- the media store
def test_runtime_exists_and_get_instance_give_the_media_file_manager():
    from streamlit import runtime
    from streamlit.runtime.runtime import Runtime

    assert callable(getattr(runtime, "exists", None)) and callable(getattr(runtime, "get_instance", None)), (
        CHANGED + "streamlit.runtime.exists/get_instance are gone (playground/ui/widgets.py _media_file_mgr): "
        "grids replaced by newer epochs are no longer held for slow browsers.")
    assert runtime.exists() is False, CHANGED + "streamlit.runtime.exists() no longer says False outside a server"
    assert isinstance(inspect.getattr_static(Runtime, "media_file_mgr", None), property), (
        CHANGED + "Runtime.media_file_mgr is no longer a property (playground/ui/widgets.py _media_file_mgr)")


def test_media_file_manager_internals_that_grid_holder_uses():
    from streamlit.runtime.media_file_manager import MediaFileManager, MediaFileMetadata
    from streamlit.runtime.media_file_storage import MediaFileKind
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    mgr = MediaFileManager(MemoryMediaFileStorage("/media"))
    where = " (playground/ui/widgets.py GridHolder.hold): recent grids are no longer held for slow browsers"
    for name in ("_lock", "_storage", "_file_metadata", "_files_by_session_and_coord"):
        assert hasattr(mgr, name), CHANGED + f"MediaFileManager.{name} is gone" + where
    assert hasattr(mgr._lock, "__enter__"), CHANGED + "MediaFileManager._lock is no longer a lock" + where
    assert _params(mgr._storage.load_and_get_id)[:4] == ["path_or_data", "mimetype", "kind", "filename"], (
        CHANGED + "MediaFileStorage.load_and_get_id takes other arguments" + where)
    assert isinstance(mgr._file_metadata, dict), CHANGED + "MediaFileManager._file_metadata is not a dict" + where
    refs = mgr._files_by_session_and_coord["a holder of our own"]   # created on first use
    assert isinstance(refs, dict), (
        CHANGED + "MediaFileManager._files_by_session_and_coord no longer makes a dict per new key" + where)
    assert hasattr(MediaFileKind, "MEDIA"), CHANGED + "MediaFileKind.MEDIA is gone" + where
    assert MediaFileMetadata(kind=MediaFileKind.MEDIA).kind == MediaFileKind.MEDIA, (
        CHANGED + "MediaFileMetadata(kind=...) is made differently" + where)


def test_grid_holder_keeps_a_grid_through_an_orphan_sweep():
    """The whole use: a grid held under the app's holder survives the end of every session's run."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage, _calculate_file_id

    from playground.ui.widgets import GridHolder

    storage = MemoryMediaFileStorage("/media")
    mgr = MediaFileManager(storage)
    assert GridHolder().hold(mgr, b"a grid"), (
        CHANGED + "GridHolder.hold fell back (playground/ui/widgets.py): one of the media store's internals "
        "it uses raised; see test_media_file_manager_internals_that_grid_holder_uses")
    mgr.clear_session_refs("some session")
    mgr.remove_orphaned_files()
    try:
        storage.get_file(_calculate_file_id(b"a grid", "image/png"))
    except Exception as e:
        pytest.fail(CHANGED + "a grid GridHolder holds is dropped by MediaFileManager.remove_orphaned_files "
                    f"({e!r}): it no longer keeps files referenced under any key of _files_by_session_and_coord")


def test_media_file_manager_add_that_hold_recent_uses():
    from streamlit.runtime.media_file_manager import MediaFileManager

    assert _params(MediaFileManager.add)[:4] == ["self", "path_or_data", "mimetype", "coordinates"], (
        CHANGED + "MediaFileManager.add takes other arguments (playground/ui/widgets.py hold_recent): the "
        "fallback no longer holds recent grids")


# ----------------------------------------------------------------------------- the front end's element names
CSS_FILES = ("playground/ui/layout.py", "streamlit_app.py")


def _bundle() -> str:
    js = Path(streamlit.__file__).parent / "static" / "static" / "js"
    files = sorted(js.glob("*.js"))
    assert files, CHANGED + f"no front-end bundle at {js}: the test ids below cannot be checked"
    return "\n".join(f.read_text(encoding="utf-8", errors="replace") for f in files)


def test_css_test_ids_exist_in_the_front_end():
    used = {}
    for rel in CSS_FILES:
        for test_id in re.findall(r"data-testid=['\"]?([A-Za-z]+)", (ROOT / rel).read_text(encoding="utf-8")):
            used.setdefault(test_id, rel)
    assert "stMainBlockContainer" in used and "stSidebar" in used, "the CSS of layout.py was not found"
    bundle = _bundle()
    missing = {t: rel for t, rel in used.items() if not re.search(r"[`\"']" + t + r"[`\"']", bundle)}
    assert not missing, (CHANGED + "these data-testid names are no longer in the front end, so the CSS rules "
                         f"that use them match nothing: {missing}")


# ----------------------------------------------------------------------------- how pages are run
def test_pages_run_as_main_under_navigation_and_apptest(tmp_path):
    from streamlit.testing.v1 import AppTest

    (tmp_path / "page.py").write_text("import streamlit as st\n\nst.markdown('page name: ' + __name__)\n")
    (tmp_path / "app.py").write_text(textwrap.dedent("""\
        import streamlit as st

        st.navigation([st.Page("page.py", title="Page")]).run()
        """))
    for script in ("app.py", "page.py"):
        at = AppTest.from_file(str(tmp_path / script), default_timeout=30).run()
        assert not at.exception, [e.value for e in at.exception]
        names = [m.value for m in at.markdown]
        assert names == ["page name: __main__"], (
            CHANGED + f"a page run through {'st.navigation' if script == 'app.py' else 'AppTest'} no longer has "
            f"__name__ == '__main__' ({names}): the pages' `if __name__ == \"__main__\": main()` would draw nothing")
