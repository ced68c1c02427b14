//! `GET /api/openapi.json`: the OpenAPI 3.1 description of the store's API. Each
//! operation is written once here; a test checks it against [`API_ROUTES`](super::api::API_ROUTES)
//! and the router.

use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn query_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn op(summary: &str, params: Vec<Value>, responses: Value) -> Value {
    json!({"summary": summary, "parameters": params, "responses": responses, "security": [{"bearer": []}]})
}

/// The description.
pub fn document() -> Value {
    let id = || path_param("id", "the run id (32 hex digits)");
    let not_found =
        || error_response("no such run for this tenant (another tenant's run included)");
    let unauthorized = || error_response("no valid bearer token");
    let run_schema = json!({"$ref": "#/components/schemas/Run"});
    let proof_row = json!({"$ref": "#/components/schemas/ProofRow"});
    let incident = json!({"type": "object", "properties": {
        "generated_at": {"type": "string"}, "run_id": {"type": ["string", "null"]},
        "commit": {"type": ["string", "null"]}, "status": {"type": "string"},
        "attempts": {"type": "integer"}, "seeds": {"type": "object"},
        "message": {"type": ["string", "null"]}, "origin": {"type": "string"}}});
    let flaky_test = json!({"type": "object",
        "required": ["script_id", "script_digest", "tests_digest", "classname", "name", "runs",
                     "passed", "flaky", "failed", "incidents"],
        "properties": {
            "script_id": {"type": "string"}, "script_digest": {"type": "string"},
            "tests_digest": {"type": "string"}, "file": {"type": ["string", "null"]},
            "classname": {"type": "string"}, "name": {"type": "string"},
            "runs": {"type": "integer"}, "passed": {"type": "integer"},
            "flaky": {"type": "integer"}, "failed": {"type": "integer"},
            "incidents": {"type": "array", "items": incident}}});
    let flaky_tests = json!({"type": "array", "items": flaky_test});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "proofgate evidence store",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Runs published by `proofgate publish`, kept per tenant. Every route but this one needs `Authorization: Bearer <token>`."
        },
        "paths": {
            "/api/runs": {
                "post": {
                    "summary": "Publish a run: every envelope, the signed bundle and the ledger are verified against the tenant's trusted keys before anything is stored, in one transaction. Publishing the same files again answers the stored run.",
                    "requestBody": {"required": true, "content": {
                        "application/vnd.proofgate.files": {"schema": {"type": "string", "contentMediaType": "application/vnd.proofgate.files", "description": "what `proofgate publish` sends: `proofgate-files1`, then per file a 4-byte big-endian name length, the UTF-8 name, a 4-byte big-endian content length and the bytes as they are"}},
                        "application/json": {"schema": {"$ref": "#/components/schemas/PublishBody"}}
                    }},
                    "responses": {
                        "201": ok("the run was stored", json!({"$ref": "#/components/schemas/Published"})),
                        "200": ok("the same files were published before", json!({"$ref": "#/components/schemas/Published"})),
                        "400": error_response("a malformed body or files (`BAD_JSON`, `BAD_UPLOAD`)"),
                        "401": unauthorized(),
                        "403": error_response("a read token cannot publish (`READ_ONLY_TOKEN`)"),
                        "413": error_response("the body exceeds the server's limit (`BODY_TOO_LARGE`)"),
                        "422": error_response("the evidence does not verify; `code` is the gate's reason code (`SIGNATURE_INVALID`, `KEY_UNTRUSTED`, `STATEMENT_MISMATCH`, `SIGNATURE_MISSING`, a ledger break such as `CHAIN_MISMATCH` …)")
                    },
                    "security": [{"bearer": []}]
                },
                "get": op("The tenant's runs, newest first, a page at a time.", vec![
                    query_param("repository", "`owner/name`"),
                    query_param("commit", "commit SHA"),
                    query_param("branch", "branch name"),
                    query_param("verdict", "`PASS` or `FAIL`"),
                    query_param("cursor", "`next_cursor` of the previous page"),
                    query_param("limit", "page size, 1 to 500 (default 50)"),
                ], json!({
                    "200": ok("a page of runs", json!({"type": "object", "properties": {"runs": {"type": "array", "items": run_schema}, "next_cursor": {"type": ["string", "null"]}}})),
                    "400": error_response("a bad query parameter"),
                    "401": unauthorized()
                }))
            },
            "/api/runs/{id}": {
                "get": op("One run: repository, commit, branch, run URL, verdict, counts and its scripts.", vec![id()], json!({
                    "200": ok("the run", run_schema),
                    "401": unauthorized(), "404": not_found()
                }))
            },
            "/api/runs/{id}/proof": {
                "get": op("The run bundle (`bundle.json`), byte for byte as published.", vec![id()], json!({
                    "200": ok("the bundle", json!({"type": "object"})),
                    "401": unauthorized(), "404": error_response("no such run, or the run has no bundle (`NO_BUNDLE`)")
                }))
            },
            "/api/runs/{id}/proofs/{script_id}": {
                "get": op("The script's proofs in the run (one per shard) with their envelopes.", vec![id(), path_param("script_id", "the script id")], json!({
                    "200": ok("the proofs", json!({"type": "object", "properties": {"proofs": {"type": "array"}}})),
                    "401": unauthorized(), "404": not_found()
                }))
            },
            "/api/runs/{id}/ledger": {
                "get": op("The run's ledger, verified on request against the tenant's trusted keys.", vec![id()], json!({
                    "200": ok("the ledger report", json!({"type": "object", "required": ["integrity_model", "verification_status", "chain_length"], "properties": {
                        "integrity_model": {"const": "HASH_CHAIN"},
                        "verification_status": {"enum": ["VERIFIED", "BROKEN"]},
                        "chain_length": {"type": "integer"},
                        "root_hash": {"type": ["string", "null"]},
                        "reason": {"type": "string"},
                        "message": {"type": "string"}
                    }})),
                    "401": unauthorized(), "404": error_response("no such run, or the run has no ledger (`NO_LEDGER`)")
                }))
            },
            "/api/runs/{id}/export": {
                "get": op("The run as one archive (every file as published) for `proofgate import`.", vec![id()], json!({
                    "200": ok("the archive", json!({"$ref": "#/components/schemas/Archive"})),
                    "401": unauthorized(), "404": not_found()
                }))
            },
            "/api/scripts/{id}/history": {
                "get": op("A script's verdicts over time, with script and tests digests, newest first; `flaky` lists the tests whose results differ across these runs while script and tests digests are the same, or that passed only on a retry (newest incident first, as `proofgate flaky`).", vec![path_param("id", "the script id"), query_param("limit", "at most this many (default 100)")], json!({
                    "200": ok("the history", json!({"type": "object", "properties": {"script_id": {"type": "string"}, "history": {"type": "array", "items": proof_row}, "flaky": flaky_tests}})),
                    "401": unauthorized()
                }))
            },
            "/api/proofs": {
                "get": op("Every proof whose in-toto subject is this content: was this exact script ever certified, where, by whom.", vec![
                    json!({"name": "subject", "in": "query", "required": true, "description": "`sha256:<hex>` of the script", "schema": {"type": "string"}}),
                    query_param("limit", "at most this many (default 100)"),
                ], json!({
                    "200": ok("the proofs", json!({"type": "object", "properties": {"subject": {"type": "string"}, "proofs": {"type": "array", "items": proof_row}}})),
                    "400": error_response("`subject` is not `sha256:<hex>`"),
                    "401": unauthorized()
                }))
            },
            "/api/openapi.json": {
                "get": {"summary": "This description.", "responses": {"200": ok("OpenAPI 3.1", json!({"type": "object"}))}}
            }
        },
        "components": components()
    })
}

