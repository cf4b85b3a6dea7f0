"""Hard negatives: look-alike values that are not PII of a category, in a short field phrase.

Each *kind* has a value maker, what the value is (for the explanation) and the field noun in the
six languages. Every category gets the kinds that resemble it (``KINDS_BY_LABEL``; a label not
listed, e.g. a newly added one, gets the generic business identifiers). A drawn value is checked
with the category's validator for the sample's country and redrawn until the validator rejects
it, so a hard negative for IBAN fails mod-97, one for CREDITCARDNUMBER fails Luhn or is masked,
one for PASSPORTID does not match the country's passport format. Kinds marked ``semantic``
(documented placeholders such as ``john.doe@example.com`` or "Max Mustermann", masked secrets,
service accounts, product or region names) are not PII by meaning: for labels whose validator is
only a shape check (non-empty, no whitespace) nothing can fail it, and these kinds are accepted
whatever the validator says. ``HardNegative.rejected`` records which case a value is.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace

from stdnum import luhn

from pii_assets.catalogue import Catalogue, Label
from pii_assets.generator.offline import HARD_NEGATIVE_MAKERS


@dataclass(frozen=True)
class Context:
    language: str
    country: str
    twins: Sequence[str]
    """Valid values of the category from the same split (perturbed by ``checksum_twin``)."""


Maker = Callable[[random.Random, Context], "str | None"]


@dataclass(frozen=True)
class Kind:
    name: str
    what: str
    """English noun phrase for the explanation: ``'SAVE20' is <what>, not <category>``."""
    nouns: dict[str, str]
    make: Maker
    semantic: bool = False


@dataclass(frozen=True)
class HardNegative:
    kind: Kind
    value: str
    rejected: bool
    """True when the category's validator rejects the value (always, unless the kind is semantic)."""


def _gen(name: str) -> Maker:
    """A look-alike maker of the offline generator (order ids, SKUs, promo codes, ...)."""
    maker = HARD_NEGATIVE_MAKERS[name]
    return lambda rng, ctx: maker(rng, SimpleNamespace(country=ctx.country))


def _pick(values: Sequence[str]) -> Maker:
    return lambda rng, ctx: rng.choice(values)


def _per_language(table: dict[str, Sequence[str]]) -> Maker:
    return lambda rng, ctx: rng.choice(table.get(ctx.language, table["en"]))


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(string.digits, k=n))


def _group(value: str, size: int, sep: str) -> str:
    return sep.join(value[i:i + size] for i in range(0, len(value), size))


def _luhn_fail(rng: random.Random, ctx: Context) -> str:
    body = rng.choice(("4", "51", "52", "55", "4000", "4242")) + _digits(rng, 15)
    body = body[:15]
    number = body + str((int(luhn.calc_check_digit(body)) + rng.randint(1, 9)) % 10)
    return rng.choice((number, _group(number, 4, " "), _group(number, 4, "-")))


def _masked_card(rng: random.Random, ctx: Context) -> str:
    last = _digits(rng, 4)
    return rng.choice((f"**** **** **** {last}", f"XXXX-XXXX-XXXX-{last}", f"•••• {last}",
                       f"************{last}", f"{rng.choice('45')}{_digits(rng, 3)} **** **** {last}"))


def _gift_card(rng: random.Random, ctx: Context) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    groups = ["".join(rng.choices(alphabet, k=4)) for _ in range(3)]
    return f"{rng.choice(('GC', 'GIFT', 'GV'))}-" + "-".join(groups)


def _twin(rng: random.Random, ctx: Context) -> str | None:
    """A valid value of the category with one digit changed (fails its check digit)."""
    if not ctx.twins:
        return None
    value = rng.choice(ctx.twins)
    positions = [i for i, c in enumerate(value) if c.isdigit()]
    if not positions:
        return None
    i = rng.choice(positions)
    digit = str((int(value[i]) + rng.randint(1, 9)) % 10)
    return value[:i] + digit + value[i + 1:]


