"""The pure split function: determinism, exact sizes, comparability, leak-freedom."""

from collections import Counter

from mt_assets.tuning import splits
from mt_assets.tuning.splits import Row


def _rows(n: int, edition: str = "quran-ar-en", lang: str = "ar", first_id: int = 1) -> list[Row]:
    return [
        Row(first_id + i, edition, f"{i // 7 + 1}:{i % 7 + 1}", lang, f"verse {lang} {edition} {i}")
        for i in range(n)
    ]


def _split(rows, **kw):
    settings = {"test_size": 0.1, "validation_size": 0.05, "seed": 13} | kw
    return splits.assign(rows, **settings)


def _test_refs(rows, assignment):
    return {(r.edition, r.source_reference) for r in rows if assignment.get(r.dataset_id) == "test"}


def test_same_inputs_same_split_and_order_does_not_matter():
    rows = _rows(500)
    assert _split(rows) == _split(list(reversed(rows)))


def test_sizes_are_exact_per_stratum_without_repeated_texts():
    rows = (
        _rows(503)
        + _rows(211, edition="other-ar-en", first_id=10_000)
        + _rows(97, lang="fa", first_id=20_000)
    )
    assignment = _split(rows)
    counts = Counter((r.stratum, assignment[r.dataset_id]) for r in rows)
    for stratum, quota in splits.quotas(rows, 0.1, 0.05).items():
        assert counts[(stratum, "test")] == quota.test
        assert counts[(stratum, "validation")] == quota.validation
        assert counts[(stratum, "train")] == quota.rows - quota.test - quota.validation
    assert splits.quotas(rows, 0.1, 0.05)[("ar", "quran-ar-en")] == splits.Quota(503, 50, 25)


def test_split_depends_on_reference_not_database_id():
    rows = _rows(300)
    reloaded = [
        Row(r.dataset_id + 5000, r.edition, r.source_reference, r.source_language, r.source_text)
        for r in rows
    ]
    assert _test_refs(rows, _split(rows)) == _test_refs(reloaded, _split(reloaded))


def test_seed_changes_the_test_rows():
    rows = _rows(300)
    assert _test_refs(rows, _split(rows)) != _test_refs(rows, _split(rows, seed=14))


def test_two_configs_with_same_settings_share_test_rows_and_train_cap_keeps_them():
    rows = _rows(400)
    capped = _split(rows, max_train_rows=50)
    assert _test_refs(rows, capped) == _test_refs(rows, _split(rows))
    assert Counter(capped.values())["train"] == 50
    assert len(capped) == 50 + 40 + 20


def test_repeated_texts_stay_in_one_split():
    rows = _rows(200)
    # A refrain repeated 31 times (like Quran 55:13) and a pair across two editions.
    refrain = [Row(1000 + i, "quran-ar-en", f"55:{i}", "ar", "Which  of the favours? ") for i in range(31)]
    pair = [
        Row(2000, "quran-ar-en", "x:1", "ar", "Same text"),
        Row(2001, "other-ar-en", "x:1", "ar", "same   TEXT"),
    ]
    rows += refrain + pair
    for seed in range(20):
        assignment = _split(rows, seed=seed, test_size=0.2)
        assert len({assignment[r.dataset_id] for r in refrain}) == 1
        assert assignment[2000] == assignment[2001]
        assert splits.overlapping_texts(rows, assignment) == {}
    # The refrain is larger than the whole test quota (23) and validation quota (12): always train.
    assert {_split(rows, seed=s)[1000] for s in range(20)} == {"train"}


def test_overlapping_texts_finds_a_planted_duplicate():
    rows = _rows(50)
    assignment = _split(rows)
    test_row = next(r for r in rows if assignment[r.dataset_id] == "test")
    train_row = next(r for r in rows if assignment[r.dataset_id] == "train")
    planted = [
        Row(
            train_row.dataset_id,
            train_row.edition,
            train_row.source_reference,
            "ar",
            test_row.source_text.upper(),
        )
    ]
    others = [r for r in rows if r.dataset_id != train_row.dataset_id]
    found = splits.overlapping_texts(others + planted, assignment)
    assert found == {splits.normalise(test_row.source_text): {"train", "test"}}


def test_unit_is_the_documented_hash():
    import hashlib

    expected = int.from_bytes(hashlib.sha256(b"13:quran-ar-en:1:1").digest()[:8], "big") / 2**64
    assert splits.unit(13, "quran-ar-en:1:1") == expected
    assert _rows(1)[0].stable_key == "quran-ar-en:1:1"


def test_rows_without_reference_are_keyed_by_text_and_kept_together():
    rows = [Row(i, "e", None, "ar", "same  text" if i < 3 else f"other {i}") for i in range(40)]
    assignment = _split(rows, test_size=0.25)
    assert len({assignment[i] for i in range(3)}) == 1
    assert rows[0].stable_key == "e:text:same text"
    assert assignment == _split(list(reversed(rows)), test_size=0.25)
