"""The config.meta.cdp block: what a valid block yields, and the message each mistake gets."""

from __future__ import annotations

import pytest

from cdp.activation_config import ActivationConfigError, parse_segment_block, parse_segments

VALID = {
    "description": "Top 5% of buyers",
    "owner": "crm@example.com",
    "cadence": "daily",
    "syncs": [{"destination": "klaviyo_list", "key": "customer_id", "mode": "mirror", "target": "VIP",
               "fields": {"cdp_ltv": "lifetime_revenue"}}],
}


def problems_of(block, columns=None, model="vip") -> str:
    with pytest.raises(ActivationConfigError) as error:
        parse_segment_block(model, block, columns)
    return str(error.value)


def test_a_valid_block_names_the_segment_after_its_model_and_keeps_its_syncs():
    segment = parse_segment_block("vip", VALID)
    assert (segment.name, segment.owner, segment.cadence) == ("vip", "crm@example.com", "daily")
    [sync] = segment.syncs
    assert segment.sync_name(sync) == "klaviyo_list__vip"
    assert (sync.destination, sync.key, sync.mode, sync.target) == ("klaviyo_list", "customer_id", "mirror", "VIP")
    assert sync.fields == {"cdp_ltv": "lifetime_revenue"} and sync.max_change_share == 0.5


def test_a_misspelt_key_is_named_with_the_model_and_the_fix():
    block = {**VALID, "cadance": "daily"}
    del block["cadence"]
    message = problems_of(block)
    assert "model vip: meta.cdp.cadance is not a known key; fix: remove it or use one of" in message
    assert "model vip: meta.cdp.cadence is None; fix: use one of ['hourly', 'daily', 'weekly']" in message


def test_a_missing_owner_and_an_unknown_destination_are_both_reported():
    block = {**VALID, "owner": " ", "syncs": [{"destination": "mailchimp", "key": "customer_id", "mode": "mirror"}]}
    message = problems_of(block)
    assert "meta.cdp.owner is missing; fix: add `owner:`" in message
    assert "meta.cdp.syncs[0].destination is 'mailchimp'; fix: use one of" in message


def test_sync_mode_and_key_are_required():
    message = problems_of({**VALID, "syncs": [{"destination": "hubspot_contacts"}]})
    assert "meta.cdp.syncs[0].mode is None" in message
    assert "meta.cdp.syncs[0].key is missing" in message


def test_the_change_guard_share_must_be_a_share():
    sync = {"destination": "klaviyo_list", "key": "customer_id", "mode": "mirror", "max_change_share": 1.5}
    assert "syncs[0].max_change_share is 1.5; fix: a share between 0 (exclusive) and 1" in problems_of(
        {**VALID, "syncs": [sync]})


def test_two_syncs_to_one_destination_would_share_an_asset_and_are_refused():
    sync = {"destination": "klaviyo_list", "key": "customer_id", "mode": "mirror"}
    assert "has destination 'klaviyo_list' twice" in problems_of({**VALID, "syncs": [sync, sync]})


def test_fields_must_read_columns_the_model_has_when_its_contract_lists_them():
    message = problems_of(VALID, columns={"customer_id", "ltv"})
    assert "meta.cdp.syncs[0].fields.cdp_ltv reads column 'lifetime_revenue', which the model does not have" in message


def test_a_segment_name_must_be_a_plain_identifier():
    assert "meta.cdp.name 'VIP list' is not a segment name" in problems_of({**VALID, "name": "VIP list"})


def test_a_block_that_is_not_a_mapping_is_refused():
    assert "model vip: meta.cdp must be a mapping" in problems_of(["name", "vip"])


def test_two_models_cannot_declare_the_same_segment_name_and_every_bad_model_is_listed():
    blocks = {"vip": (VALID, None), "vip_copy": ({**VALID, "name": "vip"}, None),
              "broken": ({"description": "x"}, None)}
    with pytest.raises(ActivationConfigError) as error:
        parse_segments(blocks)
    message = str(error.value)
    assert "model vip_copy: meta.cdp.name 'vip' is already the name of model vip's segment" in message
    assert "model broken: meta.cdp.owner is missing" in message
