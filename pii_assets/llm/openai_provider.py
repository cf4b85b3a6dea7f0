"""The ``openai`` provider: samples from any OpenAI-compatible chat-completions endpoint.

One request per sample, built from the label catalogue (label hints, the batch's sampling
weights, language and country, a genre and a complexity rotated per sample, two look-alikes of
personal data to write but not list, and one hard name form) with a ``prompt_version``. The answer is forced into JSON by a strict ``json_schema`` response format
(or vLLM's ``guided_json``) and carries values *without* offsets: grounding them is the
reviewer's job (``review.review_sample``), so a value the model invented becomes a reject there.

With ``review`` on, a second call per sample asks the model to check and correct the entities
(values not in the text or not personal removed, missed ones added, labels fixed); its answer
replaces the entities and the rule-based review still runs after it. A failed review call keeps
the first answer, marked ``meta.llm_review.status = "failed"`` with the reason.

Requests run on asyncio with at most ``max_concurrency`` in flight; 429, 5xx, time-outs and
connection errors are retried with exponential backoff and full jitter, honouring
``Retry-After``. A sample whose answer is not usable JSON, or whose request still fails after
``max_attempts``, becomes a provider reject with its reason: every requested sample ends up as a
raw record or a reject, and nothing is requested twice once answered.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pii_assets.batches import BatchSpec
from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.generator.locales import LOCALES
from pii_assets.generator.offline import batch_seed

PROMPT_VERSION = "openai-gen-2"
# The offline generator's eleven genres (generator/offline.py) and five it lacks.
STYLES = ("e-mail", "chat message", "support ticket", "web form submission", "server log excerpt",
          "clinical note", "HR record", "invoice", "CRM note", "news article",
          "court judgment or contract excerpt", "bank letter", "delivery note", "encyclopedia paragraph",
          "technical report", "forum post")
COMPLEXITY = ("one short sentence", "two or three sentences", "a paragraph", "several paragraphs")
# Look-alikes of personal data that are not personal data: models trained on text without them tag
# every year, dose and capitalised noun (issue 23, docs/evaluation.md). Two per request, never listed.
DISTRACTORS = {
    "other_dates": "dates that are not birth dates: appointments, admissions, deadlines, events, publication years",
    "years": "bare years and periods ('in 2019', 'since the 1990s', 'for three years')",
    "measurements": "measurements, doses and lab values with their units (weights, blood pressure, temperatures, mg, ml)",
    "codes": "product codes, model numbers, software versions, tumour staging or classification codes",
    "capitalised_nouns": "capitalised common nouns: headings, department and product names, sentence-initial words",
    "domain_prose": "ordinary vocabulary of the domain in full sentences, as a real writer of this genre would use it",
    "amounts": "amounts of money, percentages, quantities and ordinal numbers",
}
# Ways personal values occur that keyword-led templates miss.
NAME_FORMS = {
    "bare_name": "a person named in running text with no title, role or keyword before the name",
    "foreign_name": "a person whose name comes from another country than the text's",
    "surname_alone": "a surname alone, referring back to a person named earlier",
    "word_like_company": "a company name that looks like an ordinary word",
    "case_variants": "names written all lower-case or all upper-case, as in chats and forms",
}

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}

ANSWER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["text", "language", "entities", "coreferences"],
    "properties": {
        "text": {"type": "string"},
        "language": {"type": "string"},
        "entities": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["value", "label"],
            "properties": {"value": {"type": "string"}, "label": {"type": "string"}}}},
        "coreferences": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["entity_type", "mentions"],
            "properties": {"entity_type": {"type": "string"},
                           "mentions": {"type": "array", "items": {"type": "string"}}}}},
    },
}


REVIEW_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["entities"],
    "properties": {"entities": ANSWER_SCHEMA["properties"]["entities"]},
}


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    max_concurrency: int = 16
    timeout: float = 60.0
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    structured: str = "json_schema"
    """``json_schema`` (OpenAI strict structured outputs) or ``guided_json`` (vLLM)."""
    temperature: float = 0.9
    review: bool = False
    """A second call per sample that checks and corrects the entities (then the rule-based review runs)."""
    usd_per_million_input: float = 0.0
    usd_per_million_output: float = 0.0

    def __post_init__(self) -> None:
        if self.structured not in ("json_schema", "guided_json"):
            raise ValueError(f"structured must be json_schema or guided_json, not {self.structured!r}")
        if self.max_concurrency < 1 or self.max_attempts < 1:
            raise ValueError("max_concurrency and max_attempts must be >= 1")


@dataclass
class Accounting:
    requested: int = 0
    answered: int = 0
    requests: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    rejects: Counter = field(default_factory=Counter)
    retry_reasons: Counter = field(default_factory=Counter)
    review_failures: Counter = field(default_factory=Counter)

    def cost_usd(self, config: LLMConfig) -> float:
        return (self.input_tokens * config.usd_per_million_input
                + self.output_tokens * config.usd_per_million_output) / 1e6


@dataclass
class Result:
    records: list[dict] = field(default_factory=list)
    """Raw samples in request order (values without offsets), for the reviewer."""
    rejects: list[dict] = field(default_factory=list)
    """``{"index", "code", "reason", "record"}`` for requests that gave no usable answer."""
    accounting: Accounting = field(default_factory=Accounting)


def sample_requests(spec: BatchSpec, catalogue: Catalogue = DEFAULT) -> list[dict]:
    """What to ask for, per sample index: deterministic in the spec (key, seed, weights, languages)."""
    weights = {label.name: label.weight for label in catalogue.labels}
    weights.update(spec.label_weights)
    names = [n for n in catalogue.names if weights.get(n, 0) > 0]
    out = []
    for index in range(spec.size):
        rng = random.Random(batch_seed(spec.key, spec.seed, "openai", index))
        language = spec.languages[index % len(spec.languages)]
        no_pii = rng.random() < spec.no_pii_ratio
        labels = [] if no_pii or not names else sorted(
            set(rng.choices(names, weights=[weights[n] for n in names], k=rng.randint(3, 7))),
            key=catalogue.names.index)
        out.append({"index": index, "language": language, "country": LOCALES[language].country,
                    "labels": labels, "style": STYLES[(index + rng.randrange(len(STYLES))) % len(STYLES)],
                    "complexity": COMPLEXITY[index % len(COMPLEXITY)],
                    "distractors": rng.sample(sorted(DISTRACTORS), 2),
                    "name_form": rng.choice(sorted(NAME_FORMS)) if labels else None,
                    "seed": rng.randrange(2**31), "kind": "generate"})
    return out


def messages(request: dict, catalogue: Catalogue = DEFAULT) -> list[dict]:
    hints = "\n".join(f"- {catalogue[name].name}: {catalogue[name].description} ({catalogue[name].hint})"
                      for name in request["labels"])
    system = ("You write realistic synthetic documents containing personal data for training PII "
              "detectors, and list every personal value they contain. Reply with JSON only, following "
              "the schema: `text`, `language`, `entities` (each value exactly as written in the text, with "
              "its label), `coreferences` (mentions of the same person, as written: names, pronouns, "
              "role references). Only the personal values of the requested labels are entities: a date "
              "is DATEOFBIRTH only when it is someone's birth date; other dates, years, measurements, "
              "codes, amounts and capitalised common words are not personal data and are never listed.")
    if request["labels"]:
        ask = f"Include values for these labels, in the formats usual in {request['country']}:\n{hints}"
        if request.get("name_form"):
            ask += f"\nAmong them, {NAME_FORMS[request['name_form']]}."
    else:
        ask = "Include no personal data at all (entities must be empty)."
    distractors = "; ".join(DISTRACTORS[key] for key in request.get("distractors") or ())
    if distractors:
        ask += f"\nAlso write, as part of the text and not as entities: {distractors}."
    user = (f"Write a {request['style']} in language '{request['language']}' (country {request['country']}), "
            f"{request['complexity']} long. {ask}\n"
            f"SAMPLE_REQUEST: {json.dumps({k: request[k] for k in ('language', 'seed', 'labels', 'kind')})}")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _retry_delay(config: LLMConfig, attempt: int, retry_after: str | None, rng: random.Random) -> float:
    if retry_after:
        try:
            return min(float(retry_after), config.backoff_cap)
        except ValueError:
            pass
    return rng.uniform(0, min(config.backoff_cap, config.backoff_base * 2 ** attempt))  # full jitter


def to_record(answer: Any, request: dict, spec: BatchSpec, model: str) -> dict:
    """A raw sample from a parsed answer (raises ValueError naming what is wrong with its shape)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("text"), str):
        raise ValueError("the answer has no 'text' string")
    entities = answer.get("entities") or []
    if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
        raise ValueError("'entities' is not a list of objects")
    clusters = []
    for c in answer.get("coreferences") or []:
        mentions = [m for m in (c.get("mentions") or []) if isinstance(m, str) and m.strip()] if isinstance(c, dict) else []
        if len(mentions) >= 2:
            clusters.append({"entity_type": c.get("entity_type") or "person", "mentions": mentions})
    return {
        "text": answer["text"], "language": request["language"], "country": request["country"],
        "privacy_mask": [{"value": e.get("value"), "label": e.get("label")} for e in entities],
        "coreferences": clusters,
        "meta": {"batch": spec.key, "provider": "openai", "model": model, "prompt_version": PROMPT_VERSION,
                 "index": request["index"], "style": request["style"], "complexity": request["complexity"],
                 "requested_labels": request["labels"], "distractors": request["distractors"],
                 "name_form": request["name_form"],
                 "kind": "pii" if request["labels"] else "no_pii"},
    }


