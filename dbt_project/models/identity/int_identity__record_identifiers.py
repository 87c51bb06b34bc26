"""One row per (entity record, id_type, value), every value normalised: phones to E.164 here.

A Python model because phone parsing is a job for `phonenumbers` (libphonenumber's rules per country), not
SQL. Only distinct (written phone, country) pairs are parsed. A phone written without '+' is parsed with the
record's country; without one, with each of the business's markets (config meta.phone_candidate_countries),
accepted only when exactly one of them makes it a valid number.
"""

from cdp.identity.normalize import phones_to_e164


def model(dbt, session):
    dbt.config(materialized="table")
    meta = dbt.config.get("meta") or {}
    candidates = [c.strip() for c in str(meta.get("phone_candidate_countries", "")).split(",") if c.strip()]
    frame = dbt.ref("int_identity__identifiers_normalised").df()

    phones = frame["id_type"] == "phone"
    pairs = frame.loc[phones, ["written_value", "country"]].drop_duplicates()
    parsed = phones_to_e164(
        ((w, c if isinstance(c, str) else None) for w, c in pairs.itertuples(index=False)), candidates
    )
    pairs = pairs.assign(e164=parsed)
    merged = frame.loc[phones, ["written_value", "country"]].merge(pairs, on=["written_value", "country"], how="left")
    e164 = merged["e164"].to_numpy()
    frame.loc[phones, "id_value"] = e164
    frame.loc[phones, "match_key"] = e164
    frame.loc[phones, "is_valid"] = merged["e164"].notna().to_numpy()
    return frame
