"""The duplicate pair finder (issue 16): rules, blocking, incremental form, and how well
it finds planted duplicates.  Pure and fast: no database.

Precision and recall are measured on 5,000 synthetic customers (``data.duplicates.
synthetic``) with about 300 planted duplicates.  About a tenth of the planted duplicates
share no key with their original (a new email, no phone, no address: only a similar
name), which no rule may accept, so recall cannot exceed ~0.9; the false pairs are
namesakes at one company domain, which the small name pool of ``data.sample`` (50 first ×
50 last names) makes commoner than life.  Measured with seeds 7, 11 and 23: precision
0.91–0.94 and recall 0.90 over all pairs; precision ≥ 0.99 at a score of 50 or more.  The
bounds below sit a few points under the worst seed: a change that costs more than noise
fails, a tuning within noise does not.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from data.duplicates import (
    STRONG_KEYS,
    BlockKey,
    Candidate,
    FinderSettings,
    Pair,
    PassStats,
    Reason,
    evaluate,
    find_pairs,
    find_pairs_in_memory,
    lookup_keys,
    pairs_for,
    pairs_in_pass,
)
from data.duplicates.synthetic import planted_pairs, synthetic_customers

MIN_PRECISION = 0.88
MIN_RECALL = 0.87
MIN_PRECISION_AT_50 = 0.97
MIN_RECALL_AT_50 = 0.83


def customer(id: str, region: str | None = "DE", **values: str | None) -> Candidate:
    return Candidate.from_values(id, {"name": "", "email": "", **values}, region)


def synthetic(count: int, seed: int) -> tuple[list[Candidate], set[tuple[str, str]]]:
    generated = list(synthetic_customers(count, duplicate_rate=0.06, seed=seed))
    candidates = [Candidate.from_values(c.id, c.values, "DE") for c in generated]
    return candidates, planted_pairs(generated)


def random_name(rng: random.Random) -> str:
    """Two random words of seven letters: no two such names are similar."""
    return " ".join(
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)) for _ in range(2)
    )


# --- the rules ---------------------------------------------------------------------------


def test_the_issues_example_is_one_customer_with_every_reason() -> None:
    outlook = customer("a", name="Jürgen Groß", email="jgross@firma.de", phone="+49 151 1234567")
    shop = customer("b", name="Juergen Gross", email="j.gross@firma.de", phone="0151 1234567")
    pair = evaluate(outlook, shop)
    assert pair == Pair(
        "a", "b", 95, (Reason.SAME_PHONE, Reason.SIMILAR_NAME, Reason.SAME_EMAIL_DOMAIN)
    )


def test_the_same_canonical_email_makes_a_pair_alone() -> None:
    one = customer("1", name="Ann Lee", email="ann.lee@gmail.com")
    other = customer("2", name="A. Lee-Wong", email="annlee+shop@googlemail.com")
    pair = evaluate(one, other)
    assert pair is not None
    assert pair.reasons == (Reason.SAME_EMAIL,)


def test_the_same_phone_makes_a_pair_alone_but_ranks_low_under_another_name() -> None:
    one = customer("1", name="Ann Lee", email="ann@a.example", phone="030 1234567")
    other = customer("2", name="Bo Chen", email="bo@b.example", phone="+49 30 1234567")
    same_name = customer("3", name="Ann Lee", email="al@c.example", phone="+49301234567")
    different = evaluate(one, other)
    alike = evaluate(one, same_name)
    assert different is not None
    assert alike is not None
    assert different.reasons == (Reason.SAME_PHONE,)
    assert alike.score > different.score


@pytest.mark.parametrize(
    ("shared", "reason"),
    [
        ({"email": "x@firma.example"}, Reason.SAME_EMAIL_DOMAIN),
        ({"address": "Hauptstraße 1, Berlin"}, Reason.SAME_ADDRESS),
    ],
    ids=["company domain", "address"],
)
def test_a_similar_name_needs_a_shared_domain_or_address(
    shared: dict[str, str], reason: Reason
) -> None:
    email = shared.get("email", "jg@one.example")
    other_email = email.replace("x@", "y@") if "email" in shared else "jg@two.example"
    address = shared.get("address")
    one = customer("1", name="Jürgen Groß", email=email, address=address)
    alike = customer("2", name="Jurgen Gros", email=other_email, address=address)
    stranger = customer("3", name="Maria Lopez", email=other_email, address=address)
    pair = evaluate(one, alike)
    assert pair is not None
    assert pair.reasons == (Reason.SIMILAR_NAME, reason)
    assert evaluate(one, stranger) is None


def test_a_free_mail_domain_says_nothing() -> None:
    one = customer("1", name="Jürgen Groß", email="jg1@gmail.com")
    other = customer("2", name="Jürgen Groß", email="jg2@gmail.com")
    assert evaluate(one, other) is None


def test_a_tenant_can_declare_its_own_shared_domains() -> None:
    one = customer("1", name="Jürgen Groß", email="jg1@uni.example")
    other = customer("2", name="Jürgen Groß", email="jg2@uni.example")
    assert evaluate(one, other) is not None
    settings = FinderSettings(shared_domains=frozenset({"uni.example"}))
    assert evaluate(one, other, settings) is None


def test_conflicting_phones_lower_the_score_without_dropping_the_pair() -> None:
    one = customer("1", name="Ann Lee", email="ann@firma.example", phone="0151 1111112")
    agreeing = customer("2", name="Ann Lee", email="a.lee@firma.example")
    conflicting = customer("3", name="Ann Lee", email="lee@firma.example", phone="0151 2222223")
    silent, conflict = evaluate(one, agreeing), evaluate(one, conflicting)
    assert silent is not None
    assert conflict is not None
    assert conflict.score < silent.score


def test_a_strong_key_is_trusted_alone_only_where_the_caller_says_so() -> None:
    one = customer("1", name="Ann Lee", email="ann@a.example", phone="030 1234567")
    other = customer("2", name="Bo Chen", email="bo@b.example", phone="030 1234567")
    assert evaluate(one, other, trusted=STRONG_KEYS) is not None
    assert evaluate(one, other, trusted=frozenset()) is None


SOME_CUSTOMER = st.builds(
    lambda i, name, domain, phone: customer(str(i), name=name, email=f"x{i}@{domain}", phone=phone),
    st.integers(0, 10**6),
    st.sampled_from(["Jürgen Groß", "Juergen Gross", "Jurgen Gros", "Ann Lee", "Anne Lee"]),
    st.sampled_from(["firma.example", "gmail.com", "other.example"]),
    st.sampled_from([None, "0151 1234567", "+49 151 1234567", "030 7654321"]),
)


@given(SOME_CUSTOMER, SOME_CUSTOMER)
def test_a_pair_does_not_depend_on_the_order_of_its_customers(a: Candidate, b: Candidate) -> None:
    assert evaluate(a, b) == evaluate(b, a)
    pair = evaluate(a, b)
    if pair is not None:
        assert pair.id_a < pair.id_b
        assert 0 <= pair.score <= 100


# --- blocking ----------------------------------------------------------------------------


def brute_force(candidates: list[Candidate], settings: FinderSettings) -> set[Pair]:
    """Every pair the rules accept, comparing everyone with everyone."""
    sizes: dict[tuple[BlockKey, str], int] = {}
    for candidate in candidates:
        for key in STRONG_KEYS:
            value = candidate.key(key)
            if value is not None:
                sizes[key, value] = sizes.get((key, value), 0) + 1
    found = set()
    for a, b in combinations(candidates, 2):
        trusted = {
            key
            for key in STRONG_KEYS
            if a.key(key) is not None
            and a.key(key) == b.key(key)
            and sizes[key, a.key(key) or ""] <= settings.max_block
        }
        pair = evaluate(a, b, settings, trusted)
        if pair is not None:
            found.add(pair)
    return found


def test_blocking_finds_exactly_what_comparing_everyone_finds() -> None:
    candidates, truth = synthetic(400, seed=3)
    settings = FinderSettings()
    assert set(find_pairs_in_memory(candidates, settings).pairs) == brute_force(
        candidates, settings
    )
    assert truth  # the set has planted duplicates to find


def test_pairs_come_best_first_once_each() -> None:
    candidates, _ = synthetic(1000, seed=5)
    pairs = find_pairs_in_memory(candidates).pairs
    assert pairs
    assert len({pair.ids for pair in pairs}) == len(pairs)
    assert [pair.score for pair in pairs] == sorted((pair.score for pair in pairs), reverse=True)


def test_a_phone_on_many_customers_pairs_only_similar_names() -> None:
    rng = random.Random(2)
    switchboard = [
        customer(
            f"{i:03}", name=random_name(rng), email=f"p{i}@x{i}.example", phone="+49 89 7654321"
        )
        for i in range(40)
    ]
    twins = [
        customer("t1", name="Jürgen Groß", email="a@y.example", phone="+49 89 7654321"),
        customer("t2", name="Juergen Gross", email="b@z.example", phone="089 7654321"),
    ]
    stats = PassStats()
    rows = sorted(switchboard + twins, key=lambda c: c.name_key)
    pairs = list(pairs_in_pass(rows, BlockKey.PHONE, FinderSettings(max_block=25), stats))
    assert [pair.ids for pair in pairs] == [("t1", "t2")]
    assert stats.largest_group == 42


def test_a_huge_group_is_read_in_chunks_and_counted() -> None:
    def spelt(i: int) -> str:  # 7 -> "aah": alike names without numbers (numbers differ)
        return "".join(chr(ord("a") + int(digit)) for digit in f"{i:03}")

    rows = [
        customer(f"{i:03}", name=f"Name{spelt(i)} Same", email=f"n{i}@big.example")
        for i in range(25)
    ]
    settings = FinderSettings(max_block=2, max_group=10, exact_limit=4, window=3)
    stats = PassStats()
    pairs = list(pairs_in_pass(rows, BlockKey.DOMAIN, settings, stats))
    assert stats.chunked_groups == 1
    assert stats.rows == 25
    assert pairs  # neighbours within each chunk are found
    assert all(int(p.id_b) // 10 == int(p.id_a) // 10 for p in pairs)  # never across chunks


def test_above_the_exact_limit_near_identical_names_are_still_found() -> None:
    rng = random.Random(1)
    crowd = [
        customer(f"c{i:04}", name=random_name(rng), email=f"c{i}@big.example") for i in range(3000)
    ]
    planted = [
        (
            customer("p1", name="Jürgen Groß", email="jg@big.example"),
            customer("p2", name="Gross, Juergen", email="j.gross@big.example"),
        ),
        (
            customer("p3", name="Anna Zimmermann", email="az@big.example"),
            customer("p4", name="Ana Zimmermann", email="a.zimmermann@big.example"),
        ),
        (
            customer("p5", name="Zoltan Abadi", email="za@big.example"),
            customer("p6", name="Zoltan Abady", email="z.abadi@big.example"),
        ),
        (  # far apart by the first word, neighbours by the last: the second order's case
            customer("p7", name="Zoltan Kabadi", email="zk@big.example"),
            customer("p8", name="Zoltan Gabadi", email="z.kabadi@big.example"),
        ),
    ]
    rows = crowd + [c for pair in planted for c in pair]
    stats = PassStats()
    settings = FinderSettings(exact_limit=2000, max_domain=5000)
    found = {p.ids for p in pairs_in_pass(iter(rows), BlockKey.DOMAIN, settings, stats)}
    assert {(a.id, b.id) for a, b in planted} <= found
    assert stats.comparisons < 3008 * 2 * settings.window  # not 4.5 M


def test_a_domain_of_more_than_max_domain_customers_is_a_shared_one() -> None:
    """Thousands at one domain (a provider, a university): similar names there are no
    evidence, as at a free-mail domain; a smaller company's domain still is."""
    big = [customer(f"b{i:04}", name="Anna Schmidt", email=f"a{i}@uni.example") for i in range(40)]
    small = [
        customer("s1", name="Jürgen Groß", email="jg@firma.example"),
        customer("s2", name="Juergen Gross", email="j.gross@firma.example"),
    ]
    rows = sorted(big + small, key=lambda c: (c.email_domain or "", c.name_key))
    stats = PassStats()
    settings = FinderSettings(max_domain=30)
    found = {p.ids for p in pairs_in_pass(iter(rows), BlockKey.DOMAIN, settings, stats)}
    assert found == {("s1", "s2")}
    assert stats.skipped_rows == 40
    # At most max_domain customers at uni.example, and every pair of its namesakes is one.
    fewer = sorted(small + big[:30], key=lambda c: (c.email_domain or "", c.name_key))
    kept = {p.ids for p in pairs_in_pass(iter(fewer), BlockKey.DOMAIN, settings, PassStats())}
    assert len(kept) == 30 * 29 // 2 + 1


