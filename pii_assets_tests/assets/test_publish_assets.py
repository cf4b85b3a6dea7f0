"""Publishing release r1 (built by the session's ``built`` fixture): the HF dataset, the model cards and
the pushes to a Hub (the fake Hub on 127.0.0.1, spoken to by the real huggingface_hub code)."""

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pii_assets.assets.batch import raw_samples
from pii_assets.assets.evaluation import external_evaluation
from pii_assets.assets.publish import hf_dataset, model_cards, sft_jsonl
from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.hub.client import download
from pii_assets.partitions import batches
from pii_assets.resources import ExternalEvalResource, HubResource
from pii_assets.storage import read_jsonl
from pii_assets_tests.hubserver import serve

TOKEN = "hf_publish_test_t0ken"
CLI = str(Path(sys.executable).parent / "pii-assets")


@pytest.fixture(scope="module")
def offline(built, eval_dir):
    storage, _, _, instance, _, _, resources = built
    result = dg.materialize([external_evaluation, hf_dataset, sft_jsonl, model_cards], partition_key="r1",
                            instance=instance,
                            resources={**resources, "external_eval": ExternalEvalResource(eval_dir=str(eval_dir))},
                            # 240 samples: the rarest category (PASSWORD) has 16 train examples
                            run_config={"ops": {"sft_jsonl": {"config": {"min_per_category": 10}}}})
    return storage, result


def test_hf_dataset_loads_back_with_the_release_split_and_columns(offline):
    from datasets import load_dataset, load_from_disk

    storage, result = offline
    assert result.success
    directory = storage.root / "releases/r1/hf_dataset"
    splits = pl.read_parquet(storage.root / "releases/r1/splits.parquet")
    files = {s: str(directory / f"data/{s}-00000-of-00001.parquet") for s in ("train", "validation", "test")}
    for ds in (load_dataset("parquet", data_files=files), load_from_disk(str(directory / "arrow"))):
        assert set(ds["train"].column_names) == {"text", "privacy_mask", "coreferences", "language", "country",
                                                 "id", "source"}
        for split in ("train", "validation", "test"):  # the release's split, sample for sample
            assert set(ds[split]["id"]) == set(splits.filter(pl.col("split") == split)["sample_id"])
    row = next(r for r in ds["test"] if r["privacy_mask"])
    assert all(row["text"][s["start"]:s["end"]] == s["value"] for s in row["privacy_mask"])
    assert row["source"].startswith("offline/")
    md = result.asset_materializations_for_node("hf_dataset")[0].metadata
    assert md["hub"].value.startswith("not pushed: no repo id configured")


def test_sft_jsonl_passes_its_check_and_never_uses_test_samples(offline):
    storage, result = offline
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks == {"sft_valid": True}
    directory = storage.root / "releases/r1/sft"
    info = json.loads((directory / "dataset_info.json").read_text())
    assert info["pii_sft_train"] == {"file_name": "sft_train.jsonl", "formatting": "alpaca",
                                     "columns": {"system": "system", "prompt": "instruction", "query": "input",
                                                 "response": "output"}}
    train = [json.loads(line) for line in (directory / "sft_train.jsonl").read_text().splitlines()]
    output = json.loads(train[0]["output"])
    assert set(output) == {"is_sensitive", "confidence_score", "explanation"}
    assert train[0]["instruction"].startswith("Category: ") and len(train[0]["instruction"]) < 80
    splits = pl.read_parquet(storage.root / "releases/r1/splits.parquet")
    test_ids = set(splits.filter(pl.col("split") == "test")["sample_id"])
    sources = {json.loads(line).get("sample_id") for name in ("sft_train.meta.jsonl", "sft_validation.meta.jsonl")
               for line in (directory / name).read_text().splitlines()}
    assert None not in sources and not sources & test_ids


