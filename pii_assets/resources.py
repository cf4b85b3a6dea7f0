"""Dagster resources. Domain code gets plain objects from them (``LocalStorage`` / ``S3Storage``)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster_aws.s3 import S3Resource

from pii_assets.storage import LocalStorage
from pii_assets.training.backbone import configured_backbone
from pii_assets.training.external import EVAL_DIR_ENV

DEFAULT_DATA_DIR = "data"


class StorageResource(dg.ConfigurableResource):
    """Where artifacts live: ``root`` (default $PII_ASSETS_DATA_DIR or ./data) is the working copy
    the assets read and write. With ``s3_bucket`` set, that tree is also mirrored to
    ``s3://<s3_bucket>/<s3_prefix>/`` (same relative keys, byte for byte): assets fetch their inputs
    from it and publish their outputs to it, so runs on other machines share the artifacts. The
    client (endpoint, region, credentials) comes from dagster-aws ``S3Resource`` in ``s3``."""

    root: str = DEFAULT_DATA_DIR
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3: S3Resource | None = None
    """Endpoint, region and credentials (bind them through ``EnvVar``); None: boto3's defaults."""

    def store(self) -> LocalStorage:
        if not self.s3_bucket:
            return LocalStorage(self.root)
        from pii_assets.storage_s3 import S3Storage

        return S3Storage(self.root, (self.s3 or S3Resource()).get_client(), self.s3_bucket, self.s3_prefix)


