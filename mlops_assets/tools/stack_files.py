"""The files `make stack` writes that hold secrets: owner-only, and safe to source.

var/stack.env (read by make's `include` and by `set -a; .`), the Celery workers' config, the
MLflow server's basic-auth configuration and the secrets generated on the first start.
"""

import os
import re
import secrets
from pathlib import Path

# What an env-file value may hold: sourcing it with `set -a; .` and make's `include` must read
# it back verbatim and run nothing (no `;`, backticks, `|`, `&`, `>`, `$`, quotes or spaces).
ENV_VALUE = re.compile(r"[A-Za-z0-9_./:@%+=,-]*")


def write_private(path: Path, text: str) -> None:
    """Writes a file only its owner can read (0600) in a folder only its owner enters (0700).

    The file is written under a temporary name with its final mode and then renamed, so no
    reader ever sees it with wider permissions or half-written.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(scratch, path)


def write_env_file(path: Path, variables: dict[str, str]) -> None:
    """KEY=value lines that both make (`include`) and sh (`set -a; .`) read, owner-only.

    Raises:
        ValueError: a value holds a character outside `ENV_VALUE` (percent-encode it in a URL);
            nothing is written then.
    """
    for key, value in variables.items():
        if not ENV_VALUE.fullmatch(value):
            raise ValueError(
                f"{key}: its value holds characters the env file cannot carry safely (only "
                "letters, digits and _ . / : @ % + = , - are allowed); percent-encode them in "
                "a URL (e.g. %26 for &, %3B for ;)"
            )
    lines = ["# Written by `make stack`; removed by `make stack-down`."]
    lines += [f"{key}={value}" for key, value in variables.items()]
    write_private(path, "\n".join(lines) + "\n")


def stack_secret(state: Path, name: str) -> str:
    """A random secret generated on the first `make stack` and kept (0600) in
    `state`/secrets, so a restarted stack finds the users and tokens it created before."""
    path = state / "secrets" / name
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def mlflow_auth_environment(state: Path, username: str, password: str) -> dict[str, str]:
    """The MLflow server's basic-auth configuration (`--app-name basic-auth`): its user store in
    `state`, the first admin, READ for users without a grant, and the key that signs its forms.

    MLflow creates the admin from this file only while its user store is empty; afterwards the
    password is changed through MLflow's API.
    """
    config = state / "mlflow-auth.ini"
    write_private(
        config,
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{state / 'mlflow-auth.db'}\n"
        f"admin_username = {username}\n"
        f"admin_password = {password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
    )
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": stack_secret(state, "mlflow-flask-key"),
    }
