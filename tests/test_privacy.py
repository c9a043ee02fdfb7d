"""No rendered report shows a raw member id, phone number or plate; pseudonyms cannot be reversed."""

import hashlib
import os
import stat

import pandas as pd
import pytest

from analysis.data.privacy import PrivacyError, pseudonymize, secret_path


def test_pseudonyms_use_a_random_secret_key_created_once():
    ids = pd.Series(["MA00000001", "MA00000002"])
    first = pseudonymize(ids)
    path = secret_path()
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(pseudonymize(ids)) == list(first)  # stable with the stored key
    assert first.str.fullmatch(r"P-[0-9a-f]{20}").all()
    # the old public scheme (constant key "mallwake", 40 bits) no longer reproduces them
    public = "P-" + hashlib.blake2b(b"MA00000001", key=b"mallwake", digest_size=5).hexdigest()
    assert first.iloc[0] != public and not first.iloc[0].startswith(public)


def test_another_key_gives_unrelated_pseudonyms_and_an_empty_salt_is_refused(monkeypatch):
    ids = pd.Series(["MA00000001"])
    monkeypatch.setenv("MALLWAKE_SALT", "another mall's long secret")
    other = pseudonymize(ids)
    monkeypatch.delenv("MALLWAKE_SALT")
    assert other.iloc[0] != pseudonymize(ids).iloc[0]
    monkeypatch.setenv("MALLWAKE_SALT", "")
    with pytest.raises(PrivacyError, match="empty"):
        pseudonymize(ids)
    monkeypatch.setenv("MALLWAKE_SALT", "short")
    with pytest.raises(PrivacyError, match="16"):
        pseudonymize(ids)


def test_concurrent_first_use_agrees_on_one_key(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("MALLWAKE_SECRET_FILE", str(tmp_path / "cfg" / "secret"))
    ids = pd.Series(["MA1"])
    with ThreadPoolExecutor(8) as pool:
        names = set(pool.map(lambda _: pseudonymize(ids).iloc[0], range(16)))
    assert len(names) == 1 and os.listdir(tmp_path / "cfg") == ["secret"]


def test_a_change_between_two_shown_counts_is_shown_and_one_that_reveals_a_hidden_count_is_not():
    import pandas as pd

    from analysis.data.privacy import suppress_small_counts

    t = pd.DataFrame({"previous": [680, 5, 40], "now": [598, 30, 45], "change": [-82, 25, 5]}, index=["a", "b", "c"])
    out = suppress_small_counts(t, 10, derived={"change": ("previous", "now")})
    assert out.loc["c", "change"] == 5  # both counts are shown: the change hides nothing
    assert out.loc["b", "previous"] == "<10" and out.loc["b", "change"] == "–"  # 30 - 25 would give the 5 away
    assert out.loc["a"].tolist() == [680, 598, -82]
    assert suppress_small_counts(t, 10).loc["c", "change"] == "<10"  # without the declaration: a count like any other
