"""Languages the offline generator writes, with the country and formats that go with each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Locale:
    language: str
    country: str
    faker: str
    country_names: tuple[str, ...]
    """The country's own name in the language first, then a few others (for COUNTRY values)."""
    address_formats: tuple[str, ...]
    date_formats: tuple[str, ...]
    """Tokens: {d} {dd} {m} {mm} {yy} {yyyy} {month} (name from the template module)."""
    iban_country: str


LOCALES: dict[str, Locale] = {
    loc.language: loc
    for loc in (
        Locale(
            "en", "US", "en_US",
            ("United States", "USA", "U.S.", "Canada", "Mexico", "United Kingdom"),
            ("{BUILDINGNUM} {STREET}, {CITY}, {STATE} {ZIP}",
             "{BUILDINGNUM} {STREET}\n{CITY}, {STATE} {ZIP}",
             "{BUILDINGNUM} {STREET}, {CITY} {ZIP}"),
            ("{mm}/{dd}/{yyyy}", "{m}/{d}/{yyyy}", "{month} {d}, {yyyy}", "{yyyy}-{mm}-{dd}",
             "{d} {month} {yyyy}", "{mm}-{dd}-{yyyy}"),
            "GB",
        ),
        Locale(
            "de", "DE", "de_DE",
            ("Deutschland", "Bundesrepublik Deutschland", "Österreich", "Schweiz", "Polen"),
            ("{STREET} {BUILDINGNUM}, {ZIP} {CITY}", "{STREET} {BUILDINGNUM}\n{ZIP} {CITY}",
             "{STREET} {BUILDINGNUM}, {ZIP} {CITY} ({STATE})"),
            ("{dd}.{mm}.{yyyy}", "{d}.{m}.{yyyy}", "{d}. {month} {yyyy}", "{yyyy}-{mm}-{dd}",
             "{dd}.{mm}.{yy}"),
            "DE",
        ),
        Locale(
            "fr", "FR", "fr_FR",
            ("France", "la France", "Belgique", "Suisse", "Luxembourg"),
            ("{BUILDINGNUM} {STREET}, {ZIP} {CITY}", "{BUILDINGNUM} {STREET}\n{ZIP} {CITY}",
             "{BUILDINGNUM}, {STREET}, {ZIP} {CITY}"),
            ("{dd}/{mm}/{yyyy}", "{d} {month} {yyyy}", "{yyyy}-{mm}-{dd}", "{dd}.{mm}.{yyyy}",
             "{dd}/{mm}/{yy}"),
            "FR",
        ),
        Locale(
            "es", "ES", "es_ES",
            ("España", "el Reino de España", "Portugal", "Francia", "Andorra"),
            ("{STREET}, {BUILDINGNUM}, {ZIP} {CITY} ({STATE})", "{STREET} {BUILDINGNUM}, {ZIP} {CITY}",
             "{STREET}, {BUILDINGNUM}\n{ZIP} {CITY}"),
            ("{dd}/{mm}/{yyyy}", "{d} de {month} de {yyyy}", "{d}-{m}-{yyyy}", "{yyyy}-{mm}-{dd}",
             "{dd}/{mm}/{yy}"),
            "ES",
        ),
        Locale(
            "nl", "NL", "nl_NL",
            ("Nederland", "Nederland (NL)", "België", "Duitsland", "Luxemburg"),
            ("{STREET} {BUILDINGNUM}, {ZIP} {CITY}", "{STREET} {BUILDINGNUM}\n{ZIP} {CITY}",
             "{STREET} {BUILDINGNUM}, {ZIP} {CITY} ({STATE})"),
            ("{dd}-{mm}-{yyyy}", "{d} {month} {yyyy}", "{dd}/{mm}/{yyyy}", "{yyyy}-{mm}-{dd}",
             "{d}-{m}-{yyyy}"),
            "NL",
        ),
        Locale(
            "it", "IT", "it_IT",
            ("Italia", "la Repubblica Italiana", "Svizzera", "San Marino", "Francia"),
            ("{STREET} {BUILDINGNUM}, {ZIP} {CITY} ({STATE})", "{STREET}, {BUILDINGNUM} - {ZIP} {CITY}",
             "{STREET} {BUILDINGNUM}\n{ZIP} {CITY}"),
            ("{dd}/{mm}/{yyyy}", "{d} {month} {yyyy}", "{dd}.{mm}.{yyyy}", "{yyyy}-{mm}-{dd}",
             "{dd}-{mm}-{yyyy}"),
            "IT",
        ),
    )
}
