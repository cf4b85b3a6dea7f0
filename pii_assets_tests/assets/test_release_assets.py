"""A release built on a real instance: manifest from eligible batches, a trained tiny model."""

import json
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pii_assets.reporting import INLINE_MARKDOWN_LIMIT
from pii_assets.signing import generate_key


def test_manifest_lists_eligible_batches_with_hashes_and_group_disjoint_splits(built):
    storage, result = built[:2]
    assert result.success
    manifest = json.loads((storage.root / "releases/r1/manifest.json").read_text())
    assert [b["key"] for b in manifest["batches"]] == ["b1", "b2"]
    assert "blocking check failed: rejected_ratio" in manifest["excluded_batches"]["dup"]
    assert all(len(b["samples_sha256"]) == 64 and len(b["tokens_sha256"]) == 64 for b in manifest["batches"])
    assert manifest["samples"] == 240 and sum(manifest["splits"].values()) == 240
    assert manifest["libraries"]["torch"].startswith("2.") and manifest["git_commit"]
    splits = pl.read_parquet(storage.root / "releases/r1/splits.parquet")
    assert splits.group_by("group").agg(pl.col("split").n_unique().alias("n"))["n"].max() == 1
    assert set(splits["split"].unique()) == {"train", "validation", "test"}


def test_trained_model_loads_with_transformers_and_has_the_coref_head(built):
    from transformers import AutoModelForTokenClassification, pipeline

    storage, result = built[:2]
    directory = storage.root / "releases/r1/trained_model"
    model = AutoModelForTokenClassification.from_pretrained(directory)
    assert model.config.id2label[1] == "B-FIRSTNAME" and model.config.num_labels == 49
    mappings = json.loads((directory / "label_mappings.json").read_text())
    assert set(mappings) == {"pii", "coref"} and mappings["pii"]["label2id"]["O"] == 0
    assert mappings["coref"]["id2label"]["0"] == "NO_COREF"
    assert (directory / "coref_head.safetensors").is_file()
    tagger = pipeline("token-classification", model=str(directory))
    assert isinstance(tagger("Anna Schmidt lives in Berlin."), list)
    evaluation = json.loads((storage.root / "releases/r1/evaluation.json").read_text())
    assert {"macro_f1", "micro_f1", "char_f2"} <= set(evaluation["summary"])
    for metric in ("macro_f1", "micro_f1", "char_f2"):  # the point estimate lies in its interval
        low, high = evaluation["intervals"][metric]
        assert 0 <= low <= evaluation["summary"][metric] <= high <= 1
    for label, (low, high) in evaluation["intervals"]["per_label_f1"].items():
        assert 0 <= low <= high <= 1 and label in evaluation["per_label"]
    assert set(evaluation["intervals"]["per_language_f1"]) == set(evaluation["per_language"])
    assert evaluation["training"]["history"] and evaluation["training"]["steps"] > 0
    # bf16 on AMX or AVX512-BF16 CPUs
    assert evaluation["training"]["trained_on"] in ("cpu (fp32)", "cpu (bfloat16)")
    assert evaluation["training"]["config"]["dropout"] == 0.0
    # calibrated per-label weights (r1 is built with calibrate on) travel with the weights
    decoding = json.loads((directory / "decoding.json").read_text())
    assert decoding["label_weights"] == evaluation["training"]["label_weights"]
    assert set(decoding["label_weights"]) <= {name for name in mappings["pii"]["label2id"] if name != "O"} | {
        name[2:] for name in mappings["pii"]["label2id"]}
    assert set(decoding["validation_micro_f1"]) == {"before", "after"}
    assert decoding["validation_micro_f1"]["after"] >= decoding["validation_micro_f1"]["before"]


