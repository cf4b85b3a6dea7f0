"""push_folder / download through the real huggingface_hub code against the fake Hub on 127.0.0.1."""

import base64
import hashlib
import json
import random

import polars as pl
import pytest
import requests
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import BadRequestError, HfHubHTTPError, OfflineModeIsEnabled
from huggingface_hub.utils import reset_sessions

from pii_assets.hub.client import HubError, PushResult, download, push_folder
from pii_assets_tests.hubserver import GITATTRIBUTES, LFS_THRESHOLD, serve

TOKEN = "hf_test_5ecret_t0ken"
REPO = "acme/pii-demo"
README = b"---\nlicense: apache-2.0\npretty_name: PII demo\n---\n# PII demo\n"
ROWS = {"text": ["Call Ana at 555-0100", "Mail bo@example.org"], "n_entities": [1, 1]}


pytestmark = pytest.mark.usefixtures("hf_home")


@pytest.fixture
def hub():
    with serve(token=TOKEN) as server:
        yield server


@pytest.fixture
def folder(tmp_path):
    """Regular text files, a parquet and a .bin (LFS by their pattern) and an ignored temp file."""
    root = tmp_path / "release"
    (root / "data").mkdir(parents=True)
    (root / "data" / "train.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in ROWS["text"]))
    (root / "notes.txt").write_text("synthetic PII, generated offline\n")
    pl.DataFrame(ROWS).write_parquet(root / "data" / "train.parquet")
    (root / "weights.bin").write_bytes(random.Random(1).randbytes(3_000_000))
    (root / "scratch.tmp").write_text("not for the Hub")
    return root


def add_big_text(folder):
    """A text file over 10 MiB: LFS by its size."""
    (folder / "big.txt").write_bytes(b"0123456789abcde\n" * (LFS_THRESHOLD // 16 + 4096))


def local_files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and ".cache" not in p.relative_to(root).parts}


def push(hub, folder, **kwargs):
    kwargs = {"token": TOKEN, "endpoint": hub.endpoint, "commit_message": "Release r1", "tag": "r1",
              "ignore_patterns": ["*.tmp"], "extra_files": {"README.md": README}, **kwargs}
    return push_folder(folder, REPO, **kwargs)


def test_push_folder_uploads_regular_and_lfs_files_in_one_private_commit(hub, folder):
    add_big_text(folder)
    result = push(hub, folder)

    expected = {**{k: v for k, v in local_files(folder).items() if k != "scratch.tmp"}, "README.md": README}
    assert result == PushResult(REPO, "dataset", f"{hub.endpoint}/datasets/{REPO}", result.commit, "r1",
                                sorted(expected))
    assert not (folder / "README.md").exists()
    repo = hub.repos[("dataset", REPO)]
    assert repo.private
    assert [c.message for c in repo.commits] == ["initial commit", "Release r1"]
    head = repo.head
    assert head.sha == result.commit and repo.tags == {"r1": result.commit}
    assert head.files == {**expected, ".gitattributes": GITATTRIBUTES}
    assert head.lfs == {"data/train.parquet", "weights.bin", "big.txt"}
    # hf-xet is installed, so huggingface_hub offers Xet; the server picks basic LFS transfers
    assert hub.lfs_transfers == [["basic", "multipart", "xet"]]
    assert sum(method == "PUT" for method, _, _ in hub.requests) == 3
    assert all(status < 400 for _, _, status in hub.requests)


def test_pushing_again_makes_a_new_commit_and_moves_the_tag(hub, folder):
    first = push(hub, folder)
    (folder / "notes.txt").write_text("second run\n")
    (folder / "weights.bin").write_bytes(b"\0new weights")
    puts = sum(method == "PUT" for method, _, _ in hub.requests)

    second = push(hub, folder, commit_message="Release r1 again")

    repo = hub.repos[("dataset", REPO)]
    assert second.commit != first.commit and repo.head.sha == second.commit
    assert repo.tags == {"r1": second.commit}
    assert repo.head.files["notes.txt"] == b"second run\n" and repo.head.files["weights.bin"] == b"\0new weights"
    assert sum(method == "PUT" for method, _, _ in hub.requests) == puts + 1  # only the changed LFS file
    # the same content once more: huggingface_hub skips unchanged files, no empty commit
    third = push(hub, folder, commit_message="no change")
    assert third.commit == second.commit and len(repo.commits) == 3


def test_a_push_deletes_the_files_the_folder_no_longer_has_and_tags_keep_theirs(hub, folder):
    first = push(hub, folder)
    (folder / "weights.bin").unlink()
    (folder / "data" / "train.jsonl").unlink()
    (folder / "data" / "test.jsonl").write_text('{"text": "Ring Bo on 555-0199"}\n')

    second = push(hub, folder, commit_message="Release r2", tag="r2")

    repo = hub.repos[("dataset", REPO)]
    assert second.deleted == ["data/train.jsonl", "weights.bin"]
    assert set(repo.head.files) == {*second.files, ".gitattributes"}
    assert "weights.bin" not in repo.head.lfs
    assert repo.tags == {"r1": first.commit, "r2": second.commit}
    at_r1 = {c.sha: c for c in repo.commits}[first.commit]
    assert "weights.bin" in at_r1.files and "data/train.jsonl" in at_r1.files
    # only deletions are a change too
    (folder / "notes.txt").unlink()
    third = push(hub, folder, commit_message="Release r2 again", tag="r2")
    assert third.deleted == ["notes.txt"] and third.commit != second.commit
    assert "notes.txt" not in repo.head.files
    assert push(hub, folder, commit_message="no change", tag="r2").commit == third.commit


def test_download_gives_back_identical_files_and_loads_with_datasets(hub, folder, tmp_path):
    import datasets

    add_big_text(folder)
    push(hub, folder)
    out = download(REPO, token=TOKEN, endpoint=hub.endpoint, local_dir=tmp_path / "out")

    assert out == tmp_path / "out"
    assert local_files(out) == hub.repos[("dataset", REPO)].head.files
    loaded = datasets.load_dataset("parquet", data_files=str(out / "data" / "train.parquet"), split="train",
                                   cache_dir=str(tmp_path / "datasets-cache"))
    assert loaded.to_dict() == ROWS


def test_download_by_tag_pattern_and_into_the_cache(hub, folder):
    push(hub, folder, tag="r1")
    (folder / "notes.txt").write_text("r2 notes\n")
    push(hub, folder, tag="r2", commit_message="Release r2")

    old = download(REPO, token=TOKEN, endpoint=hub.endpoint, revision="r1", allow_patterns=["*.txt"])

    assert old.is_relative_to(constants.HF_HUB_CACHE)
    assert local_files(old) == {"notes.txt": b"synthetic PII, generated offline\n"}
    latest = download(REPO, token=TOKEN, endpoint=hub.endpoint, allow_patterns=["notes.txt"])
    assert (latest / "notes.txt").read_text() == "r2 notes\n"


def test_a_wrong_token_is_reported_without_the_token(hub, folder):
    with pytest.raises(HubError, match="token was rejected") as push_error:
        push(hub, folder, token="hf_wrong_s3cret")
    push(hub, folder)
    with pytest.raises(HubError, match="token was rejected") as download_error:
        download(REPO, token="hf_wrong_s3cret", endpoint=hub.endpoint)

    for error in (push_error, download_error):
        assert REPO in str(error.value) and "hf_wrong_s3cret" not in str(error.value)
    assert ("dataset", REPO) in hub.repos and len(hub.repos[("dataset", REPO)].commits) == 2


def test_a_private_repo_needs_the_token_and_a_public_one_does_not(hub, folder, tmp_path):
    push(hub, folder)
    with pytest.raises(HubError, match=r"not found, or private") as error:
        download(REPO, endpoint=hub.endpoint, local_dir=tmp_path / "anonymous")
    assert REPO in str(error.value)

    push_folder(folder, "acme/public", token=TOKEN, endpoint=hub.endpoint, private=False, commit_message="open")
    assert hub.repos[("dataset", "acme/public")].private is False
    assert (download("acme/public", endpoint=hub.endpoint) / "notes.txt").exists()
    with pytest.raises(HubError, match="is public; refusing"):
        push_folder(folder, "acme/public", token=TOKEN, endpoint=hub.endpoint, commit_message="private data")
    with pytest.raises(HubError, match=r"'acme/missing': repository not found"):
        download("acme/missing", token=TOKEN, endpoint=hub.endpoint)


def test_readme_metadata_the_hub_rejects_is_a_hub_error(hub, folder):
    with pytest.raises(HubError, match=r"Invalid metadata in README.md. - metadata must be a YAML mapping \(the Hub"):
        push(hub, folder, extra_files={"README.md": b"---\n[not, a, mapping]\n---\n"})
    assert len(hub.repos[("dataset", REPO)].commits) == 1


def test_an_unreachable_hub_is_a_hub_error(folder):
    with serve(token=TOKEN) as gone:
        pass
    with pytest.raises(HubError, match=r"'acme/pii-demo': cannot reach the Hub \(ConnectionError"):
        download(REPO, token=TOKEN, endpoint=gone.endpoint)
    with pytest.raises(HubError, match=r"'acme/pii-demo': cannot reach the Hub \(ConnectionError"):
        push(gone, folder)


def test_model_repos_use_the_path_without_a_prefix(hub, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"num_labels": 3}')
    (model / "model.safetensors").write_bytes(b"\0" * 1000)

    result = push_folder(model, "acme/pii-model", repo_type="model", token=TOKEN, endpoint=hub.endpoint,
                         commit_message="model r1", tag="r1")

    assert result.url == f"{hub.endpoint}/acme/pii-model"
    assert hub.repos[("model", "acme/pii-model")].head.lfs == {"model.safetensors"}
    out = download("acme/pii-model", repo_type="model", token=TOKEN, endpoint=hub.endpoint, revision="r1",
                   local_dir=tmp_path / "out")
    assert local_files(out) == hub.repos[("model", "acme/pii-model")].head.files
    assert any(path.startswith("/acme/pii-model/resolve/") for _, path, _ in hub.requests)


def hub_offline(monkeypatch, value):
    """HF_HUB_OFFLINE as huggingface_hub holds it: read at import, built into its HTTP sessions."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", value)
    reset_sessions()
    yield
    monkeypatch.undo()
    reset_sessions()


@pytest.fixture
def offline(monkeypatch):
    """HF_HUB_OFFLINE=1, as the Makefile sets it."""
    yield from hub_offline(monkeypatch, True)


@pytest.fixture
def online(monkeypatch):
    """HF_HUB_OFFLINE unset, for plain huggingface_hub calls (the client's tests pass either way)."""
    yield from hub_offline(monkeypatch, False)


def test_an_explicit_endpoint_goes_online_despite_hf_hub_offline(hub, folder, tmp_path, offline):
    with pytest.raises(OfflineModeIsEnabled):  # plain huggingface_hub is offline
        HfApi(endpoint=hub.endpoint, token=TOKEN).create_repo(REPO, repo_type="dataset")

    result = push(hub, folder)
    out = download(REPO, token=TOKEN, endpoint=hub.endpoint, local_dir=tmp_path / "out")

    assert local_files(out) == hub.repos[("dataset", REPO)].head.files
    assert hub.repos[("dataset", REPO)].tags == {"r1": result.commit}
    assert constants.HF_HUB_OFFLINE is True  # restored, sessions included
    with pytest.raises(OfflineModeIsEnabled):
        HfApi(endpoint=hub.endpoint, token=TOKEN).repo_info(REPO, repo_type="dataset")


def test_without_an_endpoint_hf_hub_offline_is_respected(hub, folder, offline):
    with pytest.raises(HubError, match="HF_HUB_OFFLINE is set; pass an explicit endpoint"):
        push(hub, folder, endpoint=None)
    with pytest.raises(HubError, match="not available offline"):
        download(REPO, token=TOKEN)
    assert hub.requests == []

    push(hub, folder)
    cached = download(REPO, token=TOKEN, endpoint=hub.endpoint)
    seen = len(hub.requests)
    assert download(REPO, token=TOKEN) == cached  # from the local cache, without a request
    assert len(hub.requests) == seen


# --- the fake Hub's own checks -----------------------------------------------------------------


def test_the_fake_hub_rejects_what_the_hub_rejects(hub, online):
    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    api.create_repo(REPO, repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as exists:
        api.create_repo(REPO, repo_type="dataset")
    assert exists.value.response.status_code == 409
    api.create_repo(REPO, repo_type="dataset", exist_ok=True)

    commit_url = f"{hub.endpoint}/api/datasets/{REPO}/commit/main"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    lines = [{"key": "header", "value": {"summary": "sneaky"}},
             {"key": "lfsFile", "value": {"path": "x.bin", "algo": "sha256", "oid": "0" * 64, "size": 3}}]
    answer = requests.post(commit_url, headers=headers, data="\n".join(map(json.dumps, lines)), timeout=10)
    assert answer.status_code == 400 and "not uploaded" in answer.json()["error"]
    lines[1] = {"key": "file", "value": {"path": "x.bin", "encoding": "base64",
                                         "content": base64.b64encode(b"\0binary").decode()}}
    answer = requests.post(commit_url, headers=headers, data="\n".join(map(json.dumps, lines)), timeout=10)
    assert answer.status_code == 400 and "Please use LFS" in answer.json()["error"]
    assert len(hub.repos[("dataset", REPO)].commits) == 1

    with pytest.raises(ValueError, match="Invalid metadata") as invalid:
        api.upload_file(path_or_fileobj=b"---\n- a list\n---\n", path_in_repo="README.md", repo_id=REPO,
                        repo_type="dataset")
    assert isinstance(invalid.value.__cause__, BadRequestError)


def test_the_fake_lfs_storage_checks_signature_size_and_sha256(hub, online):
    HfApi(endpoint=hub.endpoint, token=TOKEN).create_repo(REPO, repo_type="dataset")
    oid = hashlib.sha256(b"abc").hexdigest()
    batch = requests.post(f"{hub.endpoint}/datasets/{REPO}.git/info/lfs/objects/batch", timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}"},
                          json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": 3}]})
    actions = batch.json()["objects"][0]["actions"]
    href, verify = actions["upload"]["href"], actions["verify"]["href"]

    assert requests.put(href.replace("sig=", "sig=0"), data=b"abc", timeout=10).status_code == 403
    assert requests.put(href, data=b"abd", timeout=10).status_code == 400
    assert requests.put(href, data=b"abcd", timeout=10).status_code == 400
    assert verify.startswith("https://huggingface.co/")  # like the Hub's; huggingface_hub rewrites it
    verify = verify.replace("https://huggingface.co", hub.endpoint)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.post(verify, json={"oid": oid, "size": 3}, headers=auth, timeout=10).status_code == 404
    assert requests.put(href, data=b"abc", timeout=10).status_code == 200
    assert requests.post(verify, json={"oid": oid, "size": 3}, headers=auth, timeout=10).status_code == 200
    assert hub.repos[("dataset", REPO)].lfs_objects == {oid: b"abc"}


def test_the_fake_hub_lists_refs_and_trees(hub, folder, online):
    result = push(hub, folder)
    api = HfApi(endpoint=hub.endpoint, token=TOKEN)

    refs = api.list_repo_refs(REPO, repo_type="dataset")
    assert [(t.name, t.target_commit) for t in refs.tags] == [("r1", result.commit)]
    assert [(b.name, b.target_commit) for b in refs.branches] == [("main", result.commit)]
    assert sorted(api.list_repo_files(REPO, repo_type="dataset")) == sorted([".gitattributes", *result.files])
    top = {entry.path: type(entry).__name__ for entry in api.list_repo_tree(REPO, repo_type="dataset")}
    assert top == {".gitattributes": "RepoFile", "README.md": "RepoFile", "data": "RepoFolder",
                   "notes.txt": "RepoFile", "weights.bin": "RepoFile"}
    [parquet] = [e for e in api.list_repo_tree(REPO, "data", repo_type="dataset") if e.path.endswith(".parquet")]
    assert parquet.lfs.sha256 == hashlib.sha256((folder / "data" / "train.parquet").read_bytes()).hexdigest()