S3_BUCKET_ENV = "PII_ASSETS_S3_BUCKET"
S3_PREFIX_ENV = "PII_ASSETS_S3_PREFIX"
S3_ENDPOINT_ENVS = ("PII_ASSETS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
S3_SECRET_ENVS = {"aws_access_key_id": "AWS_ACCESS_KEY_ID", "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
                  "aws_session_token": "AWS_SESSION_TOKEN"}


def default_storage(root: str | None = None) -> StorageResource:
    """Local only unless $PII_ASSETS_S3_BUCKET is set; then prefix $PII_ASSETS_S3_PREFIX, endpoint
    $PII_ASSETS_S3_ENDPOINT_URL or $AWS_ENDPOINT_URL, and whichever of $AWS_ACCESS_KEY_ID,
    $AWS_SECRET_ACCESS_KEY, $AWS_SESSION_TOKEN are set, all bound through ``EnvVar`` (read at run
    time, never shown); without keys boto3 finds credentials itself (profile, instance role)."""
    root = root or os.environ.get("PII_ASSETS_DATA_DIR", DEFAULT_DATA_DIR)
    if not os.environ.get(S3_BUCKET_ENV):
        return StorageResource(root=root)
    client: dict = {field: dg.EnvVar(env) for field, env in S3_SECRET_ENVS.items() if os.environ.get(env)}
    endpoint = next((env for env in S3_ENDPOINT_ENVS if os.environ.get(env)), None)
    if endpoint:
        client["endpoint_url"] = dg.EnvVar(endpoint)
    return StorageResource(root=root, s3_bucket=dg.EnvVar(S3_BUCKET_ENV),
                           s3_prefix=os.environ.get(S3_PREFIX_ENV, ""), s3=S3Resource(**client))


class BackboneResource(dg.ConfigurableResource):
    """The pretrained backbone (and so the tokenizer) and the token window.

    ``backbone`` defaults to $PII_ASSETS_BACKBONE or ``minilm`` (the packaged all-MiniLM-L6-v2);
    a local directory or a Hub name also work. The asset code versions include the env value,
    so changing it marks the tokens (and later models) stale in the UI.
    """

    backbone: str = "minilm"
    max_length: int = 256
    stride: int = 32


def default_backbone() -> BackboneResource:
    return BackboneResource(backbone=configured_backbone())


class SigningResource(dg.ConfigurableResource):
    """The Ed25519 key that signs models: the key itself (``private_key``, PEM or base64 seed) or a
    0600 key file (``key_file``). Bind both through ``EnvVar`` so the key never appears in run
    config; without either, signing fails with a message saying how to make one."""

    private_key: str | None = None
    key_file: str | None = None

    def load(self):
        from pii_assets.signing import SigningError, private_key_from_file, private_key_from_text

        if self.private_key:
            return private_key_from_text(self.private_key, f"${SIGNING_KEY_ENV}")
        if self.key_file:
            return private_key_from_file(Path(self.key_file))
        raise SigningError(f"no signing key: set {SIGNING_KEY_FILE_ENV} to a key file made by "
                           f"`pii-assets keygen --out FILE`, or {SIGNING_KEY_ENV} to the key; "
                           "models are never signed with a throw-away key")


SIGNING_KEY_ENV = "PII_ASSETS_SIGNING_KEY"
SIGNING_KEY_FILE_ENV = "PII_ASSETS_SIGNING_KEY_FILE"


def default_signing() -> SigningResource:
    """Bound to whichever of the two variables is set when the code location loads (through
    ``EnvVar``, so the value is read at run time and never shown in the UI)."""
    if os.environ.get(SIGNING_KEY_ENV):
        return SigningResource(private_key=dg.EnvVar(SIGNING_KEY_ENV))
    if os.environ.get(SIGNING_KEY_FILE_ENV):
        return SigningResource(key_file=dg.EnvVar(SIGNING_KEY_FILE_ENV))
    return SigningResource()


LABEL_STUDIO_URL_ENV = "LABEL_STUDIO_URL"
LABEL_STUDIO_API_KEY_ENV = "LABEL_STUDIO_API_KEY"


class LabelStudioResource(dg.ConfigurableResource):
    """The Label Studio server humans review samples in. Without ``url`` (the offline default) the
    graph still runs: tasks are only written as importable JSON files."""

    url: str | None = None
    api_key: str | None = None
    project_title: str = "pii_assets"
    project_id: int | None = None
    """Use this existing project instead of the one called ``project_title``."""

    def client(self):
        from pii_assets.labelstudio.client import LabelStudioClient

        if not self.url:
            return None
        if not self.api_key:
            raise ValueError(f"Label Studio at {self.url} needs an API key: set {LABEL_STUDIO_API_KEY_ENV}")
        return LabelStudioClient(self.url, self.api_key)


def default_labelstudio() -> LabelStudioResource:
    """Bound through ``EnvVar`` when $LABEL_STUDIO_URL is set (project: $PII_ASSETS_LS_PROJECT_ID, or the
    one titled $PII_ASSETS_LS_PROJECT)."""
    title = os.environ.get("PII_ASSETS_LS_PROJECT", "pii_assets")
    project_id = int(os.environ["PII_ASSETS_LS_PROJECT_ID"]) if os.environ.get("PII_ASSETS_LS_PROJECT_ID") else None
    if os.environ.get(LABEL_STUDIO_URL_ENV):
        return LabelStudioResource(url=dg.EnvVar(LABEL_STUDIO_URL_ENV), api_key=dg.EnvVar(LABEL_STUDIO_API_KEY_ENV),
                                   project_title=title, project_id=project_id)
    return LabelStudioResource(project_title=title, project_id=project_id)


OPENAI_API_KEY_ENV = "OPENAI_API_KEY"
OPENAI_BASE_URL_ENV = "OPENAI_BASE_URL"


class LLMResource(dg.ConfigurableResource):
    """The OpenAI-compatible endpoint of the ``openai`` provider (OpenAI, vLLM, Doubleword, ...).

    ``api_key`` is bound to $OPENAI_API_KEY through ``EnvVar`` and never written anywhere."""

    base_url: str = "https://api.openai.com/v1"
    api_key: str | None = None
    model: str = "gpt-4o-mini"
    max_concurrency: int = 16
    timeout: float = 60.0
    max_attempts: int = 6
    structured: str = "json_schema"
    """``json_schema`` (strict structured outputs) or ``guided_json`` (vLLM)."""
    review: bool = False
    """A second LLM call per sample that checks and corrects the labels."""
    batch_poll_seconds: float = 30.0
    """How often the ``batch`` provider polls its remote batches."""
    usd_per_million_input: float = 0.15
    usd_per_million_output: float = 0.60

    def sync_client(self):
        import openai

        return openai.OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout,
                             max_retries=self.max_attempts)

    def config(self):
        from pii_assets.llm.openai_provider import LLMConfig

        return LLMConfig(base_url=self.base_url, model=self.model, max_concurrency=self.max_concurrency,
                         timeout=self.timeout, max_attempts=self.max_attempts, structured=self.structured,
                         review=self.review,
                         usd_per_million_input=self.usd_per_million_input,
                         usd_per_million_output=self.usd_per_million_output)


