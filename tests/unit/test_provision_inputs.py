"""What makes provisioning run again: anything it would put in the agent."""
from __future__ import annotations

from bottle_tasks.plan import Skill
from bottle_tasks.provision import home_files, inputs_digest

from .gitgate.conftest import make_plan


def _plan_with_skill(tmp_path):
    skill = tmp_path / "skills" / "cite"
    (skill / "refs").mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: cite\n---\nCite sources.\n")
    (skill / "refs" / "style.md").write_text("APA\n")
    plan = make_plan()
    return skill, plan.__class__(**{**plan.__dict__, "skills": (Skill(name="cite", path=str(skill)),)})


def test_an_edited_skill_file_changes_the_provisioning_inputs(tmp_path):
    skill, plan = _plan_with_skill(tmp_path)
    before = inputs_digest(plan, b"ca", "[user]\n")
    assert inputs_digest(plan, b"ca", "[user]\n") == before
    (skill / "refs" / "style.md").write_text("Chicago\n")
    assert inputs_digest(plan, b"ca", "[user]\n") != before
    paths = [f.path for f in home_files(plan, "[user]\n")]
    assert ".claude/skills/cite/refs/style.md" in paths


def test_the_ca_and_gitconfig_are_inputs(tmp_path):
    _, plan = _plan_with_skill(tmp_path)
    base = inputs_digest(plan, b"ca", "[user]\n")
    assert inputs_digest(plan, b"other ca", "[user]\n") != base
    assert inputs_digest(plan, b"ca", "[user]\n\tname = x\n") != base
