"""Cell code embedded in a generated test reads as code and is exactly the cell's text."""

from __future__ import annotations

import ast

import pytest

from nb2prod.generate.render import code_literal

PLAIN = [
    "accuracy = accuracy_score(y, p)\nprint('accuracy:', accuracy)",
    'print("f1:", f1)\n',
    "for x in rows:\n\tprint(x)  # a tab\n",
    "naïve = 'ü'",
    "",
]
ESCAPED = [
    'text = """quoted"""',
    "print('a\\tb', score)",
    'print("done")\nlabel = "x"',  # ends with a quote: would close the literal early
    "a = 1\r\nb = 2",
    "form\x0cfeed = 1",
    "zero\u200bwidth = 1",
]


@pytest.mark.parametrize("code", PLAIN + ESCAPED)
def test_the_literal_is_the_code(code: str) -> None:
    assert ast.literal_eval(code_literal(code)) == code


@pytest.mark.parametrize("code", PLAIN)
def test_plain_code_is_written_as_it_reads(code: str) -> None:
    literal = code_literal(code)
    assert literal == f'"""\\\n{code}"""'


@pytest.mark.parametrize("code", ESCAPED)
def test_code_a_triple_quoted_literal_would_change_is_escaped(code: str) -> None:
    assert code_literal(code) == repr(code)
