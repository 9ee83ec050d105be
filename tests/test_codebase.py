"""Guards on the code itself: what a review would otherwise have to remember."""

import re

from tests.conftest import ROOT

SOURCES = [p for d in ("app", "static", "tests", "bench") for p in (ROOT / d).rglob("*")
           if p.is_file() and p.suffix in {".py", ".html", ".css", ".js", ".md"}]


def test_no_merge_conflict_markers_left():
    marked = [str(p.relative_to(ROOT)) for p in SOURCES
              if re.search(r"^(<<<<<<< |>>>>>>> )", p.read_text(errors="replace"), flags=re.M)]
    assert marked == []


def test_controllers_render_through_the_one_responder():
    """Pages go through app/http/responder.render (partial only for a real htmx swap, Vary header):
    no controller builds a Template response itself."""
    direct = [f"{p.name}:{n}" for p in (ROOT / "app" / "controllers").glob("*.py")
              for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"\bTemplate\(", line)]
    assert direct == []


# -- imports: at the top of the module, and no cycle (issue 21) ----------------------------------
# An import inside a function hides a cycle (the real dependency graph cannot be read from the
# module headers) and fails at the first call instead of at start-up. cli.py and demo.py import
# inside their commands on purpose: a command loads only what it runs.
FUNCTION_IMPORTS_ALLOWED = {
    "app/cli.py": "each command imports what it runs",
    "app/demo.py": "a command's body",
    # Migrations are history: each loads the tables it needs when it runs, so loading the list of
    # migrations imports none of today's tables.
    "app/tables/migrations/": "a migration imports when it runs",
}


def _allowed(relative: str) -> bool:
    return any(relative == allowed or (allowed.endswith("/") and relative.startswith(allowed))
               for allowed in FUNCTION_IMPORTS_ALLOWED)


def _app_modules(root) -> dict[str, "Path"]:
    """Every module of app/ by its dotted name (a package by its own name)."""
    modules = {}
    for path in sorted((root / "app").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported(node, module: str, is_package: bool) -> list[str]:
    """The dotted names an Import / ImportFrom node imports (relative imports resolved), with the
    names taken from a package (``from app.jobs import kinds`` imports app.jobs and app.jobs.kinds)."""
    import ast

    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def function_imports(root) -> list[str]:
    """``path:line module`` of every import of an app module inside a function, outside the allowed files."""
    import ast

    found = []
    for name, path in _app_modules(root).items():
        relative = str(path.relative_to(root))
        if _allowed(relative):
            continue
        for node in _function_level_imports(ast.parse(path.read_text(), str(path))):
            targets = _imported(node, name, path.name == "__init__.py")
            if any(t == "app" or t.startswith("app.") for t in targets):
                found.append(f"{relative}:{node.lineno} {targets[0]}")
    return sorted(set(found))


def _top_level_imports(tree):
    """The import statements run when the module is imported: not in a function, not under
    ``if TYPE_CHECKING:``."""
    import ast

    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef)) or type(node).__name__ == "TryStar":
            for field in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field, []):
                    pending.extend(child.body if isinstance(child, ast.ExceptHandler) else [child])


def _function_level_imports(tree):
    import ast

    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from (n for n in ast.walk(function) if isinstance(n, (ast.Import, ast.ImportFrom)))


def import_graph(root) -> dict[str, set[str]]:
    """Each app module → the app modules its top-level imports load; and those imported inside a
    function outside FUNCTION_IMPORTS_ALLOWED (the guard above refuses them): an import moved into a
    function still counts, so the cycle it hides shows."""
    import ast

    modules = _app_modules(root)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        nodes = list(_top_level_imports(tree))
        if not _allowed(str(path.relative_to(root))):
            nodes += _function_level_imports(tree)
        edges = set()
        for node in nodes:
            edges |= {t for t in _imported(node, name, path.name == "__init__.py") if t in modules and t != name}
        graph[name] = edges
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph (its modules in order, the first repeated at the end), or []."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(module: str) -> list[str]:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return []

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return []


def test_app_modules_import_at_the_top():
    assert function_imports(ROOT) == []


def test_app_modules_import_no_cycle():
    cycle = import_cycle(import_graph(ROOT))
    assert cycle == [], "import cycle: " + " → ".join(cycle)


# -- sizes (issue 21) ---------------------------------------------------------------------------
# A module past 500 lines does several things; a function past 80 decides several things. Generated
# migrations and the demo data script are long by nature.
MODULE_MAX_LINES = 500
FUNCTION_MAX_LINES = 80
SIZE_EXEMPT = ("app/tables/migrations/", "app/demo.py")


def oversized(root) -> list[str]:
    import ast

    found = []
    for path in sorted((root / "app").rglob("*.py")):
        relative = str(path.relative_to(root))
        if relative.startswith(SIZE_EXEMPT):
            continue
        text = path.read_text()
        if text.count("\n") > MODULE_MAX_LINES:
            found.append(f"{relative}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_MAX_LINES:
                    found.append(f"{relative}:{node.lineno} {node.name}: {length} lines")
    return found


def test_no_module_over_500_lines_no_function_over_80():
    assert oversized(ROOT) == []


# -- valid HTML: htmx attributes spelled data-hx-* (issue 25, RGAA 8.2) ---------------------------
# The Nu checker rejects hx-get, hx-target...; htmx reads data-hx-* the same way. In templates and
# our scripts any hx-<name> is an attribute (or its selector); in Python only hx-<name>= is one —
# "hx-request", "hx-redirect"... are HTTP headers and stay.
HTMX_IN_MARKUP = re.compile(r"(?<![\w-])hx-[a-z]")
HTMX_IN_PYTHON = re.compile(r"(?<![\w-])hx-[a-z][a-z-]*\s*=")


def unprefixed_htmx_attributes(root) -> list[str]:
    found = []
    files = [(p, HTMX_IN_MARKUP) for p in (root / "app" / "templates").rglob("*") if p.is_file()]
    files += [(p, HTMX_IN_MARKUP) for p in (root / "static").glob("*.js") if not p.name.startswith("htmx-")]
    files += [(p, HTMX_IN_PYTHON) for p in (root / "app").rglob("*.py")]
    for path, pattern in files:
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(root)}:{n}: {line.strip()[:100]}")
    return found


def test_htmx_attributes_are_spelled_data_hx(tmp_path):
    assert unprefixed_htmx_attributes(ROOT) == []
    # The guard sees what it is for, and only that.
    (tmp_path / "app" / "templates").mkdir(parents=True)
    (tmp_path / "static").mkdir()
    (tmp_path / "app" / "templates" / "a.html").write_text('<a data-hx-get="/x" hx-target="#main">')
    (tmp_path / "app" / "b.py").write_text('html = f\'<div hx-get="/y">\'\nh = request.headers.get("hx-request")\n')
    (tmp_path / "static" / "c.js").write_text('document.querySelector("[data-hx-get]")\n')
    (tmp_path / "static" / "htmx-2.0.11.min.js").write_text('e.getAttribute("hx-get")')
    assert [f.split(":")[0] + ":" + f.split(":")[1] for f in unprefixed_htmx_attributes(tmp_path)] == [
        "app/templates/a.html:1", "app/b.py:1"]
