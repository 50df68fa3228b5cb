"""Markdown documents with YAML frontmatter: parse, locate fields by line, validate against a schema.

Every document kind (agent, soul, trace, memory) is a pydantic model with ``extra="forbid"``;
a validation problem is reported as ``file:line: field: message`` so a person can jump to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import frontmatter
import yaml
from pydantic import BaseModel, ValidationError

from .errors import DocumentError

M = TypeVar("M", bound=BaseModel)

_handler = frontmatter.YAMLHandler()
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster
_Dumper = getattr(
    yaml, "CSafeDumper", yaml.SafeDumper
)  # libyaml: same text, ~7x faster (traces are rewritten per step)


def _load_yaml(text: str) -> tuple[yaml.Node | None, object]:
    """Parse once: the node tree (for key lines) and the Python value built from it."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


@dataclass
class Document:
    """A parsed file: frontmatter mapping, Markdown body, and the line of each top-level key."""

    path: Path
    meta: dict[str, Any]
    body: str
    key_lines: dict[str, int] = field(default_factory=dict)
    body_line: int = 1

    def line_of(self, loc: list[str]) -> int | None:
        """Line of the deepest key along ``loc`` (a pydantic error location) that the file has."""
        for n in range(len(loc), 0, -1):
            line = self.key_lines.get(".".join(loc[:n]))
            if line:
                return line
        return None


def _yaml_problem(path: Path, exc: yaml.YAMLError, offset: int) -> DocumentError:
    # The context mark (where an unclosed '[' or '"' began) is where a person should look.
    mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
    line = mark.line + 1 + offset if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return DocumentError(str(path), [(line, None, f"bad YAML: {problem}")])


def _key_lines(node: yaml.Node, offset: int, prefix: str = "") -> dict[str, int]:
    """Map each key to its 1-based line, dotted through mappings and list indexes
    (``local.n_ctx``, ``replies.0.tool_calls``), as pydantic error locations are."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[prefix + str(i)] = item.start_mark.line + 1 + offset
            lines.update(_key_lines(item, offset, f"{prefix}{i}."))
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                name = prefix + str(k.value)
                lines[name] = k.start_mark.line + 1 + offset
                lines.update(_key_lines(v, offset, name + "."))
    return lines


def parse_text(text: str, path: Path, *, require_frontmatter: bool = True) -> Document:
    """Split ``text`` into frontmatter and body; raise :class:`DocumentError` with a line on bad YAML."""
    if "\x00" in text:
        raise DocumentError(str(path), [(None, None, "binary file, not a Markdown document")])
    if not _handler.detect(text):
        if require_frontmatter:
            raise DocumentError(str(path), [(1, None, "no YAML frontmatter: the file must start with a '---' line")])
        return Document(path, {}, text)
    try:
        fm, body = _handler.split(text)
    except ValueError:
        raise DocumentError(str(path), [(1, None, "frontmatter is not closed: add a '---' line after it")]) from None
    offset = text[: text.find(fm)].count("\n") if fm else 1  # lines before the YAML starts
    try:
        node, meta = _load_yaml(fm)
    except yaml.YAMLError as exc:
        raise _yaml_problem(path, exc, offset) from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise DocumentError(str(path), [(2, None, "frontmatter must be a mapping of 'key: value' lines")])
    body_line = offset + fm.count("\n") + 3
    return Document(path, meta, body.lstrip("\n"), _key_lines(node, offset), body_line)


def read_yaml(path: Path) -> Document:
    """Read a plain YAML file (like system/llmos.yaml) as a Document whose ``meta`` is the mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(str(path), [(None, None, f"cannot read: {exc}")]) from None
    try:
        node, meta = _load_yaml(text)
        meta = meta or {}
    except yaml.YAMLError as exc:
        raise _yaml_problem(path, exc, 0) from None
    if not isinstance(meta, dict):
        raise DocumentError(str(path), [(1, None, "must be a mapping of 'key: value' lines")])
    return Document(path, meta, "", _key_lines(node, 0))


def read_document(path: Path, *, require_frontmatter: bool = True) -> Document:
    """Read and split a document file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(str(path), [(None, None, f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentError(str(path), [(None, None, "not UTF-8 text")]) from None
    return parse_text(text, path, require_frontmatter=require_frontmatter)


def validation_problems(doc: Document, exc: ValidationError) -> list[tuple[int | None, str | None, str]]:
    """Turn pydantic errors into ``(line, field, message)`` triples."""
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        field_name = ".".join(loc) if loc else None
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see ARCHITECTURE.md for the fields)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = err["msg"]
        problems.append((doc.line_of(loc) or (1 if err["type"] == "missing" else None), field_name, msg))
    return problems


def validate(doc: Document, model: type[M], **extra: Any) -> M:
    """Validate ``doc.meta`` (plus ``extra`` fields) against ``model``; raise with file:line on failure."""
    try:
        return model.model_validate({**doc.meta, **extra})
    except ValidationError as exc:
        raise DocumentError(str(doc.path), validation_problems(doc, exc)) from None


def dump_frontmatter(meta: dict[str, Any], body: str) -> str:
    """Render a document: ``---``, YAML (keys in the given order), ``---``, body."""
    fm = yaml.dump(meta, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{fm}---\n\n{body.rstrip()}\n"


def sections(body: str) -> dict[str, str]:
    """Split a Markdown body into ``{heading: text}`` by its ``##`` headings (markdown-it tokens)."""
    from markdown_it import MarkdownIt

    lines = body.splitlines()
    tokens = MarkdownIt().parse(body)
    heads = [
        (t.map[0], tokens[i + 1].content)
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.tag == "h2" and t.map
    ]
    out: dict[str, str] = {}
    for n, (start, title) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        out[title] = "\n".join(lines[start + 1 : end]).strip()
    return out
