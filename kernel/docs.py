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


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # libyaml: ~7x faster (traces are rewritten per step)
    """Writes a value shared by two keys out twice: files llmos writes hold no ``&anchor``/``*alias``."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


# What one YAML text may make llmos walk. Aliases are shared when parsed, but every walk over the
# value (key lines, validation, JSON) expands them: nine lines of ``b: &b [*a,*a,...]`` are 10^9
# nodes. Nesting is bounded for the walks too, and because libyaml's composer recurses in C: about
# 25,000 nested ``[`` crash the process. Hand-written files with a few anchors are far below these.
MAX_DEPTH = 100  # nested mappings and lists
MAX_ALIASES = 1_000  # ``*name`` uses
MAX_ALIAS_NODES = 10_000  # nodes reached through aliases, counted every time they are reached
_C_SAFE_DEPTH = 2_000  # nesting libyaml composes safely; deeper texts are scanned first


def _bounds_error(problem: str, mark: yaml.Mark | None) -> yaml.MarkedYAMLError:
    return yaml.MarkedYAMLError(problem=problem, problem_mark=mark)


def _too_deep(mark: yaml.Mark | None) -> yaml.MarkedYAMLError:
    return _bounds_error(f"nested more than {MAX_DEPTH} levels deep; flatten it", mark)


def _check_depth(text: str) -> None:
    """Scan the events of ``text`` (flat, no recursion) for nesting deeper than :data:`MAX_DEPTH`.
    Needed only where libyaml's composer could exhaust the C stack; everything else is checked
    on the node tree."""
    widest = max(map(len, text.split("\n")), default=0)
    if text.count("[") + text.count("{") + 2 * widest + 2 < _C_SAFE_DEPTH:
        return  # a flow level takes a bracket, a block level an indentation column (two at most)
    # the pure-Python scanner: libyaml 0.2.6 (PyYAML 6.0.4's wheels) stops near 1,000 flow levels with
    # its own message, scanning ahead of the events this loop counts
    loader = yaml.SafeLoader(text)
    try:
        depth = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(event.start_mark)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        loader.dispose()


class _Walk:
    """Walk a node tree once, aliases expanded, within the bounds above; collect each key's line.

    Keys are dotted through mappings and list indexes (``local.n_ctx``, ``replies.0.tool_calls``),
    as pydantic error locations are. A node met a second time was reached through an alias."""

    def __init__(self, offset: int):
        self.offset = offset
        self.lines: dict[str, int] = {}
        self.seen: set[int] = set()
        self.open: set[int] = set()  # collections being walked: meeting one again is a recursive alias
        self.aliases = 0
        self.expanded = 0

    def node(self, node: yaml.Node, prefix: str, depth: int, at: yaml.Mark, aliased: bool = False) -> None:
        if id(node) in self.open:
            raise _bounds_error("an alias refers to the anchor it is inside (a loop); write the value out", at)
        if aliased:
            self.expanded += 1
        elif id(node) in self.seen:
            self.aliases += 1
            aliased = True
            self.expanded += 1
        if self.aliases > MAX_ALIASES:
            raise _bounds_error(f"more than {MAX_ALIASES} aliases (*name); write the repeated values out", at)
        if self.expanded > MAX_ALIAS_NODES:
            raise _bounds_error(
                f"aliases (*name) expand to more than {MAX_ALIAS_NODES} values (an alias bomb?); "
                "write the repeated values out, or use fewer aliases",
                at,
            )
        self.seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            return
        if depth >= MAX_DEPTH:
            raise _too_deep(node.start_mark)
        self.open.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[prefix + str(i)] = item.start_mark.line + 1 + self.offset
                # an alias item's own mark is its anchor's: name the line of the list holding it
                self.node(item, f"{prefix}{i}.", depth + 1, at if id(item) in self.seen else item.start_mark, aliased)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                self.node(k, prefix, depth + 1, k.start_mark, aliased)
                name = prefix + (str(k.value) if isinstance(k, yaml.ScalarNode) else "?")
                self.lines[name] = k.start_mark.line + 1 + self.offset
                self.node(v, name + ".", depth + 1, k.start_mark, aliased)
        self.open.discard(id(node))


def _load_yaml(text: str, offset: int = 0) -> tuple[object, dict[str, int]]:
    """Parse once, within the bounds above: the Python value, and the line of each key
    (``offset`` lines before ``text`` in its file). A text past a bound is a ``yaml.YAMLError``."""
    _check_depth(text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        walk = _Walk(offset)
        walk.node(node, "", 0, node.start_mark)
        return loader.construct_document(node), walk.lines
    finally:
        loader.dispose()


def load_yaml(text: str) -> object:
    """The value of a YAML text, parsed with the bounds above (``yaml.YAMLError`` past them)."""
    return _load_yaml(text)[0]


@dataclass
class Document:
    """A parsed file: frontmatter mapping, Markdown body, and the line of each top-level key."""

    path: Path
    meta: dict[str, Any]
    body: str
    key_lines: dict[str, int] = field(default_factory=dict)
    body_line: int = 1  # the line of the file where ``body`` starts

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
        meta, key_lines = _load_yaml(fm, offset)
    except yaml.YAMLError as exc:
        raise _yaml_problem(path, exc, offset) from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise DocumentError(str(path), [(2, None, "frontmatter must be a mapping of 'key: value' lines")])
    body = body.lstrip("\n")  # a suffix of text: the lines before it are the body's first line
    return Document(path, meta, body, key_lines, text.count("\n", 0, len(text) - len(body)) + 1)


def read_yaml(path: Path) -> Document:
    """Read a plain YAML file (like system/llmos.yaml) as a Document whose ``meta`` is the mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(str(path), [(None, None, f"cannot read: {exc}")]) from None
    try:
        meta, key_lines = _load_yaml(text)
        meta = meta or {}
    except yaml.YAMLError as exc:
        raise _yaml_problem(path, exc, 0) from None
    if not isinstance(meta, dict):
        raise DocumentError(str(path), [(1, None, "must be a mapping of 'key: value' lines")])
    return Document(path, meta, "", key_lines)


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
