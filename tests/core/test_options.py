"""Model names: a name the client does not know is refused before any request, with a "did
you mean"; %config DeepSeekMagics.extra_models allows one the gateway adds later; a refused
%config setting is one clean line."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from evo_magic.core.options import RequestOptions
from evo_magic.errors import OptionError

from ..profiles import examples


@pytest.mark.parametrize("name", ["deepseek-v4-flash ", " deepseek-v4-flash", "deepseek v4", "deepseek-\x1b[31m", "deep\u200bseek", ""])
def test_names_with_whitespace_or_control_characters_are_refused(name: str) -> None:
    with pytest.raises(OptionError) as caught:
        RequestOptions(model=name, extra_models=(name,)).validate()
    assert len(caught.value.one_line().splitlines()) == 1 and "\x1b" not in caught.value.one_line()


@settings(max_examples=examples(200), deadline=None)
@given(token=st.text(max_size=8), bias=st.integers(-100, 100))
@example(token="²", bias=1)
@example(token="١٢٣", bias=1)
def test_property_a_logit_bias_key_is_accepted_only_as_ascii_digits(token: str, bias: int) -> None:

    from evo_magic.core.options import RequestOptions
    from evo_magic.errors import OptionError

    opts = RequestOptions(thinking=False, logit_bias={token: bias})
    if re.fullmatch(r"[0-9]+", token):
        assert opts.validate() is opts
    else:
        with pytest.raises(OptionError, match="token ids"):
            opts.validate()