def _iban_bad(rng: random.Random, ctx: Context) -> str:
    twin = _twin(rng, ctx)
    if twin is not None:
        return twin
    return "DE" + _digits(rng, 20)


def _masked_iban(rng: random.Random, ctx: Context) -> str:
    compact = (rng.choice(ctx.twins) if ctx.twins else "DE" + _digits(rng, 20)).replace(" ", "")
    return rng.choice((f"{compact[:4]} **** **** **** {compact[-4:]}", f"{compact[:2]}** **** **** **** **{compact[-2:]}",
                       f"{compact[:4]}XXXXXXXXXXXX{compact[-4:]}"))


def _creditor_id(rng: random.Random, ctx: Context) -> str:
    cc = ctx.country if ctx.country in ("DE", "FR", "ES", "NL", "IT") else "DE"
    return f"{cc}{_digits(rng, 2)}ZZZ{_digits(rng, rng.choice((8, 11)))}"


_SSN_PLACEHOLDERS = {
    "US": ("XXX-XX-XXXX", "000-00-0000", "078-05-1120", "219-09-9999", "999-99-9999"),
    "FR": ("X XX XX XX XXX XXX XX", "1 23 45 67 890 123 00", "0 00 00 00 000 000 00"),
    "DE": ("XX XXXXXX X XXX", "00 000000 A 000", "12 345678 X 901"),
    "ES": ("XX/XXXXXXXX/XX", "00/00000000/00", "28/12345678/00"),
    "NL": ("XXXXXXXXX", "123456789", "111222333"),
    "IT": ("80380XXXXXXXXXXXXXXX", "80380000000000000000"),
}


def _ssn_placeholder(rng: random.Random, ctx: Context) -> str:
    return rng.choice(_SSN_PLACEHOLDERS.get(ctx.country, _SSN_PLACEHOLDERS["US"]))


def _future_date(rng: random.Random, ctx: Context) -> str:
    d = date(rng.randint(2035, 2045), rng.randint(1, 12), rng.randint(1, 28))
    if ctx.country == "US":
        return rng.choice((f"{d:%m/%d/%Y}", f"{d:%Y-%m-%d}"))
    return rng.choice((f"{d:%d.%m.%Y}", f"{d:%d/%m/%Y}", f"{d:%Y-%m-%d}", f"{d:%d-%m-%Y}"))


def _expiry(rng: random.Random, ctx: Context) -> str:
    return f"{rng.randint(1, 12):02d}/{rng.randint(2035, 2045)}"


def _percent(rng: random.Random, ctx: Context) -> str:
    n = rng.choice((5, 12, 18, 21, 25, 33, 42, 50, 64, 75))
    return f"{n}%" if ctx.language == "en" or rng.random() < 0.4 else f"{n} %"


def _temperature(rng: random.Random, ctx: Context) -> str:
    t = rng.choice(("21", "38,5", "37,2", "19", "4", "-18", "65"))
    return f"{t.replace(',', '.') if ctx.country == 'US' else t} °C"


_PASSWORD_RULES = {
    "en": "at least {n} characters", "de": "mindestens {n} Zeichen", "fr": "au moins {n} caractères",
    "es": "al menos {n} caracteres", "nl": "minimaal {n} tekens", "it": "almeno {n} caratteri",
}
_MONTHS_WORD = {"en": "months", "de": "Monate", "fr": "mois", "es": "meses", "nl": "maanden", "it": "mesi"}


def _password_rule(rng: random.Random, ctx: Context) -> str:
    return _PASSWORD_RULES.get(ctx.language, _PASSWORD_RULES["en"]).format(n=rng.choice((8, 10, 12, 14, 16)))


def _warranty(rng: random.Random, ctx: Context) -> str:
    return f"{rng.choice((12, 24, 36, 60))} {_MONTHS_WORD.get(ctx.language, 'months')}"


