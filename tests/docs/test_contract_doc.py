"""docs/contract.md stays true to the code: the lifecycle diagram and the script list."""

from __future__ import annotations

from pathlib import Path

from thoonk_actors import contract

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")


def test_lifecycle_diagram_is_generated_from_the_transition_table() -> None:
    assert f"```mermaid\n{contract.mermaid()}\n```" in DOC


def test_every_script_is_listed() -> None:
    scripts = sorted(ROOT.glob("thoonk_actors/contract/scripts/*/*.lua"))
    assert scripts
    for path in scripts:
        assert f"`{path.parent.name}/{path.stem}`" in DOC, f"{path} is not in docs/contract.md"


def test_every_key_of_a_job_queue_is_documented() -> None:
    for key in contract.JobKeys.of("n").all_keys():
        assert f"`{key.replace(':n', ':<n>')}`" in DOC or key.split(":")[0] in DOC, key