def test_dataset_card_has_the_yaml_header_and_counts(offline):
    from huggingface_hub import DatasetCard

    storage, _ = offline
    card = DatasetCard.load(storage.root / "releases/r1/hf_dataset/README.md")
    assert card.data.task_categories == ["token-classification"] and card.data.language == ["de", "en"]
    assert card.data.size_categories == ["n<1K"]
    stats = json.loads((storage.root / "releases/r1/hf_dataset/stats.json").read_text())
    assert f"| FIRSTNAME | Given name of a person | {stats['spans_per_label']['FIRSTNAME']} |" in card.text
    manifest = json.loads((storage.root / "releases/r1/manifest.json").read_text())
    assert manifest["manifest_sha256"] in card.text and "| b1 | 120 |" in card.text


def test_model_cards_carry_evaluation_parity_and_limits(offline):
    from huggingface_hub import ModelCard

    storage, result = offline
    trained = ModelCard.load(storage.root / "releases/r1/model_cards/trained_model.md")
    evaluation = json.loads((storage.root / "releases/r1/evaluation.json").read_text())
    assert trained.data.pipeline_tag == "token-classification" and trained.data.library_name == "transformers"
    assert trained.data.eval_results[0].metric_value == evaluation["summary"]["micro_f1"]
    assert "presidio (vanilla)" in trained.text and "## Intended use and limits" in trained.text
    low, high = evaluation["intervals"]["macro_f1"]
    assert f"entity macro F1 {low:.3f}-{high:.3f}" in trained.text and "paired bootstrap" in trained.text
    assert f"| trained_on | {evaluation['training']['trained_on']} |" in trained.text
    quantized = ModelCard.load(storage.root / "releases/r1/model_cards/quantized_model.md")
    assert "model_quantized.onnx" in quantized.text and "Token argmax agreement" in quantized.text
    md = result.asset_materializations_for_node("model_cards")[0].metadata
    assert md["trained_model_hub"].value.startswith("not pushed")


def test_model_cards_carry_the_evaluation_on_external_sets_own_model_first(offline):
    from huggingface_hub import ModelCard

    storage, result = offline
    external = json.loads((storage.root / "releases/r1/external_evaluation.json").read_text())
    assert set(external["results"]) == {"clinic", "news"}
    for name, own, other in (("trained_model", "trained", "quantized"), ("quantized_model", "quantized", "trained")):
        text = ModelCard.load(storage.root / f"releases/r1/model_cards/{name}.md").text
        section = text.split("## Evaluation on external sets", 1)[1]
        assert "### clinic (catalogue gold, 3 texts)" in section and "### news (coarse gold, 3 texts)" in section
        assert "| system | language | texts | strict_precision |" in section and "name_recall" in section
        clinic = section.split("### clinic", 1)[1].split("###", 1)[0]
        assert clinic.index(f"| {own} | all | 3 |") < clinic.index(f"| {other} | all | 3 |")
        assert str(external["eval_dir"]) not in text  # the publisher's paths stay out of a public card
    trained = ModelCard.load(storage.root / "releases/r1/model_cards/trained_model.md").text
    # the rest of the card is still there, the new section between the test split's tables and training
    assert trained.index("## Evaluation (held-out") < trained.index("## Evaluation on external sets") < \
        trained.index("## Training") < trained.index("## Intended use and limits")
    quantized = ModelCard.load(storage.root / "releases/r1/model_cards/quantized_model.md").text
    assert quantized.index("## Parity with") < quantized.index("## Evaluation on external sets") < \
        quantized.index("## Verify the signature")
    md = result.asset_materializations_for_node("model_cards")[0].metadata
    assert md["external_sets"].value == "2 in the cards"


def test_a_card_says_nothing_of_external_sets_without_their_figures():
    from pii_assets.hub.model_cards import _external_section

    for external in (None, {"configured": False, "note": "no evaluation directory configured", "results": {}}):
        assert _external_section(external, "trained") == ""


