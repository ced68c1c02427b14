"""The store benchmark's publish anchor: the least work any store must do with a run.

    python3 benches/store/anchor.py DIR DB_FILE PUBLIC_KEY_BASE64

Reads every proof and envelope in DIR, checks each envelope's ed25519 signature over
its DSSE pre-authentication encoding (OpenSSL, through `cryptography`), compares the
statement's proof digest with the proof file's SHA-256, then inserts every file and one
index row per proof into a new SQLite database (`sqlite3`, write-ahead log, one
transaction). No HTTP, no CLI, none of the gate's other rules (bundle, ledger, statement
subject, key trust per tenant, typed proof): `proofgate publish` measured against it says
what those and the transport cost. Exits 1 when a signature or digest does not verify.
"""

import base64
import hashlib
import json
import os
import sqlite3
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def pae(payload_type: bytes, payload: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)


def main() -> int:
    directory, db_file, public = sys.argv[1:4]
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public))
    files = {}
    for name in sorted(os.listdir(directory)):
        if name.startswith("proof-") and name.endswith(".json"):
            with open(os.path.join(directory, name), "rb") as f:
                files[name] = f.read()
    rows = []
    for name, proof in files.items():
        if name.endswith(".dsse.json"):
            continue
        envelope = json.loads(files[name[: -len(".json")] + ".dsse.json"])
        payload = base64.b64decode(envelope["payload"])
        signature = envelope["signatures"][0]
        try:
            key.verify(
                base64.b64decode(signature["sig"]),
                pae(envelope["payloadType"].encode(), payload),
            )
        except InvalidSignature:
            print(f"{name}: the signature does not verify", file=sys.stderr)
            return 1
        ext = json.loads(payload)["predicate"]["proofgate"]
        digest = "sha256:" + hashlib.sha256(proof).hexdigest()
        if ext["proof"]["digest"] != digest:
            print(f"{name}: the statement names another proof", file=sys.stderr)
            return 1
        rows.append((name, ext["scriptId"], ext["verdict"], digest, signature["keyid"]))
    db = sqlite3.connect(db_file, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE TABLE files (name TEXT PRIMARY KEY, content BLOB NOT NULL)")
    db.execute(
        "CREATE TABLE proofs (file TEXT PRIMARY KEY, script_id TEXT, verdict TEXT, digest TEXT, keyid TEXT)"
    )
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT INTO files VALUES (?, ?)", files.items())
    db.executemany("INSERT INTO proofs VALUES (?, ?, ?, ?, ?)", rows)
    db.execute("COMMIT")
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
