"""Model signatures: the pipeline's HMAC over (artifact sha256, model name, version).

The `artifact_sha256` tag lives in the registry, where anyone with MLflow write access can
change it together with the artifact. The signature is computed with a key the registry never
sees (MLOPS_MODEL_SIGNING_KEY, else a key generated once into MLOPS_HOME), so a changed hash,
a hash copied to another version or another model no longer verifies, and the server refuses
the version before loading it.
"""

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

SIGNATURE_TAG = "artifact_signature"
KEY_FILE_NAME = "model-signing.key"


class SignatureError(ValueError):
    """A version's signature is missing or does not match its hash, name and version."""


def key_file(home: Path) -> Path:
    """Where the embedded default keeps its key: MLOPS_HOME/model-signing.key."""
    return home / KEY_FILE_NAME


class ModelSigner:
    """Signs registered versions (the pipeline) and verifies them (the inference server).

    Args:
        key: the signing key (MLOPS_MODEL_SIGNING_KEY); None uses `key_path`.
        key_path: the key file of the embedded default, created (0600) on the first signature.
    """

    def __init__(self, key: str | None, key_path: Path):
        self._key = key.encode() if key else None
        self.key_path = key_path

    def sign(self, sha256: str, name: str, version: str) -> str:
        """The hex HMAC-SHA256 of the version's hash, name and version."""
        return _mac(self._load(create=True), sha256, name, version)

    def verify(self, sha256: str | None, name: str, version: str, signature: str | None) -> None:
        """Raises SignatureError unless `signature` is this key's over these values."""
        if not sha256 or not signature:
            raise SignatureError(
                f"{name} v{version} carries no {SIGNATURE_TAG}: it was not registered by the "
                "pipeline (or before versions were signed); refusing to load it"
            )
        key = self._load(create=False)
        if not hmac.compare_digest(_mac(key, sha256, name, version), signature):
            raise SignatureError(
                f"{name} v{version}: {SIGNATURE_TAG} does not match its artifact_sha256; the "
                "registry entry was changed by someone without the pipeline's signing key"
            )

    def _load(self, create: bool) -> bytes:
        if self._key is not None:
            return self._key
        if not self.key_path.exists():
            if not create:
                raise SignatureError(
                    f"no model signing key: set MLOPS_MODEL_SIGNING_KEY to the pipeline's key "
                    f"(or share its MLOPS_HOME/{KEY_FILE_NAME}); {self.key_path} does not exist"
                )
            self._create_key_file()
        self._key = self.key_path.read_text().strip().encode()
        return self._key

    def _create_key_file(self) -> None:
        # Written whole under another name, then linked: a reader never sees a partial key,
        # and of two processes creating it at once, the second uses the first one's key.
        self.key_path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.key_path.with_name(f".{KEY_FILE_NAME}.{os.getpid()}")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(scratch, self.key_path)
        except FileExistsError:
            pass
        finally:
            scratch.unlink()


def _mac(key: bytes, sha256: str, name: str, version: str) -> str:
    # A JSON list keeps the three fields apart: no name/version split can forge another.
    message = json.dumps([sha256, name, str(version)]).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
