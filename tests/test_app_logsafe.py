"""Package paths in the general log: a plan store's own folder names are kept
(made by the store from the verified plan), any other path becomes a short stable word, since
folders are often named after the patient."""

from __future__ import annotations

from orkiosk.app.logsafe import path_for_log

SHA = "ab" * 32


def test_a_store_folder_keeps_its_store_relative_name(tmp_path):
    committed = tmp_path / "state" / "plans" / "CASE-7" / f"3-{SHA}"
    assert path_for_log(committed) == f"plans/CASE-7/3-{SHA[:12]}"
    assert path_for_log(tmp_path / "state" / "staging" / SHA) == f"staging/{SHA[:12]}"


def test_any_other_path_is_a_stable_word_without_the_folder_name(tmp_path):
    named = tmp_path / "inbox" / "DOE_JOHN_v2"
    word = path_for_log(named)
    assert word.startswith("package ") and len(word) == len("package ") + 8
    assert "DOE" not in word and "JOHN" not in word and str(tmp_path) not in word
    assert path_for_log(str(named)) == word  # the same folder: the same word
    assert path_for_log(tmp_path / "inbox" / "DOE_JANE_v2") != word
    # a folder that only looks like the store's under another parent is not trusted
    assert path_for_log(tmp_path / "JOHN" / f"3-{SHA}").startswith("package ")
