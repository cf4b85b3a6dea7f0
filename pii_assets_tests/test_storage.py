import pytest

from pii_assets.samples import SampleError
from pii_assets.storage import LocalStorage, atomic_directory, atomic_writer, read_jsonl, write_jsonl


def test_atomic_writer_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as fh:
            fh.write("partial")
            raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_write_and_stream_jsonl(tmp_path):
    path = tmp_path / "x.jsonl"
    assert write_jsonl(path, ({"i": i, "t": "é"} for i in range(3))) == 3
    assert [r for _, r in read_jsonl(path)] == [{"i": 0, "t": "é"}, {"i": 1, "t": "é"}, {"i": 2, "t": "é"}]


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"ok": 1}\n{nope\n')
    with pytest.raises(SampleError, match=r"bad.jsonl:2: malformed JSON"):
        list(read_jsonl(path))


def test_jsonl_that_is_not_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"t": "é"}\r\n\n{"t": "é"}\n'.encode("utf-8") + '{"t": "é"}\n'.encode("latin-1"))
    rows = read_jsonl(path)
    assert [next(rows), next(rows)] == [(1, {"t": "é"}), (3, {"t": "é"})]  # CRLF and blank lines as before
    with pytest.raises(SampleError, match=r"latin1.jsonl:4: not UTF-8 \(byte 8 of the line\)"):
        next(rows)


def test_hash_index_round_trip(tmp_path):
    storage = LocalStorage(tmp_path)
    path = storage.batch_file("b", "text_hashes.npy")
    storage.write_hashes(path, [5, 3, 5, 2**63 + 1])
    assert storage.read_hashes(path).tolist() == [3, 5, 2**63 + 1]
    assert storage.read_hashes(tmp_path / "missing.npy").size == 0


def test_atomic_files_get_normal_permissions(tmp_path):
    import os
    import stat

    path = tmp_path / "f.txt"
    with atomic_writer(path) as fh:
        fh.write("x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_atomic_directories_are_readable_by_others_whatever_the_writer_used(tmp_path):
    """safetensors writes model.safetensors 0600; a serving container running as another user must read it."""
    import os
    import stat

    target = tmp_path / "model"
    with atomic_directory(target) as tmp:
        os.close(os.open(tmp / "model.safetensors", os.O_CREAT | os.O_WRONLY, 0o600))
        (tmp / "sub").mkdir(mode=0o700)
        (tmp / "sub" / "x.json").write_text("{}")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((target / "model.safetensors").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((target / "sub").stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~mask
