#!/usr/bin/env python3
"""Independent verification of proofgate's DSSE envelopes and in-toto statements.

Usage: verify_envelopes.py --public-key B64 [--expect valid|invalid] FILE...

For every envelope:
  * `cryptography` verifies the ed25519 signature over PAE(payloadType, payload),
    with PAE rebuilt here from the DSSE spec (not taken from proofgate); a signature
    whose `keyid` hint names another key is not tried (DSSE: the hint narrows the
    choice of key);
  * `securesystemslib` (the DSSE reference implementation used by in-toto) verifies it
    with its own PAE and base64 handling;
  * `in-toto-attestation` parses the verified payload into the Statement v1 protobuf
    (unknown top-level fields rejected) and validates it, and parses the predicate into
    the test-result v0.1 protobuf (the `proofgate` extension ignored);
  * each subject's digests must be lowercase hex of the right length.

With --expect valid every file must pass every check; with --expect invalid every file
must be rejected by both signature verifiers. Prints one JSON line per file; exits 0
when every file met the expectation, 1 otherwise, 2 on bad usage.
"""
import argparse
import base64
import binascii
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import json_format
from in_toto_attestation.predicates.test_result.v0 import test_result_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
DIGEST_LEN = {"sha256": 64, "gitBlob": 40}


def b64decode(s):
    """DSSE: signers may use standard or URL-safe base64; verifiers accept both."""
    pad = "=" * (-len(s) % 4)
    try:
        return base64.b64decode(s + pad, validate=True)
    except binascii.Error:
        return base64.urlsafe_b64decode(s + pad)


def pae(payload_type: bytes, payload: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)


def check_cryptography(env, raw_key, keyid):
    key = Ed25519PublicKey.from_public_bytes(raw_key)
    payload = b64decode(env["payload"])
    msg = pae(env["payloadType"].encode("utf-8"), payload)
    for sig in env["signatures"]:
        # The keyid is an unauthenticated hint that narrows the choice of key: a
        # signature naming another key is not tried against this one.
        if sig.get("keyid") and sig["keyid"] != keyid:
            continue
        try:
            key.verify(b64decode(sig["sig"]), msg)
            return payload
        except (InvalidSignature, ValueError, binascii.Error):
            continue
    raise ValueError("cryptography: no signature verifies")


def check_sslib(env, raw_key, keyid):
    key = SSlibKey(keyid, "ed25519", "ed25519", {"public": raw_key.hex()})
    envelope = Envelope.from_dict(env)
    verified = envelope.verify([key], 1)
    if keyid not in verified:
        raise ValueError("securesystemslib: key did not verify")
    return envelope.pae()


def check_statement(payload: bytes):
    doc = json.loads(payload)
    pb = json_format.ParseDict(doc, statement_pb2.Statement())  # strict: unknown fields fail
    st = Statement.copy_from_pb(pb)
    st.validate()
    if doc["predicateType"] != TEST_RESULT:
        raise ValueError("unexpected predicateType %r" % doc["predicateType"])
    pred = json_format.ParseDict(doc["predicate"], test_result_pb2.TestResult(), ignore_unknown_fields=True)
    if pred.result not in ("PASSED", "WARNED", "FAILED"):
        raise ValueError("bad result %r" % pred.result)
    if len(pred.configuration) == 0:
        raise ValueError("configuration is required")
    for i, s in enumerate(doc["subject"]):
        for alg, value in s["digest"].items():
            want = DIGEST_LEN.get(alg)
            if value != value.lower() or any(c not in "0123456789abcdef" for c in value):
                raise ValueError("subject[%d].digest.%s is not lowercase hex" % (i, alg))
            if want is not None and len(value) != want:
                raise ValueError("subject[%d].digest.%s has length %d" % (i, alg, len(value)))
    return doc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--public-key", required=True, help="base64 of the raw 32-byte key")
    ap.add_argument("--expect", choices=["valid", "invalid"], default="valid")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    raw = base64.b64decode(args.public_key)
    if len(raw) != 32:
        print("public key must be 32 bytes", file=sys.stderr)
        return 2
    keyid = hashlib.sha256(raw).hexdigest()
    ok = True
    for path in args.files:
        with open(path, "rb") as f:
            env = json.load(f)
        result = {"file": path}
        errors = []
        payload = None
        try:
            payload = check_cryptography(env, raw, keyid)
            result["cryptography"] = "verified"
        except Exception as e:  # noqa: BLE001 - report every failure
            errors.append(str(e))
            result["cryptography"] = "rejected"
        try:
            sslib_pae = check_sslib(env, raw, keyid)
            result["securesystemslib"] = "verified"
            if payload is not None and sslib_pae != pae(env["payloadType"].encode(), payload):
                errors.append("PAE differs between implementations")
        except Exception as e:  # noqa: BLE001
            errors.append("securesystemslib: %s" % e)
            result["securesystemslib"] = "rejected"
        if args.expect == "valid":
            if payload is not None and env.get("payloadType") == "application/vnd.in-toto+json":
                try:
                    doc = check_statement(payload)
                    result["statement"] = "valid"
                    result["result"] = doc["predicate"]["result"]
                    result["subject"] = doc["subject"]
                except Exception as e:  # noqa: BLE001
                    errors.append("statement: %s" % e)
            good = not errors
        else:
            good = result["cryptography"] == "rejected" and result["securesystemslib"] == "rejected"
        result["errors"] = errors
        result["ok"] = good
        ok = ok and good
        print(json.dumps(result, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