def test_trained_model_metadata_and_macro_f1_floor_check(built):
    _, result, strict, instance = built[:4]
    mat = instance.get_latest_materialization_event(dg.AssetKey("trained_model"))
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks == {"macro_f1_floor": True}
    strict_checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
                     for e in strict.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert strict_checks == {"macro_f1_floor": False} and not strict.success
    # release checks are partitioned like the batch checks: each release has its own status in the UI
    assert {e.asset_check_evaluation_data.partition for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"} == {"r1"}
    md = result.asset_materializations_for_node("trained_model")[0].metadata
    assert "| FIRSTNAME |" in md["test_per_label"].value
    # the two charts come first and are short enough for the UI to show them without a click
    assert list(md)[:2] == ["training_curve", "test_f1_per_label"]
    assert md["training_curve"].value.startswith("![training curve](data:image/svg+xml;base64,")
    assert all(len(md[k].value) < INLINE_MARKDOWN_LIMIT for k in ("training_curve", "test_f1_per_label"))
    evaluation = json.loads((built[0].root / "releases/r1/evaluation.json").read_text())
    assert evaluation["training"]["losses"][-1][0] == evaluation["training"]["steps"]
    assert md["ci95"].value.startswith("macro_f1 ") and "| F1 95% interval |" in md["test_per_label"].value
    assert "| F1 95% interval |" in md["test_per_language"].value
    assert mat is not None


def test_predict_on_the_trained_model_any_length(built, tmp_path):
    import os
    import subprocess
    import sys

    from pii_assets.training.predict import Predictor

    storage = built[0]
    directory = storage.root / "releases/r1/trained_model"
    predictor = Predictor(directory)
    long_text = "Bitte rufen Sie Anna Schmidt an. " * 3000  # ~100k characters
    texts = ["", "Call Anna Schmidt on +49 30 901820 or mail anna.schmidt@web.de.", long_text]
    # a near-zero threshold makes O all but impossible: every token is PII, so spans reach the end
    strict, sensitive = predictor.predict(texts, threshold=0.5), predictor.predict(texts, threshold=1e-6)
    assert strict[0] == [] and len(strict) == 3
    for text, spans in zip(texts, sensitive):
        for span in spans:
            assert text[span["start"]:span["end"]] == span["value"] and 0 <= span["score"] <= 1
    assert sum(map(len, sensitive)) >= sum(map(len, strict))
    assert sensitive[2] and max(s["end"] for s in sensitive[2]) > 90_000  # the tail is covered, not truncated

    good = tmp_path / "in.jsonl"
    good.write_text('{"text": "Anna Schmidt, anna@web.de", "id": 7}\n{"text": ""}\n')
    out = tmp_path / "out.jsonl"
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "pii-assets"), "predict", "--model", str(directory), "--input", str(good),
                           "--output", str(out), "--sensitivity", "high"], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    assert lines[0]["id"] == 7 and "privacy_mask" in lines[0] and lines[1]["privacy_mask"] == []
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"txt": "missing"}\n')
    proc = subprocess.run([str(bin_dir / "pii-assets"), "predict", "--model", str(directory), "--input", str(bad),
                           "--output", str(tmp_path / "never.jsonl")], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "bad.jsonl:2" in proc.stderr
    assert not (tmp_path / "never.jsonl").exists()


def test_predict_pipes_text_through_the_model(built):
    """`predict -` reads JSONL (or plain lines) on standard input and writes JSONL to standard output;
    `--text` prints one text's spans as a table."""
    import subprocess
    import sys

    directory = str(built[0].root / "releases/r1/trained_model")
    cmd = [str(Path(sys.executable).parent / "pii-assets"), "predict", "--model", directory, "--threshold", "1e-6"]

    def run(args, stdin=""):
        proc = subprocess.run(cmd + args, input=stdin, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc

    proc = run(["-"], '{"text": "Anna Schmidt, anna@web.de", "id": 7}\n\n{"text": "Call Bob"}\n')
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line.get("id") for line in lines] == [7, None] and all(line["privacy_mask"] for line in lines)
    assert lines[0]["privacy_mask"][0]["value"] == "Anna Schmidt, anna@web.de"[
        lines[0]["privacy_mask"][0]["start"]:lines[0]["privacy_mask"][0]["end"]]
    assert "2 texts -> standard output" in proc.stderr
    plain = run(["--lines", "-"], "Anna Schmidt\nno json here {\n").stdout.splitlines()
    assert [json.loads(line)["text"] for line in plain] == ["Anna Schmidt", "no json here {"]
    table = run(["--text", "Anna Schmidt"]).stdout  # piped: markdown
    assert table.startswith("| value | label | score | start | end |") and "| Anna" in table
    bad = subprocess.run(cmd + ["-"], input='{"text": "ok"}\n{"txt": 1}\n', capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode != 0 and "<stdin>:2: expected an object with a string 'text'" in bad.stderr


@pytest.mark.parametrize("args,message", [
    (["--threshold", "1.5"], "argument --threshold: must be between 0 and 1 (exclusive), got 1.5"),
    (["--threshold", "high"], "argument --threshold: not a number: 'high'"),
    (["--input", "missing.jsonl"], "missing.jsonl: no such file"),
    (["--input", "latin1.jsonl"], "latin1.jsonl:2: not UTF-8"),
])
def test_predict_cli_bad_arguments_and_files_are_clear_errors(built, tmp_path, monkeypatch, capsys, args, message):
    from pii_assets import cli

    monkeypatch.chdir(tmp_path)
    Path("in.jsonl").write_text('{"text": "Anna"}\n')
    Path("latin1.jsonl").write_bytes('{"text": "ok"}\n{"text": "Zoë"}\n'.encode("latin-1"))
    argv = ["predict", "--model", str(built[0].root / "releases/r1/trained_model"), "--input", "in.jsonl",
            "--output", "out.jsonl"]
    with pytest.raises(SystemExit) as exc:
        cli.main(argv + args)
    assert message in f"{exc.value.code}{capsys.readouterr().err}" and not Path("out.jsonl").exists()


def test_evaluate_cli_reproduces_the_release_evaluation_and_compares_two_models(built, tmp_path, capsys):
    from pii_assets import cli

    storage = built[0]
    release = storage.root / "releases/r1"
    test = _test_samples(storage)
    labeled = tmp_path / "labeled.jsonl"  # the test split as a user would label it: no ids, no coreferences
    labeled.write_text("".join(json.dumps({"text": s["text"], "language": s["language"],
                                           "privacy_mask": [{k: x[k] for k in ("start", "end", "label")}
                                                            for x in s["privacy_mask"]]}) + "\n"
                               for s in test.values()))
    trained, quantized = str(release / "trained_model"), str(release / "quantized_model")
    cli.main(["evaluate", "--model", trained, "--model", quantized, "--input", str(labeled),
              "--output", str(tmp_path / "report.json")])
    report = json.loads((tmp_path / "report.json").read_text())
    evaluation = json.loads((release / "evaluation.json").read_text())
    assert report["texts"] == len(test) and report["threshold"] == 0.5
    assert report["models"][trained]["summary"] == evaluation["summary"]  # predict's path = the training's
    assert set(report["models"][trained]["per_label"]) == set(evaluation["per_label"])
    first, second = (report["models"][m]["summary"] for m in (trained, quantized))
    differences = report["first_minus_second"]
    assert (differences["first"], differences["second"]) == (trained, quantized)
    for name in ("macro_f1", "micro_f1", "char_f2"):
        d = differences[name]
        assert abs(d["point"] - (first[name] - second[name])) < 2e-4 and d["low"] <= d["high"]
    out = capsys.readouterr().out
    assert f"{len(test)} texts" in out and "| macro_f1 |" in out and "first - second" in out

    cli.main(["evaluate", "--model", trained, "--presidio", "--input", str(labeled), "--output", str(tmp_path / "p.json")])
    report = json.loads((tmp_path / "p.json").read_text())
    comparison = json.loads((release / "comparison.json").read_text())  # model_evaluation, same texts
    assert report["models"]["presidio (vanilla)"]["summary"] == comparison["results"]["presidio (vanilla)"]["all_labels"]
    assert report["first_minus_second"]["char_f2"]["point"] == pytest.approx(
        comparison["trained_minus_presidio"]["char_f2"]["point"], abs=1e-4)
    for models in ([trained, trained], [trained, quantized, "--presidio"]):
        argv = ["evaluate", "--input", str(labeled)] + [a for m in models for a in ((m,) if m.startswith("--") else ("--model", m))]
        with pytest.raises(SystemExit, match="one or two different --model directories, or one --model and --presidio"):
            cli.main(argv)


@pytest.mark.parametrize("line,message", [
    ({"text": "Anna"}, "'privacy_mask' must be a list"),
    ({"text": "Anna", "privacy_mask": [{"start": 0, "end": 9, "label": "FIRSTNAME"}]}, "span 0: start 0 / end 9"),
    ({"text": "Anna", "privacy_mask": [{"start": 0, "end": 4, "label": "NAME"}]}, "span 0: unknown label 'NAME'"),
    ({"text": "Anna", "privacy_mask": [{"start": 0, "end": 4, "label": "FIRSTNAME", "value": "Ann"}]},
     "span 0: value 'Ann' is not the text at 0:4 ('Anna')"),
    ({"txt": "Anna"}, "expected an object with a string 'text'"),
])
def test_evaluate_cli_names_the_bad_line_and_span(built, tmp_path, line, message):
    from pii_assets import cli

    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(json.dumps({"text": "ok", "privacy_mask": []}) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(SystemExit) as exc:
        cli.main(["evaluate", "--model", str(built[0].root / "releases/r1/trained_model"), "--input", str(labeled)])
    assert "labeled.jsonl:2" in str(exc.value.code) and message in str(exc.value.code)


def test_predict_cli_streams_the_input_in_chunks(built, tmp_path, monkeypatch, capsys):
    from pii_assets import cli
    from pii_assets.training.predict import Predictor

    monkeypatch.setattr(cli, "PREDICT_CHUNK", 2)
    chunks = []
    predict = Predictor.predict
    monkeypatch.setattr(Predictor, "predict", lambda self, texts, *a: chunks.append(len(texts)) or predict(self, texts, *a))
    texts = ["Anna Schmidt", "", "mail anna@web.de", "Call +49 30 901820", "nothing here"]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"n": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "out.jsonl"
    cli.main(["predict", "--model", str(built[0].root / "releases/r1/trained_model"), str(source), "--output", str(out)])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["n"], r["text"]) for r in lines] == list(enumerate(texts))  # every record, in order
    assert all("privacy_mask" in r for r in lines) and lines[1]["privacy_mask"] == []
    assert chunks == [2, 2, 1] and f"5 texts -> {out}" in capsys.readouterr().out


def _test_samples(storage):
    from pii_assets.training.release import release_samples, split_ids

    manifest = json.loads((storage.root / "releases/r1/manifest.json").read_text())
    return release_samples(storage, manifest, split_ids(storage, "r1")["test"])


def test_model_evaluation_compares_with_vanilla_presidio(built):
    storage = built[0]
    comparison = json.loads((storage.root / "releases/r1/comparison.json").read_text())
    assert set(comparison["results"]) == {"trained model", "presidio (vanilla)"}
    assert comparison["texts"] == json.loads((storage.root / "releases/r1/manifest.json").read_text())["splits"]["test"]
    presidio = comparison["results"]["presidio (vanilla)"]["all_labels"]
    assert 0 < presidio["char_recall"] <= 1 and 0 < presidio["char_precision"] <= 1  # Presidio does find PII
    languages = {s["language"] for s in _test_samples(storage).values()}
    for result in comparison["results"].values():  # character-level figures per language, for both systems
        assert set(result["char_per_language"]) == languages
        assert all(0 <= m["f2"] <= 1 and m["support"] > 0 for m in result["char_per_language"].values())
    ours, differences = comparison["results"]["trained model"], comparison["trained_minus_presidio"]
    for name, (system, figure) in {"char_f2": ("all_labels", "char_f2"), "macro_f1_all_labels": ("all_labels", "macro_f1"),
                                   "micro_f1_one_to_one_labels": ("one_to_one_labels", "micro_f1")}.items():
        d = differences[name]  # the paired bootstrap interval of trained - presidio, around the point difference
        assert abs(d["point"] - (ours[system][figure] - comparison["results"]["presidio (vanilla)"][system][figure])) < 2e-4
        assert d["low"] <= d["point"] <= d["high"] and d["low"] < d["high"]


def check_results(result) -> dict[str, bool]:
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def test_quantized_model_follows_the_contract_and_loads_with_optimum_and_onnxruntime(built):
    import numpy as np
    import onnxruntime as ort
    from optimum.onnxruntime import ORTModelForTokenClassification
    from transformers import AutoTokenizer

    storage, deploy = built[0], built[4]
    assert deploy.success and check_results(deploy) == {"parity": True}
    directory = storage.root / "releases/r1/quantized_model"
    assert {"model_quantized.onnx", "tokenizer.json", "label_mappings.json", "config.json", "decoding.json"} <= {
        p.name for p in directory.iterdir()}
    assert (directory / "decoding.json").read_bytes() == (directory.parent / "trained_model/decoding.json").read_bytes()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    inputs = tokenizer(["Call Anna Schmidt on +49 30 901820."], return_tensors="np")
    ort_model = ORTModelForTokenClassification.from_pretrained(directory, file_name="model_quantized.onnx")
    logits = ort_model(**{k: v for k, v in inputs.items()}).logits
    assert logits.shape[-1] == 49
    session = ort.InferenceSession(str(directory / "model_quantized.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logits", "coref_logits"]
    feed = {i.name: inputs[i.name].astype(np.int64) for i in session.get_inputs()}
    plain_logits, coref = session.run(None, feed)
    assert np.allclose(plain_logits, np.asarray(logits), atol=1e-5) and coref.shape[:2] == plain_logits.shape[:2]
    parity = json.loads((storage.root / "releases/r1/parity.json").read_text())
    assert parity["summary"]["argmax_agreement"] >= 0.995 and parity["summary"]["micro_f1_drop_points"] <= 0.5
    assert parity["sizes"]["quantized_bytes"] < parity["sizes"]["trained_safetensors_bytes"]
    assert {"label", "reference_f1", "candidate_f1", "differing_spans"} <= set(parity["per_label"][0])
    md = deploy.asset_materializations_for_node("quantized_model")[0].metadata
    assert md["argmax_agreement"].value == parity["summary"]["argmax_agreement"]


def test_signature_without_a_key_fails_clearly_and_signs_nothing(built):
    no_key = built[5]
    assert not no_key.success
    failures = [e for e in no_key.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failures and failures[0].step_key == "model_signature"
    message = failures[0].event_specific_data.error.message + str(failures[0].event_specific_data.user_failure_data)
    assert "no signing key" in message and "pii-assets keygen" in message


def test_verify_cli_passes_the_signed_model_and_fails_on_tampering(built, tmp_path):
    import subprocess
    import sys

    storage = built[0]
    release = storage.root / "releases/r1"
    cli = str(Path(sys.executable).parent / "pii-assets")

    def run(directory, public=release / "signing_key.pub"):
        return subprocess.run([cli, "verify", str(directory), "--signature", str(release / "signature.json"),
                               "--public-key", str(public)], capture_output=True, text=True, timeout=120)

    ok = run(release / "quantized_model")
    assert ok.returncode == 0 and ok.stdout.startswith("OK ") and len(ok.stdout.splitlines()) == 1
    assert run(release / "trained_model").returncode == 0
    copy = tmp_path / "quantized_model"
    shutil.copytree(release / "quantized_model", copy)
    with open(copy / "model_quantized.onnx", "r+b") as fh:
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    bad = run(copy)
    assert bad.returncode == 1 and "model_quantized.onnx: content changed" in bad.stderr
    generate_key(tmp_path / "other.pem")
    wrong = run(release / "quantized_model", tmp_path / "other.pem.pub")
    assert wrong.returncode == 1 and "does not verify with this public key" in wrong.stderr


def test_predict_on_the_quantized_model_matches_the_format(built, tmp_path):
    from pii_assets.training.predict import Predictor

    storage = built[0]
    quantized = Predictor(storage.root / "releases/r1/quantized_model")
    trained = Predictor(storage.root / "releases/r1/trained_model")
    texts = ["Call Anna Schmidt on +49 30 901820 or mail anna.schmidt@web.de.", "",
             "Bitte rufen Sie Anna Schmidt an. " * 400]
    for text, spans in zip(texts, quantized.predict(texts, threshold=0.1)):
        for span in spans:
            assert set(span) == {"value", "label", "start", "end", "score"}
            assert text[span["start"]:span["end"]] == span["value"]
    assert type(quantized.scorer).__name__ == "OnnxScorer" and type(trained.scorer).__name__ == "TorchScorer"


def _step_failure(result) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return failure.event_specific_data.error.message + str(failure.event_specific_data.user_failure_data)


def test_external_evaluation_scores_both_models_on_both_gold_styles_or_notes_no_directory(built, eval_dir, tmp_path):
    from pii_assets.assets.evaluation import NOT_CONFIGURED, external_evaluation
    from pii_assets.assets.publish import model_cards
    from pii_assets.resources import ExternalEvalResource
    from pii_assets.training.external import COLUMNS

    storage, _, _, instance, _, _, resources = built
    release = storage.root / "releases/r1"

    def materialize(assets, **external):
        return dg.materialize(assets, partition_key="r1", instance=instance, raise_on_error=False,
                              resources={**resources, "external_eval": ExternalEvalResource(**external)})

    result = materialize([external_evaluation], eval_dir=str(eval_dir))
    assert result.success
    document = json.loads((release / "external_evaluation.json").read_text())
    assert document["configured"] and set(document["results"]) == {"clinic", "news"}
    assert document["sets"] == {"clinic": {"style": "catalogue", "texts": 3, "file": "clinic.jsonl"},
                                "news": {"style": "coarse", "texts": 3, "file": "news.jsonl"}}
    presidio = "presidio (vanilla)" in json.loads((release / "comparison.json").read_text())["results"]
    assert document["systems"] == ["trained", "quantized", *(["presidio (vanilla)"] if presidio else [])]
    for name, by_system in document["results"].items():
        assert set(by_system) == set(document["systems"])
        for system in by_system.values():
            assert system["style"] == document["sets"][name]["style"] and set(system["per_language"]) == {"en", "de"}
            for figures in (system["overall"], *system["per_language"].values()):
                for key in COLUMNS[system["style"]]:  # shares, except spans per 1,000 characters
                    assert isinstance(figures[key], float) and 0 <= figures[key] <= (
                        1000 if key == "spurious_spans_per_1k_chars" else 1)
                assert figures["ci95"] and all(0 <= low <= figures[key] <= high <= 1
                                               for key, (low, high) in figures["ci95"].items())
    report = (release / "external_evaluation.md").read_text()
    assert "### clinic (catalogue gold)" in report and "### news (coarse gold)" in report
    assert "| trained | all | 3 |" in report and "| quantized | all | 3 |" in report
    assert "Most frequent missed strings of trained:" in report
    md = result.asset_materializations_for_node("external_evaluation")[0].metadata
    assert md["sets"].value == 2 and md["texts"].value == 6
    assert "| system | language | texts | strict_precision |" in md["clinic_figures"].value
    assert "| quantized | de | 1 |" in md["news_figures"].value and "name_recall" in md["news_figures"].value
    for key in ("clinic_spurious_trained", "clinic_missed_trained", "news_spurious_trained", "news_missed_trained"):
        assert md[key].value.startswith("| label | most frequent ") or md[key].value.startswith("no ")

    # nothing configured: the asset succeeds with the note, replaces the figures, and the cards say nothing
    skipped = materialize([external_evaluation, model_cards])
    assert skipped.success
    md = skipped.asset_materializations_for_node("external_evaluation")[0].metadata
    assert md["note"].value == NOT_CONFIGURED == "no evaluation directory configured ($PII_ASSETS_EVAL_DIR)"
    assert json.loads((release / "external_evaluation.json").read_text())["results"] == {}
    assert "Evaluation on external sets" not in (release / "model_cards/trained_model.md").read_text()
    assert skipped.asset_materializations_for_node("model_cards")[0].metadata["external_sets"].value.startswith(
        "none: no evaluation directory configured")

    # a bad line fails the asset naming file:line and the reason, and leaves the last files as they were
    bad = tmp_path / "bad-eval"
    bad.mkdir()
    (bad / "forms.jsonl").write_text(json.dumps({"text": "Anna", "privacy_mask": []}) + "\n" + json.dumps(
        {"text": "Anna", "privacy_mask": [{"start": 0, "end": 4, "label": "NAME"}]}) + "\n")
    failed = materialize([external_evaluation], eval_dir=str(bad))
    assert not failed.success
    assert f"{bad / 'forms.jsonl'}:2, span 0: unknown label 'NAME'" in _step_failure(failed)
    assert json.loads((release / "external_evaluation.json").read_text())["configured"] is False


def test_evaluate_cli_scores_a_model_on_an_eval_dir(built, eval_dir, tmp_path, capsys, monkeypatch):
    from pii_assets import cli
    from pii_assets.training.external import EVAL_DIR_ENV

    trained = str(built[0].root / "releases/r1/trained_model")
    cli.main(["evaluate", "--model", trained, "--eval-dir", str(eval_dir), "--output", str(tmp_path / "ext.json")])
    out = capsys.readouterr().out
    assert out.startswith(f"2 sets (clinic, news), 6 texts ({eval_dir}), threshold 0.5")
    assert "### clinic (catalogue gold)" in out and "### news (coarse gold)" in out
    assert "| system | language | texts | strict_precision | strict_recall | strict_micro_f1 |" in out
    assert "| system | language | texts | name_recall | spurious_rate |" in out and "| r1/trained_model | all | 3 |" in out
    assert "Most frequent missed strings of r1/trained_model:" in out
    report = json.loads((tmp_path / "ext.json").read_text())
    assert report["systems"] == ["r1/trained_model"] and report["models"] == {"r1/trained_model": trained}
    assert set(report["results"]) == {"clinic", "news"}
    assert report["results"]["news"]["r1/trained_model"]["style"] == "coarse"
    # without --input and --eval-dir: $PII_ASSETS_EVAL_DIR
    monkeypatch.setenv(EVAL_DIR_ENV, str(eval_dir))
    cli.main(["evaluate", "--model", trained])
    assert "### news (coarse gold)" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--input", "in.jsonl", "--eval-dir", "sets"], "error: --input and --eval-dir are alternatives: give one of them"),
    (["--eval-dir", "bad"], "bad/forms.jsonl:2: malformed JSON"),
    (["--eval-dir", "types"], "news.types.json: not a JSON object of type mappings"),
    (["--eval-dir", "empty"], "error: empty: no *.jsonl sets in the directory"),
    (["--eval-dir", "missing"], "error: missing: evaluation directory does not exist"),
    ([], "error: evaluate needs --input FILE or --eval-dir DIR (or $PII_ASSETS_EVAL_DIR)"),
])
def test_evaluate_cli_eval_dir_errors_are_one_clear_line(built, tmp_path, monkeypatch, args, message):
    from pii_assets import cli
    from pii_assets.training.external import EVAL_DIR_ENV

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(EVAL_DIR_ENV, raising=False)
    for name in ("sets", "bad", "empty", "types"):
        Path(name).mkdir()
    Path("types/news.jsonl").write_text(json.dumps({"text": "Anna", "entities": []}) + "\n")
    Path("types/news.types.json").write_text("{PERSON: PER}")
    Path("in.jsonl").write_text(json.dumps({"text": "Anna", "privacy_mask": []}) + "\n")
    Path("bad/forms.jsonl").write_text(json.dumps({"text": "Anna", "privacy_mask": []}) + "\n{not json\n")
    with pytest.raises(SystemExit) as exc:
        cli.main(["evaluate", "--model", str(built[0].root / "releases/r1/trained_model"), *args])
    assert message in str(exc.value.code) and "\n" not in str(exc.value.code)


def test_the_eval_dir_is_bound_to_the_environment_variable_when_set(monkeypatch):
    from pii_assets.resources import default_external_eval
    from pii_assets.training.external import EVAL_DIR_ENV

    for unset in (None, ""):
        if unset is None:
            monkeypatch.delenv(EVAL_DIR_ENV, raising=False)
        else:
            monkeypatch.setenv(EVAL_DIR_ENV, unset)
        assert default_external_eval().eval_dir is None
    monkeypatch.setenv(EVAL_DIR_ENV, "/sets")
    resource = default_external_eval()
    assert resource.eval_dir == dg.EnvVar(EVAL_DIR_ENV)  # read at run time, like the other settings
    with dg.build_resources({"external_eval": resource}) as built:
        assert built.external_eval.eval_dir == "/sets"
