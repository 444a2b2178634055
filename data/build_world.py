"""Build ``data/world.nt``: a small encyclopedic knowledge base of the world's countries.

Usage: ``python data/build_world.py [--out data/world.nt]`` (needs the ``world`` extra,
``countryinfo``). Every fact comes from countryinfo's data files; nothing is invented.

The graph is Wikidata-like, so that kgqa can ask multi-hop questions of it:

- countries, capitals, regions, subregions, languages and currencies are entities under
  ``http://kgqa.example/world/entity/`` with ids made from their names (``France``,
  ``Luxembourg_(city)`` where a city shares its country's name, ``fr_(language)``,
  ``EUR_(currency)``: countryinfo names languages and currencies only by their ISO codes);
- relations are ``http://kgqa.example/world/prop/<name>`` with English names (``capital``,
  ``borders``, ``official_language``...), each with an ``rdfs:label`` and a description;
- names: ``rdfs:label`` in English plus countryinfo's translations (de, es, fr, it, ja, nl, pt,
  ru, zh where given), ``skos:altLabel`` for alternative spellings and native names (without a
  language tag: countryinfo does not say which language they are in), ``schema:description``.

A country is kept when it has a name, an ISO alpha-3 code that countryinfo resolves back to it
(which drops duplicates such as Burma/Myanmar and Wales, whose data reuse another country's
code), a region and a subregion. Deliberately left out: geometry, coordinates, provinces, flags,
Wikipedia links, and facts countryinfo lacks (language and currency names).

The output is sorted N-Triples in UTF-8, so two runs give identical bytes.
"""

from __future__ import annotations

import argparse
import importlib.metadata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from countryinfo import CountryInfo, CountryNotFoundError

BASE = "http://kgqa.example/world/"
ENTITY = BASE + "entity/"
PROP = BASE + "prop/"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS_ALT_LABEL = "http://www.w3.org/2004/02/skos/core#altLabel"
SCHEMA_DESCRIPTION = "http://schema.org/description"
XSD = "http://www.w3.org/2001/XMLSchema#"

LANGUAGES = ("de", "es", "fr", "it", "ja", "nl", "pt", "ru", "zh")
"""Translation languages kept as labels, besides the English name."""

PROPERTIES: dict[str, tuple[str, str]] = {
    "capital": ("capital", "seat of government of a country"),
    "capital_of": ("capital of", "country whose capital this city is"),
    "borders": ("borders", "country that shares a land border with this one"),
    "official_language": ("official language", "official language of a country"),
    "currency": ("currency", "currency used in a country"),
    "located_in_region": ("located in region", "world region a country is in"),
    "located_in_subregion": ("located in subregion", "part of a world region a country is in"),
    "part_of_region": ("part of region", "world region a subregion belongs to"),
    "population": ("population", "number of inhabitants"),
    "area": ("area", "area in square kilometres"),
    "demonym": ("demonym", "name for the people of a country"),
    "calling_code": ("calling code", "international telephone calling code"),
    "timezone": ("timezone", "time zone as an offset from UTC"),
    "top_level_domain": ("top-level domain", "internet country code top-level domain"),
    "iso_alpha2_code": ("ISO alpha-2 code", "ISO 3166-1 alpha-2 country code"),
    "iso_alpha3_code": ("ISO alpha-3 code", "ISO 3166-1 alpha-3 country code"),
    "iso_numeric_code": ("ISO numeric code", "ISO 3166-1 numeric country code"),
}
"""Relation local name -> (English label, description)."""

_INVISIBLE = str.maketrans("", "", "\u200e\u200f")  # bidi marks some native names carry


@dataclass(frozen=True)
class Country:
    """The facts about one country that go into the graph, cleaned from countryinfo's record."""

    name: str
    alpha2: str
    alpha3: str
    numeric: str
    region: str
    subregion: str
    capitals: tuple[str, ...]
    borders: tuple[str, ...]
    languages: tuple[str, ...]
    currencies: tuple[str, ...]
    population: int | None
    area: Decimal | None
    demonym: str
    calling_codes: tuple[str, ...]
    timezones: tuple[str, ...]
    tlds: tuple[str, ...]
    translations: tuple[tuple[str, str], ...]
    alt_names: tuple[str, ...]


# --- N-Triples terms -------------------------------------------------------------------------


def iri(value: str) -> str:
    """An IRI term."""
    return f"<{value}>"


def literal(text: str, lang: str | None = None, datatype: str | None = None) -> str:
    """A literal term, escaped for N-Triples; plain (xsd:string) without lang or datatype."""
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    if lang:
        return f'"{body}"@{lang}'
    if datatype:
        return f'"{body}"^^<{XSD}{datatype}>'
    return f'"{body}"'


def line(subject: str, predicate: str, obj: str) -> str:
    """One N-Triples statement (subject and predicate are IRIs, ``obj`` a ready term)."""
    return f"{iri(subject)} {iri(predicate)} {obj} ."