def test_find_pairs_streams_each_pass_from_the_callers_query() -> None:
    candidates, _ = synthetic(500, seed=9)
    asked: list[BlockKey] = []

    def rows_for(key: BlockKey) -> Iterator[Candidate]:
        asked.append(key)
        having = (c for c in candidates if c.key(key) is not None)
        yield from sorted(having, key=lambda c: (c.key(key) or "", c.name_key))

    streamed = find_pairs(rows_for)
    assert asked == list(BlockKey)
    assert streamed.pairs == find_pairs_in_memory(candidates).pairs
    assert streamed.stats[BlockKey.DOMAIN].skipped_rows > 0  # the free-mail domains


# --- incremental -------------------------------------------------------------------------


def test_pairs_for_one_customer_agree_with_the_bulk_pairs() -> None:
    candidates, _ = synthetic(1500, seed=13)
    bulk = find_pairs_in_memory(candidates).pairs
    involved = sorted({i for pair in bulk for i in pair.ids})
    for changed_id in [*involved[::7], candidates[0].id]:
        changed = next(c for c in candidates if c.id == changed_id)
        wanted = lookup_keys(changed)
        sharing = [c for c in candidates if any(c.key(k) == v for k, v in wanted.items())]
        expected = [pair for pair in bulk if changed_id in pair.ids]
        assert pairs_for(changed, sharing) == expected, changed_id


