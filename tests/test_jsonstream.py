"""The streamed JSON writer: what it writes is the document json.dumps would, parsed back."""
from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchpad.jsonstream import JsonStream

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=30)


def _stream(value, out: JsonStream, key=None) -> None:
    """Write ``value`` through the stream, containers opened and closed, scalars as items."""
    if isinstance(value, (list, dict)):
        out.begin("[" if isinstance(value, list) else "{", key)
        for k, v in (value.items() if isinstance(value, dict) else ((None, v) for v in value)):
            _stream(v, out, k)
        out.end()
    else:
        out.item(value, key)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.lists(documents, max_size=5), st.dictionaries(st.text(max_size=4), documents)))
def test_streamed_documents_parse_back_equal(doc):
    buf = io.StringIO()
    _stream(doc, JsonStream(buf))
    assert json.loads(buf.getvalue()) == doc and buf.getvalue().endswith("\n")


def test_items_need_keys_exactly_inside_objects():
    out = JsonStream(io.StringIO())
    out.begin("{")
    with pytest.raises(ValueError):
        out.item(1)
    out.begin("[", "xs")
    with pytest.raises(ValueError):
        out.item(1, "k")
