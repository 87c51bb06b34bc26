import importlib.util
import unicodedata

import pandas as pd
import phonenumbers
import pytest

from cdp.identity.normalize import email_address, email_match_key, phone_to_e164
from cdp.paths import dbt_project_dir

MARKETS = ("US", "GB", "DE")


def test_phones_in_local_form_use_the_records_country():
    assert phone_to_e164("020 7946 0958", "GB") == "+442079460958"
    assert phone_to_e164("030 1234567", "DE") == "+49301234567"


def test_phones_without_country_are_read_by_their_trunk_prefix_among_the_markets():
    # Valid in the US and, read with Germany's code, in Germany too: no trunk 0, so it is American.
    assert phonenumbers.is_valid_number(phonenumbers.parse("(218) 207-4642", "DE"))
    assert phone_to_e164("(218) 207-4642", None, MARKETS) == "+12182074642"
    assert phone_to_e164("020 7946 0958", None, MARKETS) == "+442079460958"


def test_e164_needs_no_country_and_placeholders_are_no_phone():
    assert phone_to_e164(" +1 (212) 965-4914 ", None) == "+12129654914"
    assert phone_to_e164("0000000000", "US") is None
    assert phone_to_e164("n/a", "US") is None
    assert phone_to_e164("", "US") is None


# Each has a possible length for its country, so a length check takes it; none is in an assigned range.
POSSIBLE_BUT_INVALID_PHONES = [
    ("+1 555 000 0000", None),  # the shared junk phone that joined 15 people's POS orders into one profile
    ("555 000 0000", "US"),
    ("(555) 000-0000", "US"),
    ("15550000000", "US"),
    ("0000000000", "US"),
    ("1111111111", "US"),
    ("+44 7700 900000", None),  # Ofcom's range reserved for drama: never a subscriber's
    ("07700 900123", "GB"),
    ("(218) 107-4642", "US"),  # an exchange cannot start with 1
]


@pytest.mark.parametrize(("written", "country"), POSSIBLE_BUT_INVALID_PHONES)
def test_a_phone_that_is_possible_but_not_valid_is_no_identity_key(written, country):
    parsed = phonenumbers.parse(written, country)
    assert phonenumbers.is_possible_number(parsed) and not phonenumbers.is_valid_number(parsed)
    assert phone_to_e164(written, country) is None
    assert phone_to_e164(written, country, MARKETS) is None
    if country is None:
        assert phone_to_e164(written, None, MARKETS) is None


@pytest.mark.parametrize("written", ["+44 7777 777777", "+49 3333 33333"])
def test_one_digit_repeated_is_no_phone_even_where_libphonenumber_calls_the_range_valid(written):
    assert phonenumbers.is_valid_number(phonenumbers.parse(written, None))
    assert phone_to_e164(written, None) is None


def test_gmail_addresses_match_without_dots_and_tags():
    assert email_match_key(" Jo.Smith+shop@GoogleMail.com ") == "josmith@gmail.com"
    assert email_match_key("jo.smith+x@outlook.com") == "jo.smith+x@outlook.com"


def test_a_trailing_dot_surrounding_whitespace_and_case_do_not_make_another_address():
    assert email_address("user.name@GMAIL.COM.") == "user.name@gmail.com"
    assert email_match_key("user.name@GMAIL.COM.") == email_match_key("username@gmail.com") == "username@gmail.com"
    assert email_address("\tJo@Example.co.uk\n") == "jo@example.co.uk"
    assert email_address("\u00a0jo@example.co.uk\u00a0") == "jo@example.co.uk"


def test_an_internationalised_address_is_an_address_and_one_however_its_accents_are_encoded():
    assert email_address("Jörg@Bücher.de") == "jörg@bücher.de"
    assert email_address(unicodedata.normalize("NFD", "Jörg@Bücher.de")) == "jörg@bücher.de"
    assert email_address("jo@example.中国") == "jo@example.中国"


@pytest.mark.parametrize(
    "garbage",
    [None, "", "  ", "n/a", "unknown", "a@b", "jo@localhost", "jo@@example.com", "jo doe@example.com", "@x.com",
     "jo..doe@gmail.com", "jo.@gmail.com", ".jo@gmail.com", "jo@gmail.com..", "jo@x.test", "jo@x.invalid",
     '"jo"@example.com', "Jo <jo@example.com>", "jo@[192.0.2.1]", "jo@sub_domain.com", "jo@-x.com",
     "jo@" + "a" * 64 + ".com"],
)  # fmt: skip
def test_an_email_that_email_validator_refuses_is_no_address(garbage):
    assert email_address(garbage) is None


