"""The pipeline's client of a running inference server: ask it to reload, wait until it serves a
version.

No dagster and no TensorFlow here: the deployment step (through its Dagster resource) and the
`rollback` command both use it, and the command stays quick to start.
"""

import time
from dataclasses import dataclass

import httpx


class DeploymentError(RuntimeError):
    """The server refused the version, was unreachable, or did not serve it in time."""


def _model_param(model: str | None) -> dict:
    # The fleet model whose alias the server reloads; a server serving one model ignores it.
    return {"model": model} if model else {}


def reload(
    url: str,
    reason: str,
    timeout_s: float,
    admin_token: str | None = None,
    model: str | None = None,
) -> dict:
    """Asks the server to resolve its alias now and swap in that version.

    Args:
        url: the server's base URL.
        reason: logged by the server.
        timeout_s: how long to wait for the reload to finish.
        admin_token: the server's MLOPS_SERVING_ADMIN_TOKEN, if it has one.
        model: the fleet model (its spec's name) to reload; None: the server's only model.

    Returns:
        The server's reload report (`status`, `serving_version`, `error`, …); a refused model
        comes back as `status == "failed"`.

    Raises:
        DeploymentError: the server could not be reached or answered something else.
    """
    headers = {"X-Admin-Token": admin_token} if admin_token else {}
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/admin/reload",
            params={"reason": reason[:200], **_model_param(model)},
            headers=headers,
            timeout=timeout_s,
        )
    except httpx.HTTPError as error:
        raise DeploymentError(f"inference server {url} unreachable: {error!r}") from error
    if response.status_code not in (200, 500) or "status" not in _json(response):
        raise DeploymentError(
            f"inference server {url} answered {response.status_code} to a reload: "
            f"{response.text[:300]}"
        )
    return response.json()


def serving_version(url: str, timeout_s: float, model: str | None = None) -> str | None:
    """Returns the version the server answers with now, or None before its first model."""
    response = httpx.get(f"{url.rstrip('/')}/model", params=_model_param(model), timeout=timeout_s)
    response.raise_for_status()
    model = response.json()["model"]
    return None if model is None else model["version"]


def deploy(
    url: str,
    version: str,
    reason: str,
    timeout_s: float,
    admin_token: str | None = None,
    poll_s: float = 0.05,
    model: str | None = None,
) -> dict:
    """Makes the server serve `version` (already set on its alias) and waits until it does.

    Args:
        url: the server's base URL.
        version: the version the alias points at now.
        reason: logged by the server.
        timeout_s: the whole wait, reload included.
        admin_token: the server's admin token, if any.
        poll_s: pause between checks when the reload answered with another version.
        model: the fleet model (its spec's name) to deploy; None: the server's only model.

    Returns:
        The reload report.

    Raises:
        DeploymentError: the server refused the model, was unreachable, or did not report
            `version` within `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    report = reload(url, reason, timeout_s, admin_token, model)
    if report["status"] == "failed":
        raise DeploymentError(
            f"inference server refused v{report['target_version']}: {report['error']} "
            f"(still serving v{report['serving_version']})"
        )
    serving = report["serving_version"]
    # Another reload (a poll, a second push) may have answered first; wait for ours.
    while serving != version:
        if time.monotonic() >= deadline:
            raise DeploymentError(
                f"inference server still serves v{serving}, not v{version}, after {timeout_s} s"
            )
        time.sleep(poll_s)
        try:
            serving = serving_version(url, max(0.1, deadline - time.monotonic()), model)
        except httpx.TimeoutException:
            # The poll had only what was left of the wait: the deadline, not an unreachable
            # server (the check above says which version it served last).
            continue
        except httpx.HTTPError as error:
            raise DeploymentError(f"inference server {url} unreachable: {error!r}") from error
    return report


@dataclass(frozen=True)
class InferenceClient:
    """The inference server a deployment or a rollback notifies; `url=None` means none is
    configured.

    Args:
        url: the server's base URL (MLOPS_SERVING_URL), or None.
        timeout_s: how long to wait for the server to serve a version.
        admin_token: the server's MLOPS_SERVING_ADMIN_TOKEN, if it has one.
    """

    url: str | None
    timeout_s: float = 60.0
    admin_token: str | None = None

    @property
    def configured(self) -> bool:
        """Whether a server is configured at all."""
        return bool(self.url)

    def deploy(self, version: str, reason: str, model: str | None = None) -> dict:
        """Makes the server reload its alias (already moved to `version`) and serve it.

        Args:
            version: the version the champion alias points at now.
            reason: logged by the server.
            model: the fleet model (its spec's name); None: the server's only model.

        Returns:
            The server's reload report (`status`, `serving_version`, `seconds`, …).

        Raises:
            DeploymentError: the server refused the model, was unreachable, or did not serve
                `version` within `timeout_s`; also when no server is configured.
        """
        if not self.url:
            raise DeploymentError("no inference server configured (MLOPS_SERVING_URL)")
        return deploy(self.url, version, reason, self.timeout_s, self.admin_token, model=model)


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
