"""The pipeline's client of a running inference server: ask it to reload one model of the fleet,
wait until it serves a version; and predict or verify through it.

Every call names the fleet model (default `task_photos`) and reaches it under its serving route,
`/models/<model>` unless `route` says otherwise (a spec's `serving_route`).

No dagster and no TensorFlow here: the deployment step (through its Dagster resource) and the
`rollback` command both use it, and the command stays quick to start.
"""

import time
from dataclasses import dataclass

import httpx

from mlops_assets.constants import PHOTO_MODEL


class DeploymentError(RuntimeError):
    """The server refused the version, was unreachable, or did not serve it in time."""


def model_url(url: str, model: str = PHOTO_MODEL, route: str | None = None) -> str:
    """The base URL of one model's routes: `<url>/models/<model>`, or `<url><route>`."""
    return f"{url.rstrip('/')}{route or f'/models/{model}'}"


def reload(
    url: str,
    reason: str,
    timeout_s: float,
    admin_token: str | None = None,
    model: str = PHOTO_MODEL,
    route: str | None = None,
) -> dict:
    """Asks the server to resolve a model's alias now and swap in that version.

    Args:
        url: the server's base URL.
        reason: logged by the server.
        timeout_s: how long to wait for the reload to finish.
        admin_token: the server's MLOPS_SERVING_ADMIN_TOKEN, if it has one.
        model: the fleet model.
        route: its serving route, when not `/models/<model>`.

    Returns:
        The server's reload report (`status`, `serving_version`, `error`, …); a refused model
        comes back as `status == "failed"`.

    Raises:
        DeploymentError: the server could not be reached or answered something else.
    """
    headers = {"X-Admin-Token": admin_token} if admin_token else {}
    try:
        response = httpx.post(
            f"{model_url(url, model, route)}/admin/reload",
            params={"reason": reason[:200]},
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


def serving_version(
    url: str, timeout_s: float, model: str = PHOTO_MODEL, route: str | None = None
) -> str | None:
    """Returns the version a model answers with now, or None before its first version."""
    response = httpx.get(model_url(url, model, route), timeout=timeout_s)
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
    model: str = PHOTO_MODEL,
    route: str | None = None,
) -> dict:
    """Makes the server serve `version` of a model (already set on its alias) and waits until
    it does.

    Args:
        url: the server's base URL.
        version: the version the alias points at now.
        reason: logged by the server.
        timeout_s: the whole wait, reload included.
        admin_token: the server's admin token, if any.
        poll_s: pause between checks when the reload answered with another version.
        model: the fleet model.
        route: its serving route, when not `/models/<model>`.

    Returns:
        The reload report.

    Raises:
        DeploymentError: the server refused the model, was unreachable, or did not report
            `version` within `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    report = reload(url, reason, timeout_s, admin_token, model, route)
    if report["status"] == "failed":
        raise DeploymentError(
            f"inference server ({model}) refused v{report['target_version']}: {report['error']} "
            f"(still serving v{report['serving_version']})"
        )
    serving = report["serving_version"]
    # Another reload (a poll, a second push) may have answered first; wait for ours.
    while serving != version:
        if time.monotonic() >= deadline:
            raise DeploymentError(
                f"inference server ({model}) still serves v{serving}, not v{version}, after "
                f"{timeout_s} s"
            )
        time.sleep(poll_s)
        try:
            serving = serving_version(url, max(0.1, deadline - time.monotonic()), model, route)
        except httpx.TimeoutException:
            # The poll had only what was left of the wait: the deadline, not an unreachable
            # server (the check above says which version it served last).
            continue
        except httpx.HTTPError as error:
            raise DeploymentError(f"inference server {url} unreachable: {error!r}") from error
    return report


@dataclass(frozen=True)
class InferenceServerClient:
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

    def deploy(
        self, version: str, reason: str, model: str = PHOTO_MODEL, route: str | None = None
    ) -> dict:
        """Makes the server reload a model's alias (already moved to `version`) and serve it.

        Args:
            version: the version the champion alias points at now.
            reason: logged by the server.
            model: the fleet model (its spec's name).
            route: its serving route (the spec's `serving_route`), when not `/models/<model>`.

        Returns:
            The server's reload report (`status`, `serving_version`, `seconds`, …).

        Raises:
            DeploymentError: the server refused the model, was unreachable, or did not serve
                `version` within `timeout_s`; also when no server is configured.
        """
        if not self.url:
            raise DeploymentError("no inference server configured (MLOPS_SERVING_URL)")
        return deploy(
            self.url, version, reason, self.timeout_s, self.admin_token, model=model, route=route
        )

    def predict(
        self, instances: list[list[float]], model: str = PHOTO_MODEL, route: str | None = None
    ) -> dict:
        """Labels photos with a classification model: `POST <route>/predict`.

        Raises:
            DeploymentError: no server configured, unreachable, or a non-200 answer.
        """
        return self._post(model, route, "predict", {"instances": instances})

    def verify(
        self,
        first: list[float],
        second: list[float],
        model: str = "face_verifier",
        route: str | None = None,
    ) -> dict:
        """Compares two face vectors with a verification model: `POST <route>/verify`.

        Returns:
            `score`, `match`, `threshold`, `model_name`, `model_version`.

        Raises:
            DeploymentError: no server configured, unreachable, or a non-200 answer.
        """
        return self._post(model, route, "verify", {"first": first, "second": second})

    def _post(self, model: str, route: str | None, action: str, body: dict) -> dict:
        if not self.url:
            raise DeploymentError("no inference server configured (MLOPS_SERVING_URL)")
        target = f"{model_url(self.url, model, route)}/{action}"
        try:
            response = httpx.post(target, json=body, timeout=self.timeout_s)
        except httpx.HTTPError as error:
            raise DeploymentError(f"inference server {self.url} unreachable: {error!r}") from error
        if response.status_code != 200:
            raise DeploymentError(
                f"{target} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json()


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
