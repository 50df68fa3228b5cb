"""``llmos check``: every problem of an OS root (errors) and what is risky about its set-up (warnings)."""

from __future__ import annotations

from pathlib import Path

from .config import load_config
from .docs import read_document, read_yaml, validate
from .errors import DocumentError
from .kernel import Kernel


def check_root(root: Path, *, strict: bool = False) -> list[DocumentError]:
    """Every problem in ``root``: config first (nothing else can load without it), then the rest.
    ``strict``: an agent's dropped tools and leniently read values are errors too."""
    try:
        kernel = Kernel(root)
    except DocumentError as exc:
        return [exc]
    errors = kernel.check()
    if strict:
        from .agents import load_all_agents

        strict_errors = load_all_agents(kernel.root, set(kernel.syscalls.names()), strict=True)[1]
        paths = {e.path for e in strict_errors}
        errors = [*strict_errors, *(e for e in errors if e.path not in paths)]
    return [*errors, *prompt_problems(kernel.root), *tool_state_problems(kernel.root)]


def toolbelt_warnings(root: Path) -> list[str]:
    """What is risky or off in the toolbelt's config: bash without a sandbox, fetching from anywhere,
    agents whose commands reach the network."""
    from .modes.jail import bwrap_path

    try:
        config = load_config(root)
    except DocumentError:
        return []
    out = []
    if bwrap_path() is None:
        if config.shell.unsandboxed:
            out.append("bash runs WITHOUT a sandbox (shell.unsandboxed, no bubblewrap): apt-get install bubblewrap")
        else:
            out.append("bubblewrap is not installed: bash will be refused (apt-get install bubblewrap)")
    if "*" in config.web.fetch_domains:
        out.append("web.fetch_domains has '*': web_fetch may read any domain an agent names")
    if config.shell.network_agents:
        out.append(f"shell.network_agents lets {', '.join(config.shell.network_agents)} use the network from bash")
    return out


def agent_notes(root: Path, kinds: tuple[str, ...] = ("dropped", "lenient", "ignored")) -> list[str]:
    """What llmos does differently from Claude Code with each agent file that loads: dropped tools,
    values read leniently, fields accepted and ignored (``llmos check`` prints them as warnings)."""
    from .agents import load_all_agents

    try:
        kernel = Kernel(root)
    except DocumentError:
        return []
    found = load_all_agents(kernel.root, set(kernel.syscalls.names()))[0]
    lines = [n.text(str(a.path.relative_to(kernel.root))) for a in found for n in a.notes if n.kind in kinds]
    return list(kernel.mcp_problems) + lines  # servers whose tools could not be listed


# Templates the kernel renders with no built-in fallback: a root without one fails some command.
REQUIRED_PROMPTS = ("agent", "local", "handoff", "mixed", "rerank", "brief", "dream")


def prompt_problems(root: Path) -> list[DocumentError]:
    """Each of :data:`REQUIRED_PROMPTS` must exist; each template in system/prompts/ must parse and use
    only the ``${placeholders}`` the kernel provides for it (an unknown one fails every render)."""
    from .prompts import check_template

    folder = Path(root) / "system" / "prompts"
    errors = []
    for name in sorted({*REQUIRED_PROMPTS, *(p.stem for p in folder.glob("*.md"))}):
        path = folder / f"{name}.md"
        if not path.is_file():
            fix = "prompt template missing: restore it from a fresh `llmos init` root or the llmos repository"
            errors.append(DocumentError(str(path), [(None, None, fix)]))
            continue
        try:
            doc = read_document(path, require_frontmatter=False)
        except DocumentError as exc:
            errors.append(exc)
            continue
        problems = [(doc.body_line + n - 1 if n else None, None, m) for n, m in check_template(name, doc.body)]
        if problems:
            errors.append(DocumentError(str(path), problems))
    return errors


def tool_state_problems(root: Path) -> list[DocumentError]:
    """Each ``crystallized/NAME.yaml`` must parse, fit the tool-state schema and name its own tool."""
    from .modes.toolstate import FOLDER, ToolState

    errors = []
    for path in sorted((Path(root) / FOLDER).glob("*.yaml")):
        try:
            doc = read_yaml(path)
            state = validate(doc, ToolState)
        except DocumentError as exc:
            errors.append(exc)
            continue
        if state.name != path.stem:
            why = f"is {state.name!r} but the file is {path.name}: the kernel looks for {state.name}.py; rename one"
            errors.append(DocumentError(str(path), [(doc.key_lines.get("name"), "name", why)]))
    return errors


CEILINGS = ("per_run", "per_agent_day", "per_day", "total")  # USD ceilings of the budget: section


def check_warnings(root: Path) -> list[str]:
    """What ``llmos check`` warns about without failing: no spending ceiling, an unsandboxed or
    over-privileged setup."""
    from fnmatch import fnmatchcase

    from .modes.jail import bwrap_path

    try:
        config = load_config(root)
    except DocumentError:
        return []  # check_root reports it
    out = []
    if all(getattr(config.budget, c) is None for c in CEILINGS):
        out.append(
            f"no spending ceiling is set: system/llmos.yaml has none of {', '.join('budget.' + c for c in CEILINGS)}, "
            "so runs on a paid model can spend without limit; set at least budget.per_run and budget.per_day (USD)"
        )
    if bwrap_path() is None:
        if config.crystallize.unsandboxed:
            out.append(
                "crystallized tools run WITHOUT a sandbox (crystallize.unsandboxed: true, and bubblewrap is "
                "missing): a tool can read, write and send anything this user can; apt-get install bubblewrap"
            )
        else:
            out.append("bubblewrap is not installed: crystallized tools will be refused (apt-get install bubblewrap)")
    elif config.crystallize.unsandboxed:
        out.append("crystallize.unsandboxed is true; bubblewrap is installed and is used anyway")
    sensitive = [
        "system/llmos.yaml",
        "system/prompts/agent.md",
        "crystallized/x.py",
        "traces/2026/01/x.md",
        ".gitignore",
        "memory/delta/x.md",
    ]
    for grant in config.protection.grants:
        own = f"agents/{grant.agent}.md"
        hits = [t for t in [*sensitive, own] if any(fnmatchcase(t, p) for p in grant.paths)]
        if hits:
            out.append(
                f"protection.grants lets agent {grant.agent!r} write {', '.join(hits)}: it can raise its own "
                "rights or forge history in later runs"
            )
    from .modes.evidence import ignored_traces

    return out + ignored_traces(root)  # traces that are not what their run committed
