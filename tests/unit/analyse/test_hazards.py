"""hazards.py: secrets in kept code block conversion; hard-coded paths warn.

A secret would be copied into the generated project and its image; a path works
only on the author's machine. False alarms matter too: a blocked conversion for an
ordinary variable is a bug a user cannot work around.
"""

from __future__ import annotations

import pytest

from nb2prod.analyse.hazards import find_hazards
from tests.unit.analyse.sections import analysed


def hazards(source: str, role: str = "load") -> list[tuple[str, str, int | None]]:
    """(code, severity, line) of each hazard in a one-cell section of `role`."""
    code, _ = analysed(role, source)
    return [
        (p.code, p.severity.value, p.cell.line if p.cell else None) for p in find_hazards([code])
    ]


def test_a_secret_assigned_to_a_secret_name_blocks() -> None:
    """`password = "..."` and `API_KEY = "..."` are errors at their lines."""
    found = hazards('password = "hunter22"\nAPI_KEY = "abcdef"')
    assert found == [("secret", "error", 1), ("secret", "error", 2)]


def test_the_secret_problem_says_how_to_fix_it() -> None:
    """The fix names environment variables and rotating a shared secret."""
    code, _ = analysed("load", 'db_password = "hunter22"')
    (problem,) = find_hazards([code])
    assert "`db_password`" in problem.message
    assert "os.environ" in problem.fix and "rotate" in problem.fix


@pytest.mark.parametrize(
    "value",
    [
        "AKIAABCDEFGHIJKLMNOP",
        "sk-abcdefghijklmnopqrstuv",
        "ghp_" + "a" * 36,
        "xoxb-1234567890-abc",
        "-----BEGIN RSA PRIVATE KEY-----",
    ],
)
def test_a_string_shaped_like_a_key_blocks_whatever_its_name(value: str) -> None:
    """AWS, OpenAI, GitHub, Slack keys and private keys are secrets in any variable."""
    assert hazards(f"settings = {{'k': {value!r}}}") == [("secret", "error", 1)]


@pytest.mark.parametrize(
    "source",
    [
        'token = "abc"',  # too short to be a secret
        'password_hint = "the usual one"',  # the name does not end in a secret word
        "secret_count = 12345678",  # not a string
        'pw = os.environ["PASSWORD"]',
        "password = getpass()",
        'prefix = "sk-" + suffix',  # a key's prefix alone
        'note = "see /tmp/ for logs"',  # a path inside text, not a path
        'img = cv2.imread(f"{folder}/a.png")',  # built from a variable
        'df = pd.read_csv("https://example.com/data.csv")',
        'with open("s3://bucket/key") as fh:\n    pass',
        'lib = "/usr/share/dict/words"',  # system folders are the same everywhere
    ],
)
def test_ordinary_code_raises_no_hazard(source: str) -> None:
    """Values that are no secret and no machine-specific path pass quietly."""
    assert hazards(source) == []


@pytest.mark.parametrize(
    "path", ["/home/me/data.csv", "/Users/ana/x.csv", "/mnt/d/x", "C:\\data\\x.csv", "~/x.csv"]
)
def test_absolute_paths_warn(path: str) -> None:
    """Home folders, mounts and drive letters exist only on the author's machine."""
    assert hazards(f"df = pd.read_csv({path!r})") == [("hard-coded-path", "warning", 1)]


@pytest.mark.parametrize(
    "call", ["pd.read_csv('data/train.csv')", "np.load('weights.npy')", "open('notes.txt')"]
)
def test_relative_paths_read_by_readers_warn(call: str) -> None:
    """A relative path resolves from the folder the training runs in."""
    found = hazards(f"x = {call}")
    assert found == [("hard-coded-path", "warning", 1)]


def test_paths_in_the_parameters_cell_are_fine_but_secrets_are_not() -> None:
    """Paths belong in the parameters cell; secrets belong nowhere in the code."""
    assert hazards('DATA = "/home/me/d.csv"', role="parameters") == []
    assert hazards('password = "hunter22"', role="parameters") == [("secret", "error", 1)]


def test_skipped_sections_are_not_checked() -> None:
    """A skip cell is not copied, so what it holds cannot leak."""
    assert hazards('password = "hunter22"\nopen("/home/me/x")', role="skip") == []


def test_secrets_inside_functions_are_found() -> None:
    """A definition moves to module level with its secret."""
    assert hazards('def connect():\n    password = "hunter22"') == [("secret", "error", 2)]


@pytest.mark.parametrize("source", ['compass = "north-east"', 'bypass = "cache-layer"'])
def test_names_merely_ending_in_pass_are_no_secret(source: str) -> None:
    """Only a whole word (`pass`, `db_pass`) names a password, not a word's tail."""
    assert hazards(source) == []


@pytest.mark.parametrize(
    "name", ["db_pass", "dbPass", "PASS", "mypassword", "smtpPasswd", "github_token"]
)
def test_names_that_end_in_a_secret_word_are_secrets(name: str) -> None:
    assert hazards(f'{name} = "hunter22"') == [("secret", "error", 1)]