# --- The dbt model int_identity__record_identifiers, run on a frame as dbt would hand it one ----------------

MODEL_PATH = dbt_project_dir() / "models" / "identity" / "int_identity__record_identifiers.py"


class _FakeDbt:
    """The part of dbt's Python-model API the model uses: config(), config.get('meta') and ref().df()."""

    def __init__(self, frame: pd.DataFrame):
        self._frame = frame
        self.config = _FakeConfig()

    def ref(self, name: str):
        assert name == "int_identity__identifiers_normalised"
        return _FakeRelation(self._frame)


class _FakeConfig:
    def __call__(self, **kwargs):
        pass

    def get(self, key):
        return {"meta": {"phone_candidate_countries": "US,GB,DE"}}.get(key)


class _FakeRelation:
    def __init__(self, frame):
        self._frame = frame

    def df(self):
        return self._frame.copy()


def record_identifiers(rows: list[tuple[str, str, str, str | None, str, str, bool]]) -> pd.DataFrame:
    """Run the model on (record_id, id_type, written_value, country, sql id_value, sql match_key, sql is_valid)."""
    spec = importlib.util.spec_from_file_location("int_identity__record_identifiers", MODEL_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frame = pd.DataFrame(
        rows, columns=["record_id", "id_type", "written_value", "country", "id_value", "match_key", "is_valid"]
    ).assign(source="shopify", record_type="order", rule="co-occurrence")
    return module.model(_FakeDbt(frame), session=None)


def linked_records(identifiers: pd.DataFrame) -> list[set[str]]:
    """The groups of two or more records that share a valid match key: the links identity resolution makes."""
    valid = identifiers[identifiers["is_valid"] & identifiers["match_key"].notna()]
    groups = valid.groupby(["id_type", "match_key"])["record_id"].agg(set)
    return sorted((g for g in groups if len(g) > 1), key=sorted)


def test_a_junk_phone_on_fifteen_pos_orders_joins_none_of_them_while_a_real_shared_phone_still_links():
    junk = ["+1 555 000 0000", "555-000-0000", "(555) 000-0000", "+15550000000", "0000000000"]
    rows = [(f"o{i}", "phone", junk[i % len(junk)], "US", junk[i % len(junk)], junk[i % len(junk)], True)
            for i in range(15)]  # fmt: skip
    rows += [("gb1", "phone", "+44 7700 900000", "GB", "+44 7700 900000", "+44 7700 900000", True),
             ("gb2", "phone", "07700 900000", "GB", "07700 900000", "07700 900000", True),
             ("real1", "phone", "(212) 965-4914", "US", "(212) 965-4914", "(212) 965-4914", True),
             ("real2", "phone", "+1 212 965 4914", None, "+1 212 965 4914", "+1 212 965 4914", True)]  # fmt: skip
    identifiers = record_identifiers(rows)
    assert linked_records(identifiers) == [{"real1", "real2"}]
    junk_rows = identifiers[~identifiers["record_id"].str.startswith("real")]
    assert not junk_rows["is_valid"].any() and junk_rows["match_key"].isna().all()


def test_the_model_decides_email_validity_with_email_validator_not_the_sql_regex():
    rows = [
        # The SQL regex takes these; email-validator does not.
        ("a", "email", "jo..doe@example.com", None, "jo..doe@example.com", "jo..doe@example.com", True),
        ("b", "email", "jo..doe@example.com", None, "jo..doe@example.com", "jo..doe@example.com", True),
        # SQL's trim leaves a tab and a newline, and its regex wants a Latin top-level domain.
        ("c", "email", "\tJo@Example.com\n", None, "\tjo@example.com\n", "\tjo@example.com\n", False),
        ("d", "email", "jo@example.com", None, "jo@example.com", "jo@example.com", True),
        ("e", "email", "jo@example.中国", None, "jo@example.中国", "jo@example.中国", False),
        # A trailing dot is the same mailbox.
        ("f", "email", "User.Name@GMAIL.COM.", None, "user.name@gmail.com", "username@gmail.com", True),
        ("g", "email", "username+shop@gmail.com", None, "username+shop@gmail.com", "username@gmail.com", True),
        ("h", "email", None, None, None, None, False),
    ]
    identifiers = record_identifiers(rows).set_index("record_id")
    assert linked_records(identifiers.reset_index()) == [{"c", "d"}, {"f", "g"}]
    assert not identifiers.loc[["a", "b", "h"], "is_valid"].any()
    assert identifiers.loc["e", "is_valid"]
    assert identifiers.loc["f", "id_value"] == "user.name@gmail.com"
    # An invalid address keeps the value it is looked up by.
    assert identifiers.loc["a", "id_value"] == "jo..doe@example.com"
