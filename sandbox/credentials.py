"""Point the dlt sources and the syncs' destinations at the sandbox: base URLs and the world's credentials.

The sandbox invents its tokens when it generates a world (world.json), so no credential is ever written in
the repository; this maps them onto the names the sources read through dlt.config / dlt.secrets.
"""

from __future__ import annotations


def dlt_environment(world: dict, base_url: str) -> dict[str, str]:
    creds = world["credentials"]
    env = {
        "SOURCES__HUBSPOT__BASE_URL": f"{base_url}/hubspot",
        "SOURCES__HUBSPOT__ACCESS_TOKEN": creds["hubspot"]["access_token"],
        "SOURCES__SHOPIFY__BASE_URL": f"{base_url}/shopify",
        "SOURCES__SHOPIFY__CLIENT_ID": creds["shopify"]["client_id"],
        "SOURCES__SHOPIFY__CLIENT_SECRET": creds["shopify"]["client_secret"],
        "SOURCES__MIXPANEL__BASE_URL": f"{base_url}/mixpanel",
        "SOURCES__MIXPANEL__PROJECT_ID": creds["mixpanel"]["project_id"],
        "SOURCES__MIXPANEL__USERNAME": creds["mixpanel"]["username"],
        "SOURCES__MIXPANEL__SECRET": creds["mixpanel"]["secret"],
        "SOURCES__KLAVIYO__BASE_URL": f"{base_url}/klaviyo",
        "SOURCES__KLAVIYO__API_KEY": creds["klaviyo"]["api_key"],
        "SOURCES__META__BASE_URL": f"{base_url}/meta",
        "SOURCES__META__ACCESS_TOKEN": creds["meta"]["access_token"],
        "SOURCES__META__AD_ACCOUNT_ID": creds["meta"]["ad_account_id"],
        "SOURCES__META__PAGE_ID": creds["meta"]["page_id"],
    }
    # The sources that read by date range (the event export, ad insights and leads) start at the beginning
    # of the world's history. The others read every record: a start date there would also drop reference
    # records (products, lists, owners) last changed before it.
    for vendor in ("MIXPANEL", "META"):
        env[f"SOURCES__{vendor}__START_DATE"] = world["started_at"]
    # The syncs write to the same sandbox accounts the sources read (reverse_etl/settings.py).
    env.update({
        "DESTINATIONS__KLAVIYO__BASE_URL": f"{base_url}/klaviyo",
        "DESTINATIONS__KLAVIYO__API_KEY": creds["klaviyo"]["api_key"],
        "DESTINATIONS__HUBSPOT__BASE_URL": f"{base_url}/hubspot",
        "DESTINATIONS__HUBSPOT__ACCESS_TOKEN": creds["hubspot"]["access_token"],
        "DESTINATIONS__META__BASE_URL": f"{base_url}/meta",
        "DESTINATIONS__META__ACCESS_TOKEN": creds["meta"]["access_token"],
        "DESTINATIONS__META__AD_ACCOUNT_ID": creds["meta"]["ad_account_id"],
        "DESTINATIONS__WEBHOOK__URL": f"{base_url}/webhook",
        "DESTINATIONS__WEBHOOK__ALERT_URL": f"{base_url}/webhook/alerts",
    })
    return env