/// The security scheme and the schemas the paths refer to.
fn components() -> Value {
    json!({
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
            "WireFile": {"type": "object", "required": ["name", "content"], "properties": {"name": {"type": "string"}, "content": {"type": "string", "contentEncoding": "base64"}}},
            "PublishBody": {"type": "object", "required": ["files"], "properties": {"files": {"type": "array", "items": {"$ref": "#/components/schemas/WireFile"}}}},
            "Archive": {"type": "object", "required": ["format", "format_version", "run_id", "files"], "properties": {"format": {"const": "proofgate-run-archive"}, "format_version": {"const": 1}, "run_id": {"type": "string"}, "files": {"type": "array", "items": {"$ref": "#/components/schemas/WireFile"}}}},
            "Published": {"type": "object", "properties": {"id": {"type": "string"}, "url": {"type": "string"}, "created": {"type": "boolean"}}},
            "Run": {"type": "object", "properties": {
                "id": {"type": "string"}, "repository": {"type": ["string", "null"]}, "commit": {"type": ["string", "null"]},
                "branch": {"type": ["string", "null"]}, "run_url": {"type": ["string", "null"]}, "verdict": {"enum": ["PASS", "FAIL"]},
                "proofs": {"type": "integer"}, "passed": {"type": "integer"}, "failed": {"type": "integer"}, "tests": {"type": "integer"},
                "published_at": {"type": "string"}
            }},
            "ProofRow": {"type": "object", "properties": {
                "run_id": {"type": "string"}, "file": {"type": "string"}, "script_id": {"type": "string"}, "script_path": {"type": "string"},
                "script_digest": {"type": "string"}, "tests_digest": {"type": "string"}, "verdict": {"type": "string"},
                "tests": {"type": "integer"}, "generated_at": {"type": "string"}, "keyid": {"type": "string"},
                "repository": {"type": ["string", "null"]}, "commit": {"type": ["string", "null"]}, "run_url": {"type": ["string", "null"]}
            }}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::api::API_ROUTES;
    use super::*;

    #[test]
    fn every_route_is_documented_and_every_documented_route_is_a_route() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let mut documented = Vec::new();
        for (path, ops) in paths {
            for method in ops.as_object().unwrap().keys() {
                documented.push((method.clone(), path.clone()));
            }
        }
        documented.sort();
        let mut routes: Vec<(String, String)> = API_ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        routes.sort();
        assert_eq!(documented, routes);
    }
}
