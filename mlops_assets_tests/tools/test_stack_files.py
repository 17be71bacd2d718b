"""What `make stack` writes holds passwords: owner-only files, nothing a shell would run, and no
database URL on a command line."""

import stat
import subprocess

import pytest

from mlops_assets.tools import processes
from mlops_assets.tools.stack_files import (
    mlflow_auth_environment,
    stack_secret,
    write_env_file,
    write_private,
)


@pytest.fixture
def stack_root(tmp_path):
    return tmp_path


def write(root, variables: dict[str, str]) -> None:
    write_env_file(root / "var" / "stack.env", variables)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_env_file_is_owner_only_under_an_owner_only_folder(stack_root):
    (stack_root / "var").mkdir(mode=0o755)
    write(stack_root, {"RABBITMQ_URL": "amqp://mlops:s3cret@127.0.0.1:5672/%2F"})
    assert mode(stack_root / "var" / "stack.env") == 0o600
    assert mode(stack_root / "var") == 0o700


def test_celery_config_is_owner_only(stack_root):
    config = stack_root / "var" / "stack" / "celery.yaml"
    write_private(config, "broker_url: amqp://mlops:s3cret@127.0.0.1:5672//\n")
    assert mode(config) == 0o600
    assert mode(config.parent) == 0o700


def test_rewriting_keeps_the_file_owner_only(stack_root):
    env_file = stack_root / "var" / "stack.env"
    env_file.parent.mkdir()
    env_file.write_text("OLD=1\n")
    env_file.chmod(0o644)
    write(stack_root, {"A": "b"})
    assert mode(env_file) == 0o600 and env_file.read_text().endswith("A=b\n")


@pytest.mark.parametrize(
    "value",
    [
        "x;touch PWNED",
        "x`touch PWNED`",
        "x|touch PWNED",
        "x&touch PWNED",
        "x>PWNED",
        "$(touch PWNED)",
        "a b",
        "x'y",
        "~/x",
    ],
)
def test_env_file_refuses_what_a_shell_would_run(stack_root, value):
    with pytest.raises(ValueError, match="percent-encode"):
        write(stack_root, {"MLOPS_DATA_STORE_URL": value})
    assert not (stack_root / "var" / "stack.env").exists()


def test_sourcing_the_env_file_gives_back_the_values_verbatim(stack_root):
    variables = {
        "RABBITMQ_URL": "amqp://mlops:p%26ss%3Bword@127.0.0.1:5672/%2F",
        "MLOPS_CELERY_BACKEND_URL": "db+postgresql://u:p@127.0.0.1:5432/mlops_celery",
        "MLOPS_SERVING_ADMIN_TOKEN": "Zx-_9",
    }
    write(stack_root, variables)
    script = "set -a; . ./var/stack.env; set +a; " + "; ".join(
        f'printf "%s\\n" "${key}"' for key in variables
    )
    shown = subprocess.run(
        ["sh", "-c", script], cwd=stack_root, capture_output=True, text=True, check=True
    )
    assert shown.stdout.splitlines() == list(variables.values())
    assert sorted(p.name for p in stack_root.iterdir()) == ["var"]


def test_mlflow_database_url_goes_through_the_environment_not_the_command_line():
    url = "postgresql+psycopg2://mlflow:db-s3cret@127.0.0.1:5432/mlops_mlflow"
    command = processes.mlflow_server_command("s3://bucket/mlflow", 5123)
    environment = processes.mlflow_server_environment(url)
    assert not any("db-s3cret" in argument for argument in command)
    assert "--backend-store-uri" not in command
    assert environment["MLFLOW_BACKEND_STORE_URI"] == url
    assert environment["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_generated_secrets_are_kept_owner_only_and_reused(tmp_path):
    token = stack_secret(tmp_path, "serving-admin-token")
    assert len(token) >= 40 and stack_secret(tmp_path, "serving-admin-token") == token
    assert mode(tmp_path / "secrets" / "serving-admin-token") == 0o600
    assert mode(tmp_path / "secrets") == 0o700


def test_mlflow_auth_configuration_is_owner_only(tmp_path):
    environment = mlflow_auth_environment(tmp_path, "mlops", "pw-123")
    config = tmp_path / "mlflow-auth.ini"
    assert environment["MLFLOW_AUTH_CONFIG_PATH"] == str(config)
    assert mode(config) == 0o600 and "admin_password = pw-123" in config.read_text()
    assert environment["MLFLOW_FLASK_SERVER_SECRET_KEY"]
