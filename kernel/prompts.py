"""Prompts are content: templates live in ``system/prompts/*.md`` of the OS root.

Templates use ``${name}`` placeholders and are rendered strictly: a placeholder the kernel does not
provide is an error naming the file, never a silently empty hole.
"""

from __future__ import annotations

import string
from pathlib import Path

from .docs import read_document
from .errors import ConfigError


def load_prompt(root: Path, name: str) -> tuple[str, Path]:
    """Read ``system/prompts/NAME.md`` (frontmatter optional; only the body is the template)."""
    path = Path(root) / "system" / "prompts" / f"{name}.md"
    if not path.is_file():
        raise ConfigError(
            f"prompt template missing: {path}", hint="restore it from a fresh `llmos init` root or the llmos repository"
        )
    return read_document(path, require_frontmatter=False).body, path


def render(template: str, path: Path | str, **values: str) -> str:
    """Substitute ``${name}`` placeholders; raise :class:`ConfigError` for any unknown one."""
    try:
        return string.Template(template).substitute(values)
    except KeyError as exc:
        raise ConfigError(
            f"{path}: template uses ${{{exc.args[0]}}} but only "
            f"{', '.join('${' + k + '}' for k in sorted(values))} are provided"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"{path}: bad placeholder ({exc}); write a literal $ as $$") from None


def render_file(root: Path, name: str, **values: str) -> str:
    template, path = load_prompt(root, name)
    return render(template, path, **values)


# The values the kernel passes to each template it renders (checked by `llmos check` and when a template
# is edited live).
PLACEHOLDERS: dict[str, frozenset[str]] = {
    # working_memory and whats_new: still filled for an agent.md written before they moved to context.md
    "agent": frozenset({"agent", "description", "soul", "instructions", "date", "working_memory", "whats_new"}),
    "context": frozenset({"working_memory", "whats_new"}),
    "local": frozenset({"system", "tools", "transcript"}),
    "handoff": frozenset({"notes"}),
    "mixed": frozenset({"similar_goal", "similar_slots", "slots", "steps", "done"}),
    "rerank": frozenset({"goal", "candidates"}),
    "brief": frozenset({"agent", "brief", "max_chars"}),
    "dream": frozenset({"kind", "title", "text"}),
}


def check_template(name: str, template: str) -> list[tuple[int | None, str]]:
    """Problems of a template as ``(line in the body, message)``: bad ``$`` syntax, or a placeholder
    the kernel does not provide for ``name`` (templates the kernel does not know are checked for syntax)."""
    tpl = string.Template(template)
    if not tpl.is_valid():
        return [(None, "bad placeholder syntax; write a literal $ as $$")]
    known = PLACEHOLDERS.get(name)
    problems = []
    for ident in tpl.get_identifiers():
        if known is not None and ident not in known:
            at = template.find("${" + ident)
            at = template.find("$" + ident) if at < 0 else at
            problems.append(
                (
                    template.count("\n", 0, at) + 1 if at >= 0 else None,
                    f"${{{ident}}} is not provided (use {', '.join('${' + k + '}' for k in sorted(known))})",
                )
            )
    return problems
