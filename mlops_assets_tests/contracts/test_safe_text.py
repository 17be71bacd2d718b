"""Redaction and printable text: what may leave the process."""

import pytest

from mlops_assets.contracts.safe_text import printable, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "API request to http://user:s3cret@mlflow:5000/api/2.0/x failed",
            "API request to http://user:***@mlflow:5000/api/2.0/x failed",
        ),
        ("postgresql://u:p%40ss@db/x down", "postgresql://u:***@db/x down"),
        ("https://ghp_TOKEN123@host/repo", "https://***@host/repo"),
        ("dsn host=db password=hunter2 user=x", "dsn host=db password=*** user=x"),
        ("GET /x?token=abc&page=2", "GET /x?token=***&page=2"),
        ("AWS_SECRET_ACCESS_KEY=wJalr and more", "AWS_SECRET_ACCESS_KEY=*** and more"),
        ("http://mlflow:5000/api and no secret", "http://mlflow:5000/api and no secret"),
    ],
)
def test_redact_hides_url_passwords_and_secret_parameters_item4(text, expected):
    """Issue 26, item 4: the one redaction every stored, logged or published error goes through."""
    assert redact(text) == expected


def test_printable_keeps_one_line_and_escapes_terminal_controls_item11():
    assert printable("v2 promoted") == "v2 promoted"
    assert printable("ok\nFAKE LINE\x1b[31m") == "ok\\nFAKE LINE\\x1b[31m"
