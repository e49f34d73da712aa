"""Sphinx extension: fail the build when a page would load anything from another host.

After an HTML build, every page is read for what the browser fetches by itself (scripts,
stylesheets, icons, preloads, images, frames, media) and every stylesheet for ``url(...)`` and
``@import``; an address with a scheme or host (``https://``, ``//cdn...``) is reported as a
warning, which ``make site`` (``-W``) turns into an error. Links a reader clicks (``<a href>``)
are not fetched and stay allowed.

Images on another host written in a page or a notebook's Markdown (a "launch" badge, say) are
shown as their alt text instead, still inside their link, before Sphinx would warn about them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
#: (tag, attribute) pairs whose address the browser loads without a click.
LOADED = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
          ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"),
          ("object", "data"), ("video", "poster"), ("img", "srcset")}
_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)


def is_external(address: str) -> bool:
    """True for an address on another host (a scheme with ``//``, or ``//host``).

    >>> [is_external(a) for a in ("https://cdn.example/x.js", "//fonts.example/a.css",
    ...                           "_static/plotly.min.js", "../notebooks/01.html", "data:,")]
    [True, True, False, False, False]
    """
    return bool(_EXTERNAL.match(address))


class _LoadedAddresses(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if (tag, name) not in LOADED or not value:
                continue
            if name == "srcset":  # "a.png 1x, b.png 2x"
                self.addresses.extend(part.split()[0] for part in value.split(",") if part.strip())
            else:
                self.addresses.append(value)


def external_loads(folder: Path) -> dict[str, list[str]]:
    """relative file -> the external addresses it loads, for every HTML and CSS file in folder."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".html":
            parser = _LoadedAddresses()
            parser.feed(path.read_text(encoding="utf-8", errors="replace"))
            addresses = parser.addresses
        elif path.suffix == ".css":
            text = path.read_text(encoding="utf-8", errors="replace")
            addresses = [a or b for a, b in _CSS_URL.findall(text)]
        else:
            continue
        external = sorted({a for a in addresses if is_external(a)})
        if external:
            found[str(path.relative_to(folder))] = external
    return found


def _remote_images_as_text(app, doctree) -> None:
    for image in list(doctree.findall(nodes.image)):
        if is_external(image.get("uri", "")):
            image.replace_self(nodes.inline(text=image.get("alt") or image["uri"]))


def _check(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for name, addresses in external_loads(Path(app.outdir)).items():
        LOGGER.warning("%s loads from another host: %s", name, ", ".join(addresses[:5]))


def setup(app):
    app.connect("doctree-read", _remote_images_as_text, priority=100)
    app.connect("build-finished", _check, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