class _Failed(Exception):
    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


async def _chat(client, config: LLMConfig, chat_messages: list[dict], schema_name: str, schema: dict,
                semaphore: asyncio.Semaphore, acc: Accounting, rng: random.Random) -> Any:
    """One structured chat completion, parsed; retries transient failures, raises ``_Failed``."""
    import openai

    kwargs: dict[str, Any] = {"model": config.model, "messages": chat_messages, "temperature": config.temperature}
    if config.structured == "json_schema":
        kwargs["response_format"] = {"type": "json_schema", "json_schema": {
            "name": schema_name, "schema": schema, "strict": True}}
    else:
        kwargs["extra_body"] = {"guided_json": schema}
    last_error = ""
    for attempt in range(config.max_attempts):
        async with semaphore:
            acc.requests += 1
            try:
                response = await client.chat.completions.create(**kwargs)
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                last_error, retry_after = f"{type(exc).__name__}", None
            except openai.APIStatusError as exc:
                if exc.status_code not in RETRYABLE_STATUS:
                    raise _Failed("api_error", f"HTTP {exc.status_code}: {str(exc)[:200]}") from None
                last_error, retry_after = f"HTTP {exc.status_code}", exc.response.headers.get("retry-after")
            else:
                acc.answered += 1
                if response.usage is not None:
                    acc.input_tokens += response.usage.prompt_tokens or 0
                    acc.output_tokens += response.usage.completion_tokens or 0
                content = response.choices[0].message.content or ""
                try:
                    return json.loads(content)
                except json.JSONDecodeError as exc:
                    raise _Failed("malformed_json", f"the answer is not JSON ({exc.msg} at {exc.pos}): "
                                                    f"{content[:200]!r}") from None
        if attempt + 1 < config.max_attempts:
            acc.retries += 1
            acc.retry_reasons[last_error] += 1
            await asyncio.sleep(_retry_delay(config, attempt, retry_after, rng))
    raise _Failed("gave_up", f"no answer after {config.max_attempts} attempts (last: {last_error})")