def test_lookup_keys_leave_out_free_mail_domains() -> None:
    free = customer("1", name="Ann Lee", email="ann@gmail.com", phone="0151 1234567")
    company = customer("2", name="Ann Lee", email="ann@firma.example")
    assert lookup_keys(free) == {BlockKey.PHONE: "+491511234567", BlockKey.EMAIL: "ann@gmail.com"}
    assert lookup_keys(company)[BlockKey.DOMAIN] == "firma.example"


def test_an_import_row_is_flagged_by_its_keys() -> None:
    existing = customer("c1", name="Jürgen Groß", email="jgross@firma.de", phone="0151 1234567")
    row = customer("row-7", name="Juergen Gross", email="j.gross@firma.de", phone="+4915112345670")
    pairs = pairs_for(row, [existing])
    assert [pair.ids for pair in pairs] == [("c1", "row-7")]
    assert Reason.SAME_EMAIL_DOMAIN in pairs[0].reasons


# --- precision and recall on planted duplicates ------------------------------------------


def measure(pairs: list[Pair], truth: set[tuple[str, str]], min_score: int) -> tuple[float, float]:
    found = {pair.ids for pair in pairs if pair.score >= min_score}
    hits = len(found & truth)
    return hits / len(found), hits / len(truth)


@pytest.fixture(scope="module")
def planted() -> tuple[list[Candidate], set[tuple[str, str]], list[Pair]]:
    """5,000 customers with about 300 planted duplicates, and the pairs found among them."""
    candidates, truth = synthetic(5000, seed=7)
    return candidates, truth, find_pairs_in_memory(candidates).pairs


