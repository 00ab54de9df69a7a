"""The top-level package exports each public name once, lazily where it needs trio."""

from __future__ import annotations

import subprocess
import sys

import thoonk_actors


def test_every_lazy_name_resolves() -> None:
    for name in thoonk_actors._LAZY:
        assert getattr(thoonk_actors, name) is not None, name
    assert set(thoonk_actors._LAZY) <= set(dir(thoonk_actors))


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        thoonk_actors.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_does_not_import_trio() -> None:
    code = "import sys, thoonk_actors; print('trio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_main_names_are_the_real_objects() -> None:
    from thoonk_actors.objects import open_thoonk
    from thoonk_actors.runtime import App

    assert thoonk_actors.open_thoonk is open_thoonk
    assert thoonk_actors.App is App
