"""C8: the query compiler and the reserve presets."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, inspect, select

from models.company import set_setting
from models.crm.query import MAX_CONDITIONS, MAX_DEPTH, compile_query, preset_query
from models.errors import InvalidQuery
from models.phones import normalize_phone
from models.schema import Customer, Opportunity, Order, QueryableField

UTC = dt.timezone.utc


def add(session, clock, name, **fields):
    """Insert one customer straight through the ORM (E.164 columns filled like the app does)."""
    for raw in ("phone", "mobile", "fax"):
        if fields.get(raw) is not None:
            fields.setdefault(raw + "_e164", normalize_phone(fields[raw]))
    fields.setdefault("stage", "target")
    fields.setdefault("created_at", clock.now())
    customer = Customer(name=name, ownership="shared", updated_at=clock.now(), **fields)
    session.add(customer)
    session.flush()
    return customer


def names(session, tree):
    return {c.name for c in session.scalars(compile_query(session, tree))}


def cond(field, op, value=None):
    return {"field": field, "op": op, "value": value}


def enable(session, field, enabled=True):
    session.get(QueryableField, field).enabled = enabled
    session.flush()


def refused(session, tree, key):
    with pytest.raises(InvalidQuery) as info:
        compile_query(session, tree)
    assert info.value.key == key
    return info.value


# -- text operators ---------------------------------------------------------------------------

@pytest.fixture
def keywords(session, clock):
    add(session, clock, "k1", keyword="Apple Pie")
    add(session, clock, "k2", keyword="apple")
    add(session, clock, "k3", keyword="Banana")
    add(session, clock, "k4", keyword=None)
    add(session, clock, "k5", keyword="")
    session.commit()


@pytest.mark.parametrize("op, value, expected", [
    ("contains", "APPLE", {"k1", "k2"}),
    ("contains", "e p", {"k1"}),
    ("not_contains", "apple", {"k3", "k4", "k5"}),
    ("eq", "Banana", {"k3"}),
    ("eq", "banana", set()),              # eq is exact
    ("eq", "  Banana ", {"k3"}),          # typed spaces around the value are dropped
    ("ne", "Banana", {"k1", "k2", "k4", "k5"}),
    ("is_empty", None, {"k4", "k5"}),
    ("is_not_empty", None, {"k1", "k2", "k3"}),
    ("eq", "", {"k4", "k5"}),
    ("ne", "", {"k1", "k2", "k3"}),
])
def test_text_operators(session, keywords, op, value, expected):
    assert names(session, cond("keyword", op, value)) == expected


def test_ordered_text_operators(session, clock):
    add(session, clock, "a", category="A")
    add(session, clock, "b", category="B")
    add(session, clock, "c", category="C")
    add(session, clock, "none", category=None)
    assert names(session, cond("category", "ge", "B")) == {"b", "c"}
    assert names(session, cond("category", "lt", "B")) == {"a"}
    assert names(session, cond("category", "le", "B")) == {"a", "b"}


def test_contains_needs_a_value(session, keywords):
    refused(session, cond("keyword", "contains", ""), "query.bad_value")
    refused(session, cond("keyword", "ge", ""), "query.bad_value")
    refused(session, cond("keyword", "eq", ["Banana"]), "query.bad_value")
    refused(session, cond("keyword", "eq", {"x": 1}), "query.bad_value")
    refused(session, cond("keyword", "eq", "x" * 500), "query.bad_value")


def test_number_typed_for_a_text_field_is_text(session, clock):
    add(session, clock, "n", keyword="2026")
    add(session, clock, "m", keyword="2027")
    assert names(session, cond("keyword", "eq", 2026)) == {"n"}


@pytest.mark.parametrize("typed, expected", [
    ("%", {"pct"}),
    ("0%", {"pct"}),
    ("_", {"under"}),
    ("a_b", {"under"}),
    ("/", {"slash"}),
    ("\\", {"backslash"}),
    ("%%", set()),
])
def test_wildcards_typed_by_the_user_match_literally(session, clock, typed, expected):
    add(session, clock, "pct", keyword="100%")
    add(session, clock, "plain", keyword="100 units")
    add(session, clock, "under", keyword="a_b")
    add(session, clock, "axb", keyword="axb")
    add(session, clock, "slash", keyword="x/y")
    add(session, clock, "backslash", keyword="c:\\temp")
    assert names(session, cond("keyword", "contains", typed)) == expected
    everything = {"pct", "plain", "under", "axb", "slash", "backslash"}
    assert names(session, cond("keyword", "not_contains", typed)) == everything - expected


def test_contains_is_case_insensitive(session, clock):
    add(session, clock, "Alpha Trading")
    add(session, clock, "ALPHABET Ltd")
    add(session, clock, "Beta")
    assert names(session, cond("name", "contains", "alpha")) == {"Alpha Trading", "ALPHABET Ltd"}
    assert names(session, cond("name", "contains", "BET")) == {"ALPHABET Ltd", "Beta"}
    assert names(session, cond("name", "not_contains", "aLpHa")) == {"Beta"}


def test_chinese_text(session, clock):
    add(session, clock, "上海软件", city="上海市")
    add(session, clock, "北京软件", city="北京市")
    assert names(session, cond("city", "contains", "上海")) == {"上海软件"}
    assert names(session, cond("name", "contains", "软件")) == {"上海软件", "北京软件"}


# -- NULL handling ----------------------------------------------------------------------------

@pytest.fixture
def cities(session, clock):
    add(session, clock, "sh", city="上海")
    add(session, clock, "bj", city="北京")
    add(session, clock, "null", city=None)
    add(session, clock, "blank", city="")
    session.commit()


def test_ne_includes_customers_without_a_value(session, cities):
    assert names(session, cond("city", "ne", "上海")) == {"bj", "null", "blank"}


def test_not_contains_includes_customers_without_a_value(session, cities):
    assert names(session, cond("city", "not_contains", "上")) == {"bj", "null", "blank"}


def test_is_empty_means_null_or_blank(session, cities):
    assert names(session, cond("city", "is_empty")) == {"null", "blank"}
    assert names(session, cond("city", "is_not_empty")) == {"sh", "bj"}


def test_stage_archive_means_no_stage(session, clock):
    add(session, clock, "archived", stage=None)
    add(session, clock, "reserve", stage="reserve")
    add(session, clock, "target", stage="target")
    assert names(session, cond("stage", "eq", "archive")) == {"archived"}
    assert names(session, cond("stage", "eq", "")) == {"archived"}
    assert names(session, cond("stage", "ne", "archive")) == {"reserve", "target"}
    assert names(session, cond("stage", "ne", "reserve")) == {"archived", "target"}
    assert names(session, cond("stage", "eq", "target")) == {"target"}
    assert names(session, cond("stage", "is_empty")) == {"archived"}


# -- groups -----------------------------------------------------------------------------------

def test_nested_and_or(session, clock):
    add(session, clock, "sh-soft", city="上海", industry="软件")
    add(session, clock, "sh-make", city="上海", industry="制造")
    add(session, clock, "sh-food", city="上海", industry="餐饮")
    add(session, clock, "bj-soft", city="北京", industry="软件")
    add(session, clock, "sh-none", city="上海", industry=None)
    tree = {"all": [cond("city", "eq", "上海"),
                    {"any": [cond("industry", "eq", "软件"), cond("industry", "eq", "制造")]}]}
    assert names(session, tree) == {"sh-soft", "sh-make"}
    tree = {"any": [cond("city", "eq", "北京"),
                    {"all": [cond("industry", "eq", "餐饮"), cond("city", "eq", "上海")]}]}
    assert names(session, tree) == {"bj-soft", "sh-food"}
    assert names(session, {"all": [cond("city", "eq", "上海")]}) == {
        "sh-soft", "sh-make", "sh-food", "sh-none"}


def test_depth_limit(session, clock):
    add(session, clock, "x", city="上海")
    tree = cond("city", "eq", "上海")
    for _ in range(MAX_DEPTH):
        tree = {"all": [tree]}
    assert names(session, tree) == {"x"}
    refused(session, {"any": [tree]}, "query.too_deep")


def test_condition_limit(session, clock):
    add(session, clock, "x", city="上海")
    many = [cond("city", "ne", f"城市{i}") for i in range(MAX_CONDITIONS - 1)]
    assert names(session, {"all": [cond("city", "eq", "上海"), *many]}) == {"x"}
    refused(session, {"all": [cond("city", "eq", "上海"), cond("city", "eq", "北京"), *many]},
            "query.too_many_conditions")
    # spread over nested groups counts the same
    refused(session, {"any": [{"all": many}, {"all": many}]}, "query.too_many_conditions")


@pytest.mark.parametrize("tree", [
    None, "city = 上海", ["city"], 42, {}, {"all": []}, {"any": "x"}, {"all": {"field": "city"}},
    {"all": [cond("city", "eq", "a")], "any": [cond("city", "eq", "b")]},
    {"all": [cond("city", "eq", "a")], "field": "city"},
    {"all": ["city"]},
])
def test_malformed_trees_are_refused(session, tree):
    refused(session, tree, "query.invalid")


# -- the field and operator whitelist ---------------------------------------------------------

@pytest.mark.parametrize("field", [
    "password_hash", "__class__", "__table__", "name; drop table customers", "phone_e164",
    "metadata", "operator_links", "created_by_id", "", None, 7, ["city"], {"x": 1},
])
def test_fields_outside_the_whitelist_are_refused(session, field):
    refused(session, cond(field, "eq", "x"), "query.unknown_field")


def test_a_disabled_field_is_refused(session, cities):
    assert names(session, cond("city", "eq", "上海")) == {"sh"}
    enable(session, "city", False)
    error = refused(session, cond("city", "eq", "上海"), "query.unknown_field")
    assert error.params["field"] == "city"
    # nested too
    refused(session, {"any": [cond("name", "eq", "sh"), cond("city", "eq", "上海")]},
            "query.unknown_field")


def test_a_whitelisted_field_works_once_the_admin_enables_it(session, clock):
    add(session, clock, "mail", email="sales@example.com")
    add(session, clock, "nomail")
    refused(session, cond("email", "contains", "example"), "query.unknown_field")
    enable(session, "email")
    assert names(session, cond("email", "contains", "EXAMPLE")) == {"mail"}


@pytest.mark.parametrize("op", [
    "like", "EQ", "==", "__eq__", "in", "eq; drop table customers", "", None, ["eq"],
])
def test_unknown_operators_are_refused(session, op):
    refused(session, cond("city", op, "上海"), "query.unknown_operator")


def test_sql_like_values_are_only_data(session, cities):
    for value in ("上海'; DROP TABLE customers; --", "' OR '1'='1", "上海\" OR 1=1 --"):
        assert names(session, cond("city", "eq", value)) == set()
        assert names(session, cond("city", "contains", value)) == set()
    assert "customers" in inspect(session.connection()).get_table_names()
    assert session.scalar(select(func.count()).select_from(Customer)) == 4


def test_the_value_is_a_bound_parameter(session):
    sql = str(compile_query(session, cond("city", "eq", "上海'; DROP TABLE customers; --")))
    assert "DROP" not in sql


# -- phones -----------------------------------------------------------------------------------

@pytest.fixture
def phones(session, clock):
    add(session, clock, "e164", phone="+8613812345678")
    add(session, clock, "dashed", phone="138-1234-5678")
    add(session, clock, "other", phone="13900001111")
    add(session, clock, "landline", phone="010-87654321")
    add(session, clock, "nophone", phone=None)
    add(session, clock, "junk", phone="n/a", phone_e164=None)
    session.commit()


def test_phone_eq_compares_normalised_numbers(session, phones):
    assert names(session, cond("phone", "eq", "138 1234 5678")) == {"e164", "dashed"}
    assert names(session, cond("phone", "eq", "0086 138-1234-5678")) == {"e164", "dashed"}
    assert names(session, cond("phone", "eq", "(010) 8765 4321")) == {"landline"}


def test_phone_ne_includes_customers_without_a_number(session, phones):
    assert names(session, cond("phone", "ne", "13812345678")) == {
        "other", "landline", "nophone", "junk"}


def test_phone_contains_matches_typed_digits(session, phones):
    assert names(session, cond("phone", "contains", "1234 5678")) == {"e164", "dashed"}
    assert names(session, cond("phone", "contains", "0000")) == {"other"}
    assert names(session, cond("phone", "contains", "010-8765")) == {"landline"}
    assert names(session, cond("phone", "not_contains", "1234-5678")) == {
        "other", "landline", "nophone", "junk"}


def test_phone_bad_values_and_operators(session, phones):
    refused(session, cond("phone", "eq", "abc"), "query.bad_value")
    refused(session, cond("phone", "contains", "abc"), "query.bad_value")
    refused(session, cond("phone", "ge", "13812345678"), "query.unknown_operator")
    assert names(session, cond("phone", "is_empty")) == {"nophone"}


# -- datetimes --------------------------------------------------------------------------------

@pytest.fixture
def created(session, clock):
    # company time zone Asia/Shanghai (UTC+8)
    add(session, clock, "d1", created_at=dt.datetime(2026, 11, 25, 15, 59, tzinfo=UTC))     # 25th 23:59
    add(session, clock, "d2", created_at=dt.datetime(2026, 11, 25, 16, 0, tzinfo=UTC))      # 26th 00:00
    add(session, clock, "d3", created_at=dt.datetime(2026, 11, 26, 15, 59, 59, tzinfo=UTC))  # 26th 23:59:59
    add(session, clock, "d4", created_at=dt.datetime(2026, 11, 26, 16, 0, tzinfo=UTC))      # 27th 00:00
    session.commit()


@pytest.mark.parametrize("op, value, expected", [
    ("ge", "2026-11-26", {"d2", "d3", "d4"}),
    ("lt", "2026-11-26", {"d1"}),
    ("le", "2026-11-26", {"d1", "d2", "d3"}),
    ("eq", "2026-11-26", {"d2", "d3"}),
    ("ne", "2026-11-26", {"d1", "d4"}),
    ("ge", "2026-11-27", {"d4"}),
    ("lt", "2026-11-25", set()),
    ("ge", "2026-11-26T23:59:59", {"d3", "d4"}),            # naive: company time
    ("lt", "2026-11-26 00:00", {"d1"}),
    ("eq", "2026-11-26T16:00:00+00:00", {"d4"}),
    ("le", "2026-11-26T00:00:00+08:00", {"d1", "d2"}),
    ("eq", "20261126", {"d2", "d3"}),
])
def test_datetime_operators(session, created, op, value, expected):
    assert names(session, cond("created_at", op, value)) == expected


def test_a_bare_date_follows_the_company_time_zone(session, created):
    set_setting(session, "company.time_zone", "UTC")
    assert names(session, cond("created_at", "eq", "2026-11-26")) == {"d3", "d4"}


@pytest.mark.parametrize("value", [
    "2026-13-01", "yesterday", "26/11/2026", "", "20261126.5", 20261126, 20261126.5, None,
    "9999-12-31"])
def test_datetime_bad_values(session, created, value):
    refused(session, cond("created_at", "ge", value), "query.bad_value")


def test_datetime_empty_and_operators(session, clock):
    add(session, clock, "due", next_callback_at=dt.datetime(2026, 11, 27, 1, 0, tzinfo=UTC))
    add(session, clock, "none")
    assert names(session, cond("next_callback_at", "is_empty")) == {"none"}
    assert names(session, cond("next_callback_at", "is_not_empty")) == {"due"}
    assert names(session, cond("next_callback_at", "ne", "2026-11-27")) == {"none"}
    refused(session, cond("next_callback_at", "contains", "2026"), "query.unknown_operator")


# -- bool and int -----------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("true", {"dnc"}), ("1", {"dnc"}), (1, {"dnc"}), (True, {"dnc"}), ("是", {"dnc"}),
    ("TRUE", {"dnc"}), ("false", {"ok1", "ok2"}), ("0", {"ok1", "ok2"}), (0, {"ok1", "ok2"}),
    (False, {"ok1", "ok2"}), ("否", {"ok1", "ok2"}),
])
def test_bool_field(session, clock, value, expected):
    enable(session, "do_not_call")
    add(session, clock, "dnc", do_not_call=True)
    add(session, clock, "ok1", do_not_call=False)
    add(session, clock, "ok2")
    assert names(session, cond("do_not_call", "eq", value)) == expected
    everything = {"dnc", "ok1", "ok2"}
    assert names(session, cond("do_not_call", "ne", value)) == everything - expected


def test_bool_bad_values_and_operators(session):
    enable(session, "do_not_call")
    for value in ("maybe", "", None, 2, [True]):
        refused(session, cond("do_not_call", "eq", value), "query.bad_value")
    for op in ("contains", "not_contains", "ge", "lt", "le"):
        refused(session, cond("do_not_call", op, "true"), "query.unknown_operator")


def test_int_field(session, clock):
    enable(session, "id")
    ids = [add(session, clock, f"c{i}").id for i in range(3)]
    assert names(session, cond("id", "eq", str(ids[1]))) == {"c1"}
    assert names(session, cond("id", "ge", ids[1])) == {"c1", "c2"}
    assert names(session, cond("id", "lt", f" {ids[1]} ")) == {"c0"}
    assert names(session, cond("id", "le", ids[1])) == {"c0", "c1"}
    assert names(session, cond("id", "ne", ids[1])) == {"c0", "c2"}
    for value in ("1.5", 1.0, "one", "", True, "9" * 30):
        refused(session, cond("id", "eq", value), "query.bad_value")
    refused(session, cond("id", "contains", "1"), "query.unknown_operator")


# -- reserve presets --------------------------------------------------------------------------

@pytest.fixture
def preset_data(session, clock):
    now = clock.now()
    won = add(session, clock, "won", stage="closed", industry="软件", city="上海", source="展会")
    blank = add(session, clock, "won-blank", stage="closed", industry="", city=None, source="")
    selling = add(session, clock, "selling", stage="opportunity", industry="制造", city="北京",
                  source="网络")
    for number, customer in (("SO-1", won), ("SO-2", blank)):
        session.add(Order(number=number, customer_id=customer.id, ordered_on=now.date(),
                          created_at=now, updated_at=now))
    session.add(Opportunity(customer_id=selling.id, title="ERP", created_at=now, updated_at=now))
    add(session, clock, "r-soft", stage="reserve", industry="软件", city="广州", source="电话")
    add(session, clock, "r-make-sh-web", stage="reserve", industry="制造", city="上海", source="网络")
    add(session, clock, "r-fair", stage="reserve", industry=None, city="", source="展会")
    add(session, clock, "r-bj", stage="reserve", industry="餐饮", city="北京", source=None)
    add(session, clock, "r-blank", stage="reserve", industry="", city=None, source="")
    # same values, other stages: never offered by a reserve preset
    add(session, clock, "t-all", stage="target", industry="软件", city="上海", source="展会")
    add(session, clock, "archived", stage=None, industry="制造", city="北京", source="网络")
    session.commit()


@pytest.mark.parametrize("preset, expected", [
    ("order_industries", {"r-soft"}),
    ("order_cities", {"r-make-sh-web"}),
    ("order_sources", {"r-fair"}),
    ("opportunity_industries", {"r-make-sh-web"}),
    ("opportunity_cities", {"r-bj"}),
    ("opportunity_sources", {"r-make-sh-web"}),
])
def test_reserve_presets(session, preset_data, preset, expected):
    assert {c.name for c in session.scalars(preset_query(session, preset))} == expected


def test_presets_follow_new_records(session, clock, preset_data):
    assert {c.name for c in session.scalars(preset_query(session, "opportunity_sources"))} == {
        "r-make-sh-web"}
    bj = session.scalar(select(Customer).where(Customer.name == "r-bj"))
    bj.stage = "opportunity"
    source = add(session, clock, "new-opp", stage="opportunity", source="电话")
    session.add(Opportunity(customer_id=source.id, title="CRM", created_at=clock.now(),
                            updated_at=clock.now()))
    session.flush()
    assert {c.name for c in session.scalars(preset_query(session, "opportunity_sources"))} == {
        "r-make-sh-web", "r-soft"}


def test_preset_combines_with_a_query(session, preset_data):
    stmt = preset_query(session, "order_industries").where(
        compile_query(session, cond("city", "eq", "广州")).whereclause)
    assert [c.name for c in session.scalars(stmt)] == ["r-soft"]


@pytest.mark.parametrize("preset", ["order_names", "orders_cities", "", None, "order_industries; --"])
def test_unknown_preset_is_refused(session, preset):
    with pytest.raises(InvalidQuery) as info:
        preset_query(session, preset)
    assert info.value.key == "query.unknown_preset"
