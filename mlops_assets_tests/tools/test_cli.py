"""The command line: dead letters are listed with their reasons."""

from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE
from mlops_assets.tools import cli


def test_dead_letters_are_shown_with_their_reason(settings, backends, caplog):
    backends.event_queue.publish_bodies(TASK_CONFIRMED_QUEUE, [b"not json", b"[]"])
    messages = backends.event_queue.fetch(TASK_CONFIRMED_QUEUE, 10, max_seconds=1)
    backends.event_queue.dead_letter(TASK_CONFIRMED_QUEUE, [(m, "unreadable") for m in messages])
    with caplog.at_level("INFO", logger="mlops_assets"):
        assert cli.show_dead_letters(settings) == 2
    assert "not JSON" in caplog.text and "not a JSON object: list" in caplog.text


def test_rollback_without_a_champion_says_so_and_fails(settings, caplog):
    with caplog.at_level("ERROR", logger="mlops_assets"):
        assert cli.rollback(settings, "test") == 1
    assert "has no @champion: nothing to roll back" in caplog.text


def test_stderr_silenced_reaches_native_output_and_restores_it(capfd):
    import subprocess
    import sys

    from mlops_assets.tools.cli import stderr_silenced

    with stderr_silenced():
        subprocess.run([sys.executable, "-c", "import os; os.write(2, b'banner')"], check=True)
    subprocess.run([sys.executable, "-c", "import os; os.write(2, b'after')"], check=True)
    err = capfd.readouterr().err
    assert "banner" not in err and "after" in err
