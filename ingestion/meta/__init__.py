"""Meta Marketing API source: campaigns, daily campaign insights, lead forms and their leads.

- campaigns: few, read whole every run and merged on `id`; a cursor on `updated_time` keeps unchanged ones
  out of the load.
- insights: one row per campaign and day, merged on (campaign_id, date_start); each run asks for the days
  since a lookback before the last day read, because Meta restates recent days as conversions attribute.
- leadgen_forms: the page's forms, merged on `id`.
- leads: per form, only those created after the last lead seen of that form (Meta's `time_created` filter).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from cdp.clock import as_of
from ingestion.meta import helpers
from ingestion.meta.settings import (
    CAMPAIGN_FIELDS,
    DEFAULT_API_VERSION,
    DEFAULT_INSIGHTS_LOOKBACK_DAYS,
    DEFAULT_PAGE_SIZE,
    INSIGHT_FIELDS,
    JSON_COLUMNS,
    LEAD_FIELDS,
    LEADGEN_FORM_FIELDS,
    TYPED_COLUMNS,
)
from ingestion.pipeline import latest_version_wins


def _json_columns(resource: str) -> dict:
    return {
        **{name: {"data_type": "json"} for name in JSON_COLUMNS.get(resource, ())},
        **TYPED_COLUMNS.get(resource, {}),
    }


@dlt.source(name="meta")
def meta_source(
    base_url: str = dlt.config.value,
    access_token: str = dlt.secrets.value,
    ad_account_id: str = dlt.config.value,
    page_id: str = dlt.config.value,
    start_date: str = dlt.config.value,
    api_version: str = DEFAULT_API_VERSION,
    insights_lookback_days: int = DEFAULT_INSIGHTS_LOOKBACK_DAYS,
    page_size: int = DEFAULT_PAGE_SIZE,
    app_secret: TSecretStrValue | None = None,
) -> list[DltResource]:
    """Read the Marketing API at `base_url` (https://graph.facebook.com) for one ad account and one page.

    start_date: ISO date or date-time; insights and leads before it are not read.
    app_secret: when set, every call carries `appsecret_proof`, as apps that require it demand.
    """
    helpers.check_lookback_days(insights_lookback_days)
    start = helpers.parse_start_date(start_date)
    start_epoch = int(start.timestamp()) if start.tzinfo else int(start.replace(tzinfo=UTC).timestamp())
    client = helpers.GraphClient(base_url, api_version, access_token, app_secret)
    account = f"act_{ad_account_id.removeprefix('act_')}"

    @dlt.resource(
        name="campaigns", primary_key="id", write_disposition="merge", columns=latest_version_wins("updated_time")
    )
    def campaigns(
        updated_time=dlt.sources.incremental("updated_time", initial_value=None),  # noqa: B008
    ) -> Iterator[list[dict]]:
        params = {"fields": ",".join(CAMPAIGN_FIELDS), "limit": page_size}
        yield from client.pages(f"{account}/campaigns", params)

    @dlt.resource(
        name="insights",
        primary_key=("campaign_id", "date_start"),
        write_disposition="merge",
        columns=_json_columns("insights"),
    )
    def insights() -> Iterator[list[dict]]:
        state = dlt.current.resource_state()
        since, until = helpers.insights_window(
            state.get("reported_through"), start.date(), insights_lookback_days, as_of().date()
        )
        params = {
            "level": "campaign",
            "time_increment": 1,
            "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
            "fields": ",".join(INSIGHT_FIELDS),
            "limit": page_size,
        }
        yield from client.pages(f"{account}/insights", params)
        state["reported_through"] = until.isoformat()

    @dlt.resource(name="leadgen_forms", primary_key="id", write_disposition="merge")
    def leadgen_forms() -> Iterator[list[dict]]:
        yield from client.pages(
            f"{page_id}/leadgen_forms", {"fields": ",".join(LEADGEN_FORM_FIELDS), "limit": page_size}
        )

    @dlt.transformer(
        data_from=leadgen_forms,
        name="leads",
        primary_key="id",
        write_disposition="merge",
        columns=_json_columns("leads"),
    )
    def leads(forms: list[dict]) -> Iterator[list[dict]]:
        # One cursor per form: a form added later is read from the start date, not from another form's cursor.
        last_seen = dlt.current.resource_state().setdefault("last_created_epoch", {})
        for form in forms:
            newest = last_seen.get(form["id"], start_epoch)
            params = {
                "fields": ",".join(LEAD_FIELDS),
                "filtering": helpers.lead_filtering(newest - 1),
                "limit": page_size,
            }
            for page in client.pages(f"{form['id']}/leads", params):
                for lead in page:
                    newest = max(newest, int(helpers.parse_meta_time(lead["created_time"]).timestamp()))
                yield page
            last_seen[form["id"]] = newest

    return [campaigns, insights, leadgen_forms, leads]
