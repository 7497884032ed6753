"""号码隐藏: the one masking rule (models/org/masking.py) and who it applies to."""
import pytest

from models.org.masking import kept, mask, masks, shown
from models.org.users import update_role


@pytest.mark.parametrize("number, masked", [
    ("13812348000", "138****8000"),
    ("138 1234 8000", "138****8000"),
    ("138-1234-8000", "138****8000"),
    ("１３８１２３４８０００", "138****8000"),          # full-width digits
    ("+8613812348000", "+86 138****8000"),
    ("+86 138 1234 8000", "+86 138****8000"),
    ("8613812348000", "+86 138****8000"),
    ("008613812348000", "+86 138****8000"),
    ("021-62345678", "021****5678"),                   # landline with its area code
    ("+862162345678", "+86 21****5678"),
    ("0755-23456789", "075****6789"),
    ("010-12345678 转 8001", "010****5678"),           # the extension is not shown
    ("62345678", "****5678"),                           # a local number: the last 4 only
    ("+442071234567", "+44 20****4567"),               # foreign
    ("+12125550123", "+1 21****0123"),
    ("95555", "9***5"),                                 # short and service numbers
    ("110", "1*0"),
    ("12", "**"),
])
def test_mask(number, masked):
    assert mask(number) == masked


@pytest.mark.parametrize("number", ["13812348000", "+8613812348000", "021-62345678",
                                    "+442071234567", "62345678", "+12125550123"])
def test_at_least_four_digits_are_hidden(number):
    digits = sum(ch.isdigit() for ch in number)
    assert sum(ch.isdigit() for ch in mask(number)) <= digits - 4


@pytest.mark.parametrize("value", [None, "", "无", "anonymous"])
def test_text_without_digits_is_left_alone(value):
    assert mask(value) == value


def test_shown_and_kept_follow_the_role(session, users):
    tm, mgr = users["tm"], users["mgr"]
    assert not masks(tm) and not masks(None)
    assert shown(tm, "13812348000") == "13812348000"
    update_role(session, "telemarketer", daily_claim_quota=20, mask_numbers="1")
    session.refresh(tm)
    assert masks(tm) and not masks(mgr)
    assert shown(tm, "13812348000") == "138****8000" and shown(mgr, "13812348000") == "13812348000"
    # A form that comes back with the masked number keeps the stored one; a new number is saved.
    assert kept(tm, "13812348000", " 138****8000 ") == "13812348000"
    assert kept(tm, "13812348000", "13900001111") == "13900001111"
    assert kept(tm, "13812348000", "") == ""
    assert kept(mgr, "13812348000", "138****8000") == "138****8000"


@pytest.mark.parametrize("number", ["13812348000", "+8613812348000", "021-62345678", "95555"])
def test_a_masked_number_is_not_masked_again(number):
    assert mask(mask(number)) == mask(number)


def test_stars_do_not_let_a_number_through():
    assert mask("*13812348000") == "138****8000"