def local_id(name: str, kind: str | None = None) -> str:
    """A URL-safe entity local name: spaces become ``_``, other unsafe characters are escaped."""
    text = f"{name} ({kind})" if kind else name
    return quote(text.replace(" ", "_"), safe="(),")


# --- reading countryinfo ---------------------------------------------------------------------


def strings(value: Any) -> tuple[str, ...]:
    """The non-empty strings in a field that may be missing, a string or a list."""
    items = [value] if isinstance(value, str) else value or []
    return tuple(dict.fromkeys(s.strip() for s in items if isinstance(s, str) and s.strip()))


def resolve_code(code: str) -> str | None:
    """The name of the country with ISO code ``code``, by countryinfo's own lookup, or None.

    The match is checked against the code itself, so countryinfo's optional fuzzy fallback
    can never turn an unknown code into a wrong country.
    """
    try:
        info = CountryInfo(code)
    except (CountryNotFoundError, ValueError):
        return None
    return info.name() if code.upper() in (info.iso(2), info.iso(3)) else None


def alt_names(raw: Mapping[str, Any], codes: set[str], name: str) -> tuple[str, ...]:
    """Alternative spellings and native names, without ISO codes and the English name."""
    native = raw.get("nativeName") or ""
    parts = [p.translate(_INVISIBLE) for p in native.split(" / ")]
    names = strings(list(raw.get("altSpellings") or []) + parts)
    return tuple(n for n in names if n not in codes and n != name)


