"""Environment settings in seconds: one check for every variable that takes them."""

from __future__ import annotations

import pytest

from actlab._env import env_seconds


class Refused(Exception):
    pass


def test_unset_or_empty_gives_the_default(monkeypatch):
    monkeypatch.delenv("ACTLAB_TEST_SECONDS", raising=False)
    assert env_seconds("ACTLAB_TEST_SECONDS", 30.0, 60, Refused) == 30.0
    monkeypatch.setenv("ACTLAB_TEST_SECONDS", "  ")
    assert env_seconds("ACTLAB_TEST_SECONDS", 30.0, 60, Refused) == 30.0


def test_a_number_in_range_is_taken(monkeypatch):
    monkeypatch.setenv("ACTLAB_TEST_SECONDS", " 2.5 ")
    assert env_seconds("ACTLAB_TEST_SECONDS", 30.0, 60, Refused) == 2.5


@pytest.mark.parametrize("text,message", [("soon", "must be a number of seconds"), ("0", "from 0 to 60 seconds"),
                                          ("-1", "from 0 to 60 seconds"), ("61", "from 0 to 60 seconds"),
                                          ("nan", "from 0 to 60 seconds")])
def test_bad_values_raise_the_callers_error_naming_the_variable(monkeypatch, text, message):
    monkeypatch.setenv("ACTLAB_TEST_SECONDS", text)
    with pytest.raises(Refused, match=message) as info:
        env_seconds("ACTLAB_TEST_SECONDS", 30.0, 60, Refused)
    assert str(info.value).startswith(f"ACTLAB_TEST_SECONDS={text!r}")
