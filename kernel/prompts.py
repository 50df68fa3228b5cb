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
        raise ConfigError(f"prompt template missing: {path}",
                          hint="restore it from a fresh `llmos init` root or the llmos repository")
    return read_document(path, require_frontmatter=False).body, path


def render(template: str, path: Path | str, **values: str) -> str:
    """Substitute ``${name}`` placeholders; raise :class:`ConfigError` for any unknown one."""
    try:
        return string.Template(template).substitute(values)
    except KeyError as exc:
        raise ConfigError(f"{path}: template uses ${{{exc.args[0]}}} but only "
                          f"{', '.join('${' + k + '}' for k in sorted(values))} are provided") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: bad placeholder ({exc}); write a literal $ as $$") from None


def render_file(root: Path, name: str, **values: str) -> str:
    template, path = load_prompt(root, name)
    return render(template, path, **values)
