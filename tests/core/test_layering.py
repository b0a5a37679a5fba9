"""The layers of the house: the engine imports no Qt, Pillow, app or command line,
and no two modules, nor two parts (packages), import each other round a cycle."""
import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import cnn_core

FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "PIL")
CORE = Path(cnn_core.__file__).parent
ROOT = CORE.parent
#: The project's own top-level packages and modules (tests, bench and tools import
#: from everything and nothing imports them).
TOP_LEVEL = ("cnn_core", "cli", "gui", "resources", "digit_files", "main")
#: The parts whose imports must form no cycle among themselves: a module belongs to
#: the longest of these its name starts with; gui's own modules are each a part.
PARTS = ("cnn_core", "cnn_core.explain", "cli", "gui.draw", "gui.evaluate", "gui.train",
         "resources", "digit_files", "main")
#: The app's places: each may use gui's shared modules, never another place.
PLACES = ("gui.draw", "gui.evaluate", "gui.train")


def project_modules(root=ROOT):
    """``{module name: path}`` of every module of :data:`TOP_LEVEL` under ``root``."""
    modules = {}
    for top in TOP_LEVEL:
        if (root / f"{top}.py").is_file():
            modules[top] = root / f"{top}.py"
        for path in (root / top).rglob("*.py") if (root / top).is_dir() else ():
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports_of(name, path, known):
    """The project modules that module ``name`` (at ``path``) imports, anywhere in it
    (a function's lazy import closes a cycle as surely as one at the top)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = ".".join(p for p in (base if node.level else "", node.module or "") if p)
            # ``from package import module`` imports the module itself.
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:       # ``import a.b.c`` of a name in a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root=ROOT):
    """``{module: set of project modules it imports}``."""
    modules = project_modules(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def part_of(module):
    """The part (see :data:`PARTS`) that ``module`` belongs to."""
    owners = [p for p in PARTS if module == p or module.startswith(p + ".")]
    return max(owners, key=len) if owners else module


def cycles(graph):
    """The strongly connected components of ``graph`` with more than one node
    (Tarjan's algorithm), each as a set."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while not component or member != node:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
            if len(component) > 1:
                found.append(component)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def part_graph(graph):
    """``graph`` with every module replaced by its part (imports within a part dropped)."""
    parts = {}
    for module, targets in graph.items():
        edges = parts.setdefault(part_of(module), set())
        edges.update(part_of(t) for t in targets if part_of(t) != part_of(module))
    return parts


def test_cycle_finder_finds_a_cycle_and_only_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_two_modules_import_each_other_round_a_cycle():
    assert [" <-> ".join(sorted(c)) for c in cycles(import_graph())] == []


def test_no_two_parts_import_each_other_round_a_cycle():
    # The app may call the command line's helpers or the other way round, the
    # Draw place may share with Evaluate through gui's own modules, but never both ways.
    graph = import_graph()
    assert len(graph) > 60 and {"gui.draw", "gui.evaluate", "cli"} <= set(part_graph(graph))
    assert [" <-> ".join(sorted(c)) for c in cycles(part_graph(graph))] == []


def test_no_place_of_the_app_imports_another():
    graph = import_graph()
    crossings = {f"{m} -> {t}" for m, targets in graph.items() for t in targets
                 if part_of(m) in PLACES and part_of(t) in PLACES and part_of(t) != part_of(m)}
    assert crossings == set()


def test_the_engine_imports_neither_the_app_nor_the_command_line():
    graph = import_graph()
    outside = {f"{m} -> {t}" for m, targets in graph.items() if m.startswith("cnn_core")
               for t in targets if not t.startswith("cnn_core")}
    assert outside == set()


def test_no_engine_module_imports_gui_or_imaging_libraries():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_every_engine_module_loads_none_of_them():
    modules = [m.name for m in pkgutil.walk_packages([str(CORE)], "cnn_core.")]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules) +
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=CORE.parent, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert len(modules) >= 10
