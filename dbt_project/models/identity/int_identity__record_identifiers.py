"""One row per (entity record, id_type, value), every value normalised; here the decisions that need a
maintained library rather than SQL (cdp.identity.normalize):

- phones to E.164 with `phonenumbers`, kept only when libphonenumber calls them valid (an assigned range),
  not merely possible: shared junk such as +1 555 000 0000 has a possible length. A phone written without
  '+' is parsed with the record's country; without one, with each of the business's markets (config
  meta.phone_candidate_countries), accepted only when exactly one of them makes it a valid number.
- whether an email is an address, by `email-validator` (syntax only, no DNS). Its value and match key are
  the SQL macros' rules (trimmed, lowercased, no trailing dot; gmail's dots and tags dropped from the key),
  made again here because SQL's trim leaves tabs, newlines and no-break spaces around a value.

Only distinct (written phone, country) pairs and distinct written emails are parsed.
"""

from cdp.identity.normalize import emails_to_identifiers, phones_to_e164


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

    emails = frame["id_type"] == "email"
    if not emails.any():
        return frame
    written = frame.loc[emails, "written_value"].fillna("")
    distinct = written.unique()
    found = dict(zip(distinct, emails_to_identifiers(distinct), strict=True))
    normalised = [found[w] for w in written]
    # An invalid email keeps the SQL's value and key (what `cdp identity explain` finds it by); is_valid false
    # keeps it out of every link.
    values, keys = frame.loc[emails, "id_value"], frame.loc[emails, "match_key"]
    frame.loc[emails, "id_value"] = [n[0] if n else v for n, v in zip(normalised, values, strict=True)]
    frame.loc[emails, "match_key"] = [n[1] if n else k for n, k in zip(normalised, keys, strict=True)]
    frame.loc[emails, "is_valid"] = [n is not None for n in normalised]
    return frame
