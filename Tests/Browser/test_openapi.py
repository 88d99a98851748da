"""The OpenAPI document as the server serves it: standard tools load and validate it, and
answers of the running server match its schemas."""

from __future__ import annotations

import urllib.request

import jsonschema
import yaml
from openapi_spec_validator import validate


def served_document(settings) -> dict:
    with urllib.request.urlopen(settings.url + "/openapi.yaml", timeout=10) as response:
        return yaml.safe_load(response.read().decode())


def response_schema(document: dict, path: str, method: str, status: str) -> jsonschema.protocols.Validator:
    """A validator for one response's JSON body, resolving `#/components/...` in the document."""
    pointer = "/".join(part.replace("~", "~0").replace("/", "~1") for part in ["paths", path, method, "responses", status, "content", "application/json", "schema"])
    return jsonschema.Draft202012Validator({**document, "$ref": "#/" + pointer})


def test_the_served_document_is_valid_openapi(settings):
    document = served_document(settings)
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_both_lists_of_chats_match_the_schema(settings, alice_api, bob_api):
    document = served_document(settings)
    alice_api.create_chat("schema-public", "listed in the directory")
    alice_api.create_chat("schema-private", private=True)
    schema = response_schema(document, "/chats", "get", "200")
    for scope in ["mine", "public"]:
        for api in [alice_api, bob_api]:
            page = api.request("GET", f"/chats?scope={scope}")
            errors = [f"{list(error.path)}: {error.message}" for error in schema.iter_errors(page)]
            assert not errors, f"scope={scope}: {errors[:3]}"
            if scope == "public":
                assert any(chat["name"] == "schema-public" for chat in page["chats"])
