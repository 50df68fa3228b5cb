"""web_fetch against a local HTTP server (never the internet) and web_search through the provider interface."""

import http.server
import threading
from pathlib import Path

import pytest
import yaml

from llmos.kernel import Kernel
from llmos.syscalls import Context

PAGE = b"""<html><head><title>T</title><style>p{color:red}</style><script>alert('x')</script></head>
<body><h1>Hello</h1><p>Some <b>bold</b> text and a <a href="/next">link</a>.</p><ul><li>one</li><li>two</li></ul>
</body></html>"""


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the stdlib's name)
        routes = {
            "/page": (200, "text/html; charset=utf-8", PAGE),
            "/big": (200, "text/plain", b"x" * 5000),
            "/bin": (200, "image/png", b"\x89PNG"),
            "/away": (302, "text/plain", b""),
        }
        code, kind, body = routes.get(self.path, (404, "text/plain", b"no"))
        self.send_response(code)
        self.send_header("Content-Type", kind)
        if code == 302:
            self.send_header("Location", "http://elsewhere.invalid/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


def configure(root: Path, **web) -> Kernel:
    path = root / "system" / "llmos.yaml"
    config = yaml.safe_load(path.read_text())
    config["web"] = web
    path.write_text(yaml.safe_dump(config))
    return Kernel(root)


def call(kernel: Kernel, name: str, **args):
    return kernel.syscalls.call(Context(kernel.root, "tester", host=kernel), name, args)


def test_web_fetch_is_off_by_default_and_says_which_key_turns_it_on(root: Path, server: str):
    res = call(Kernel(root), "web_fetch", url=f"{server}/page")
    assert not res.ok and "web.fetch_domains" in res.output


def test_html_becomes_markdown_and_the_page_is_kept_as_a_blob(root: Path, server: str):
    kernel = configure(root, fetch_domains=["127.0.0.1"])
    res = call(kernel, "web_fetch", url=f"{server}/page")
    assert res.ok, res.output
    assert "# Hello" in res.output and "Some **bold** text and a [link](/next)." in res.output
    assert "* one" in res.output or "- one" in res.output
    assert "alert" not in res.output and "color:red" not in res.output and "blob:" in res.output


def test_domains_redirects_schemes_size_and_type_are_limited(root: Path, server: str):
    kernel = configure(root, fetch_domains=["127.0.0.1"], fetch_max_bytes=1024, fetch_inline_chars=200)
    assert "not in web.fetch_domains" in call(kernel, "web_fetch", url="http://example.com/").output
    assert "elsewhere.invalid is not in web.fetch_domains" in call(kernel, "web_fetch", url=f"{server}/away").output
    assert "not an http(s) URL" in call(kernel, "web_fetch", url="file:///etc/passwd").output
    assert "larger than web.fetch_max_bytes" in call(kernel, "web_fetch", url=f"{server}/big").output
    assert "image/png is not text" in call(kernel, "web_fetch", url=f"{server}/bin").output
    assert "HTTP 404" in call(kernel, "web_fetch", url=f"{server}/missing").output


def test_web_search_refuses_without_a_provider_naming_the_key_and_uses_one_when_set(root: Path):
    res = call(Kernel(root), "web_search", query="llmos")
    assert not res.ok and "web.search_provider" in res.output
    kernel = configure(root, search_provider="search_provider:Fixed")
    res = call(kernel, "web_search", query="llmos", max_results=2)
    assert res.ok and res.output.count("About llmos") == 2 and "https://example.org/a" in res.output


def test_check_warns_about_fetching_anywhere_and_networked_shells(root: Path):
    from helpers import run_llmos

    configure(root, fetch_domains=["*"])
    path = root / "system" / "llmos.yaml"
    path.write_text(path.read_text() + "shell:\n  network_agents: [builder]\n")
    res = run_llmos("check", root=root)
    assert res.returncode == 0, res.stdout
    assert "web.fetch_domains has '*'" in res.stderr and "lets builder use the network from bash" in res.stderr
