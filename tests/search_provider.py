"""A web search provider for tests/test_toolbelt_web.py: the provider interface, answered from a list."""


class Fixed:
    def search(self, query: str, max_results: int) -> list[dict[str, str]]:
        hits = [{"title": f"About {query}", "url": "https://example.org/a", "snippet": "first"}] * 30
        return hits[:max_results]
