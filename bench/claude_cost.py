"""Claude cost benchmark: one 20-step conversation with prompt caching off (baseline) and on, in one run.

Against the loopback Messages-API server of the tests (tests/anthropic_stub.py: it reports usage as the
real API does, including cache writes and reads, reads only for a prefix cached by an earlier request,
and it validates every request against the API's rules and counts violations). The conversation is
realistic work: read files, write files, remember a fact, rewrite the working memory (both used to
re-render the system prompt and break the cache), list folders, finish. Reported per setting: input
tokens (uncached, cache write, cache read), the cache-read share, cost per run at Sonnet prices, the
peak request size, invalid requests.

    python bench/claude_cost.py           # a table and the targets
    python bench/claude_cost.py --json    # every figure by name

Targets: cost with caching >= 60% lower than without; peak request <= the configured window share;
zero invalid requests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from anthropic_stub import StubServer, tool_use  # noqa: E402
from llmos.kernel import Kernel  # noqa: E402
from llmos.root import init_root  # noqa: E402

MODEL = "claude-sonnet-4-6"
PRICE = {"input": 3.0, "output": 15.0, "write": 3.75, "read": 0.3}


def conversation() -> list[dict]:
    """20 replies: the model's side of a realistic working session."""
    notes = "\n".join(f"- item {n}: check the {w} and write it down" for n, w in enumerate("abcdefghij"))
    steps = [
        tool_use("s1", "list_dir", path="projects"),
        tool_use("s2", "read_file", path="projects/app/README.md"),
        tool_use("s3", "read_file", path="projects/app/design.md"),
        tool_use("s4", "rewrite_working_memory", content="- reading the app's docs\n" + notes),
        tool_use("s5", "write_file", path="projects/app/plan.md", content="# Plan\n\n" + notes + "\n"),
        tool_use("s6", "remember", text="The app's API listens on port 8443 behind the proxy"),
        tool_use("s7", "list_dir", path="projects/app"),
        tool_use("s8", "read_file", path="projects/app/plan.md"),
        tool_use("s9", "write_file", path="projects/app/api.md", content="# API\n\nPort 8443.\n" * 20),
        tool_use("s10", "remember", text="Deploys go out on Thursdays after the review"),
        tool_use("s11", "read_file", path="projects/app/api.md"),
        tool_use("s12", "rewrite_working_memory", content="- plan and API written\n- next: changelog"),
        tool_use("s13", "write_file", path="projects/app/CHANGELOG.md", content="## 0.2\n- plan\n- API notes\n"),
        tool_use("s14", "list_dir", path="projects/app"),
        tool_use("s15", "read_file", path="projects/app/CHANGELOG.md"),
        tool_use("s16", "recall", query="deploy day"),
        tool_use("s17", "write_file", path="projects/app/deploy.md", content="Deploy on Thursday.\n"),
        tool_use("s18", "budget_status"),
        tool_use("s19", "rewrite_working_memory", content="- all written; nothing open"),
        tool_use("s20", "finish", result="wrote plan, API notes, changelog and deploy notes"),
    ]
    return steps


def make_root(base: Path, cache: bool) -> Path:
    root = init_root(base / ("cached" if cache else "plain"))
    path = root / "system/llmos.yaml"
    config = yaml.safe_load(path.read_text())
    config["anthropic"]["cache"] = cache
    path.write_text(yaml.safe_dump(config))
    app = root / "projects/app"
    app.mkdir(parents=True)
    (app / "README.md").write_text("# The app\n\n" + "It serves the team's dashboards and reports. " * 30 + "\n")
    (app / "design.md").write_text("# Design\n\n" + "Requests pass the proxy, then the API, then the store. " * 40)
    return root


def one(cache: bool, base: Path) -> dict:
    root = make_root(base, cache)
    with StubServer(conversation()) as stub:
        os.environ["ANTHROPIC_API_KEY"] = "sk-ant-bench"
        os.environ["ANTHROPIC_BASE_URL"] = stub.url
        res = Kernel(root).run(
            "Write the app's plan, API notes, changelog and deploy notes", model=f"anthropic:{MODEL}", max_steps=25
        )
    u = stub.usages
    plain = sum(x["input_tokens"] for x in u)
    wrote = sum(x["cache_creation_input_tokens"] for x in u)
    read = sum(x["cache_read_input_tokens"] for x in u)
    out = sum(x["output_tokens"] for x in u)
    cost = (plain * PRICE["input"] + wrote * PRICE["write"] + read * PRICE["read"] + out * PRICE["output"]) / 1e6
    sizes = [x["input_tokens"] + x["cache_creation_input_tokens"] + x["cache_read_input_tokens"] for x in u]
    return {
        "outcome": res.outcome,
        "requests": len(stub.requests),
        "invalid_requests": len(stub.violations),
        "input_tokens_total": plain + wrote + read,
        "uncached_input_tokens": plain,
        "cache_write_tokens": wrote,
        "cache_read_tokens": read,
        "cache_read_share": round(read / max(1, plain + wrote + read), 4),
        "output_tokens": out,
        "cost_usd": round(cost, 6),
        "cost_usd_llmos_says": round(res.cost_usd, 6),
        "first_request_tokens": sizes[0],
        "peak_request_tokens": max(sizes),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="llmos-claude-cost-"))
    off, on = one(False, base), one(True, base)
    window_share = 200_000 * 0.5  # anthropic.compact_share of Sonnet's window, the default
    saving = 1 - on["cost_usd"] / off["cost_usd"]
    figures = {
        "caching_off": off,
        "caching_on": on,
        "cost_reduction": round(saving, 4),
        "window_share_tokens": int(window_share),
        "targets": {
            "cost_reduction_ge_60pct": saving >= 0.60,
            "peak_within_window_share": max(off["peak_request_tokens"], on["peak_request_tokens"]) <= window_share,
            "zero_invalid_requests": off["invalid_requests"] == on["invalid_requests"] == 0,
            "llmos_cost_matches_the_servers": abs(on["cost_usd"] - on["cost_usd_llmos_says"]) < 1e-6,
        },
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{'':<26}{'caching off':>14}{'caching on':>14}")
        for key in off:
            print(f"{key:<26}{off[key]!s:>14}{on[key]!s:>14}")
        print(f"cost reduction: {saving:.1%} (target >= 60%)")
        for name, ok in figures["targets"].items():
            print(f"  {'ok ' if ok else 'MISSED'} {name}")
    return 0 if all(figures["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
