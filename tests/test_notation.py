"""docs/notation.md: every handkit name it lists exists, and it lists every symbol the course uses.

A name is written `handkit.module.attribute` (a module, then attributes: a class's method,
property, class attribute, dataclass field or an attribute its __init__ sets), optionally with
parameters: `handkit.data.pairs.labelled_mask(label_every)` also checks that the function takes
``label_every``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "notation.md"
NAME = re.compile(r"`(handkit(?:\.\w+)+)(?:\(([\w, ]+)\))?`")

#: Symbols the page must list (as they are written in its first column), Sec. II of the paper.
SYMBOLS = [r"\gamma", r"\mathbf{r}", r"\theta", r"\beta", r"\mathbf{J}", r"\mathbf{M}",
           r"\mathbf{z}^r", r"\mathbf{z}^\theta", r"\psi", r"\pi^r", r"\pi^\theta", r"\phi^r",
           r"\phi^\theta", "S_V", "U_V", r"\mathcal{N}(u)", "d_f", r"d_{\text{off}}", "t_u",
           "t_v", r"\lambda_J", r"\lambda_\theta", r"\lambda_\beta", r"\lambda_{\text{align}}",
           "$K$", r"$\mathbf{K}$"]


def listed_names() -> list[tuple[str, list[str]]]:
    """(dotted name, parameters) of every handkit name on the page, in order."""
    return [(m.group(1), [p.strip() for p in (m.group(2) or "").split(",") if p.strip()])
            for m in NAME.finditer(PAGE.read_text(encoding="utf-8"))]


def resolve(dotted: str) -> object:
    """The object a dotted handkit name stands for: the longest importable module, then
    attributes; an instance attribute of a class stands for itself (its name, a string)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        break
    for index, attribute in enumerate(parts[cut:], start=cut):
        if hasattr(target, attribute):
            target = getattr(target, attribute)
        elif inspect.isclass(target) and _instance_attribute(target, attribute):
            assert index == len(parts) - 1, f"{dotted}: cannot look inside {attribute}"
            return attribute
        else:
            raise AttributeError(f"{'.'.join(parts[:index])} has no attribute {attribute!r}")
    return target


def _instance_attribute(cls: type, name: str) -> bool:
    """Whether instances of ``cls`` have ``name``: a dataclass field, an annotation or an
    attribute some __init__ of its class hierarchy sets."""
    if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
        return True
    for klass in cls.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            return True
        init = klass.__dict__.get("__init__")
        try:
            source = inspect.getsource(init) if init is not None else ""
        except (OSError, TypeError):  # generated (dataclasses) or built in: no source
            source = ""
        if re.search(rf"self\.{name}\s*[:=]", source):
            return True
    return False


def test_the_page_lists_handkit_names():
    assert len(listed_names()) > 40


@pytest.mark.parametrize(("dotted", "parameters"), listed_names(),
                         ids=[name for name, _ in listed_names()])
def test_every_listed_name_exists(dotted, parameters):
    target = resolve(dotted)
    if parameters:
        signature = inspect.signature(target)
        missing = [p for p in parameters if p not in signature.parameters]
        assert not missing, f"{dotted} takes no parameter {missing}: {signature}"


def test_the_page_lists_every_symbol_of_the_paper():
    text = PAGE.read_text(encoding="utf-8")
    first_column = "\n".join(line.split("|")[1] for line in text.splitlines()
                             if line.startswith("| ") and line.count("|") > 2)
    missing = [symbol for symbol in SYMBOLS if symbol not in first_column]
    assert not missing, f"docs/notation.md lists no {missing}"


def test_resolve_refuses_a_name_that_does_not_exist():
    with pytest.raises(AttributeError, match="no attribute 'K'"):
        resolve("handkit.data.record.FrameRecord.K")
    assert resolve("handkit.data.record.FrameRecord.intrinsics") == "intrinsics"


def test_the_readme_and_the_website_link_the_page():
    readme = (PAGE.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "(docs/notation.md)" in readme
    assert "(notation.md)" in (PAGE.parent / "index.md").read_text(encoding="utf-8")