def test_pushes_to_the_hub_private_tagged_and_verifiable(built, offline, tmp_path, hf_home):
    storage, _, _, instance, _, _, resources = built
    with serve(token=TOKEN) as server:
        hub = HubResource(token=TOKEN, endpoint=server.endpoint, dataset_repo="acme/pii-data",
                          model_repo="acme/pii-model", quantized_model_repo="acme/pii-onnx")
        result = dg.materialize([hf_dataset, model_cards], partition_key="r1", instance=instance,
                                resources={**resources, "hub": hub})
        assert result.success
        data = server.repos[("dataset", "acme/pii-data")]
        release = storage.root / "releases/r1"
        assert data.private and "r1" in data.tags
        pushed = data.commits[-1].files
        assert pushed["data/test-00000-of-00001.parquet"] == (
            release / "hf_dataset/data/test-00000-of-00001.parquet").read_bytes()
        assert not any(p.startswith("arrow/") for p in pushed)
        assert "https://huggingface.co/acme/pii-model" in pushed["README.md"].decode()
        model = server.repos[("model", "acme/pii-onnx")]
        assert model.private and model.commits[-1].files["model_quantized.onnx"] == (
            release / "quantized_model/model_quantized.onnx").read_bytes()
        # what a user does: download the quantized model at the release's tag and verify its signature
        local = download("acme/pii-onnx", repo_type="model", token=TOKEN, endpoint=server.endpoint, revision="r1",
                         local_dir=tmp_path / "pii-onnx")
        # and the other way round: the published dataset imported as a new batch (provider hf) by repo id
        declare_batch(storage, BatchSpec("from-hub", provider="hf", source="acme/pii-data", source_revision="r1",
                                         size=10_000, languages=("en", "de")))
        instance.add_dynamic_partitions(batches.name, ["from-hub"])
        imported = dg.materialize([raw_samples], partition_key="from-hub", instance=instance,
                                  resources={**resources, "hub": hub})
        assert imported.success
    verify = [CLI, "verify", str(local), "--signature", str(local / "signature.json"), "--public-key",
              str(local / "signing_key.pub"), "--entry", "quantized_model"]
    ok = subprocess.run(verify + ["--hub"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    strict = subprocess.run(verify, capture_output=True, text=True, timeout=120)
    assert strict.returncode == 1 and "README.md: not signed" in strict.stderr
    (local / "label_mappings.json").write_text("{}")
    tampered = subprocess.run(verify + ["--hub"], capture_output=True, text=True, timeout=120)
    assert tampered.returncode == 1 and "label_mappings.json: content changed" in tampered.stderr
    ids = {sample["id"] for _, sample in read_jsonl(storage.batch_file("from-hub", "raw_samples.jsonl"))}
    assert ids == set(pl.read_parquet(storage.root / "releases/r1/splits.parquet")["sample_id"])
    md = result.asset_materializations_for_node("hf_dataset")[0].metadata
    assert md["hub"].value == "pushed to acme/pii-data (private=True)"
    assert TOKEN not in json.dumps({k: str(v.value) for k, v in md.items()})


def test_a_rejected_token_fails_the_push_without_showing_it(built, offline, hf_home):
    storage, _, _, instance, _, _, resources = built
    with serve(token=TOKEN) as server:
        hub = HubResource(token="hf_wrong_t0ken", endpoint=server.endpoint, dataset_repo="acme/pii-data")
        result = dg.materialize([hf_dataset], partition_key="r1", instance=instance,
                                resources={**resources, "hub": hub}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.user_failure_data) + failure.event_specific_data.error.message
    assert "acme/pii-data" in message and "hf_wrong_t0ken" not in message


def test_nothing_is_pushed_without_a_repo_and_a_token():
    assert HubResource().unpublished_reason(None, "PII_ASSETS_HF_DATASET_REPO") == (
        "not pushed: no repo id configured ($PII_ASSETS_HF_DATASET_REPO)")
    assert HubResource().unpublished_reason("acme/x", "PII_ASSETS_HF_DATASET_REPO") == (
        "not pushed: no token configured ($HF_TOKEN)")
    assert HubResource(token="t").unpublished_reason("acme/x", "PII_ASSETS_HF_DATASET_REPO") is None