def _n(en: str, de: str, fr: str, es: str, nl: str, it: str) -> dict[str, str]:
    return {"en": en, "de": de, "fr": fr, "es": es, "nl": nl, "it": it}


_KINDS: tuple[Kind, ...] = (
    # business identifiers from the offline generator
    Kind("order_id", "an order number",
         _n("order number", "Bestellnummer", "numéro de commande", "número de pedido", "bestelnummer",
            "numero d'ordine"), _gen("ORDER_ID")),
    Kind("sku", "a product SKU",
         _n("item number", "Artikelnummer", "référence article", "referencia del artículo", "artikelnummer",
            "codice articolo"), _gen("SKU")),
    Kind("promo_code", "a promo code",
         _n("promo code", "Gutscheincode", "code promo", "código promocional", "kortingscode", "codice sconto"),
         _gen("PROMO_CODE")),
    Kind("timestamp", "a log timestamp",
         _n("timestamp", "Zeitstempel", "horodatage", "marca de tiempo", "tijdstempel", "timestamp"),
         _gen("TIMESTAMP")),
    Kind("version", "a software version string",
         _n("software version", "Softwareversion", "version du logiciel", "versión del software",
            "softwareversie", "versione del software"), _gen("VERSION")),
    Kind("tracking_no", "a parcel tracking number",
         _n("tracking number", "Sendungsnummer", "numéro de suivi", "número de seguimiento", "trackingnummer",
            "numero di tracking"), _gen("TRACKING_NO")),
    Kind("ticket_id", "a support ticket id",
         _n("ticket", "Ticketnummer", "ticket n°", "incidencia", "ticketnummer", "ticket n."), _gen("TICKET_ID")),
    Kind("invoice_no", "an invoice number",
         _n("invoice number", "Rechnungsnummer", "numéro de facture", "número de factura", "factuurnummer",
            "numero di fattura"), _gen("INVOICE_NO")),
    Kind("amount", "an amount of money",
         _n("amount", "Betrag", "montant", "importe", "bedrag", "importo"), _gen("AMOUNT"), semantic=True),
    Kind("quantity", "a quantity",
         _n("quantity", "Menge", "quantité", "cantidad", "aantal", "quantità"), _gen("QUANTITY"), semantic=True),
    Kind("product", "a product name",
         _n("product", "Produkt", "produit", "producto", "product", "prodotto"), _gen("PRODUCT"), semantic=True),
    # payment look-alikes
    Kind("luhn_fail", "a dummy card number that fails the Luhn check",
         _n("test card number", "Testkartennummer", "numéro de carte de test", "número de tarjeta de prueba",
            "testkaartnummer", "numero di carta di prova"), _luhn_fail),
    Kind("masked_card", "a masked card number (only the last digits are shown)",
         _n("card", "Karte", "carte", "tarjeta", "kaart", "carta"), _masked_card),
    Kind("gift_card", "a gift card code",
         _n("gift card code", "Geschenkkartencode", "code carte cadeau", "código de tarjeta regalo",
            "cadeaukaartcode", "codice carta regalo"), _gift_card),
    Kind("iban_bad", "an IBAN-shaped example that fails the mod-97 check",
         _n("sample IBAN from the documentation", "Beispiel-IBAN aus der Dokumentation",
            "IBAN d'exemple de la documentation", "IBAN de ejemplo de la documentación",
            "voorbeeld-IBAN uit de documentatie", "IBAN di esempio della documentazione"), _iban_bad),
    Kind("masked_iban", "a masked IBAN",
         _n("IBAN (masked)", "IBAN (maskiert)", "IBAN (masqué)", "IBAN (enmascarado)", "IBAN (gemaskeerd)",
            "IBAN (mascherato)"), _masked_iban),
    Kind("bic", "a bank's BIC code",
         _n("BIC", "BIC", "code BIC", "código BIC", "BIC-code", "codice BIC"),
         _pick(("COBADEFFXXX", "DEUTDEFF", "BNPAFRPP", "CAIXESBB", "INGBNL2A", "UNCRITMM", "CHASUS33", "RABONL2U",
                "SOGEFRPP", "BSCHESMM"))),
    Kind("creditor_id", "a company's SEPA creditor identifier",
         _n("creditor identifier", "Gläubiger-ID", "identifiant créancier SEPA", "identificador de acreedor",
            "incassant-ID", "identificativo del creditore"), _creditor_id),
    # identity-number look-alikes
    Kind("ssn_placeholder", "a format placeholder",
         _n("format example", "Formatbeispiel", "exemple de format", "ejemplo de formato", "formaatvoorbeeld",
            "esempio di formato"), _ssn_placeholder),
    Kind("checksum_twin", "an example number that fails the check-digit test",
         _n("sample number from the documentation", "Beispielnummer aus der Dokumentation",
            "numéro d'exemple de la documentation", "número de ejemplo de la documentación",
            "voorbeeldnummer uit de documentatie", "numero di esempio della documentazione"), _twin),
    # dates and numbers with units
    Kind("future_date", "a future delivery or due date",
         _n("delivery date", "Liefertermin", "date de livraison", "fecha de entrega", "leverdatum",
            "data di consegna"), _future_date),
    Kind("expiry_date", "an expiry date",
         _n("valid until", "gültig bis", "valable jusqu'au", "válido hasta", "geldig tot", "valido fino al"),
         _expiry),
    Kind("percent", "a percentage",
         _n("share", "Anteil", "part", "porcentaje", "aandeel", "quota"), _percent),
    Kind("age_rating", "an age rating of a game or film",
         _n("age rating", "Altersfreigabe", "classification d'âge", "clasificación por edades",
            "leeftijdsclassificatie", "classificazione per età"),
         _pick(("PEGI 12", "PEGI 16", "FSK 18", "FSK 12", "16+", "18+", "PEGI 7"))),
    Kind("warranty", "a warranty period",
         _n("warranty", "Garantie", "garantie", "garantía", "garantie", "garanzia"), _warranty),
    Kind("temperature", "a temperature",
         _n("temperature", "Temperatur", "température", "temperatura", "temperatuur", "temperatura"), _temperature),
    # names, addresses, places
    Kind("placeholder_name", "a well-known placeholder name",
         _n("example name", "Beispielname", "nom d'exemple", "nombre de ejemplo", "voorbeeldnaam",
            "nome di esempio"),
         _per_language({"en": ("John Doe", "Jane Doe", "John Q. Public"),
                        "de": ("Max Mustermann", "Erika Mustermann"), "fr": ("Jean Dupont", "Marie Dupont"),
                        "es": ("Juan Pérez", "Fulano de Tal"), "nl": ("Jan Jansen", "Piet Pietersen"),
                        "it": ("Mario Rossi", "Maria Rossi")}), semantic=True),
    Kind("warehouse_bin", "a warehouse storage location",
         _n("storage bin", "Lagerplatz", "emplacement de stockage", "ubicación de almacén", "opslaglocatie",
            "ubicazione di magazzino"),
         lambda rng, ctx: f"{rng.choice('ABCDEFR')}{rng.randint(1, 40):02d}-{rng.randint(1, 12):02d}-"
                          f"{rng.choice('ABCDEF')}",
         semantic=True),
    Kind("room_no", "a meeting-room number",
         _n("meeting room", "Besprechungsraum", "salle de réunion", "sala de reuniones", "vergaderruimte",
            "sala riunioni"),
         lambda rng, ctx: rng.choice((f"{rng.randint(0, 6)}.{rng.randint(1, 40):02d}",
                                      f"{rng.choice('ABC')}-{rng.randint(100, 499)}")), semantic=True),
    Kind("gate", "an airport gate",
         _n("gate", "Flugsteig", "porte d'embarquement", "puerta de embarque", "gate", "gate"),
         lambda rng, ctx: f"{rng.choice('ABCDEGHKZ')}{rng.randint(1, 60)}", semantic=True),
    Kind("cloud_region", "a cloud data-centre region",
         _n("cloud region", "Cloud-Region", "région cloud", "región de la nube", "cloudregio", "regione cloud"),
         _pick(("eu-central-1", "eu-west-3", "us-east-2", "europe-west4", "westeurope", "eu-south-1",
                "northeurope")), semantic=True),
    Kind("timezone", "a time zone identifier",
         _n("time zone", "Zeitzone", "fuseau horaire", "zona horaria", "tijdzone", "fuso orario"),
         _pick(("Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Amsterdam", "Europe/Rome",
                "America/New_York", "UTC+01:00")), semantic=True),
    Kind("locale_code", "a locale code",
         _n("locale", "Gebietsschema", "paramètres régionaux", "configuración regional", "landinstelling",
            "impostazioni locali"),
         _pick(("de_DE", "fr-FR", "en_US.UTF-8", "nl-NL", "it_IT", "es-ES", "de-AT")), semantic=True),
    Kind("language_name", "a language name",
         _n("language", "Sprache", "langue", "idioma", "taal", "lingua"),
         _per_language({"en": ("German", "French", "Spanish", "Dutch", "Italian", "English"),
                        "de": ("Deutsch", "Französisch", "Spanisch", "Niederländisch", "Italienisch"),
                        "fr": ("allemand", "français", "espagnol", "néerlandais", "italien", "anglais"),
                        "es": ("alemán", "francés", "español", "neerlandés", "italiano", "inglés"),
                        "nl": ("Duits", "Frans", "Spaans", "Nederlands", "Italiaans", "Engels"),
                        "it": ("tedesco", "francese", "spagnolo", "olandese", "italiano", "inglese")}),
         semantic=True),
    Kind("currency", "a currency code",
         _n("currency", "Währung", "devise", "moneda", "valuta", "valuta"),
         _pick(("EUR", "USD", "CHF", "GBP", "SEK")), semantic=True),
    Kind("department", "a department name",
         _n("department", "Abteilung", "service", "departamento", "afdeling", "reparto"),
         _per_language({"en": ("Customer Service", "Accounts Payable", "IT Service Desk"),
                        "de": ("Kundenservice", "Buchhaltung", "IT-Service-Desk"),
                        "fr": ("Service client", "Comptabilité fournisseurs", "Support informatique"),
                        "es": ("Atención al cliente", "Contabilidad", "Soporte informático"),
                        "nl": ("Klantenservice", "Crediteurenadministratie", "IT-servicedesk"),
                        "it": ("Assistenza clienti", "Contabilità fornitori", "Supporto IT")}),
         semantic=True),
    # online identity look-alikes
    Kind("placeholder_email", "a documented placeholder address (example.* domains are reserved)",
         _n("example address", "Beispieladresse", "adresse d'exemple", "dirección de ejemplo", "voorbeeldadres",
            "indirizzo di esempio"),
         _per_language({"en": ("user@example.com", "john.doe@example.com", "jane.doe@example.org"),
                        "de": ("max.mustermann@example.com", "vorname.nachname@example.org"),
                        "fr": ("jean.dupont@example.com", "prenom.nom@example.org"),
                        "es": ("juan.perez@example.com", "nombre.apellido@example.org"),
                        "nl": ("jan.jansen@example.com", "voornaam.achternaam@example.org"),
                        "it": ("mario.rossi@example.com", "nome.cognome@example.org")}), semantic=True),
    Kind("package_pin", "a package name pinned to a version",
         _n("dependency", "Abhängigkeit", "dépendance", "dependencia", "afhankelijkheid", "dipendenza"),
         _pick(("react@18.2.0", "lodash@4.17.21", "@angular/core@17.1.0", "typescript@5.4.5", "left-pad@1.3.0",
                "vite@5.2.11"))),
    Kind("git_remote", "a git repository address",
         _n("repository", "Repository", "dépôt", "repositorio", "repository", "repository"),
         _pick(("git@github.com:acme/shop.git", "git@gitlab.com:infra/deploy-scripts.git",
                "git@bitbucket.org:team/billing-api.git"))),
    Kind("local_account", "a local system account",
         _n("system account", "Systemkonto", "compte système", "cuenta del sistema", "systeemaccount",
            "account di sistema"), _pick(("root@localhost", "postgres@db-01", "deploy@build-agent-3"))),
    Kind("file_path", "a file path",
         _n("file path", "Dateipfad", "chemin de fichier", "ruta del archivo", "bestandspad", "percorso del file"),
         _pick(("/var/log/nginx/access.log", "/srv/app/config/settings.yaml", r"C:\ProgramData\App\logs\app.log",
                "./reports/2024-Q3.pdf"))),
    Kind("api_path", "an API endpoint path",
         _n("API endpoint", "API-Endpunkt", "point de terminaison API", "endpoint de la API", "API-endpoint",
            "endpoint API"),
         lambda rng, ctx: rng.choice((f"/api/v2/orders/{rng.randint(10000, 99999)}", "/v1/products/stock",
                                      "/healthz", f"/api/v1/invoices/{rng.randint(100, 9999)}/pdf"))),
    Kind("s3_uri", "a storage bucket path",
         _n("storage location", "Speicherort", "emplacement de stockage", "ubicación de almacenamiento",
            "opslaglocatie", "posizione di archiviazione"),
         _pick(("s3://backups/2024/db.dump", "s3://exports/reports/weekly.csv", "gs://ml-artifacts/model.onnx"))),
    Kind("placeholder_url", "a documented example URL (example.* domains are reserved)",
         _n("example URL", "Beispiel-URL", "URL d'exemple", "URL de ejemplo", "voorbeeld-URL", "URL di esempio"),
         _pick(("https://example.com/", "https://www.example.org/docs", "https://example.net/login")), semantic=True),
    Kind("service_account", "a technical service account",
         _n("service account", "Dienstkonto", "compte de service", "cuenta de servicio", "serviceaccount",
            "account di servizio"),
         _pick(("root", "www-data", "svc-backup", "jenkins", "postgres", "nobody", "ci-runner")), semantic=True),
    Kind("placeholder_user", "a placeholder for a user name",
         _n("login (template)", "Login (Vorlage)", "identifiant (modèle)", "usuario (plantilla)",
            "login (sjabloon)", "login (modello)"),
         _pick(("<username>", "{user}", "$USER", "your.name", "<login>")), semantic=True),
    Kind("masked_secret", "a masked or redacted value",
         _n("password", "Passwort", "mot de passe", "contraseña", "wachtwoord", "password"),
         _pick(("********", "●●●●●●●●", "[REDACTED]", "<redacted>", "xxxxxxxx")), semantic=True),
    Kind("secret_ref", "a reference to a secret store",
         _n("secret reference", "Secret-Referenz", "référence de secret", "referencia al secreto",
            "secret-verwijzing", "riferimento al segreto"),
         _pick(("${DB_PASSWORD}", "{{ secrets.SMTP_PASSWORD }}", "vault:secret/data/db#password",
                "env:API_TOKEN")), semantic=True),
    Kind("password_rule", "a password rule",
         _n("password rule", "Passwortregel", "règle de mot de passe", "regla de contraseña", "wachtwoordregel",
            "regola per la password"), _password_rule),
    Kind("flight_no", "a flight number",
         _n("flight", "Flug", "vol", "vuelo", "vlucht", "volo"),
         lambda rng, ctx: f"{rng.choice(('LH', 'AF', 'IB', 'KL', 'AZ', 'UA', 'BA'))} {rng.randint(100, 9999)}"),
    Kind("train_no", "a train number",
         _n("train", "Zug", "train", "tren", "trein", "treno"),
         lambda rng, ctx: f"{rng.choice(('ICE', 'TGV', 'AVE', 'IC', 'FR', 'EC'))} {rng.randint(100, 9999)}"),
)
KINDS: dict[str, Kind] = {kind.name: kind for kind in _KINDS}

