import pandas as pd

from cdp.identity.score import joined_only_by_bad, pairwise_scores, recall_over_all_records


def frame(rows):
    return pd.DataFrame(rows, columns=["source", "record_type", "record_id", "person_id", "shared", "linkable",
                                       "customer_id"])


def test_pairwise_scores_count_pairs_and_ignore_shared_devices_for_precision():
    truth = frame([
        ("s", "r", "1", "P1", False, True, "C1"),
        ("s", "r", "2", "P1", False, True, "C1"),
        ("s", "r", "3", "P1", False, True, "C2"),  # P1 split: 1 of 3 pairs found
        ("s", "r", "4", "P2", False, False, "C2"),  # C2 mixes P1 and P2
        ("m", "device", "5", "P3", True, False, "C1"),  # shared device: not in precision
    ])
    precision, recall, split, mixing = pairwise_scores(truth)
    assert (precision, round(recall, 4), split, mixing) == (0.5, 0.3333, 1, 1)


def test_a_profile_joined_only_through_a_family_email_is_counted():
    truth = frame([("s", "r", "1", "P1", False, True, "C1"), ("s", "r", "2", "P2", False, True, "C1")])
    links = pd.DataFrame([("s", "r", "1", "email", "home@x.com", "family_email"),
                          ("s", "r", "2", "email", "home@x.com", "family_email")],
                         columns=["source", "record_type", "record_id", "id_type", "match_key", "kind"])
    assert joined_only_by_bad(truth, links) == 1
    assert joined_only_by_bad(truth, links.assign(kind="personal")) == 0


def test_recall_over_all_records_counts_the_pairs_no_personal_identifier_joins():
    truth = frame([
        ("s", "r", "1", "P1", False, True, "C1"),
        ("s", "r", "2", "P1", False, True, "C1"),
        ("s", "r", "3", "P1", False, False, None),  # unlinkable: a profile of its own, its 2 pairs missed
        ("m", "device", "4", "P2", True, False, "C2"),  # a shared device with its main user's record
        ("s", "r", "5", "P2", False, False, "C2"),
    ])
    assert recall_over_all_records(truth) == 0.5  # 2 of 4 true pairs
    assert pairwise_scores(truth)[1] == 1.0  # the linkable records' one pair is found
