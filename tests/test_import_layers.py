"""The import-layer check of `make lint` (scripts/check_import_layers.py, issue 14 item 8)."""

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_import_layers.py"
_spec = importlib.util.spec_from_file_location("check_import_layers", SCRIPT)
layers = importlib.util.module_from_spec(_spec)
sys.modules["check_import_layers"] = layers  # dataclasses look their module up by name
_spec.loader.exec_module(layers)


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        for parent in path.relative_to(root).parents:
            init = root / parent / "__init__.py"
            if parent != Path(".") and not init.exists():
                init.write_text("")


def run(root: Path, baseline: str | None = None, capsys=None) -> tuple[int, str]:
    path = root / "baseline.txt"
    path.write_text(baseline or "")
    code = layers.main(["--root", str(root), "--baseline", str(path)])
    return code, capsys.readouterr().out if capsys else ""


def test_loop_between_modules_fails(tmp_path, capsys):
    write_tree(
        tmp_path,
        {
            "apps/engine/a.py": "from apps.engine.b import thing\n",
            "apps/engine/b.py": "from apps.engine import c\nthing = 1\n",
            "apps/engine/c.py": "import apps.engine.a\n",
        },
    )
    code, out = run(tmp_path, capsys=capsys)
    assert code == 1
    assert "apps.engine.a -> apps.engine.b breaks loop" in out
    assert "apps.engine.b -> apps.engine.c breaks loop" in out
    assert "apps.engine.c -> apps.engine.a breaks loop" in out


def test_import_hidden_in_a_function_closes_a_loop_and_fails(tmp_path, capsys):
    write_tree(
        tmp_path,
        {
            "apps/engine/tasks.py": "from apps.engine.advance import advance\n",
            "apps/engine/advance.py": """
                def advance():
                    from apps.engine.tasks import wake  # dodges the loop at import time
                    wake()
            """,
        },
    )
    code, out = run(tmp_path, capsys=capsys)
    assert code == 1
    assert "apps/engine/advance.py:3: apps.engine.advance -> apps.engine.tasks breaks loop, hidden" in out
    assert "apps.engine.tasks -> apps.engine.advance breaks loop" in out


def test_hidden_import_without_a_loop_fails_but_app_ready_does_not(tmp_path, capsys):
    write_tree(
        tmp_path,
        {
            "apps/jobs/models.py": "",
            "apps/jobs/services.py": """
                def run():
                    from .models import Job
                    return Job
            """,
            "apps/jobs/apps.py": """
                from django.apps import AppConfig

                class JobsConfig(AppConfig):
                    def ready(self):
                        from apps.jobs import models  # noqa: F401
            """,
        },
    )
    code, out = run(tmp_path, capsys=capsys)
    assert code == 1
    assert "apps.jobs.services -> apps.jobs.models breaks hidden" in out
    assert "apps.jobs.apps" not in out


def test_broken_directions_fail_including_type_checking_imports(tmp_path, capsys):
    write_tree(
        tmp_path,
        {
            "apps/accounts/models.py": "",
            "apps/engine/runtime.py": "",
            "apps/engine/tasks.py": "",
            "apps/core/viewsets.py": "from apps.accounts.models import Membership\n",
            "apps/steps/base.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from apps.engine.runtime import StepRun
            """,
            "apps/jobs/services.py": "from apps.engine import tasks\n",
            "apps/engine/views.py": "from apps.accounts.models import Membership\n",  # downwards: fine
        },
    )
    code, out = run(tmp_path, capsys=capsys)
    assert code == 1
    assert "apps.core.viewsets -> apps.accounts.models breaks direction" in out
    assert "apps.steps.base -> apps.engine.runtime breaks direction" in out
    assert "apps.jobs.services -> apps.engine.tasks breaks direction" in out
    assert "apps.engine.views" not in out


def test_baseline_is_honoured_new_edges_fail_and_stale_lines_fail(tmp_path, capsys):
    write_tree(
        tmp_path,
        {
            "apps/engine/a.py": "import apps.engine.b\n",
            "apps/engine/b.py": "import apps.engine.a\n",
        },
    )
    known = "apps.engine.a -> apps.engine.b  # loop: known\napps.engine.b -> apps.engine.a  # loop: known\n"
    assert run(tmp_path, known, capsys)[0] == 0

    (tmp_path / "apps/engine/c.py").write_text("import apps.engine.a\n")
    (tmp_path / "apps/engine/a.py").write_text("import apps.engine.b\nimport apps.engine.c\n")
    code, out = run(tmp_path, known, capsys)
    assert code == 1
    assert "apps.engine.a -> apps.engine.c breaks loop" in out
    assert "apps.engine.c -> apps.engine.a breaks loop" in out

    (tmp_path / "apps/engine/a.py").write_text("")
    (tmp_path / "apps/engine/c.py").write_text("")
    code, out = run(tmp_path, known, capsys)
    assert code == 1
    assert "baseline: apps.engine.b -> apps.engine.a no longer violates anything" in out
    assert "baseline: apps.engine.a -> apps.engine.b no longer violates anything" in out


def test_baseline_line_without_a_reason_is_refused(tmp_path):
    write_tree(tmp_path, {"apps/engine/a.py": ""})
    with pytest.raises(SystemExit, match="expected `source -> target  # reason`"):
        run(tmp_path, "apps.engine.a -> apps.engine.b\n")


def test_relative_imports_resolve_to_modules(tmp_path):
    write_tree(
        tmp_path,
        {
            "apps/engine/states.py": "",
            "apps/engine/handlers/base.py": "",
            "apps/engine/handlers/fanout.py": """
                from .base import Handler
                from .. import states
                from ..models import X
            """,
            "apps/engine/models.py": "",
        },
    )
    graph = layers.build_graph(tmp_path, "apps")
    assert set(graph.edges) == {
        layers.Edge("apps.engine.handlers.fanout", "apps.engine.handlers.base"),
        layers.Edge("apps.engine.handlers.fanout", "apps.engine.states"),
        layers.Edge("apps.engine.handlers.fanout", "apps.engine.models"),
    }


def test_the_real_tree_passes_against_its_baseline(capsys):
    assert layers.main([]) == 0, capsys.readouterr().out
