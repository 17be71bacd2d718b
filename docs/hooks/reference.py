"""MkDocs hook: writes the generated reference where a page says `<!-- reference:NAME -->`,
and makes the README the home page (a page saying `<!-- readme -->` becomes the README).

The tables come from `mlops_assets.tools.docs_reference` (the settings models, the model spec,
the server's OpenAPI), so the site cannot describe a setting, a fleet field or a route that the
code does not have.
"""

import re
from pathlib import Path

from mkdocs.exceptions import PluginError

from mlops_assets.tools.docs_reference import REFERENCES

MARKER = re.compile(r"<!-- reference:([a-z-]+) -->")
README = Path(__file__).resolve().parents[2] / "README.md"
# The README links the docs pages as `docs/<page>.md` and the root files by name; on the site's
# home page the same links point at the pages themselves.
README_LINKS = {
    "](docs/": "](",
    "](SECURITY.md)": "](security.md)",
    "](BENCHMARKS.md)": "](benchmarks.md)",
    "](SCALING.md)": "](scaling-further.md)",
}


def readme_for_site() -> str:
    """The README as the site's home page, its links pointing at the site's pages."""
    text = README.read_text()
    for old, new in README_LINKS.items():
        text = text.replace(old, new)
    return text


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replaces each marker of the page with its generated reference."""

    def generated(match: re.Match) -> str:
        name = match.group(1)
        if name not in REFERENCES:
            known = ", ".join(REFERENCES)
            raise PluginError(f"{page.file.src_path}: no reference {name!r} (known: {known})")
        return REFERENCES[name]()

    if "<!-- readme -->" in markdown:
        return readme_for_site()
    return MARKER.sub(generated, markdown)
