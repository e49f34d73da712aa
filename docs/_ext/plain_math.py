"""Sphinx extension: formulas as plain HTML, so no page loads MathJax from the web.

The pages and notebooks write their symbols in Unicode (γ, θ, λ_align); the few ``$...$``
formulas left are short, such as ``$\\mathbf{K}$``. ``html_math_renderer = "plain"`` draws them
with HTML: Greek letters and common symbols as Unicode, ``\\mathbf`` bold, ``_`` and ``^`` as
sub- and superscripts. Anything else stays as its TeX source, readable.
"""

from __future__ import annotations

import html
import re

from docutils import nodes

SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "theta": "θ",
    "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "phi": "φ", "psi": "ψ", "omega": "ω",
    "Delta": "Δ", "Sigma": "Σ", "Phi": "Φ", "cdot": "·", "times": "×", "to": "→",
    "rightarrow": "→", "leftarrow": "←", "in": "∈", "le": "≤", "ge": "≥", "approx": "≈",
    "sum": "∑", "infty": "∞", "pm": "±", "|": "‖",
}
STYLES = {"mathbf": "b", "boldsymbol": "b", "mathrm": "span", "text": "span", "mathit": "i"}
_STYLED = re.compile(r"\\(" + "|".join(STYLES) + r")\{([^{}]*)\}")
_SYMBOL = re.compile(r"\\([A-Za-z]+|\|)")
_SCRIPT = re.compile(r"([_^])(?:\{([^{}]*)\}|(\\?[^\s{}\\]))")


def tex_to_html(tex: str) -> str:
    """A short TeX formula as HTML.

    >>> tex_to_html(r"\\mathbf{K}")
    '<b>K</b>'
    >>> tex_to_html(r"\\lambda_{align} \\cdot L_J^2")
    'λ<sub>align</sub> · L<sub>J</sub><sup>2</sup>'
    """
    text = html.escape(tex.strip(), quote=False)
    text = _STYLED.sub(lambda m: f"<{STYLES[m[1]]}>{m[2]}</{STYLES[m[1]]}>", text)
    text = _SYMBOL.sub(lambda m: SYMBOLS.get(m[1], m[0]), text)
    tags = {"_": "sub", "^": "sup"}
    text = _SCRIPT.sub(lambda m: f"<{tags[m[1]]}>{m[2] or m[3]}</{tags[m[1]]}>", text)
    return text.replace("{", "").replace("}", "")


def _visit_inline(self, node) -> None:
    self.body.append(f'<span class="handkit-math">{tex_to_html(node.astext())}</span>')
    raise nodes.SkipNode


def _visit_block(self, node) -> None:
    self.body.append(f'<div class="math handkit-math">{tex_to_html(node.astext())}</div>')
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("plain", (_visit_inline, None), (_visit_block, None))
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
