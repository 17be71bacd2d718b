"""The pipeline's signature over (artifact hash, model, version): what verifies and what not."""

import stat

import pytest

from mlops_assets.backends.model_signing import ModelSigner, SignatureError, key_file

SHA = "ab" * 32


def test_a_signature_verifies_for_its_own_hash_model_and_version(tmp_path):
    signer = ModelSigner(None, key_file(tmp_path))
    signature = signer.sign(SHA, "digits", "3")
    signer.verify(SHA, "digits", "3", signature)


@pytest.mark.parametrize(
    ("sha256", "name", "version"),
    [("cd" * 32, "digits", "3"), (SHA, "faces", "3"), (SHA, "digits", "4")],
    ids=["other hash", "other model", "other version"],
)
def test_a_signature_moved_to_other_values_is_refused(tmp_path, sha256, name, version):
    signer = ModelSigner(None, key_file(tmp_path))
    signature = signer.sign(SHA, "digits", "3")
    with pytest.raises(SignatureError, match="does not match"):
        signer.verify(sha256, name, version, signature)


def test_an_unsigned_version_is_refused(tmp_path):
    signer = ModelSigner("k", key_file(tmp_path))
    with pytest.raises(SignatureError, match="carries no artifact_signature"):
        signer.verify(SHA, "digits", "3", None)


def test_the_embedded_key_is_generated_once_owner_only(tmp_path):
    first = ModelSigner(None, key_file(tmp_path)).sign(SHA, "digits", "1")
    path = key_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text()) == 64
    assert ModelSigner(None, key_file(tmp_path)).sign(SHA, "digits", "1") == first


def test_another_key_does_not_verify(tmp_path):
    signature = ModelSigner("pipeline-key", key_file(tmp_path)).sign(SHA, "digits", "1")
    with pytest.raises(SignatureError):
        ModelSigner("guessed-key", key_file(tmp_path)).verify(SHA, "digits", "1", signature)


def test_a_verifier_without_a_key_refuses_and_creates_none(tmp_path):
    with pytest.raises(SignatureError, match="MLOPS_MODEL_SIGNING_KEY"):
        ModelSigner(None, key_file(tmp_path)).verify(SHA, "digits", "1", "00" * 32)
    assert not key_file(tmp_path).exists()
