"""Every page under playground/ui/pages/ has one shape: ``main()`` calling small ``*_ui()``
functions, nothing drawn at import, and ``main()`` run once at the bottom under the same guard."""

import ast
from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).resolve().parent.parent / "playground" / "ui" / "pages").glob("*.py"))
GUARD = 'if __name__ == "__main__":\n    main()'


def _uses_streamlit(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "st" for n in ast.walk(node))


def test_all_seven_pages_are_checked():
    assert {p.stem for p in PAGES} >= {"home", "train", "watch", "explore", "compare", "toy", "runs"}


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.stem)
def test_page_has_main_and_runs_it_once_at_the_bottom(path):
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "main" in functions, f"{path.name}: no main()"
    assert ast.dump(tree.body[-1]) == ast.dump(ast.parse(GUARD).body[0]), f"{path.name}: must end with\n{GUARD}"
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and n.func.id == "main"]
    assert len(calls) == 1, f"{path.name}: main() is called {len(calls)} times"
    ui = [name for name in functions if name.endswith("_ui")]
    called = {n.func.id for n in ast.walk(functions["main"]) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name)}
    assert called & set(ui), f"{path.name}: main() calls none of the page's *_ui() functions"


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.stem)
def test_page_draws_nothing_at_import(path):
    """At module level only imports, constants and definitions (decorators such as @st.fragment and
    @st.cache_data are definitions); no st call, no ``ss = st.session_state``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body[:-1]:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):   # the docstring
            continue
        assert isinstance(node, (ast.Assign, ast.AnnAssign)), (
            f"{path.name}:{node.lineno}: only imports, constants and definitions at module level")
        assert not _uses_streamlit(node), f"{path.name}:{node.lineno}: Streamlit used at import"
