"""Every public name of the contract is exported once, from its private module."""

from __future__ import annotations

import ast
from pathlib import Path

import thoonk_actors.contract as contract

CONTRACT_DIR = Path(contract.__file__).parent
# Helpers shared between the private modules, not meant for other layers.
INTERNAL = {
    "KEY_LAYOUT", "arg", "layout", "make_call", "ok_values", "check_count",  # _build
    "encoded_call", "layout_keys", "channel_arg", "name_arg",  # _build
    "unexpected", "as_list", "as_bytes", "as_int", "as_text", "status",  # _call
    "refusal",  # _refusals
    "check_item", "item_pairs",  # _feed
    "item_label", "token_arg", "text_arg", "jitter_arg",  # _job
    "FINISH_STATUSES", "CANCEL_OUTCOMES", "REAP_OUTCOMES", "REAP_REASONS",  # _job_results
    "HOLD_REASONS",  # _job_results
    "PRELUDE", "prelude_for",  # _scripts
    "READS", "WRITES", "NOT_COMMANDS", "upper_literals", "script_commands",  # _acl
    "acl_preamble",  # _acl
    "T",
}  # fmt: skip


def _public_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return {n for n in names if not n.startswith("_")}


def test_all_is_sorted_unique_and_importable() -> None:
    assert len(contract.__all__) == len(set(contract.__all__))
    for name in contract.__all__:
        assert getattr(contract, name) is not None


def test_every_public_name_is_exported() -> None:
    defined: dict[str, str] = {}
    for path in sorted(CONTRACT_DIR.glob("_*.py")):
        for name in _public_names(path) - INTERNAL:
            assert name not in defined, f"{name} defined in {defined.get(name)} and {path.name}"
            defined[name] = path.name
    assert set(defined) == set(contract.__all__)


def test_modules_are_private() -> None:
    for path in CONTRACT_DIR.glob("*.py"):
        assert path.name == "__init__.py" or path.name.startswith("_")