def translations(raw: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The kept translations of the country's name, as (language, text) pairs."""
    given = raw.get("translations") or {}
    return tuple((lang, given[lang].strip()) for lang in LANGUAGES
                 if isinstance(given.get(lang), str) and given[lang].strip())


def number(value: Any) -> Decimal | None:
    """A positive-or-zero number from the data as a Decimal, or None when absent."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return Decimal(str(value))


def parse_country(raw: Mapping[str, Any]) -> Country | None:
    """A ``Country`` from one countryinfo record, or None when an essential field is missing."""
    name, iso = (raw.get("name") or "").strip(), raw.get("ISO") or {}
    alpha3, region, subregion = iso.get("alpha3") or "", raw.get("region"), raw.get("subregion")
    if not (name and alpha3 and region and subregion) or resolve_code(alpha3) != name:
        return None
    alpha2, numeric = iso.get("alpha2") or "", iso.get("numeric") or ""
    population = number(raw.get("population"))
    return Country(
        name=name, alpha2=alpha2, alpha3=alpha3, numeric=numeric,
        region=region.strip(), subregion=subregion.strip(),
        capitals=strings(raw.get("capital")),
        borders=tuple(b for b in (resolve_code(c) for c in strings(raw.get("borders"))) if b),
        languages=strings(raw.get("languages")), currencies=strings(raw.get("currencies")),
        population=int(population) if population is not None else None,
        area=number(raw.get("area")), demonym=(raw.get("demonym") or "").strip(),
        calling_codes=strings(raw.get("callingCodes")),
        # U+2212 MINUS SIGN -> "-", so that an offset typed in a question matches
        timezones=tuple(t.replace("\u2212", "-") for t in strings(raw.get("timezones"))),
        tlds=strings(raw.get("tld")), translations=translations(raw),
        alt_names=alt_names(raw, {alpha2, alpha3}, name),
    )


def load_countries() -> list[Country]:
    """Every country countryinfo knows that has the essential fields, sorted by name."""
    parsed = (parse_country(raw) for raw in CountryInfo.all().values())
    return sorted((c for c in parsed if c is not None), key=lambda c: c.name)


# --- entity ids --------------------------------------------------------------------------------


def assign_ids(countries: Sequence[Country]) -> dict[tuple[str, str], str]:
    """Map (kind, name) to an entity IRI for every entity the countries mention.

    Countries take the bare name; a region, subregion or city whose name is already taken gets
    its kind as a suffix (``Singapore_(city)``). Languages and currencies are known only by
    their codes, so their kind is always part of the id (``fr_(language)``).
    """
    kinds: list[tuple[str, set[str], bool]] = [
        ("country", {c.name for c in countries}, False),
        ("region", {c.region for c in countries}, False),
        ("subregion", {c.subregion for c in countries}, False),
        ("city", {cap for c in countries for cap in c.capitals}, False),
        ("language", {lang for c in countries for lang in c.languages}, True),
        ("currency", {cur for c in countries for cur in c.currencies}, True),
    ]
    ids: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for kind, names, qualified in kinds:
        for name in sorted(names):
            qualify = qualified or name in taken
            ids[kind, name] = ENTITY + local_id(name, kind if qualify else None)
            taken.add(name)
    return ids


# --- triples -------------------------------------------------------------------------------


def property_lines() -> Iterator[str]:
    """Labels and descriptions of the relations."""
    for name, (label, description) in PROPERTIES.items():
        yield line(PROP + name, RDFS_LABEL, literal(label, "en"))
        yield line(PROP + name, SCHEMA_DESCRIPTION, literal(description, "en"))


def name_lines(subject: str, country: Country) -> Iterator[str]:
    """The country's labels, alternative names and description."""
    yield line(subject, RDFS_LABEL, literal(country.name, "en"))
    for lang, text in country.translations:
        yield line(subject, RDFS_LABEL, literal(text, lang))
    for alt in country.alt_names:
        yield line(subject, SKOS_ALT_LABEL, literal(alt))
    yield line(subject, SCHEMA_DESCRIPTION, literal(f"country in {country.subregion}", "en"))


def link_lines(subject: str, country: Country, ids: Mapping[tuple[str, str], str]) -> Iterator[str]:
    """Edges from the country to other entities."""
    links = [("capital", "city", country.capitals), ("borders", "country", country.borders),
             ("official_language", "language", country.languages),
             ("currency", "currency", country.currencies),
             ("located_in_region", "region", (country.region,)),
             ("located_in_subregion", "subregion", (country.subregion,))]
    for prop, kind, names in links:
        for name in names:
            yield line(subject, PROP + prop, iri(ids[kind, name]))
    for capital in country.capitals:
        yield line(ids["city", capital], PROP + "capital_of", iri(subject))


def value_lines(subject: str, country: Country) -> Iterator[str]:
    """Literal-valued facts: numbers, codes, names of the people."""
    if country.population is not None:
        yield line(subject, PROP + "population", literal(str(country.population), datatype="integer"))
    if country.area is not None:
        yield line(subject, PROP + "area", literal(str(country.area), datatype="decimal"))
    if country.demonym:
        yield line(subject, PROP + "demonym", literal(country.demonym, "en"))
    codes = [("iso_alpha2_code", (country.alpha2,)), ("iso_alpha3_code", (country.alpha3,)),
             ("iso_numeric_code", (country.numeric,)), ("calling_code", country.calling_codes),
             ("timezone", country.timezones), ("top_level_domain", country.tlds)]
    for prop, values in codes:
        for value in values:
            if value:
                yield line(subject, PROP + prop, literal(value))


def country_lines(country: Country, ids: Mapping[tuple[str, str], str]) -> Iterator[str]:
    """Everything the graph says about one country."""
    subject = ids["country", country.name]
    yield from name_lines(subject, country)
    yield from link_lines(subject, country, ids)
    yield from value_lines(subject, country)


def joined(names: Iterable[str]) -> str:
    """Sorted names joined by ``; `` (names such as "Palestine, State of" hold commas and "and")."""
    return "; ".join(sorted(names))


def descriptions(countries: Sequence[Country]) -> dict[tuple[str, str], str]:
    """English descriptions of the non-country entities, built from the countries' data."""
    capital_of: dict[str, set[str]] = defaultdict(set)
    regions_of: dict[str, set[str]] = defaultdict(set)
    found: dict[tuple[str, str], str] = {}
    for c in countries:
        regions_of[c.subregion].add(c.region)
        found["region", c.region] = "region of the world"
        for capital in c.capitals:
            capital_of[capital].add(c.name)
        for lang in c.languages:
            found["language", lang] = f"language with code {lang}"
        for cur in c.currencies:
            found["currency", cur] = f"currency with ISO 4217 code {cur}"
    for city, names in capital_of.items():
        found["city", city] = f"capital of {joined(names)}"
    for subregion, regions in regions_of.items():
        found["subregion", subregion] = f"subregion of {joined(regions)}"
    return found


def entity_lines(countries: Sequence[Country], ids: Mapping[tuple[str, str], str]) -> Iterator[str]:
    """Labels and descriptions of cities, regions, subregions, languages and currencies."""
    for (kind, name), text in descriptions(countries).items():
        yield line(ids[kind, name], RDFS_LABEL, literal(name, "en"))
        yield line(ids[kind, name], SCHEMA_DESCRIPTION, literal(text, "en"))
    for c in countries:
        yield line(ids["subregion", c.subregion], PROP + "part_of_region", iri(ids["region", c.region]))


def build_lines(countries: Sequence[Country]) -> list[str]:
    """The whole graph as sorted, de-duplicated N-Triples lines."""
    ids = assign_ids(countries)
    lines = set(property_lines()) | set(entity_lines(countries, ids))
    for country in countries:
        lines.update(country_lines(country, ids))
    return sorted(lines)


def header() -> str:
    """A comment naming the builder and the data version, for provenance."""
    version = importlib.metadata.version("countryinfo")
    return f"# Built by data/build_world.py from countryinfo {version}; do not edit by hand.\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Build the knowledge base and write it; print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("world.nt"),
                        help="where to write the N-Triples file (default: data/world.nt)")
    args = parser.parse_args(argv)
    countries = load_countries()
    lines = build_lines(countries)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes((header() + "".join(f"{t}\n" for t in lines)).encode("utf-8"))
    subjects = {t.split(" ", 1)[0] for t in lines if t.startswith("<" + ENTITY)}
    print(f"wrote {args.out}: {len(countries)} countries, {len(subjects)} entities, "
          f"{len(lines)} triples, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