def default_llm() -> LLMResource:
    """$OPENAI_API_KEY / $OPENAI_BASE_URL through ``EnvVar`` when set; model $PII_ASSETS_LLM_MODEL."""
    kwargs: dict = {}
    if os.environ.get(OPENAI_API_KEY_ENV):
        kwargs["api_key"] = dg.EnvVar(OPENAI_API_KEY_ENV)
    if os.environ.get(OPENAI_BASE_URL_ENV):
        kwargs["base_url"] = dg.EnvVar(OPENAI_BASE_URL_ENV)
    if os.environ.get("PII_ASSETS_LLM_MODEL"):
        kwargs["model"] = os.environ["PII_ASSETS_LLM_MODEL"]
    return LLMResource(**kwargs)


class ExternalEvalResource(dg.ConfigurableResource):
    """Where ``external_evaluation`` finds labeled sets other people wrote: ``eval_dir``, a directory
    of ``*.jsonl`` sets (docs/evaluation.md), bound to $PII_ASSETS_EVAL_DIR through ``EnvVar``.
    Without it the asset only records that no directory is configured; the project ships no
    evaluation data."""

    eval_dir: str | None = None
    threshold: float = 0.5
    """The models' decoding threshold (``pii-assets predict``'s default)."""


def default_external_eval() -> ExternalEvalResource:
    """Bound to $PII_ASSETS_EVAL_DIR (``EnvVar``, read at run time) when it is set and not empty
    as the code location loads."""
    if os.environ.get(EVAL_DIR_ENV):
        return ExternalEvalResource(eval_dir=dg.EnvVar(EVAL_DIR_ENV))
    return ExternalEvalResource()


HF_TOKEN_ENV = "HF_TOKEN"


class HubResource(dg.ConfigurableResource):
    """Where releases are published on the Hugging Face Hub (or a Hub-compatible endpoint).

    Nothing is pushed unless a repo id and ``token`` are set; ``token`` is bound to $HF_TOKEN
    through ``EnvVar`` and never written anywhere. Every push is one commit tagged with the release
    key, so ``revision="r1"`` loads exactly what release r1 built."""

    token: str | None = None
    endpoint: str = "https://huggingface.co"
    """API endpoint; ``HF_ENDPOINT``. Configuring a repo and a token is a deliberate choice to go online,
    so pushes (and imports from a Hub repo id) use it even when $HF_HUB_OFFLINE is set."""
    dataset_repo: str | None = None
    model_repo: str | None = None
    quantized_model_repo: str | None = None
    private: bool = True

    def unpublished_reason(self, repo: str | None, setting: str) -> str | None:
        """Why an artifact is not pushed (None: it is)."""
        if not repo:
            return f"not pushed: no repo id configured (${setting})"
        if not self.token:
            return f"not pushed: no token configured (${HF_TOKEN_ENV})"
        return None


HUB_REPO_ENVS = {"dataset_repo": "PII_ASSETS_HF_DATASET_REPO", "model_repo": "PII_ASSETS_HF_MODEL_REPO",
                 "quantized_model_repo": "PII_ASSETS_HF_QUANTIZED_MODEL_REPO"}


def default_hub() -> HubResource:
    """Repo ids from $PII_ASSETS_HF_*_REPO, the token from $HF_TOKEN (EnvVar), the endpoint from $HF_ENDPOINT."""
    kwargs: dict = {field: os.environ[env] for field, env in HUB_REPO_ENVS.items() if os.environ.get(env)}
    if os.environ.get(HF_TOKEN_ENV):
        kwargs["token"] = dg.EnvVar(HF_TOKEN_ENV)
    if os.environ.get("HF_ENDPOINT"):
        kwargs["endpoint"] = os.environ["HF_ENDPOINT"]
    if os.environ.get("PII_ASSETS_HF_PUBLIC", "").lower() in ("1", "true", "yes"):
        kwargs["private"] = False
    return HubResource(**kwargs)