GENERIC = ("order_id", "sku", "invoice_no", "ticket_id", "tracking_no", "version", "promo_code")
"""Kinds for a label that ``KINDS_BY_LABEL`` does not list (e.g. one just added to the catalogue)."""

KINDS_BY_LABEL: dict[str, tuple[str, ...]] = {
    "FIRSTNAME": ("placeholder_name", "product", "sku", "promo_code"),
    "SURNAME": ("placeholder_name", "product", "sku", "promo_code"),
    "EMAIL": ("placeholder_email", "package_pin", "git_remote", "local_account"),
    "PHONENUMBER": ("order_id", "tracking_no", "invoice_no", "timestamp", "amount", "version"),
    "DATEOFBIRTH": ("future_date", "expiry_date", "version", "ticket_id"),
    "SSN": ("ssn_placeholder", "checksum_twin", "ticket_id", "order_id"),
    "CREDITCARDNUMBER": ("luhn_fail", "masked_card", "gift_card", "tracking_no", "order_id"),
    "STREET": ("warehouse_bin", "room_no", "gate", "product"),
    "BUILDINGNUM": ("quantity", "room_no", "version", "amount"),
    "CITY": ("timezone", "cloud_region", "product"),
    "STATE": ("cloud_region", "timezone", "locale_code"),
    "ZIP": ("order_id", "ticket_id", "amount", "version", "quantity"),
    "COUNTRY": ("language_name", "locale_code", "currency"),
    "IBAN": ("iban_bad", "masked_iban", "bic", "creditor_id"),
    "DRIVERLICENSENUM": ("sku", "order_id", "invoice_no", "tracking_no", "ticket_id"),
    "PASSPORTID": ("sku", "invoice_no", "tracking_no", "ticket_id", "order_id"),
    "NATIONALID": ("checksum_twin", "sku", "ticket_id", "order_id"),
    "TAXNUM": ("checksum_twin", "invoice_no", "order_id", "ticket_id"),
    "COMPANYNAME": ("product", "department", "sku"),
    "URL": ("placeholder_url", "file_path", "api_path", "s3_uri"),
    "USERNAME": ("service_account", "placeholder_user", "department"),
    "PASSWORD": ("masked_secret", "secret_ref", "password_rule"),
    "LICENSEPLATENUM": ("flight_no", "train_no", "sku", "order_id"),
    "AGE": ("percent", "age_rating", "warranty", "temperature"),
}

def kinds_for(label: Label) -> tuple[Kind, ...]:
    return tuple(KINDS[name] for name in KINDS_BY_LABEL.get(label.name, GENERIC))


def draw(label: Label, rng: random.Random, ctx: Context, catalogue: Catalogue,
         attempts: int = 12) -> HardNegative | None:
    """A look-alike value for ``label``: one its validator rejects, or one of a semantic kind
    (which still gets three draws to find a rejected value, e.g. a product name with digits for
    FIRSTNAME)."""
    kinds = list(kinds_for(label))
    rng.shuffle(kinds)
    fallback: HardNegative | None = None
    for i in range(attempts):
        kind = kinds[i % len(kinds)]
        value = None
        for _ in range(3 if kind.semantic else 1):
            value = kind.make(rng, ctx)
            if not value:
                break
            if catalogue.validate_value(label.name, value, ctx.country) is not None:
                return HardNegative(kind, value, True)
        if value and kind.semantic:
            return HardNegative(kind, value, False)
        if value and fallback is None:
            fallback = HardNegative(kind, value, False)
    if label.name not in KINDS_BY_LABEL:  # a new label whose validator accepts every look-alike
        return fallback
    return None
