"""The event types a webhook subscription can filter on come from the hub's catalogue,
through the admin API, to admins only (real app, real database)."""

from __future__ import annotations

from hub.storage.models_registry import Role
from hub.webhooks.catalogue import EVENT_TYPES
from tests.web.conftest import Web, log_in, make_person

PATH = "/api/admin/webhooks/event-types"


def test_an_admin_gets_exactly_the_catalogue_in_its_order(web: Web) -> None:
    make_person(web, "typesadmin", Role.ADMIN, web.rig.home)
    client, _csrf = log_in(web, "typesadmin")
    r = client.get(PATH)
    assert r.status_code == 200, r.text
    assert r.json() == [{"id": t, "description": e.description} for t, e in EVENT_TYPES.items()]
    # A checkbox label: short, one line, said for people (not the type id again).
    for item in r.json():
        assert 0 < len(item["description"]) <= 60
        assert "\n" not in item["description"]
        assert item["id"] not in item["description"]


def test_non_admins_and_strangers_are_refused(web: Web) -> None:
    make_person(web, "typescarer", Role.CARER, web.rig.home)
    for name in ("anna", "officer", "typescarer"):  # family, telecare, carer: no administer
        client, _csrf = log_in(web, name)
        r = client.get(PATH)
        assert r.status_code == 403, (name, r.status_code, r.text)
        assert "only administrators" in r.json()["detail"]
    assert web.client_for().get(PATH).status_code == 401  # no session at all


def test_the_route_is_in_openapi_with_its_response_model(web: Web) -> None:
    spec = web.client_for().get("/openapi.json").json()
    answer = spec["paths"][PATH]["get"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["type"] == "array"
    ref = answer["schema"]["items"]["$ref"].rsplit("/", 1)[-1]
    model = spec["components"]["schemas"][ref]
    assert set(model["required"]) == {"id", "description"}
    assert all(model["properties"][f].get("description") for f in ("id", "description"))