def test_planted_duplicates_are_found_with_precision_and_recall(
    planted: tuple[list[Candidate], set[tuple[str, str]], list[Pair]],
    record_property: Callable[[str, object], None],
) -> None:
    candidates, truth, pairs = planted
    assert 250 <= len(truth) <= 350
    precision, recall = measure(pairs, truth, 0)
    precision_50, recall_50 = measure(pairs, truth, 50)
    report = (
        f"{len(candidates)} customers, {len(truth)} planted, {len(pairs)} pairs: "
        f"precision {precision:.3f} recall {recall:.3f}; "
        f"at score >= 50: precision {precision_50:.3f} recall {recall_50:.3f}"
    )
    print(report)
    record_property("duplicates", report)
    assert precision >= MIN_PRECISION, report
    assert recall >= MIN_RECALL, report
    assert precision_50 >= MIN_PRECISION_AT_50, report
    assert recall_50 >= MIN_RECALL_AT_50, report


def test_every_planted_duplicate_the_rules_accept_is_found(
    planted: tuple[list[Candidate], set[tuple[str, str]], list[Pair]],
) -> None:
    """Blocking loses nothing at this size: the recall gap is the rules', by design."""
    candidates, truth, pairs = planted
    by_id = {c.id: c for c in candidates}
    acceptable = {ids for ids in truth if evaluate(by_id[ids[0]], by_id[ids[1]]) is not None}
    found = {pair.ids for pair in pairs}
    assert acceptable <= found
    assert len(acceptable) / len(truth) >= MIN_RECALL
