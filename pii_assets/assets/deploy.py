"""What users load into their PII proxy: the quantized ONNX model and its signature."""

import json

import dagster as dg
import numpy as np

from pii_assets.assets.release import SAMPLES, TOKENS, fetch_release, release_manifest, trained_model
from pii_assets.partitions import partitioned_check, releases
from pii_assets.reporting import markdown_table
from pii_assets.resources import SigningResource, StorageResource
from pii_assets.storage import atomic_writer, write_json
from pii_assets.training.release import release_dir, release_samples, split_ids

QUANTIZED_MODEL_VERSION = "3"
MAX_F1_DROP_POINTS = 0.5
MIN_ARGMAX_AGREEMENT = 0.995
SIGNATURE = "signature.json"
PUBLIC_KEY = "signing_key.pub"


@dg.asset(
    partitions_def=releases,
    group_name="release",
    deps=[trained_model],
    code_version=QUANTIZED_MODEL_VERSION,
    kinds={"onnx"},
    check_specs=[partitioned_check(
        "parity", "quantized_model", releases, blocking=True,
        description=f"On the test split: strict span micro F1 within {MAX_F1_DROP_POINTS} points of the "
                    f"trained model and token argmax agreement >= {MIN_ARGMAX_AGREEMENT:.1%}.")],
    description="int8 ONNX export of the trained model (optimum exporter + ORTQuantizer, dynamic, "
                "per-channel), in the Kiji proxy's directory contract, with a parity gate.",
)
def quantized_model(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    from pii_assets.training.export import QuantizationChoice, quantize
    from pii_assets.training.metrics import gold_spans
    from pii_assets.training.model import PiiModel, load_label_weights
    from pii_assets.training.parity import parity
    from pii_assets.training.scoring import QUANTIZED_ONNX, OnnxScorer, TorchScorer, latency_ms, pad_token_id
    from pii_assets.training.train import Windows

    release = context.partition_key
    store = storage.store()
    manifest = fetch_release(store, release, batch_files=(SAMPLES, TOKENS), release_files=("trained_model",))
    directory = release_dir(store, release)
    trained_dir, out_dir = directory / "trained_model", directory / "quantized_model"
    if not trained_dir.is_dir():
        raise dg.Failure(description=f"release {release}: no trained model at {trained_dir}; "
                                     "materialize trained_model first")
    choice = QuantizationChoice()
    info = quantize(trained_dir, out_dir, choice)
    context.log.info(f"exported {info.onnx_fp32_bytes / 2**20:.1f} MiB fp32 ONNX -> "
                     f"{info.quantized_bytes / 2**20:.1f} MiB int8; float nodes: {len(info.excluded_nodes)}")

    test_ids = split_ids(store, release)["test"]
    windows = Windows.read_splits(
        [store.batch_file(b["key"], TOKENS) for b in manifest["batches"]],
        {"test": test_ids})["test"]
    samples = release_samples(store, manifest, test_ids)
    reference, candidate = TorchScorer(PiiModel.load(trained_dir).token_model), OnnxScorer(out_dir / QUANTIZED_ONNX)
    report = parity(reference, candidate, windows, gold_spans(samples.values()), pad_token_id(trained_dir),
                    load_label_weights(trained_dir))
    singles = [(ids[None, :], np.ones((1, len(ids)), dtype=np.int64)) for ids in windows.input_ids[:32]]
    summary = {**report.summary(), "trained_ms_batch1": round(latency_ms(reference, singles), 2),
               "quantized_ms_batch1": round(latency_ms(candidate, singles), 2)}
    trained_bytes = sum(p.stat().st_size for p in trained_dir.glob("*.safetensors"))
    write_json(directory / "parity.json", {
        "release": release, "split": "test", "summary": summary, "choice": choice.to_json(),
        "float_nodes": info.excluded_nodes, "per_label": report.per_label_rows(),
        "differing_spans": report.differing_spans,
        "sizes": {"trained_safetensors_bytes": trained_bytes, "onnx_fp32_bytes": info.onnx_fp32_bytes,
                  "quantized_bytes": info.quantized_bytes}})
    store.publish(out_dir, directory / "parity.json")
    passed = report.passed(MAX_F1_DROP_POINTS, MIN_ARGMAX_AGREEMENT)
    context.log.info(f"parity: {json.dumps(summary)} -> {'passed' if passed else 'FAILED'}")
    differing = markdown_table(
        [(d["sample_id"][:10], d["label"], d.get("value", ""), d["found_by"]) for d in report.differing_spans[:30]],
        ("sample", "label", "value", "found by")) if report.differing_spans else "none"
    per_label = markdown_table([(r["label"], r["reference_f1"], r["candidate_f1"], r["differing_spans"])
                                for r in report.per_label_rows()],
                               ("label", "trained F1", "quantized F1", "differing spans"))
    return dg.MaterializeResult(
        metadata={
            "quantized_mib": round(info.quantized_bytes / 2**20, 2),
            "trained_mib": round(trained_bytes / 2**20, 2),
            "size_ratio": round(info.quantized_bytes / trained_bytes, 3) if trained_bytes else None,
            "quantization": dg.MetadataValue.json(choice.to_json()),
            "path": dg.MetadataValue.path(str(out_dir)),
            **summary,
        },
        check_results=[dg.AssetCheckResult(
            check_name="parity", passed=passed,
            metadata={**summary, "max_f1_drop_points": MAX_F1_DROP_POINTS, "min_agreement": MIN_ARGMAX_AGREEMENT,
                      "per_label": dg.MetadataValue.md(per_label),
                      "differing_spans_sample": dg.MetadataValue.md(differing)})],
    )


@dg.asset(
    partitions_def=releases,
    group_name="release",
    deps=[quantized_model, release_manifest],
    kinds={"python"},
    description="Ed25519 signature over SHA-256 digests of every file of the quantized and trained "
                "model directories, the release id and the data manifest hash.",
)
def model_signature(context: dg.AssetExecutionContext, storage: StorageResource,
                    signing: SigningResource) -> dg.MaterializeResult:
    from pii_assets.signing import SigningError, public_pem, read_signature, sign, verify

    release = context.partition_key
    store = storage.store()
    directory = release_dir(store, release)
    try:
        key = signing.load()
    except SigningError as exc:
        raise dg.Failure(description=str(exc)) from None
    manifest = fetch_release(store, release, release_files=("quantized_model", "trained_model"))
    dirs = {"quantized_model": directory / "quantized_model", "trained_model": directory / "trained_model"}
    document = sign(key, dirs, release, manifest["manifest_sha256"])
    write_json(directory / SIGNATURE, document)
    with atomic_writer(directory / PUBLIC_KEY, "wb") as fh:
        fh.write(public_pem(key))
    for name, path in dirs.items():  # prove the written files verify before anyone downloads them
        result = verify(path, read_signature(directory / SIGNATURE), key.public_key(), name)
        if not result.ok:
            raise dg.Failure(description=f"{name}: the fresh signature does not verify: {result.problems}")
    store.publish(directory / SIGNATURE, directory / PUBLIC_KEY)
    files = {name: len(entry["files"]) for name, entry in document["payload"]["directories"].items()}
    context.log.info(f"signed {files} (public key sha256 {document['payload']['public_key_sha256'][:16]}...)")
    return dg.MaterializeResult(metadata={
        "files": dg.MetadataValue.json(files),
        "public_key_sha256": document["payload"]["public_key_sha256"],
        "data_manifest_sha256": manifest["manifest_sha256"],
        "signature": dg.MetadataValue.path(str(directory / SIGNATURE)),
        "public_key": dg.MetadataValue.path(str(directory / PUBLIC_KEY)),
        "verify": f"pii-assets verify {directory / 'quantized_model'} --signature {directory / SIGNATURE} "
                  f"--public-key {directory / PUBLIC_KEY}",
    })