def review_messages(record: dict, catalogue: Catalogue = DEFAULT) -> list[dict]:
    labels = "\n".join(f"- {label.name}: {label.description}" for label in catalogue.labels)
    request = {"kind": "review", "language": record["language"], "text": record["text"],
               "entities": record["privacy_mask"]}
    system = ("You check the personal-data annotations of a text. Return every personal value of the text "
              "exactly as written with its correct label from this list, removing values that are not in the "
              f"text or not personal data, and adding missed ones:\n{labels}")
    user = f"Text and annotations to check:\nSAMPLE_REQUEST: {json.dumps(request, ensure_ascii=False)}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


async def _one(client, config: LLMConfig, spec: BatchSpec, request: dict, semaphore: asyncio.Semaphore,
               result: Result, rng: random.Random, catalogue: Catalogue) -> None:
    acc = result.accounting
    try:
        answer = await _chat(client, config, messages(request, catalogue), "pii_sample", ANSWER_SCHEMA,
                             semaphore, acc, rng)
        try:
            record = to_record(answer, request, spec, config.model)
        except ValueError as exc:
            raise _Failed("bad_shape", str(exc)) from None
    except _Failed as failed:
        result.rejects.append({"index": request["index"], "code": failed.code, "reason": failed.reason,
                               "record": None})
        acc.rejects[failed.code] += 1
        return
    if config.review:
        try:
            checked = await _chat(client, config, review_messages(record, catalogue), "review", REVIEW_SCHEMA,
                                  semaphore, acc, rng)
            entities = checked.get("entities") if isinstance(checked, dict) else None
            if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
                raise _Failed("bad_shape", "the review answer has no 'entities' list of objects")
        except _Failed as failed:  # keep the unreviewed answer: the rule-based review still runs
            record["meta"]["llm_review"] = {"status": "failed", "code": failed.code, "reason": failed.reason}
            acc.review_failures[failed.code] += 1
        else:
            before = {(e.get("value"), e.get("label")) for e in record["privacy_mask"]}
            record["privacy_mask"] = [{"value": e.get("value"), "label": e.get("label")} for e in entities]
            after = {(e["value"], e["label"]) for e in record["privacy_mask"]}
            record["meta"]["llm_review"] = {"status": "ok", "removed": len(before - after), "added": len(after - before)}
    result.records.append(record)


async def agenerate(spec: BatchSpec, config: LLMConfig, api_key: str, catalogue: Catalogue = DEFAULT) -> Result:
    import openai

    requests = sample_requests(spec, catalogue)
    result = Result()
    result.accounting.requested = len(requests)
    semaphore = asyncio.Semaphore(config.max_concurrency)
    rng = random.Random(batch_seed(spec.key, spec.seed, "backoff"))
    async with openai.AsyncOpenAI(base_url=config.base_url, api_key=api_key, max_retries=0,
                                  timeout=config.timeout) as client:
        await asyncio.gather(*(_one(client, config, spec, r, semaphore, result, rng, catalogue) for r in requests))
    result.records.sort(key=lambda r: r["meta"]["index"])
    result.rejects.sort(key=lambda r: r["index"])
    return result


def generate(spec: BatchSpec, config: LLMConfig, api_key: str, catalogue: Catalogue = DEFAULT) -> Result:
    """All of the batch's samples (blocking; runs its own event loop)."""
    if not api_key:
        raise ValueError("the openai provider needs an API key (set OPENAI_API_KEY)")
    return asyncio.run(agenerate(spec, config, api_key, catalogue))
