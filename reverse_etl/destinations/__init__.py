"""Every destination a sync can declare (`config.meta.cdp.syncs[].destination`), by name."""

from reverse_etl.destinations.base import Destination
from reverse_etl.destinations.hubspot import HubSpotContacts, HubSpotTasks
from reverse_etl.destinations.klaviyo import KlaviyoList, KlaviyoProfiles
from reverse_etl.destinations.meta import MetaCustomAudience
from reverse_etl.destinations.webhook import Webhook

DESTINATIONS: dict[str, type[Destination]] = {
    "klaviyo_list": KlaviyoList,
    "klaviyo_profiles": KlaviyoProfiles,
    "meta_custom_audience": MetaCustomAudience,
    "hubspot_contacts": HubSpotContacts,
    "hubspot_tasks": HubSpotTasks,
    "webhook": Webhook,
}
