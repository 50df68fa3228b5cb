"""Claude Code compatibility of agent files: its tool names, its frontmatter fields, its YAML habits.

A file Claude Code accepts loads in llmos. What llmos cannot honour is not silent: each agent carries
:class:`Note` s (a dropped tool, an ignored field, a value read leniently) that ``llmos check`` lists
and ``llmos check --strict`` turns into errors (drops and lenient reads).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

# Claude Code's tool names -> llmos syscalls. A name not here (and not a syscall) is dropped with a note.
TOOL_MAP = {
    "Read": "read_file",
    "Write": "write_file",
    "Edit": "edit_file",
    "MultiEdit": "edit_file",
    "LS": "list_dir",
    "Glob": "glob",
    "Grep": "grep",
    "Bash": "bash",
    "WebFetch": "web_fetch",
    "WebSearch": "web_search",
    "TodoWrite": "todo_write",
    "TodoRead": "todo_write",
    "TaskCreate": "todo_write",
    "TaskUpdate": "todo_write",
    "TaskList": "todo_write",
    "TaskGet": "todo_write",
    "Task": "delegate",
    "Agent": "delegate",
}
# What each ignored Claude Code field would need, for the note ``llmos check`` prints.
IGNORED_FIELDS = {
    "permissionMode": "llmos asks no one for permission: the allowlist and protection rules decide",
    "skills": "llmos has no skills; put what the agent needs in its body or memory",
    "hooks": "Claude Code hooks are not run; llmos checks every syscall with its own hooks",
    "mcpServers": "MCP servers are configured for the whole root in system/llmos.yaml (mcp_servers:)",
    "memory": "llmos memory is per root (memory/, recall, remember), not per agent scope",
    "background": "every llmos run is a foreground run; use llmos serve or fleet for background work",
    "effort": "the reasoning effort is set by the model's config, not per agent",
    "isolation": "runs work in the root; protection rules and the sandbox confine them",
    "initialPrompt": "the goal given to llmos boot is the first message",
}
# Near misses with a fix that string similarity would not find.
FIELD_HINTS = {
    "agent_name": "name",
    "agent": "name",
    "title": "name",
    "tool": "tools",
    "allowed_tools": "tools",
    "allowedTools": "tools",
    "allowed-tools": "tools",
    "disallowed_tools": "disallowedTools",
    "max_turns": "maxTurns",
    "permission_mode": "permissionMode",
    "prompt": "the Markdown body after the frontmatter",
    "system_prompt": "the Markdown body after the frontmatter",
    "instructions": "the Markdown body after the frontmatter",
}


@dataclass(frozen=True)
class Note:
    """Something about an agent file llmos does differently from Claude Code. ``kind``: ``dropped``
    (a tool that does nothing here), ``lenient`` (a value read although it is not strict YAML),
    ``ignored`` (a field llmos accepts and does not act on)."""

    line: int | None
    field: str | None
    message: str
    kind: str

    def text(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line else path
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"


def map_tool(entry: str, known: set[str]) -> tuple[list[str], str | None]:
    """The syscalls a ``tools:`` entry grants and, if some of it is dropped, why."""
    entry = entry.strip()
    pattern = re.fullmatch(r"(\w+)\((.*)\)", entry)
    if pattern:  # Bash(git *), Task(reviewer): a restriction llmos cannot enforce; granting more would widen rights
        base = pattern.group(1)
        return [], (
            f"{entry!r} restricts {base} to a pattern, which llmos cannot enforce: dropped "
            f"(list plain {base} to grant all of it)"
        )
    if entry.startswith("mcp__"):
        if entry in known:
            return [entry], None
        server = entry.split("__")[1] if entry.count("__") >= 1 else ""
        tools = sorted(k for k in known if k.startswith(f"mcp__{server}__")) if entry.count("__") == 1 else []
        if tools:  # mcp__SERVER: every tool of that server
            return tools, None
        return [], f"{entry!r} is not a tool of a configured MCP server (mcp_servers: in system/llmos.yaml): dropped"
    name = TOOL_MAP.get(entry, entry)
    if name in known:
        return [name], None
    if entry in TOOL_MAP:
        return [], f"{entry!r} maps to {name!r}, which is not installed here: dropped"
    close = difflib.get_close_matches(entry, [*known, *TOOL_MAP], n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return [], f"unknown tool {entry!r}{hint}: dropped; Claude Code tools llmos has: {', '.join(sorted(TOOL_MAP))}"


def model_spec(model: str | None) -> str | None:
    """Claude Code's ``model`` as an llmos spec: aliases and ``inherit`` stay, a full Claude id gets
    ``anthropic:``."""
    if model and model.startswith("claude-"):
        return f"anthropic:{model}"
    return model


def field_hint(name: str, fields: list[str]) -> str | None:
    """What a near-miss field name was probably meant to be (``'mode' or 'model'``), or None."""
    if name in FIELD_HINTS:
        hint = FIELD_HINTS[name]
        return hint if " " in hint else repr(hint)
    close = difflib.get_close_matches(name, fields, n=2, cutoff=0.75)
    if not close:
        close = [f for f in fields if f.lower() == name.lower().replace("_", "").replace("-", "")]
    return " or ".join(repr(c) for c in close) or None


_KEY_VALUE = re.compile(r"^([A-Za-z_][\w-]*):[ \t]+(.*?)[ \t]*$")


def lenient_frontmatter(text: str) -> tuple[str, list[int]]:
    """Quote top-level plain values that strict YAML rejects only because they hold ``: `` (or `` #``),
    as Claude Code reads them. Returns the repaired text and the 1-based lines quoted."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip("\r") != "---":
        return text, []
    fixed = []
    for i in range(1, len(lines)):
        raw = lines[i]
        line = raw.rstrip("\r")
        if line == "---":
            break
        m = _KEY_VALUE.match(line)
        if not m:
            continue
        value = m.group(2)
        if not value or value[0] in "'\"[{|>&*!#%@`":
            continue
        if ": " in value or value.endswith(":") or " #" in value:
            quoted = "'" + value.replace("'", "''") + "'"
            lines[i] = f"{m.group(1)}: {quoted}" + ("\r" if raw.endswith("\r") else "")
            fixed.append(i + 1)
    return "\n".join(lines), fixed
