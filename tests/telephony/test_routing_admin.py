"""The admin's routing pages: DIDs in and out as CSV with row-level errors, the dialplan to download."""

from __future__ import annotations

import re

import pytest

from telephony.models import Did
from tests.dialplans import check_asterisk, check_freeswitch
from tests.factories import DidFactory, PbxServerFactory


def import_csv(client, text: str):
    """The two steps of django-import-export: upload and preview, then confirm."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("dids.csv", text.encode(), content_type="text/csv")
    page = client.post("/admin/telephony/did/import/", {"import_file": upload, "format": "0", "resource": "0"})
    return page


@pytest.mark.django_db
def test_dids_import_from_csv_with_errors_per_row_and_nothing_half_done(client, supervisor):
    client.force_login(supervisor)
    DidFactory(number="0323300245", label="Old name")
    bad = (
        "number,label,allow_inbound,allow_outbound\n+256323300245,LaCueva,1,1\n0323 300246,Spaces,1,1\n"
        "12,Short,1,0\n0323300247,Maybe,yes,perhaps\n"
    )
    page = import_csv(client, bad).content.decode()
    assert "Some rows failed to validate" in page
    assert "&#x27;0323 300246&#x27; is not a valid DID" in page and "&#x27;12&#x27; is not a valid DID" in page
    assert "&#x27;perhaps&#x27; is not a yes or no" in page
    assert "+256323300245" not in page.partition("Some rows failed")[2]  # the good row is not among them
    assert Did.objects.get().label == "Old name"  # nothing imported while any row is bad
    good = "number,label,allow_inbound,allow_outbound\n+256323300245,LaCueva,1,1\n0323300246,Mama Oliech,YES,no\n"
    page = import_csv(client, good)
    assert page.status_code == 200 and "confirm" in page.content.decode().lower()
    form = re.findall(r'name="(\w+)" value="([^"]*)"', page.content.decode())
    client.post("/admin/telephony/did/process_import/", dict(form))
    assert dict(Did.objects.values_list("number", "label")) == {"0323300245": "LaCueva", "0323300246": "Mama Oliech"}
    assert not Did.objects.get(number="0323300246").allow_outbound


@pytest.mark.django_db
def test_dids_export_as_csv(client, supervisor):
    client.force_login(supervisor)
    DidFactory(number="0323300245", label="LaCueva")
    response = client.post(
        "/admin/telephony/did/export/",
        {
            "format": "0",
            "resource": "0",
            "didresource_number": "on",
            "didresource_label": "on",
            "didresource_allow_inbound": "on",
            "didresource_allow_outbound": "on",
        },
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "0323300245,LaCueva,1,1" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind, name, check",
    [("asterisk", "extensions_mayday.conf", check_asterisk), ("freeswitch", "mayday.xml", check_freeswitch)],
)
def test_the_dialplan_downloads_from_the_pbx_page(client, supervisor, kind, name, check):
    pbx = PbxServerFactory(kind=kind, domain="default", username="mayday")
    client.force_login(supervisor)
    assert f"Download {name}" in client.get(f"/admin/telephony/pbxserver/{pbx.pk}/change/").content.decode()
    response = client.get(f"/admin/telephony/pbxserver/{pbx.pk}/dialplan/")
    assert response.status_code == 200 and name in response["Content-Disposition"]
    check(response.content.decode())


@pytest.mark.django_db
def test_the_dialplan_is_for_supervisors(client, agent):
    client.force_login(agent.user)
    assert client.get(f"/admin/telephony/pbxserver/{agent.pbx.pk}/dialplan/").status_code in (302, 403)


@pytest.mark.django_db
def test_render_dialplan_prints_the_include(capsys):
    from django.core.management import CommandError, call_command

    PbxServerFactory(name="ast", kind="asterisk", username="mayday")
    call_command("render_dialplan", "ast", "--internal-context", "from-internal")
    text = capsys.readouterr().out
    check_asterisk(text)
    assert "Goto(from-internal," in text
    with pytest.raises(CommandError, match="No PBX server named"):
        call_command("render_dialplan", "nope")
    with pytest.raises(CommandError, match="not a valid"):
        call_command("render_dialplan", "ast", "--internal-context", "bad context")
