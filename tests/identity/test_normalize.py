from cdp.identity.normalize import email_match_key, phone_to_e164

MARKETS = ("US", "GB", "DE")


def test_phones_in_local_form_use_the_records_country():
    assert phone_to_e164("020 7946 0958", "GB") == "+442079460958"
    assert phone_to_e164("030 1234567", "DE") == "+49301234567"


def test_phones_without_country_are_read_by_their_trunk_prefix_among_the_markets():
    assert phone_to_e164("(218) 107-4642", None, MARKETS) == "+12181074642"
    assert phone_to_e164("020 7946 0958", None, MARKETS) == "+442079460958"


def test_e164_needs_no_country_and_placeholders_are_no_phone():
    assert phone_to_e164(" +1 (212) 965-4914 ", None) == "+12129654914"
    assert phone_to_e164("0000000000", "US") is None
    assert phone_to_e164("n/a", "US") is None
    assert phone_to_e164("", "US") is None


def test_gmail_addresses_match_without_dots_and_tags():
    assert email_match_key(" Jo.Smith+shop@GoogleMail.com ") == "josmith@gmail.com"
    assert email_match_key("jo.smith+x@outlook.com") == "jo.smith+x@outlook.com"
