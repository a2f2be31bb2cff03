"""The patient education pages: content/education.toml, checked against the catalogue.

Every paragraph cites catalogue sources; an unknown source key or a page for an
indication the catalogue does not have stops the load (as the catalogue itself does).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from touchup.core.catalogue import Source, load_catalogue

CONTENT = Path(__file__).with_name("content") / "education.toml"


@dataclass(frozen=True)
class Section:
    heading: str
    text: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Page:
    indication: str
    name: str
    kind: str
    summary: str
    sections: tuple[Section, ...]

    @property
    def sources(self) -> tuple[Source, ...]:
        seen: dict[str, Source] = {}
        for s in self.sections:
            for src in s.sources:
                seen.setdefault(src.key, src)
        return tuple(seen.values())


class ContentError(ValueError):
    pass


def _section(raw: dict, where: str) -> Section:
    sources = load_catalogue().sources
    for key in ("heading", "text", "src"):
        if not raw.get(key):
            raise ContentError(f"education.toml: {where}: {key} is missing")
    unknown = [s for s in raw["src"] if s not in sources]
    if unknown:
        raise ContentError(f"education.toml: {where}: unknown source {unknown[0]!r}")
    return Section(raw["heading"], raw["text"], tuple(sources[s] for s in raw["src"]))


@functools.cache
def pages() -> dict[str, Page]:
    with CONTENT.open("rb") as fh:
        raw = tomllib.load(fh)
    cat = load_catalogue()
    common = tuple(_section(s, f"common[{i}]") for i, s in enumerate(raw.get("common", [])))
    out = {}
    for key, data in raw.get("indications", {}).items():
        ind = cat.indications.get(key)
        if ind is None:
            raise ContentError(f"education.toml: indications.{key}: not an indication of the catalogue")
        own = tuple(_section(s, f"indications.{key}.sections[{i}]") for i, s in enumerate(data.get("sections", [])))
        out[key] = Page(key, ind.name, ind.kind, data.get("summary", ""), own + common)
    return out


def page_for(indication: str) -> Page | None:
    return pages().get(indication)
