"""``web_fetch`` and ``web_search`` (Claude Code's ``WebFetch`` and ``WebSearch``).

``web_fetch`` is off until ``web.fetch_domains`` lists domains; only http(s) URLs on those domains (and
their subdomains; ``*`` for any) are read, redirects included, within ``web.fetch_max_bytes`` and
``web.fetch_timeout_s``. HTML becomes Markdown (markdownify, scripts and styles dropped); the whole
text is stored as a blob and the first ``web.fetch_inline_chars`` come back inline.

``web_search`` asks a provider named by ``web.search_provider`` (``"module:attr"``: a class or factory
whose object has ``search(query, max_results) -> list[dict(title, url, snippet)]``); none by default.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from importlib import import_module
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..plugins import hookimpl
from ..syscalls import Context, Outcome, syscall
from ..syscalls.hooks import Refused
from .config import WebConfig


class SearchProvider(Protocol):
    """A web search backend: ``search`` returns dicts with ``title``, ``url`` and ``snippet``."""

    def search(self, query: str, max_results: int) -> list[dict[str, str]]: ...


def settings(ctx: Context) -> WebConfig:
    return getattr(ctx.config, "web", None) or WebConfig()


def allowed_host(host: str, domains: list[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(d == "*" or host == d.lower() or host.endswith("." + d.lower()) for d in domains)


def check_url(url: str, domains: list[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"{url!r} is not an http(s) URL")
    if not domains:
        raise Refused("web_fetch is off: list the domains it may read in web.fetch_domains (system/llmos.yaml)")
    if not allowed_host(parts.hostname, domains):
        raise Refused(f"{parts.hostname} is not in web.fetch_domains ({', '.join(domains)}); a person can add it")


class _Redirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, domains: list[str]):
        self.domains = domains

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        check_url(newurl, self.domains)  # a redirect off the allowlist is refused, not followed
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, cfg: WebConfig) -> tuple[str, str, int]:
    """``(text, content type, status)`` of ``url``, read within the config's limits."""
    check_url(url, cfg.fetch_domains)
    opener = urllib.request.build_opener(_Redirects(cfg.fetch_domains))
    request = urllib.request.Request(url, headers={"User-Agent": "llmos-web_fetch/1", "Accept": "text/*, */*;q=0.5"})
    with opener.open(request, timeout=cfg.fetch_timeout_s) as resp:
        data = resp.read(cfg.fetch_max_bytes + 1)
        kind = resp.headers.get_content_type()
        charset = resp.headers.get_content_charset() or "utf-8"
        status = resp.status
    if len(data) > cfg.fetch_max_bytes:
        raise Refused(f"the response is larger than web.fetch_max_bytes ({cfg.fetch_max_bytes:,} bytes)")
    return data.decode(charset, "replace"), kind, status


def to_markdown(html: str) -> str:
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    text = MarkdownConverter(heading_style="ATX").convert_soup(soup)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip().replace("\n\n\n", "\n\n")


@syscall
def web_fetch(ctx: Context, url: str) -> Outcome:
    """Read a web page on an allowed domain; HTML comes back as Markdown.

    Args:
        url: the http(s) URL to read, e.g. https://docs.python.org/3/library/re.html
    """
    cfg = settings(ctx)
    try:
        body, kind, status = fetch(url, cfg)
    except urllib.error.HTTPError as exc:
        return Outcome(False, f"{url}: HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, TimeoutError) as exc:
        return Outcome(False, f"{url}: {getattr(exc, 'reason', exc)}")
    if not (kind.startswith("text/") or kind in ("application/json", "application/xml", "application/xhtml+xml")):
        return Outcome(False, f"{url}: {kind} is not text")
    text = to_markdown(body) if "html" in kind else body
    from ..blobs import BlobStore
    from ..scrub import scrub

    text = scrub(text)
    with BlobStore.open(Path(ctx.path(".")) / ".llmos" / "blobs") as store:
        bid = store.put(text, "tool_io")
    shown = text[: cfg.fetch_inline_chars]
    more = f"\n[... {len(text) - len(shown)} more characters; whole page blob:{bid}]" if len(text) > len(shown) else ""
    return Outcome(True, f"{url} ({status}, {kind}, blob:{bid})\n\n{shown}{more}")


def provider(cfg: WebConfig) -> SearchProvider:
    if not cfg.search_provider:
        raise Refused(
            "web_search has no provider: set web.search_provider in system/llmos.yaml to 'module:attr' "
            "of a search provider (none is configured by default)"
        )
    module, _, attr = cfg.search_provider.partition(":")
    try:
        factory = getattr(import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise Refused(f"web.search_provider {cfg.search_provider!r} cannot be loaded: {exc}") from None
    return factory()


@syscall
def web_search(ctx: Context, query: str, max_results: int = 8) -> Outcome:
    """Search the web with the configured provider; returns titles, URLs and snippets.

    Args:
        query: what to search for
        max_results: at most this many results (1-20)
    """
    results = provider(settings(ctx)).search(query, max(1, min(max_results, 20)))
    row = "{n}. {title}\n   {url}\n   {snippet}"
    keys = ("title", "url", "snippet")
    lines = [row.format(n=n, **{k: r.get(k, "") for k in keys}) for n, r in enumerate(results, 1)]
    return Outcome(True, "\n".join(lines) or "(no results)")


@hookimpl
def register_syscalls(register: Any) -> None:
    """This family's syscalls, through the same door as any plugin's."""
    for fn in (web_fetch, web_search):
        register(fn)
